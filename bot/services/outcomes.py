"""Recording what became of a send: accepted, failed, to staff, or re-sent later.

Every move is a compare-and-set on `submitting` (staff acting meanwhile win), and owes
the buyer their DM and staff their alert in the same transaction (storage.orders). The
provider's id is stored before anything else is done with its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.providers.base import ProviderAdapter
from bot.providers.models import ProviderOrder
from bot.services.classify import BuyerNote
from core import alerts
from core.crypto import DeliveryCipher
from core.domain import IllegalTransition, OrderStatus
from core.i18n import N_, _, in_staff_language
from core.kinds import EventKind, NotificationKind
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database

log = logging.getLogger(__name__)

# What a buyer whose order went to staff is told by default (translate with _).
WAITING_FOR_STAFF = N_("Your order is waiting for staff.")
# The order's status message while staff check it (stored; translated where shown).
CHECKING_WITH_PROVIDER = N_("Checking with the provider")
# `keep_answer`'s answer when the order holding the provider's id isn't named.
# Translators: in a staff alert, where an order id would stand ("already order `…`")
ANOTHER_ORDER = N_("another order")


class ConfirmResult(StrEnum):
    SUBMITTED = "submitted"  # the provider has it
    FAILED = "failed"  # refused; the buyer sees why
    NEEDS_REVIEW = "needs_review"  # outcome unknown; staff are checking
    RETRYING = "retrying"  # idempotent provider unreachable; we keep re-sending
    AWAITING_APPROVAL = "awaiting_approval"  # staff check the payment, then approve
    ALREADY = "already"  # a previous press already confirmed it
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ConfirmOutcome:
    result: ConfirmResult
    order: repo.OrderRecord | None
    user_message: str


def review_message(note: BuyerNote, order_id: str) -> str:
    """What a buyer whose order went to staff is told: never "try again"."""
    if note is BuyerNote.CHECKING:
        return _(
            "We couldn't confirm order `{order_id}` with the provider yet. "
            "Staff are checking with them; you won't be charged twice.",
            order_id=order_id,
        )
    if note is BuyerNote.UNREADABLE:
        return _(
            "We couldn't read the provider's answer for order `{order_id}`. "
            "Staff are checking; you won't be charged twice.",
            order_id=order_id,
        )
    return _(WAITING_FOR_STAFF)


class Outcomes:
    def __init__(
        self,
        db: Database,
        cipher: DeliveryCipher,
        clock: Callable[[], float],
        *,
        first_poll_delay: float,
    ) -> None:
        # Poll soon after submission: buyers want news fast.
        self.first_poll_delay = first_poll_delay
        self.db = db
        self.cipher = cipher
        self.clock = clock

    async def keep_answer(
        self, order: repo.OrderRecord, remote_id: str | None, raw_status: str | None, detail: str
    ) -> str | None:
        """Store what the provider told us about a create before acting on it. Returns
        None, or the order that already has `remote_id` (then only the event is kept)."""
        try:
            await repo.record_provider_answer(
                self.db,
                order.id,
                remote_id=remote_id,
                raw_status=raw_status,
                detail=detail,
                expect=OrderStatus.SUBMITTING,
            )
        except repo.DuplicateOrder as dup:
            await repo.record_provider_answer(
                self.db,
                order.id,
                remote_id=None,
                raw_status=raw_status,
                detail=f"{detail} (that id is already order {dup.existing_id})",
                expect=OrderStatus.SUBMITTING,
            )
            return dup.existing_id or ANOTHER_ORDER
        return None

    async def accepted(
        self,
        order: repo.OrderRecord,
        adapter: ProviderAdapter,
        answer: ProviderOrder,
        notify: bool,
    ) -> ConfirmOutcome:
        """`notify`: the buyer isn't watching, so an order that went through owes them a
        "placed" DM. (Endings and reviews are always DMed.)"""
        # The provider's id first, in its own transaction: whatever goes wrong below, it
        # is never lost (staff and recovery see it).
        try:
            taken_by = await self.keep_answer(
                order,
                answer.remote_id,
                answer.raw_status,
                f"{order.provider} answered: order {answer.remote_id}, {answer.raw_status}",
            )
        except repo.StaleStatus as stale:
            return await self.answer_too_late(order, answer, stale.current)
        if taken_by is not None:
            return await self.needs_review(
                order,
                _id_taken(order.provider, answer.remote_id, taken_by),
                review_message(BuyerNote.CHECKING, order.id),
            )
        status = answer.status or OrderStatus.SUBMITTED  # unknown raw status: still open
        if status is OrderStatus.SUBMITTING:
            status = OrderStatus.SUBMITTED
        if status is OrderStatus.COMPLETED and answer.delivery_missing:
            status = OrderStatus.PROCESSING  # done, but the goods are still to come
        next_poll = self.clock() + self.first_poll_delay if adapter.capabilities.can_poll else None
        price = f"{answer.price} {answer.currency}".strip() if answer.price else None
        if status.is_terminal:
            owed: NotificationKind | None = NotificationKind.FINAL
        else:
            # The buyer not watching Confirm hears that it went through, too.
            owed = NotificationKind.PLACED if notify else None
        try:
            updated = await repo.transition_order(
                self.db,
                order.id,
                repo.StatusChange(
                    status,
                    actor=repo.ACTOR_PROVIDER,
                    raw_status=answer.raw_status,
                    status_message=answer.status_message,
                    remote_id=answer.remote_id,
                    remote_price=price,
                    delivery=answer.delivery,
                    next_poll_at=next_poll,
                    detail=f"accepted by {order.provider} as {answer.remote_id}",
                    notify_kind=owed,
                    expect=OrderStatus.SUBMITTING,
                    alert=alerts.new_order(order, answer.remote_id, status),
                ),
                self.cipher,
            )
        except repo.StaleStatus as stale:
            return await self.answer_too_late(order, answer, stale.current)
        except IllegalTransition as exc:
            # A real provider status we can't move to from here: recorded, and staff decide.
            return await self.needs_review(
                order,
                _cannot_follow(order.provider, answer, exc),
                _(
                    "Order `{order_id}` reached the provider; staff are checking its status.",
                    order_id=order.id,
                ),
            )
        log.info(
            "order %s accepted by %s as %s (%s)",
            order.id,
            order.provider,
            answer.remote_id,
            answer.raw_status,
        )
        if status.is_terminal:
            message = _(
                "Order `{order_id}` is already **{status}** at the provider. "
                "You'll get a DM with the details; `/order` shows it any time.",
                order_id=order.id,
                status=updated.status.label,
            )
        else:
            message = _(
                "Order `{order_id}` is placed: **{status}**. "
                "You'll get a DM when it's done; `/order` shows it any time.",
                order_id=order.id,
                status=updated.status.label,
            )
        ending = alerts.bad_ending(order, status, answer.raw_status)
        if ending is not None:
            await staff_alerts.raise_alert(self.db, ending)
        return ConfirmOutcome(ConfirmResult.SUBMITTED, updated, message)

    async def answer_too_late(
        self, order: repo.OrderRecord, answer: ProviderOrder, current: OrderStatus
    ) -> ConfirmOutcome:
        """The provider answered after somebody else (staff) already moved the order."""
        await staff_alerts.raise_alert(
            self.db, alerts.late_answer(order, answer.remote_id, answer.raw_status, current)
        )
        latest = await repo.get_order(self.db, order.id)
        return ConfirmOutcome(ConfirmResult.ALREADY, latest, _looked_after(order.id, current))

    async def failed(self, order: repo.OrderRecord, reason: str, detail: str) -> ConfirmOutcome:
        """`reason`: the buyer's (classify's English, translated here, or the provider's
        own words); `detail`: staff's."""
        try:
            updated = await repo.transition_order(
                self.db,
                order.id,
                repo.StatusChange(
                    OrderStatus.FAILED,
                    actor=repo.ACTOR_PROVIDER,
                    status_message=reason,
                    detail=detail,
                    # Always owed, also when the buyer is looking at their Confirm: an
                    # interaction's answer can go unseen (an expired token, a crash).
                    notify_kind=NotificationKind.FINAL,
                    expect=OrderStatus.SUBMITTING,
                    alert=alerts.order_failed(order, detail, updated_at=order.updated_at),
                ),
                self.cipher,
            )
        except repo.StaleStatus as stale:
            return await self.moved_meanwhile(order, stale.current)
        log.warning("order %s failed at submission: %s", order.id, detail)
        return ConfirmOutcome(
            ConfirmResult.FAILED,
            updated,
            _(
                "Order `{order_id}` could not be placed: {reason}.",
                order_id=order.id,
                reason=_(reason) if reason else reason,  # _("") is the catalog's header
            ),
        )

    async def needs_review(
        self, order: repo.OrderRecord, detail: str, user_message: str | None = None
    ) -> ConfirmOutcome:
        """`detail`: staff's words (their alert, the timeline); `user_message`: the
        buyer's, WAITING_FOR_STAFF in their language by default."""
        if user_message is None:
            user_message = _(WAITING_FOR_STAFF)
        try:
            updated = await repo.transition_order(
                self.db,
                order.id,
                repo.StatusChange(
                    OrderStatus.NEEDS_REVIEW,
                    actor=repo.ACTOR_SYSTEM,
                    status_message=CHECKING_WITH_PROVIDER,
                    detail=detail,
                    expect=OrderStatus.SUBMITTING,
                    # Always owed (one per review), also after a Confirm: see failed().
                    notify_kind=NotificationKind.REVIEW,
                    alert=alerts.needs_review(order, detail, updated_at=order.updated_at),
                ),
                self.cipher,
            )
        except repo.StaleStatus as stale:
            return await self.moved_meanwhile(order, stale.current)
        log.warning("order %s needs review: %s", order.id, detail)
        return ConfirmOutcome(ConfirmResult.NEEDS_REVIEW, updated, user_message)

    async def moved_meanwhile(
        self, order: repo.OrderRecord, current: OrderStatus
    ) -> ConfirmOutcome:
        # Staff (or another job) moved the order while it was being sent; theirs stands.
        log.info("order %s moved to %s while being sent; leaving it", order.id, current.value)
        latest = await repo.get_order(self.db, order.id)
        return ConfirmOutcome(ConfirmResult.ALREADY, latest, _looked_after(order.id, current))

    async def resend_later(
        self, order: repo.OrderRecord, problem: str, delay: float
    ) -> ConfirmOutcome:
        """The order stays `submitting`; recovery sends the same request in `delay` s."""
        await repo.set_next_poll(self.db, order.id, self.clock() + delay)
        await repo.add_event(
            self.db,
            order.id,
            actor=repo.ACTOR_SYSTEM,
            kind=EventKind.RETRY,
            detail=f"{problem}; re-sending the same request in {delay:g}s",
        )
        log.info("order %s: %s; re-send in %.0fs", order.id, problem, delay)
        return ConfirmOutcome(
            ConfirmResult.RETRYING,
            await repo.get_order(self.db, order.id),
            _(
                "Order `{order_id}` is recorded. The provider is slow to answer, so we'll keep "
                "trying automatically — you'll get a DM with the result.",
                order_id=order.id,
            ),
        )


def _looked_after(order_id: str, current: OrderStatus) -> str:
    return _(
        "Order `{order_id}` is **{status}**; staff are looking after it.",
        order_id=order_id,
        status=current.label,
    )


# The details: staff's words (their alerts and the timeline), so in the staff language
# whoever's Confirm this is.


@in_staff_language
def _id_taken(provider: str, remote_id: str | None, taken_by: str) -> str:
    return _(
        "{provider} answered with order id `{remote_id}`, which is already order `{other}`",
        provider=provider,
        remote_id=remote_id,
        other=_(taken_by),  # an order id, or ANOTHER_ORDER
    )


@in_staff_language
def _cannot_follow(provider: str, answer: ProviderOrder, exc: IllegalTransition) -> str:
    return _(
        "{provider} accepted it as `{remote_id}` but answered {raw_status} ({new}), which "
        "can't follow {old}",
        provider=provider,
        remote_id=answer.remote_id,
        raw_status=answer.raw_status,
        new=exc.new.label,
        old=exc.old.label,
    )
