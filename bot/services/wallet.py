"""Store credit: what staff do to wallets, and what members see of their own.

Every movement is one ledger row posted in the same transaction as its audit row and
its staff-channel line (storage.wallet, storage.audit, the alert outbox). A staff
action's idempotency key is its interaction id: an interaction Discord delivers twice
moves money once, and the second delivery is answered with what the first did.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.errors import InvalidInput, UserFacingError, clip
from core.domain import Money, OrderStatus, PaymentMode
from storage import audit, payments, wallet
from storage import orders as repo
from storage.database import Database
from storage.notifications import owe_notification_in
from storage.staff_alerts import raise_alert_in

LEDGER_PAGE = 10


# A live order keeps its payment; an order that ended without goods was refunded already.
REFUNDABLE = (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_COMPLETED)


class WalletError(UserFacingError):
    pass


@dataclass(frozen=True, slots=True)
class WalletChange:
    """The outcome of a staff credit, debit or refund."""

    amount: Money  # signed, as posted
    balance: Money  # the member's balance in that currency afterwards
    repeated: bool  # the same interaction arrived again: nothing moved this time
    order: repo.OrderRecord | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    balances: list[Money]
    entries: list[wallet.Entry]
    total_entries: int


class WalletService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def statement(
        self, user_id: int, *, page: int = 0, page_size: int = LEDGER_PAGE
    ) -> Statement:
        return Statement(
            balances=await wallet.balances(self.db, user_id),
            entries=await wallet.entries(
                self.db, user_id, limit=page_size, offset=page * page_size
            ),
            total_entries=await wallet.count_entries(self.db, user_id),
        )

    async def adjust(
        self,
        *,
        staff_id: int,
        member_id: int,
        amount: Money,
        note: str,
        interaction_id: int,
    ) -> WalletChange:
        """A staff credit (amount > 0, kind `credit`) or debit (amount < 0, kind
        `adjustment`: it corrects a balance, e.g. a wrong credit)."""
        note = " ".join(note.split())
        if not note:
            raise InvalidInput("Say why in the note: the member and the ledger show it.")
        credit = amount.minor > 0
        kind = wallet.EntryKind.CREDIT if credit else wallet.EntryKind.ADJUSTMENT
        verb = "credited" if credit else "debited"
        now = time.time()
        async with self.db.transaction() as conn:
            try:
                posted = await wallet.post_in(
                    conn,
                    wallet.Movement(
                        user_id=member_id,
                        amount=amount,
                        kind=kind,
                        actor=str(staff_id),
                        idempotency_key=f"staff:{interaction_id}",
                        note=note[:300],
                    ),
                    now=now,
                )
            except wallet.InsufficientBalance as short:
                raise WalletError(
                    f"<@{member_id}> has {short.balance.format()}; a debit can't take a "
                    f"balance below zero. Nothing was changed."
                ) from None
            balance = await wallet.balance_in(conn, member_id, amount.currency)
            if posted:
                shown = Money(abs(amount.minor), amount.currency).format()
                await audit.record_in(
                    conn,
                    actor_id=staff_id,
                    action=f"wallet.{'credit' if credit else 'debit'}",
                    target=str(member_id),
                    detail=f"{amount.format()}: {note[:200]}",
                )
                await raise_alert_in(
                    conn,
                    kind="staff_action",
                    message=f"💰 <@{staff_id}> {verb} <@{member_id}> **{shown}**: "
                    f"{clip(note, 200)} (balance now {balance.format()})",
                    dedupe_key=f"wallet:staff:{interaction_id}",
                )
        return WalletChange(amount=amount, balance=balance, repeated=not posted)

    async def refund_order(
        self,
        *,
        staff_id: int,
        order_id: str,
        amount: Money | None,
        interaction_id: int,
    ) -> WalletChange:
        """Give back part or all of what a wallet order's buyer paid and hasn't had back
        (never more). The buyer's DM is owed through the outbox in the same transaction."""
        order = await repo.get_order(self.db, order_id.strip().upper())
        if order is None or order.status is OrderStatus.DRAFT:
            raise WalletError(f"There is no order `{clip(order_id)}`.")
        if order.payment is not PaymentMode.WALLET:
            how = {
                PaymentMode.APPROVAL: "was paid outside the bot (approval)",
                PaymentMode.FREE: "was free",
            }.get(order.payment or PaymentMode.FREE, "was not paid from a wallet")
            raise WalletError(
                f"Order `{order.id}` {how}, so there is no store credit to refund. Use "
                "`/admin wallet credit` if you want to give the member credit."
            )
        if order.status not in REFUNDABLE:
            # A live order keeps its payment (it may still reach the provider: refunding it
            # would send it unpaid); an ended one got it back automatically.
            raise WalletError(
                f"Order `{order.id}` is **{order.status.label}**. Only a completed or partly "
                "completed order is refunded by hand; to stop a live order, set it failed or "
                "cancelled (`/admin order set-status`): that refunds it automatically."
            )
        if amount is not None and amount.currency != order.total.currency:
            raise InvalidInput(
                f"Order `{order.id}` was paid in {order.total.currency}, not {amount.currency}."
            )
        now = time.time()
        async with self.db.transaction() as conn:
            key = f"staff:{interaction_id}"
            earlier = await wallet.entry_by_key_in(conn, key)
            if earlier is not None:
                # The same interaction again: answer with what the first delivery did.
                balance = await wallet.balance_in(conn, order.user_id, earlier.amount.currency)
                return WalletChange(earlier.amount, balance, repeated=True, order=order)
            paid = await payments.net_paid_in(conn, order.id)
            refund = amount or Money(paid, order.total.currency)
            if paid <= 0:
                raise WalletError(
                    f"Everything paid for order `{order.id}` has already been refunded."
                )
            if refund.minor > paid:
                raise WalletError(
                    f"Order `{order.id}` has {Money(paid, refund.currency).format()} left to "
                    f"refund; {refund.format()} is more than that. Nothing was refunded."
                )
            posted = await wallet.post_in(
                conn,
                wallet.Movement(
                    user_id=order.user_id,
                    amount=refund,
                    kind=wallet.EntryKind.REFUND,
                    actor=str(staff_id),
                    idempotency_key=key,
                    order_id=order.id,
                    note="refunded by staff",
                ),
                now=now,
            )
            balance = await wallet.balance_in(conn, order.user_id, refund.currency)
            if posted:
                await repo.add_event_in(
                    conn,
                    order.id,
                    actor=str(staff_id),
                    kind="payment",
                    detail=f"refund {refund.format()} (by staff)",
                    at=now,
                )
                kind = await repo.next_notification_kind(conn, order.id, "refund")
                await owe_notification_in(conn, order.id, kind, user_id=order.user_id, now=now)
                await raise_alert_in(
                    conn,
                    kind="staff_action",
                    message=f"↩️ <@{staff_id}> refunded **{refund.format()}** of order "
                    f"`{order.id}` to <@{order.user_id}>'s store credit.",
                    dedupe_key=f"wallet:staff:{interaction_id}",
                    order_id=order.id,
                )
        current = await repo.get_order(self.db, order.id)
        return WalletChange(amount=refund, balance=balance, repeated=not posted, order=current)
