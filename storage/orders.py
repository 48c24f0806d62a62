"""Repository functions for orders and their timeline. Parameterised SQL only.

Secrets (delivery data, buyer contact details) are encrypted by the caller-supplied
`DeliveryCipher` before they reach SQL, so plaintext never touches the database file.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from core.crypto import DeliveryCipher
from core.domain import (
    Delivery,
    Money,
    OrderKind,
    OrderSource,
    OrderStatus,
    PaymentMode,
    check_transition,
)
from storage import payments
from storage.database import Database
from storage.notifications import owe_notification_in
from storage.staff_alerts import raise_alert_in

log = logging.getLogger(__name__)

ACTOR_SYSTEM = "system"
ACTOR_PROVIDER = "provider"


def staff_actor(user_id: int) -> str:
    """Events by staff record the member's id, so every admin action has a name on it."""
    return str(user_id)


class DuplicateOrder(Exception):
    """An order with this idempotency key (or provider + remote id) already exists."""

    def __init__(self, existing_id: str | None) -> None:
        super().__init__(f"order already exists: {existing_id}")
        self.existing_id = existing_id


class OrderNotFound(LookupError):
    pass


class ShopClosed(Exception):
    """Staff paused ordering: the change that would send an order was not made."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"ordering is paused; order {order_id} stays as it was")
        self.order_id = order_id


class StaleStatus(Exception):
    """A compare-and-set transition found the order in another status than expected:
    somebody else (a second button press, another job) got there first."""

    def __init__(self, order_id: str, current: OrderStatus) -> None:
        super().__init__(f"order {order_id} is {current.value}")
        self.order_id = order_id
        self.current = current


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """A staff-channel alert raised in the same transaction as a status change."""

    kind: str
    message: str
    dedupe_key: str
    group_key: str | None = None  # alerts of one group become a digest in a storm


@dataclass(frozen=True, slots=True)
class NewOrder:
    id: str
    user_id: int
    guild_id: int | None
    product_key: str
    product_name: str
    provider: str
    kind: OrderKind
    quantity: int
    unit_price: Money
    status: OrderStatus = OrderStatus.SUBMITTING
    source: OrderSource = OrderSource.PLACED
    idempotency_key: str | None = None
    remote_id: str | None = None
    raw_status: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    contact: Mapping[str, str] | None = None
    next_poll_at: float | None = None
    buyer_name: str | None = None
    payment: PaymentMode | None = None

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: str
    user_id: int
    guild_id: int | None
    product_key: str
    product_name: str
    provider: str
    kind: OrderKind
    source: OrderSource
    quantity: int
    unit_price: Money
    total: Money
    status: OrderStatus
    raw_status: str | None
    status_message: str | None
    remote_id: str | None
    remote_price: str | None
    idempotency_key: str | None
    details: dict[str, Any]
    has_contact: bool
    has_delivery: bool
    created_at: float
    updated_at: float
    next_poll_at: float | None
    last_polled_at: float | None
    poll_count: int
    unchanged_polls: int
    poll_failures: int
    buyer_name: str | None
    payment: PaymentMode | None  # None: linked, or from before payments existed
    confirmed_at: float | None
    # Ciphertext stays inside the record so a caller that needs the secret must decrypt
    # it explicitly; it is excluded from repr.
    _contact_enc: bytes | None = field(default=None, repr=False)
    _delivery_enc: bytes | None = field(default=None, repr=False)
    _request_enc: bytes | None = field(default=None, repr=False)

    @property
    def has_frozen_request(self) -> bool:
        return self._request_enc is not None

    def frozen_request(self, cipher: DeliveryCipher) -> str | None:
        """The create request frozen at confirm (JSON), or None for an older order."""
        return cipher.decrypt_text(self._request_enc) if self._request_enc else None

    def delivery(self, cipher: DeliveryCipher) -> Delivery | None:
        return cipher.decrypt_delivery(self._delivery_enc) if self._delivery_enc else None

    def contact(self, cipher: DeliveryCipher) -> dict[str, str] | None:
        if not self._contact_enc:
            return None
        data: dict[str, str] = json.loads(cipher.decrypt_text(self._contact_enc))
        return data


@dataclass(frozen=True, slots=True)
class OrderEvent:
    id: int
    order_id: str
    at: float
    actor: str
    kind: str
    old_status: OrderStatus | None
    new_status: OrderStatus | None
    raw_status: str | None
    detail: str | None


def _record(row: aiosqlite.Row) -> OrderRecord:
    currency = row["currency"]
    return OrderRecord(
        id=row["id"],
        user_id=row["user_id"],
        guild_id=row["guild_id"],
        product_key=row["product_key"],
        product_name=row["product_name"],
        provider=row["provider"],
        kind=OrderKind(row["kind"]),
        source=OrderSource(row["source"]),
        quantity=row["quantity"],
        unit_price=Money(row["unit_price_minor"], currency),
        total=Money(row["total_minor"], currency),
        status=OrderStatus(row["status"]),
        raw_status=row["raw_status"],
        status_message=row["status_message"],
        remote_id=row["remote_id"],
        remote_price=row["remote_price"],
        idempotency_key=row["idempotency_key"],
        details=json.loads(row["details_json"] or "{}"),
        has_contact=row["contact_enc"] is not None,
        has_delivery=row["delivery_enc"] is not None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        next_poll_at=row["next_poll_at"],
        last_polled_at=row["last_polled_at"],
        poll_count=row["poll_count"],
        unchanged_polls=row["unchanged_polls"],
        poll_failures=row["poll_failures"],
        buyer_name=row["buyer_name"],
        payment=PaymentMode(row["payment"]) if row["payment"] else None,
        confirmed_at=row["confirmed_at"],
        _contact_enc=row["contact_enc"],
        _delivery_enc=row["delivery_enc"],
        _request_enc=row["request_enc"],
    )


def _event(row: aiosqlite.Row) -> OrderEvent:
    return OrderEvent(
        id=row["id"],
        order_id=row["order_id"],
        at=row["at"],
        actor=row["actor"],
        kind=row["kind"],
        old_status=OrderStatus(row["old_status"]) if row["old_status"] else None,
        new_status=OrderStatus(row["new_status"]) if row["new_status"] else None,
        raw_status=row["raw_status"],
        detail=row["detail"],
    )


async def add_event_in(
    conn: aiosqlite.Connection,
    order_id: str,
    *,
    actor: str,
    kind: str,
    old_status: OrderStatus | None = None,
    new_status: OrderStatus | None = None,
    raw_status: str | None = None,
    detail: str | None = None,
    at: float | None = None,
) -> None:
    """Append to an order's timeline inside an open transaction."""
    await conn.execute(
        "INSERT INTO order_events (order_id, at, actor, kind, old_status, new_status,"
        " raw_status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            order_id,
            time.time() if at is None else at,
            actor,
            kind,
            old_status.value if old_status else None,
            new_status.value if new_status else None,
            raw_status,
            detail,
        ),
    )


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
                " created_at, updated_at, next_poll_at, buyer_name, payment)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
            )
            await add_event_in(
                conn,
                order.id,
                actor=actor,
                kind="created",
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


async def get_order(db: Database, order_id: str) -> OrderRecord | None:
    row = await db.fetch_one("SELECT * FROM orders WHERE id = ?", (order_id,))
    return _record(row) if row else None


async def get_order_for_user(db: Database, order_id: str, user_id: int) -> OrderRecord | None:
    """The privacy boundary: another member's order is indistinguishable from none."""
    row = await db.fetch_one(
        "SELECT * FROM orders WHERE id = ? AND user_id = ?", (order_id, user_id)
    )
    return _record(row) if row else None


async def get_order_by_idempotency_key(db: Database, key: str) -> OrderRecord | None:
    row = await db.fetch_one("SELECT * FROM orders WHERE idempotency_key = ?", (key,))
    return _record(row) if row else None


async def get_order_by_remote_id(db: Database, provider: str, remote_id: str) -> OrderRecord | None:
    row = await db.fetch_one(
        "SELECT * FROM orders WHERE provider = ? AND remote_id = ?", (provider, remote_id)
    )
    return _record(row) if row else None


async def list_orders_for_user(
    db: Database, user_id: int, *, limit: int = 10, offset: int = 0
) -> list[OrderRecord]:
    rows = await db.fetch_all(
        # Drafts are unconfirmed screens, not orders: never listed (count_orders_for_user
        # agrees, and /order refuses them).
        "SELECT * FROM orders WHERE user_id = ? AND status != 'draft'"
        " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        (user_id, limit, offset),
    )
    return [_record(r) for r in rows]


async def search_orders_for_user(
    db: Database, user_id: int, text: str, *, limit: int = 25
) -> list[OrderRecord]:
    """The caller's own orders (never drafts) whose id or product matches `text`, newest
    first: autocomplete reaches every order, not only the latest 25."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await db.fetch_all(
        "SELECT * FROM orders WHERE user_id = ? AND status != 'draft' AND (id LIKE ? ESCAPE '\\'"
        " OR product_name LIKE ? ESCAPE '\\') ORDER BY created_at DESC, id DESC LIMIT ?",
        (user_id, f"%{escaped.upper()}%", f"%{escaped}%", limit),
    )
    return [_record(r) for r in rows]


async def count_orders_for_user(db: Database, user_id: int) -> int:
    row = await db.fetch_one(
        "SELECT COUNT(*) FROM orders WHERE user_id = ? AND status != 'draft'", (user_id,)
    )
    return int(row[0]) if row else 0


async def list_orders(
    db: Database,
    *,
    statuses: list[OrderStatus] | None = None,
    user_id: int | None = None,
    provider: str | None = None,
    since: float | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[OrderRecord]:
    where, params = _order_filters(statuses, user_id, provider, since)
    rows = await db.fetch_all(
        f"SELECT * FROM orders {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",  # noqa: S608 - only placeholders are interpolated
        (*params, limit, offset),
    )
    return [_record(r) for r in rows]


def _order_filters(
    statuses: list[OrderStatus] | None,
    user_id: int | None,
    provider: str | None,
    since: float | None,
) -> tuple[str, list[Any]]:
    # Drafts are a buyer's unconfirmed screens, not orders: staff lists never show them.
    clauses: list[str] = ["status != 'draft'"]
    params: list[Any] = []
    if statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(s.value for s in statuses)
    if user_id is not None:
        clauses.append("user_id = ?")
        params.append(user_id)
    if provider is not None:
        clauses.append("provider = ?")
        params.append(provider)
    if since is not None:
        clauses.append("created_at >= ?")
        params.append(since)
    return f"WHERE {' AND '.join(clauses)}", params


async def count_orders_by_status(
    db: Database,
    *,
    user_id: int | None = None,
    provider: str | None = None,
    since: float | None = None,
) -> dict[str, int]:
    where, params = _order_filters(None, user_id, provider, since)
    rows = await db.fetch_all(
        f"SELECT status, COUNT(*) AS n FROM orders {where} GROUP BY status",  # noqa: S608 - only placeholders are interpolated
        tuple(params),
    )
    return {r["status"]: r["n"] for r in rows}


async def search_orders(db: Database, text: str, *, limit: int = 25) -> list[OrderRecord]:
    """For staff autocomplete: an id prefix, or part of the buyer's display name."""
    text = text.strip()
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await db.fetch_all(
        "SELECT * FROM orders WHERE status != 'draft' AND (id LIKE ? ESCAPE '\\'"
        " OR buyer_name LIKE ? ESCAPE '\\') ORDER BY created_at DESC LIMIT ?",
        (f"{escaped.upper()}%", f"%{escaped}%", limit),
    )
    return [_record(r) for r in rows]


async def list_events(db: Database, order_id: str) -> list[OrderEvent]:
    rows = await db.fetch_all(
        "SELECT * FROM order_events WHERE order_id = ? ORDER BY id", (order_id,)
    )
    return [_event(r) for r in rows]


async def add_event(
    db: Database,
    order_id: str,
    *,
    actor: str,
    kind: str,
    detail: str | None = None,
    at: float | None = None,
) -> None:
    async with db.transaction() as conn:
        await add_event_in(conn, order_id, actor=actor, kind=kind, detail=detail, at=at)


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
    alert: AlertSpec | None = None  # raise this staff alert in the same transaction
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
        if change.require_shop_open:
            async with conn.execute(
                "SELECT value FROM shop_state WHERE key = 'ordering_paused'"
            ) as cur:
                paused = await cur.fetchone()
            if paused is not None and paused[0] == "1":
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
            kind="status",
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
                kind="payment",
                detail=f"{moved.kind.value} {moved.amount.format()} ({moved.note})",
                at=now,
            )
        if change.delivery is not None:
            await add_event_in(
                conn,
                order_id,
                actor=change.actor,
                kind="delivery",
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
            await raise_alert_in(
                conn,
                kind=change.alert.kind,
                message=change.alert.message,
                dedupe_key=change.alert.dedupe_key,
                order_id=order_id,
                group_key=change.alert.group_key,
            )
    record = await get_order(db, order_id)
    assert record is not None
    return record


FINAL = "final"


async def next_notification_kind(conn: aiosqlite.Connection, order_id: str, base: str) -> str:
    async with conn.execute(
        "SELECT COUNT(*) FROM notifications WHERE order_id = ? AND (kind = ? OR kind LIKE ?)",
        (order_id, base, f"{base}-%"),
    ) as cur:
        row = await cur.fetchone()
    count = int(row[0]) if row else 0
    return base if count == 0 else f"{base}-{count + 1}"


async def store_delivery(
    db: Database, order_id: str, delivery: Delivery, cipher: DeliveryCipher, *, actor: str
) -> None:
    """Attach delivery data without a status change (e.g. staff correcting a delivery)."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE orders SET delivery_enc = ?, updated_at = ? WHERE id = ?",
            (cipher.encrypt_delivery(delivery), time.time(), order_id),
        )
        await add_event_in(conn, order_id, actor=actor, kind="delivery", detail="delivery stored")


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


async def list_orders_in_status(db: Database, status: OrderStatus) -> list[OrderRecord]:
    rows = await db.fetch_all(
        "SELECT * FROM orders WHERE status = ? ORDER BY created_at", (status.value,)
    )
    return [_record(r) for r in rows]


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
        await add_event_in(conn, order_id, actor=ACTOR_PROVIDER, kind="answer", detail=detail)


async def count_sends_since_status(db: Database, order_id: str) -> int:
    """Sends of the current submission: "send" events after the last status change."""
    row = await db.fetch_one(
        "SELECT COUNT(*) AS n FROM order_events WHERE order_id = ? AND kind = 'send' AND id >"
        " COALESCE((SELECT MAX(id) FROM order_events WHERE order_id = ? AND kind = 'status'), 0)",
        (order_id, order_id),
    )
    return int(row["n"]) if row else 0


async def _provider_of(db: Database, order_id: str) -> str:
    row = await db.fetch_one("SELECT provider FROM orders WHERE id = ?", (order_id,))
    if row is None:
        raise OrderNotFound(order_id)
    return str(row["provider"])


async def first_event_at(db: Database, order_id: str, kind: str) -> float | None:
    row = await db.fetch_one(
        "SELECT MIN(at) AS at FROM order_events WHERE order_id = ? AND kind = ?",
        (order_id, kind),
    )
    return None if row is None else row["at"]


# --- polling ---------------------------------------------------------------------------------

# Statuses the poller asks providers about. needs_review is for staff; submitting is the
# ordering service's (re-sends); terminal statuses are done.
POLLABLE_STATUSES = (OrderStatus.SUBMITTED.value, OrderStatus.PROCESSING.value)


async def claim_due_orders(
    db: Database, *, provider: str, now: float, lease_until: float, limit: int
) -> list[OrderRecord]:
    """Lease up to `limit` due orders of one provider. A leased row is invisible to other
    claims until the lease ends or the poll is recorded, so overlapping runs (or a slow
    one) never poll the same order twice."""
    async with db.transaction() as conn:
        async with conn.execute(
            "UPDATE orders SET poll_lease_until = ? WHERE id IN ("
            " SELECT id FROM orders WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?"
            " AND provider = ? AND status IN (?, ?) AND remote_id IS NOT NULL"
            " AND (poll_lease_until IS NULL OR poll_lease_until < ?)"
            " ORDER BY next_poll_at LIMIT ?) RETURNING *",
            (lease_until, now, provider, *POLLABLE_STATUSES, now, limit),
        ) as cur:
            rows = await cur.fetchall()
    return sorted((_record(r) for r in rows), key=lambda o: o.next_poll_at or 0)


async def release_all_leases(db: Database) -> int:
    """At startup nothing is in flight: leases left by a killed process are void."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE orders SET poll_lease_until = NULL WHERE poll_lease_until IS NOT NULL"
        )
        return cur.rowcount


@dataclass(frozen=True, slots=True)
class PollBookkeeping:
    """A poll that changed no status: only the schedule and counters move."""

    order_id: str
    polled_at: float
    next_poll_at: float
    ok: bool  # the provider answered (unchanged); False = the poll itself failed
    raw_status: str | None = None
    counted: bool = True  # False: no request was made, only reschedule and release


async def record_polls(db: Database, entries: list[PollBookkeeping]) -> None:
    """Write many polls' bookkeeping in one transaction (the common, no-change case)."""
    if not entries:
        return
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE orders SET next_poll_at = ?, poll_lease_until = NULL WHERE id = ?",
            [(e.next_poll_at, e.order_id) for e in entries if not e.counted],
        )
        await conn.executemany(
            "UPDATE orders SET last_polled_at = ?, poll_count = poll_count + 1,"
            " unchanged_polls = unchanged_polls + ?, poll_failures = CASE WHEN ? THEN 0"
            " ELSE poll_failures + 1 END, next_poll_at = ?, poll_lease_until = NULL,"
            " raw_status = COALESCE(?, raw_status) WHERE id = ?",
            [
                (
                    e.polled_at,
                    1 if e.ok else 0,
                    1 if e.ok else 0,
                    e.next_poll_at,
                    e.raw_status,
                    e.order_id,
                )
                for e in entries
                if e.counted
            ],
        )


async def postpone_provider_polls(db: Database, provider: str, until: float) -> int:
    """Rate limited: nothing of this provider's is due before `until`."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE orders SET next_poll_at = ? WHERE provider = ? AND next_poll_at IS NOT NULL"
            " AND next_poll_at < ? AND status IN (?, ?)",
            (until, provider, until, *POLLABLE_STATUSES),
        )
        return cur.rowcount
