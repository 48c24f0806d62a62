"""Staff actions that are one transaction besides a status change: a finished order's
DM owed again, a wallet credit or debit, a refund by hand.

Each writes its record (ledger row, notification owed), its audit trail (the order's
timeline or `audit_log`, with the staff member's id) and its staff-channel line (an
Alert built in core/alerts.py) in ONE transaction. Some lines state what only the
transaction knows (the balance afterwards, the resend's number, the amount refunded),
so the caller passes the builder's call as a function of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.domain import Money
from core.kinds import Alert, EventKind, NotificationKind
from storage import audit, payments, wallet
from storage.database import Database
from storage.notifications import next_notification_kind, next_resend_kind, owe_notification_in
from storage.orders.records import OrderRecord
from storage.orders.timeline import add_event_in
from storage.staff_alerts import raise_alert_in


@dataclass(frozen=True, slots=True)
class Posted:
    """A staff movement: what it moved (signed, as posted), the balance afterwards, and
    whether the same key had been used already (nothing moved this time)."""

    amount: Money
    balance: Money
    repeated: bool
    # Answered from the movement an earlier use of the key made (nothing was read or
    # written for this one).
    from_earlier: bool = False


class RefundRefused(Exception):
    """A refund asked for more than the order has left to give back; nothing written.
    `left` is what remains refundable in minor units (0 or less: nothing)."""

    def __init__(self, left: int, asked: Money) -> None:
        super().__init__(f"{asked.format()} asked, {left} left")
        self.left = left
        self.asked = asked


async def owe_resend(
    db: Database, order: OrderRecord, *, actor: str, alert: Callable[[str], Alert]
) -> str:
    """Owe the buyer the final DM again, as its own kind (resend-1, resend-2, …: numbered
    inside the write transaction, so two resends at once get two numbers), with its
    timeline event and `alert(kind)`. Returns the kind."""
    now = time.time()
    async with db.transaction() as conn:
        kind = await next_resend_kind(conn, order.id)
        await owe_notification_in(conn, order.id, kind, user_id=order.user_id, now=now)
        await add_event_in(
            conn, order.id, actor=actor, kind=EventKind.RESEND, detail=f"{kind} owed", at=now
        )
        await raise_alert_in(conn, alert(kind))
    return kind


async def adjust_wallet(
    db: Database, movement: wallet.Movement, *, staff_id: int, alert: Callable[[Money], Alert]
) -> Posted:
    """A staff credit or debit: the ledger row, the `audit_log` row (wallet.credit or
    wallet.debit) and `alert(balance afterwards)`. Raises wallet.InsufficientBalance,
    writing nothing, when a debit would take the balance below zero."""
    amount = movement.amount
    now = time.time()
    async with db.transaction() as conn:
        posted = await wallet.post_in(conn, movement, now=now)
        balance = await wallet.balance_in(conn, movement.user_id, amount.currency)
        if posted:
            await audit.record_in(
                conn,
                actor_id=staff_id,
                action=f"wallet.{'credit' if amount.minor > 0 else 'debit'}",
                target=str(movement.user_id),
                detail=f"{amount.format('en')}: {(movement.note or '')[:200]}",
            )
            await raise_alert_in(conn, alert(balance))
    return Posted(amount, balance, repeated=not posted)


async def refund_order(
    db: Database,
    order: OrderRecord,
    *,
    amount: Money | None,
    actor: str,
    idempotency_key: str,
    alert: Callable[[Money], Alert],
) -> Posted:
    """Give back part (`amount`) or all (None) of what a wallet order's buyer paid and
    hasn't had back, never more (RefundRefused): the ledger row, a payment event on the
    order's timeline, the buyer's DM owed (refund, refund-2, …) and `alert(refund)`.
    A key used already answers with what that movement did."""
    now = time.time()
    async with db.transaction() as conn:
        earlier = await wallet.entry_by_key_in(conn, idempotency_key)
        if earlier is not None:
            balance = await wallet.balance_in(conn, order.user_id, earlier.amount.currency)
            return Posted(earlier.amount, balance, repeated=True, from_earlier=True)
        paid = await payments.net_paid_in(conn, order.id)
        refund = amount or Money(paid, order.total.currency)
        if paid <= 0 or refund.minor > paid:
            raise RefundRefused(paid, refund)
        posted = await wallet.post_in(
            conn,
            wallet.Movement(
                user_id=order.user_id,
                amount=refund,
                kind=wallet.EntryKind.REFUND,
                actor=actor,
                idempotency_key=idempotency_key,
                order_id=order.id,
                note="refunded by staff",
            ),
            now=now,
        )
        balance = await wallet.balance_in(conn, order.user_id, refund.currency)
        if posted:
            await add_event_in(
                conn,
                order.id,
                actor=actor,
                kind=EventKind.PAYMENT,
                detail=f"refund {refund.format('en')} (by staff)",
                at=now,
            )
            kind = await next_notification_kind(conn, order.id, NotificationKind.REFUND)
            await owe_notification_in(conn, order.id, kind, user_id=order.user_id, now=now)
            await raise_alert_in(conn, alert(refund))
    return Posted(refund, balance, repeated=not posted)
