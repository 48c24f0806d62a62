"""What a provider's answer to a poll means for the order: a status change (with the
buyer's DM and staff's alert in the same transaction), an unchanged order's next poll,
an unknown status, a completion still waiting for its goods, or an id we won't use.

The Poller decides whom to ask and when; this decides what the answer changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.providers.errors import InvalidRemoteId
from bot.providers.models import ProviderOrder
from bot.services.schedule import PollSchedule
from core import alerts
from core.crash_points import crash_point
from core.crypto import DeliveryCipher
from core.domain import IllegalTransition, OrderStatus
from core.i18n import N_
from core.kinds import Alert, EventKind, NotificationKind
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database

log = logging.getLogger(__name__)

# A provider that says an order of goods is COMPLETED but sends no goods is asked again
# for this long (it may attach them a moment later); then the order goes to staff.
DELIVERY_WAIT_SECONDS = 15 * 60.0
# The order's status message then (stored, and shown to the buyer: translated where shown).
FETCHING_DELIVERY = N_("Completed by the provider; staff are fetching the delivery")


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
            alert=alerts.invalid_remote_id(order, exc.message),
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
        alert: Alert,
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
                    notify_kind=NotificationKind.REVIEW,  # the buyer hears staff took it over
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
        first = await repo.first_event_at(self.db, order.id, EventKind.AWAITING_DELIVERY)
        if first is None:
            first = now
            await repo.add_event(
                self.db,
                order.id,
                actor=repo.ACTOR_PROVIDER,
                kind=EventKind.AWAITING_DELIVERY,
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
            status_message=FETCHING_DELIVERY,
            detail=f"{order.provider} says {answer.raw_status[:50]} but sent no "
            f"delivery in {minutes:.0f} min",
            alert=alerts.delivery_missing(order, answer.raw_status, minutes),
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
            await staff_alerts.raise_alert(self.db, alerts.unknown_status(order, answer.raw_status))
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
                    notify_kind=NotificationKind.FINAL if answer.status.is_terminal else None,
                    expect=order.status,
                    alert=alerts.bad_ending(order, answer.status, answer.raw_status),
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
                alerts.illegal_transition(order, exc.old, exc.new, answer.raw_status),
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
