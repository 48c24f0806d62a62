"""What a provider's answer to a poll means for the order: a status change (with the
buyer's DM and staff's alert in the same transaction), an unchanged order's next poll,
an unknown status, a completion still waiting for its goods, or an id we won't use.

The Poller decides whom to ask and when; this decides what the answer changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.providers.base import ProviderOrder
from bot.providers.errors import InvalidRemoteId
from bot.services.schedule import PollSchedule
from core.crash_points import crash_point
from core.crypto import DeliveryCipher
from core.domain import IllegalTransition, OrderStatus
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database

log = logging.getLogger(__name__)

# A provider that says an order of goods is COMPLETED but sends no goods is asked again
# for this long (it may attach them a moment later); then the order goes to staff.
DELIVERY_WAIT_SECONDS = 15 * 60.0
# Provider-side endings that staff should hear about (the buyer is DMed in any case).
BAD_ENDINGS = (OrderStatus.FAILED, OrderStatus.REFUNDED, OrderStatus.PARTIALLY_COMPLETED)


class PollAnswers:
    def __init__(
        self,
        db: Database,
        cipher: DeliveryCipher,
        schedule: PollSchedule,
        clock: Callable[[], float],
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.schedule = schedule
        self.clock = clock

    async def unusable_remote_id(
        self,
        order: repo.OrderRecord,
        exc: InvalidRemoteId,
        bookkeeping: list[repo.PollBookkeeping],
    ) -> None:
        now = self.clock()
        await self._hand_to_staff(
            order,
            detail=exc.message,
            alert=repo.AlertSpec(
                "invalid_remote_id",
                f"⚠️ Order `{order.id}` can't be tracked: {exc.message}, so it is never "
                f"put in a request to {order.provider}. Find the order at the provider, "
                f"then use Mark placed in `/admin order view order_id:{order.id}`.",
                f"invalid_remote_id:{order.id}",
                group_key=f"invalid_remote_id:{order.provider}",
            ),
            if_moved_meanwhile=repo.PollBookkeeping(
                order.id, now, now + self.schedule.failure_cap, ok=False, counted=False
            ),
            bookkeeping=bookkeeping,
        )

    async def _hand_to_staff(
        self,
        order: repo.OrderRecord,
        *,
        detail: str,
        alert: repo.AlertSpec,
        if_moved_meanwhile: repo.PollBookkeeping,
        bookkeeping: list[repo.PollBookkeeping],
        raw_status: str | None = None,
        status_message: str | None = None,
    ) -> None:
        """needs_review with a staff alert and a DM to the buyer, from the status the
        order was polled in; if it moved meanwhile, only its schedule is kept."""
        try:
            await repo.transition_order(
                self.db,
                order.id,
                repo.StatusChange(
                    OrderStatus.NEEDS_REVIEW,
                    actor=repo.ACTOR_SYSTEM,
                    notify_kind="review",  # the buyer hears that staff took it over
                    raw_status=raw_status,
                    status_message=status_message,
                    detail=detail,
                    expect=order.status,
                    alert=alert,
                ),
                self.cipher,
            )
        except (repo.StaleStatus, IllegalTransition):
            bookkeeping.append(if_moved_meanwhile)

    async def _await_delivery(
        self,
        order: repo.OrderRecord,
        answer: ProviderOrder,
        bookkeeping: list[repo.PollBookkeeping],
    ) -> None:
        """The provider says COMPLETED without the goods: ask again, for a while."""
        now = self.clock()
        first = await repo.first_event_at(self.db, order.id, "awaiting_delivery")
        if first is None:
            first = now
            await repo.add_event(
                self.db,
                order.id,
                actor=repo.ACTOR_PROVIDER,
                kind="awaiting_delivery",
                detail=f"{order.provider} says {answer.raw_status[:50]} but sent no delivery "
                "yet; asking again",
                at=now,
            )
        waited = now - first
        if waited < DELIVERY_WAIT_SECONDS:
            delay = self.schedule.next_unchanged(OrderStatus.PROCESSING, order.unchanged_polls + 1)
            bookkeeping.append(
                repo.PollBookkeeping(
                    order.id, now, now + delay, ok=True, raw_status=answer.raw_status
                )
            )
            return
        minutes = waited / 60
        await self._hand_to_staff(
            order,
            raw_status=answer.raw_status,
            status_message="Completed by the provider; staff are fetching the delivery",
            detail=f"{order.provider} says {answer.raw_status[:50]} but sent no "
            f"delivery in {minutes:.0f} min",
            alert=repo.AlertSpec(
                "delivery_missing",
                f"📦 {order.provider} says order `{order.id}` (remote "
                f"`{order.remote_id}`) is {answer.raw_status[:50]}, but sent no delivery "
                f"in {minutes:.0f} min. Get the goods from {order.provider} and send them "
                f"with `/admin order deliver order_id:{order.id}`.",
                f"delivery_missing:{order.id}",
                group_key=f"delivery_missing:{order.provider}",
            ),
            if_moved_meanwhile=repo.PollBookkeeping(
                order.id, now, now + self.schedule.next_after_change(), ok=True
            ),
            bookkeeping=bookkeeping,
        )

    async def record(
        self,
        order: repo.OrderRecord,
        answer: ProviderOrder,
        bookkeeping: list[repo.PollBookkeeping],
    ) -> None:
        now = self.clock()
        if answer.status is None:
            # Unknown to us: still open. Tell staff once per order and value.
            await staff_alerts.raise_alert(
                self.db,
                kind="unknown_status",
                message=f"❓ {order.provider} reports an unknown status `{answer.raw_status[:50]}` "
                f"for order `{order.id}`. It stays open and keeps being polled; "
                f"`/admin order view order_id:{order.id}` shows it.",
                dedupe_key=f"unknown_status:{order.id}:{answer.raw_status[:50]}",
                order_id=order.id,
                group_key=f"unknown_status:{order.provider}",
            )
            next_at = now + self.schedule.next_unchanged(order.status, order.unchanged_polls + 1)
            bookkeeping.append(
                repo.PollBookkeeping(order.id, now, next_at, ok=True, raw_status=answer.raw_status)
            )
            return
        if answer.status is OrderStatus.COMPLETED and answer.delivery_missing:
            await self._await_delivery(order, answer, bookkeeping)
            return
        if answer.status is order.status:
            next_at = now + self.schedule.next_unchanged(order.status, order.unchanged_polls + 1)
            bookkeeping.append(
                repo.PollBookkeeping(order.id, now, next_at, ok=True, raw_status=answer.raw_status)
            )
            return
        crash_point("poll.read")
        try:
            await repo.transition_order(
                self.db,
                order.id,
                repo.StatusChange(
                    answer.status,
                    actor=repo.ACTOR_PROVIDER,
                    raw_status=answer.raw_status,
                    status_message=answer.status_message,
                    delivery=answer.delivery,
                    next_poll_at=now + self.schedule.next_after_change(),
                    detail=f"{order.provider} says {answer.raw_status}",
                    notify_kind="final" if answer.status.is_terminal else None,
                    expect=order.status,
                    alert=bad_ending_alert(order, answer.status, answer.raw_status),
                ),
                self.cipher,
            )
            log.info(
                "order %s: %s -> %s (%s)",
                order.id,
                order.status.value,
                answer.status.value,
                answer.raw_status,
            )
        except IllegalTransition as exc:
            await staff_alerts.raise_alert(
                self.db,
                kind="illegal_transition",
                message=f"⚠️ {order.provider} moved order `{order.id}` from {exc.old.label} to "
                f"{exc.new.label} (`{answer.raw_status}`), which we don't allow. Check it with "
                f"`/admin order view order_id:{order.id}`.",
                dedupe_key=f"illegal:{order.id}:{exc.old.value}:{exc.new.value}",
                order_id=order.id,
                group_key=f"illegal_transition:{order.provider}",
            )
            bookkeeping.append(
                repo.PollBookkeeping(order.id, now, now + self.schedule.pending_cap, ok=True)
            )
        except repo.StaleStatus:
            # Staff changed it while we were asking; their word wins. Release the lease.
            bookkeeping.append(
                repo.PollBookkeeping(
                    order.id, now, now + self.schedule.next_after_change(), ok=True
                )
            )


def bad_ending_alert(
    order: repo.OrderRecord, status: OrderStatus | None, raw_status: str
) -> repo.AlertSpec | None:
    """Staff hear about a provider-side bad ending (the buyer is DMed in any case),
    whether a poll found it or the create answered with it."""
    if status not in BAD_ENDINGS:
        return None
    assert status is not None
    return repo.AlertSpec(
        "provider_outcome",
        f"🧾 {order.provider} says order `{order.id}` by <@{order.user_id}> is "
        f"**{status.label}** (`{raw_status[:50]}`). The buyer is being told. "
        f"`/admin order view order_id:{order.id}` shows it.",
        f"provider_outcome:{order.id}:{status.value}",
        group_key=f"provider_outcome:{order.provider}",
    )
