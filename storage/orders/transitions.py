"""Writing orders: a new order, a status change (with everything that moves with it),
and the few updates that change no status.

Every status change is ONE transaction in `transition_order`: the order row, its
timeline event, the wallet movement the move implies (storage.payments), and, when
asked, the notification owed to the buyer and the staff alert, so none can be lost
between two writes. Illegal moves raise and write nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field, replace

from core.crypto import DeliveryCipher
from core.domain import Delivery, Money, OrderStatus, PaymentMode, check_transition
from core.kinds import Alert, EventKind
from storage import payments, shop_state
from storage.database import Database
from storage.notifications import next_notification_kind, owe_notification_in
from storage.orders.queries import get_order, get_order_by_idempotency_key, get_order_by_remote_id
from storage.orders.records import (
    ACTOR_PROVIDER,
    ACTOR_SYSTEM,
    DuplicateOrder,
    NewOrder,
    OrderNotFound,
    OrderRecord,
    ShopClosed,
    StaleStatus,
)
from storage.orders.timeline import add_event_in
from storage.staff_alerts import raise_alert_in


async def insert_order(
    db: Database, order: NewOrder, cipher: DeliveryCipher, *, actor: str = ACTOR_SYSTEM
) -> OrderRecord:
    """Record a new order and its 'created' event in one transaction.

    Raises DuplicateOrder when the idempotency key (or provider + remote id) is taken:
    that is how a double-pressed Confirm or a redelivered interaction creates nothing.
    """
    now = time.time()
    contact_enc = (
        cipher.encrypt_text(json.dumps(dict(order.contact))) if order.contact is not None else None
    )
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO orders (id, guild_id, user_id, product_key, product_name, provider,"
                " kind, source, quantity, unit_price_minor, total_minor, currency, status,"
                " raw_status, remote_id, idempotency_key, details_json, contact_enc,"
                " created_at, updated_at, next_poll_at, buyer_name, payment, language)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order.id,
                    order.guild_id,
                    order.user_id,
                    order.product_key,
                    order.product_name,
                    order.provider,
                    order.kind.value,
                    order.source.value,
                    order.quantity,
                    order.unit_price.minor,
                    order.total.minor,
                    order.unit_price.currency,
                    order.status.value,
                    order.raw_status,
                    order.remote_id,
                    order.idempotency_key,
                    json.dumps(dict(order.details)),
                    contact_enc,
                    now,
                    now,
                    order.next_poll_at,
                    order.buyer_name[:100] if order.buyer_name else None,
                    order.payment.value if order.payment else None,
                    order.language,
                ),
            )
            await add_event_in(
                conn,
                order.id,
                actor=actor,
                kind=EventKind.CREATED,
                new_status=order.status,
                raw_status=order.raw_status,
                detail=f"{order.source.value} order for {order.quantity} x {order.product_key}",
                at=now,
            )
    except sqlite3.IntegrityError as exc:
        existing = None
        if order.idempotency_key is not None:
            found = await get_order_by_idempotency_key(db, order.idempotency_key)
            existing = found.id if found else None
        if existing is None and order.remote_id is not None:
            found = await get_order_by_remote_id(db, order.provider, order.remote_id)
            existing = found.id if found else None
        if existing is None:
            raise
        raise DuplicateOrder(existing) from exc
    record = await get_order(db, order.id)
    assert record is not None
    return record


@dataclass(frozen=True, slots=True)
class StatusChange:
    """Everything a transition may update. None means 'leave as is'."""

    new_status: OrderStatus
    actor: str
    raw_status: str | None = None
    status_message: str | None = None
    remote_id: str | None = None
    remote_price: str | None = None
    delivery: Delivery | None = None
    detail: str | None = None
    next_poll_at: float | None = None
    notify_kind: str | None = None  # owe this notification in the same transaction
    # Raise this staff alert in the same transaction (about this order, whatever the
    # alert's own order_id says).
    alert: Alert | None = None
    expect: OrderStatus | None = None  # compare-and-set: only from this status
    # Only while ordering is not paused, checked inside the same write transaction (so a
    # pause committed a moment before a buyer's Confirm always wins).
    require_shop_open: bool = False
    # Freeze this create request (plaintext JSON, encrypted here) with the move.
    frozen_request: str | None = field(default=None, repr=False)
    # The buyer's limits, checked in the same transaction (Confirm passes them).
    limits: payments.BuyerLimits | None = None


async def transition_order(
    db: Database, order_id: str, change: StatusChange, cipher: DeliveryCipher
) -> OrderRecord:
    """Move an order to a new status: the row, a timeline event and (when asked) the
    notification owed are written in ONE transaction. Illegal moves raise
    IllegalTransition and write nothing.

    The wallet moves with the status (storage.payments): a debit due at `submitting`
    that the balance can't cover raises wallet.InsufficientBalance, and a limit that
    refuses raises payments.LimitReached; either way nothing is written."""
    now = time.time()
    delivery_enc = cipher.encrypt_delivery(change.delivery) if change.delivery else None
    request_enc = cipher.encrypt_text(change.frozen_request) if change.frozen_request else None
    async with db.transaction() as conn:
        async with conn.execute(
            "SELECT status, user_id, payment, total_minor, currency, confirmed_at FROM orders"
            " WHERE id = ?",
            (order_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise OrderNotFound(order_id)
        old = OrderStatus(row["status"])
        if change.expect is not None and old is not change.expect:
            raise StaleStatus(order_id, old)
        if change.require_shop_open and await shop_state.is_paused_in(conn):
            raise ShopClosed(order_id)
        check_transition(old, change.new_status)
        if change.limits is not None and change.limits.any:
            await payments.check_limits_in(
                conn,
                user_id=row["user_id"],
                order_id=order_id,
                total=Money(row["total_minor"], row["currency"]),
                limits=change.limits,
                now=now,
            )
        confirmed_at = now if old is OrderStatus.DRAFT else row["confirmed_at"]
        # Terminal orders are not polled again; open ones keep the caller's schedule.
        next_poll = None if change.new_status.is_terminal else change.next_poll_at
        await conn.execute(
            "UPDATE orders SET status = ?, raw_status = COALESCE(?, raw_status),"
            " status_message = COALESCE(?, status_message), remote_id = COALESCE(?, remote_id),"
            " remote_price = COALESCE(?, remote_price),"
            " delivery_enc = COALESCE(?, delivery_enc), request_enc = COALESCE(?, request_enc),"
            " updated_at = ?, next_poll_at = ?, unchanged_polls = 0, poll_lease_until = NULL,"
            " confirmed_at = ? WHERE id = ?",
            (
                change.new_status.value,
                change.raw_status,
                change.status_message,
                change.remote_id,
                change.remote_price,
                delivery_enc,
                request_enc,
                now,
                next_poll,
                confirmed_at,
                order_id,
            ),
        )
        await add_event_in(
            conn,
            order_id,
            actor=change.actor,
            kind=EventKind.STATUS,
            old_status=old,
            new_status=change.new_status,
            raw_status=change.raw_status,
            detail=change.detail,
            at=now,
        )
        moved = await payments.settle_in(
            conn,
            payments.OrderPayment(
                order_id,
                row["user_id"],
                PaymentMode(row["payment"]) if row["payment"] else None,
                Money(row["total_minor"], row["currency"]),
            ),
            old,
            change.new_status,
            actor=change.actor,
            now=now,
        )
        if moved is not None:
            await add_event_in(
                conn,
                order_id,
                actor=change.actor,
                kind=EventKind.PAYMENT,
                detail=f"{moved.kind.value} {moved.amount.format('en')} ({moved.note})",
                at=now,
            )
        if change.delivery is not None:
            await add_event_in(
                conn,
                order_id,
                actor=change.actor,
                kind=EventKind.DELIVERY,
                detail="delivery stored",
                at=now,
            )
        if change.notify_kind is not None:
            # An order can end more than once (a refund after completion, a staff retry
            # after the buyer was told it failed) and go to review more than once. Each
            # such move owes its own DM: the first of a kind is "final" (or "review", …),
            # later ones are numbered, so "one DM per order and kind" still holds and no
            # outcome is swallowed. (Each move happens once: it is a compare-and-set.)
            kind = await next_notification_kind(conn, order_id, change.notify_kind)
            await owe_notification_in(conn, order_id, kind, user_id=row["user_id"], now=now)
        if change.alert is not None:
            alert = change.alert
            if alert.order_id != order_id:
                alert = replace(alert, order_id=order_id)
            await raise_alert_in(conn, alert)
    record = await get_order(db, order_id)
    assert record is not None
    return record


async def store_delivery(
    db: Database, order_id: str, delivery: Delivery, cipher: DeliveryCipher, *, actor: str
) -> None:
    """Attach delivery data without a status change (e.g. staff correcting a delivery)."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE orders SET delivery_enc = ?, updated_at = ? WHERE id = ?",
            (cipher.encrypt_delivery(delivery), time.time(), order_id),
        )
        await add_event_in(
            conn, order_id, actor=actor, kind=EventKind.DELIVERY, detail="delivery stored"
        )


async def delete_draft(db: Database, order_id: str, user_id: int) -> bool:
    """Drop an unconfirmed draft (cancelled or expired). Confirmed orders are never
    deleted: only a row still in `draft` can go."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM orders WHERE id = ? AND user_id = ? AND status = 'draft'",
            (order_id, user_id),
        )
        return cur.rowcount == 1


async def delete_expired_drafts(db: Database, *, older_than: float) -> int:
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM orders WHERE status = 'draft' AND created_at < ?", (older_than,)
        )
        return cur.rowcount


async def set_next_poll(db: Database, order_id: str, next_poll_at: float | None) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE orders SET next_poll_at = ? WHERE id = ?", (next_poll_at, order_id)
        )


async def freeze_request(
    db: Database, order_id: str, request_json: str, cipher: DeliveryCipher
) -> None:
    """Freeze the create request of an order confirmed before requests were frozen (the
    first send decides it; every re-send repeats it). Never replaces one already frozen."""
    token = cipher.encrypt_text(request_json)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE orders SET request_enc = ? WHERE id = ? AND request_enc IS NULL",
            (token, order_id),
        )


async def record_provider_answer(
    db: Database,
    order_id: str,
    *,
    remote_id: str | None,
    raw_status: str | None,
    detail: str,
    expect: OrderStatus,
) -> None:
    """Keep what a provider answered to a create (its order id first) before anything
    else is done with the answer: whatever fails after this, the id is not lost."""
    if remote_id is not None:
        taken = await get_order_by_remote_id(db, await _provider_of(db, order_id), remote_id)
        if taken is not None and taken.id != order_id:
            # Another of our orders already has that id: the answer is about it, or the
            # provider mixed ids up. Never stored as this order's (UNIQUE would refuse).
            raise DuplicateOrder(taken.id)
    async with db.transaction() as conn:
        try:
            async with conn.execute(
                "UPDATE orders SET remote_id = COALESCE(?, remote_id),"
                " raw_status = COALESCE(?, raw_status) WHERE id = ? AND status = ? RETURNING id",
                (remote_id, raw_status, order_id, expect.value),
            ) as cur:
                updated = await cur.fetchone()
        except sqlite3.IntegrityError:
            raise DuplicateOrder(None) from None
        if updated is None:
            async with conn.execute("SELECT status FROM orders WHERE id = ?", (order_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                raise OrderNotFound(order_id)
            raise StaleStatus(order_id, OrderStatus(row["status"]))
        await add_event_in(
            conn, order_id, actor=ACTOR_PROVIDER, kind=EventKind.ANSWER, detail=detail
        )


async def _provider_of(db: Database, order_id: str) -> str:
    row = await db.fetch_one("SELECT provider FROM orders WHERE id = ?", (order_id,))
    if row is None:
        raise OrderNotFound(order_id)
    return str(row["provider"])
