"""Store credit: what staff do to wallets, and what members see of their own.

Every movement is one ledger row posted in the same transaction as its audit row and
its staff-channel line (storage.wallet, storage.audit, the alert outbox). A staff
action's idempotency key is its interaction id: an interaction Discord delivers twice
moves money once, and the second delivery is answered with what the first did.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import InvalidInput, UserFacingError, clip
from core import alerts
from core.domain import Money, OrderStatus, PaymentMode
from core.i18n import _
from storage import orders as repo
from storage import staff_actions, wallet
from storage.database import Database

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

    async def balance(self, user_id: int, currency: str) -> Money:
        return await wallet.balance(self.db, user_id, currency)

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
            raise InvalidInput(_("Say why in the note: the member and the ledger show it."))
        kind = wallet.EntryKind.CREDIT if amount.minor > 0 else wallet.EntryKind.ADJUSTMENT
        try:
            done = await staff_actions.adjust_wallet(
                self.db,
                wallet.Movement(
                    user_id=member_id,
                    amount=amount,
                    kind=kind,
                    actor=str(staff_id),
                    idempotency_key=f"staff:{interaction_id}",
                    note=note[:300],
                ),
                staff_id=staff_id,
                alert=lambda balance: alerts.wallet_adjusted(
                    staff_id, member_id, amount, clip(note, 200), balance, interaction_id
                ),
            )
        except wallet.InsufficientBalance as short:
            raise WalletError(
                _(
                    "<@{member_id}> has {balance}; a debit can't take a balance below zero. "
                    "Nothing was changed.",
                    member_id=member_id,
                    balance=short.balance.format(),
                )
            ) from None
        return WalletChange(amount=amount, balance=done.balance, repeated=done.repeated)

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
            raise WalletError(_("There is no order `{order_id}`.", order_id=clip(order_id)))
        if order.payment is not PaymentMode.WALLET:
            raise WalletError(_not_from_wallet(order.id, order.payment or PaymentMode.FREE))
        if order.status not in REFUNDABLE:
            # A live order keeps its payment (it may still reach the provider: refunding it
            # would send it unpaid); an ended one got it back automatically.
            raise WalletError(
                _(
                    "Order `{order_id}` is **{status}**. Only a completed or partly completed "
                    "order is refunded by hand; to stop a live order, set it failed or "
                    "cancelled (`/admin order set-status`): that refunds it automatically.",
                    order_id=order.id,
                    status=order.status.label,
                )
            )
        if amount is not None and amount.currency != order.total.currency:
            raise InvalidInput(
                _(
                    "Order `{order_id}` was paid in {paid_in}, not {currency}.",
                    order_id=order.id,
                    paid_in=order.total.currency,
                    currency=amount.currency,
                )
            )
        try:
            done = await staff_actions.refund_order(
                self.db,
                order,
                amount=amount,
                actor=str(staff_id),
                idempotency_key=f"staff:{interaction_id}",
                alert=lambda refund: alerts.order_refunded_by_staff(
                    order, staff_id, refund, interaction_id
                ),
            )
        except staff_actions.RefundRefused as refused:
            if refused.left <= 0:
                raise WalletError(
                    _(
                        "Everything paid for order `{order_id}` has already been refunded.",
                        order_id=order.id,
                    )
                ) from None
            raise WalletError(
                _(
                    "Order `{order_id}` has {left} left to refund; {asked} is more than that. "
                    "Nothing was refunded.",
                    order_id=order.id,
                    left=Money(refused.left, refused.asked.currency).format(),
                    asked=refused.asked.format(),
                )
            ) from None
        if done.from_earlier:
            # The same interaction again: answered with what the first delivery did.
            return WalletChange(done.amount, done.balance, repeated=True, order=order)
        current = await repo.get_order(self.db, order.id)
        return WalletChange(
            amount=done.amount, balance=done.balance, repeated=done.repeated, order=current
        )


def _not_from_wallet(order_id: str, payment: PaymentMode) -> str:
    """Why an order that wasn't paid from a wallet has no store credit to refund."""
    if payment is PaymentMode.APPROVAL:
        return _(
            "Order `{order_id}` was paid outside the bot (approval), so there is no store "
            "credit to refund. Use `/admin wallet credit` if you want to give the member "
            "credit.",
            order_id=order_id,
        )
    if payment is PaymentMode.FREE:
        return _(
            "Order `{order_id}` was free, so there is no store credit to refund. Use "
            "`/admin wallet credit` if you want to give the member credit.",
            order_id=order_id,
        )
    return _(
        "Order `{order_id}` was not paid from a wallet, so there is no store credit to "
        "refund. Use `/admin wallet credit` if you want to give the member credit.",
        order_id=order_id,
    )
