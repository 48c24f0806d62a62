"""What staff do to orders: deliver, set a status, retry, approve or reject a payment,
resolve a needs-review order, resend the DM, and link an existing provider order to a
member. (What they look at is bot.services.staff_orders.)

Every change is a compare-and-set on the status the staff member was looking at, and is
written with its audit trail in one transaction: an `order_events` row whose actor is the
staff member's id, and a staff-channel line (through the alert outbox, so it is never lost
and never posted twice; its text is in core/alerts.py). What the buyer is owed goes
through the notification outbox.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from bot.errors import InvalidInput, clip
from bot.presenters import NOT_APPROVED, ts
from bot.services.ordering import ConfirmOutcome, OrderingService
from bot.services.staff_orders import StaffOrderError, find_order
from core import alerts
from core.crypto import DeliveryCipher
from core.domain import Delivery, OrderSource, OrderStatus, can_transition
from core.i18n import N_, _
from core.kinds import NotificationKind
from storage import orders as repo
from storage import provider_health, staff_actions, staff_alerts, wallet
from storage.database import Database

log = logging.getLogger(__name__)

# Statuses staff may set by hand. `submitting` is not among them: sending is what
# retry does, through the same path as a buyer's Confirm.
SETTABLE = (
    OrderStatus.SUBMITTED,
    OrderStatus.PROCESSING,
    OrderStatus.COMPLETED,
    OrderStatus.PARTIALLY_COMPLETED,
    OrderStatus.FAILED,
    OrderStatus.REFUNDED,
    OrderStatus.CANCELLED,
)
DELIVERABLE = (
    OrderStatus.SUBMITTED,
    OrderStatus.PROCESSING,
    OrderStatus.NEEDS_REVIEW,
    OrderStatus.PARTIALLY_COMPLETED,
)


class StaffReview:
    def __init__(self, db: Database, cipher: DeliveryCipher, ordering: OrderingService) -> None:
        self.db = db
        self.cipher = cipher
        self.ordering = ordering

    async def deliverable(self, order_id: str) -> repo.OrderRecord:
        """The order, if staff can deliver it now; else a message saying why not."""
        order = await find_order(self.db, order_id)
        if order.status not in DELIVERABLE:
            raise StaffOrderError(
                _(
                    "Order `{order_id}` is **{status}**; only an open order can be "
                    "delivered. Use `/admin order resend` to send a finished order's DM again.",
                    order_id=order.id,
                    status=order.status.label,
                )
            )
        return order

    async def deliver(self, order_id: str, staff_id: int, delivery: Delivery) -> repo.OrderRecord:
        """Complete an order with what staff typed or attached; the buyer gets it by DM."""
        if delivery.is_empty():
            raise InvalidInput(_("The delivery is empty: type it, or attach a file."))
        order = await self.deliverable(order_id)
        size = len(delivery.reveal())
        updated = await self._change(
            order,
            repo.StatusChange(
                OrderStatus.COMPLETED,
                actor=str(staff_id),
                delivery=delivery,
                status_message=N_("Delivered by staff"),
                detail=f"delivered by staff ({size} characters)",
                notify_kind=NotificationKind.FINAL,
                alert=alerts.order_delivered(order, staff_id, size, time.time_ns()),
            ),
        )
        log.info("staff %s delivered order %s", staff_id, order.id)
        return updated

    async def set_status(
        self, order_id: str, staff_id: int, status: OrderStatus, note: str
    ) -> repo.OrderRecord:
        order = await find_order(self.db, order_id)
        note = note.strip()
        if not note:
            raise InvalidInput(_("Say why in the note: the buyer and the timeline show it."))
        if status not in SETTABLE:
            raise InvalidInput(_("Staff can't set **{status}** by hand.", status=status.label))
        if order.status is OrderStatus.SUBMITTING:
            # The bot is talking to the provider about it right now; its answer decides.
            raise StaffOrderError(
                _(
                    "Order `{order_id}` is being sent to {provider} right now. "
                    "Wait for the answer, then look at it again.",
                    order_id=order.id,
                    provider=order.provider,
                )
            )
        if status in (OrderStatus.SUBMITTED, OrderStatus.PROCESSING) and not order.remote_id:
            # Without the provider's id nothing can poll it: it would be stuck open.
            raise StaffOrderError(
                _(
                    "Order `{order_id}` has no {provider} order id yet. If the provider has "
                    "it, use `/admin order retry` → **Mark placed** and give its id.",
                    order_id=order.id,
                    provider=order.provider,
                )
            )
        if not can_transition(order.status, status):
            allowed = [s.label for s in SETTABLE if can_transition(order.status, s)]
            if allowed:
                refusal = _(
                    "Order `{order_id}` is **{status}**; it can't become **{new_status}**. "
                    "Allowed: {allowed}.",
                    order_id=order.id,
                    status=order.status.label,
                    new_status=status.label,
                    allowed=", ".join(allowed),
                )
            else:
                refusal = _(
                    "Order `{order_id}` is **{status}**; it can't become **{new_status}**. "
                    "Allowed: nothing (it is final).",
                    order_id=order.id,
                    status=order.status.label,
                    new_status=status.label,
                )
            raise StaffOrderError(refusal)
        return await self._change(
            order,
            repo.StatusChange(
                status,
                actor=str(staff_id),
                status_message=note[:300],
                detail=f"set by staff: {note[:300]}",
                # The buyer was told staff are checking: they hear it is placed, too.
                notify_kind=(
                    NotificationKind.FINAL
                    if status.is_terminal
                    else (
                        NotificationKind.PLACED
                        if order.status is OrderStatus.NEEDS_REVIEW
                        else None
                    )
                ),
                next_poll_at=order.next_poll_at,
                alert=alerts.order_status_set(
                    order, staff_id, order.status, status, note, time.time_ns()
                ),
            ),
        )

    async def retry_failed(self, order_id: str, staff_id: int) -> ConfirmOutcome:
        """Send a failed submission again, through the buyer's submission path (the
        checkout API gets the same id, so it can never become two orders)."""
        order = await find_order(self.db, order_id)
        if order.status is not OrderStatus.FAILED or order.source is not OrderSource.PLACED:
            raise StaffOrderError(
                _(
                    "Order `{order_id}` is **{status}**: only a failed submission can be retried.",
                    order_id=order.id,
                    status=order.status.label,
                )
            )
        if order.remote_id is not None:
            raise StaffOrderError(
                _(
                    "Order `{order_id}` already reached {provider} as `{remote_id}`; "
                    "retrying would order it twice. Set its status instead.",
                    order_id=order.id,
                    provider=order.provider,
                    remote_id=order.remote_id,
                )
            )
        return await self._resend_submission(order, staff_id, "retry of a failed submission")

    async def approve(self, order_id: str, staff_id: int) -> ConfirmOutcome:
        """Staff checked the buyer's payment: send the order, through the same path as a
        Confirm (the request frozen at Confirm, the buyer told the outcome by DM)."""
        order = await self._awaiting_approval(order_id)
        await self._not_held(order)
        claimed = await self._change(
            order,
            repo.StatusChange(
                OrderStatus.SUBMITTING,
                actor=str(staff_id),
                detail="payment approved by staff",
                alert=alerts.order_approved(order, staff_id, time.time_ns()),
            ),
        )
        return await self.ordering.submitter.submit(claimed)

    async def reject(self, order_id: str, staff_id: int, note: str) -> repo.OrderRecord:
        """Staff found no payment: the order ends unsent and the buyer is told why."""
        order = await self._awaiting_approval(order_id)
        note = " ".join(note.split()) or N_("Staff couldn't confirm your payment.")
        return await self._change(
            order,
            repo.StatusChange(
                OrderStatus.CANCELLED,
                actor=str(staff_id),
                # Stored in English, worded for the reader where shown (bot.presenters.shown_status).
                status_message=NOT_APPROVED.format(note=note[:280]),
                detail=f"rejected by staff: {note[:300]}",
                notify_kind=NotificationKind.FINAL,
                alert=alerts.order_rejected(order, staff_id, clip(note, 200), time.time_ns()),
            ),
        )

    async def resubmit(
        self, order_id: str, staff_id: int, seen: float | None = None
    ) -> ConfirmOutcome:
        """needs_review, resolved as "the provider has no such order": one more request.

        ``seen`` is the order's `updated_at` when the staff member was shown the choice:
        if it changed since (another resubmit came back ambiguous again), they must look
        again rather than send a third request on stale information."""
        order = await self._needs_review(order_id, seen)
        return await self._resend_submission(
            order, staff_id, "staff checked: the provider has no such order; resubmitted"
        )

    async def mark_placed(
        self, order_id: str, staff_id: int, remote_id: str, seen: float | None = None
    ) -> repo.OrderRecord:
        """needs_review, resolved as "the provider has it, as this id": poll it from now on."""
        order = await self._needs_review(order_id, seen)
        remote_id = remote_id.strip()
        adapter = self.ordering.providers.get(order.provider)
        if not remote_id or len(remote_id) > 100:
            raise InvalidInput(_("Give the provider's order id (up to 100 characters)."))
        if adapter is not None:
            problem = adapter.check_remote_id(remote_id)
            if problem:
                raise InvalidInput(problem)
        taken = await repo.get_order_by_remote_id(self.db, order.provider, remote_id)
        if taken is not None and taken.id != order.id:
            raise StaffOrderError(
                _(
                    "{provider} `{remote_id}` is already order `{order_id}`.",
                    provider=order.provider,
                    remote_id=remote_id,
                    order_id=taken.id,
                )
            )
        can_poll = adapter is not None and adapter.capabilities.can_poll
        return await self._change(
            order,
            repo.StatusChange(
                OrderStatus.SUBMITTED,
                actor=str(staff_id),
                remote_id=remote_id,
                status_message="",  # the provider's own words come with the next poll
                detail=f"staff checked: {order.provider} has it as {remote_id}",
                next_poll_at=time.time() if can_poll else None,
                notify_kind=NotificationKind.PLACED,  # the buyer was told staff are checking
                alert=alerts.order_marked_placed(
                    order, staff_id, remote_id, can_poll, time.time_ns()
                ),
            ),
        )

    async def mark_failed(
        self, order_id: str, staff_id: int, note: str, seen: float | None = None
    ) -> repo.OrderRecord:
        order = await self._needs_review(order_id, seen)
        note = note.strip() or N_("The provider did not place this order.")
        return await self._change(
            order,
            repo.StatusChange(
                OrderStatus.FAILED,
                actor=str(staff_id),
                status_message=note[:300],
                detail=f"staff checked: not placed ({note[:300]})",
                notify_kind=NotificationKind.FINAL,
                alert=alerts.order_marked_failed(order, staff_id, note, time.time_ns()),
            ),
        )

    async def resend(self, order_id: str, staff_id: int) -> str:
        """Owe the buyer the final DM again. Each resend is its own notification kind
        (resend-1, resend-2, …), so "at most one DM per order and kind" stays true."""
        order = await find_order(self.db, order_id)
        if not order.status.is_terminal:
            raise StaffOrderError(
                _(
                    "Order `{order_id}` is **{status}**: the buyer is DMed when it "
                    "finishes. Only a finished order's DM can be resent.",
                    order_id=order.id,
                    status=order.status.label,
                )
            )
        return await staff_actions.owe_resend(
            self.db,
            order,
            actor=str(staff_id),
            alert=lambda kind: alerts.order_dm_resent(order, staff_id, kind, time.time_ns()),
        )

    async def link(
        self,
        *,
        staff_id: int,
        provider: str,
        remote_id: str,
        member_id: int,
        member_name: str | None,
        guild_id: int | None,
    ) -> repo.OrderRecord:
        order = await self.ordering.link_external_order(
            staff_id=staff_id,
            member_id=member_id,
            guild_id=guild_id,
            provider=provider,
            remote_id=remote_id,
            member_name=member_name,
        )
        await staff_alerts.raise_alert(
            self.db, alerts.order_linked(order, staff_id, provider, member_id, time.time_ns())
        )
        return order

    # --- helpers ----------------------------------------------------------------------------

    async def _awaiting_approval(self, order_id: str) -> repo.OrderRecord:
        order = await find_order(self.db, order_id)
        if order.status is not OrderStatus.AWAITING_APPROVAL:
            raise StaffOrderError(
                _(
                    "Order `{order_id}` is **{status}**: it is not waiting for "
                    "approval (somebody may have decided already).",
                    order_id=order.id,
                    status=order.status.label,
                )
            )
        return order

    async def _needs_review(self, order_id: str, seen: float | None) -> repo.OrderRecord:
        order = await find_order(self.db, order_id)
        if order.status is not OrderStatus.NEEDS_REVIEW:
            raise StaffOrderError(
                _(
                    "Order `{order_id}` is **{status}**, not needs review: "
                    "someone may have resolved it already.",
                    order_id=order.id,
                    status=order.status.label,
                )
            )
        if seen is not None and order.updated_at != seen:
            raise StaffOrderError(
                _(
                    "Order `{order_id}` changed since these buttons were shown (it went back "
                    "to needs review). Run `/admin order view` and `/admin order retry` again.",
                    order_id=order.id,
                )
            )
        return order

    async def _change(self, order: repo.OrderRecord, change: repo.StatusChange) -> repo.OrderRecord:
        # The CAS: only from the status the staff member acted on. Another staff member,
        # or the poller, may have moved it meanwhile.
        change = dataclasses.replace(change, expect=order.status)
        try:
            return await repo.transition_order(self.db, order.id, change, self.cipher)
        except repo.StaleStatus as stale:
            raise StaffOrderError(
                _(
                    "Order `{order_id}` changed to **{status}** meanwhile; "
                    "look at it again before acting.",
                    order_id=order.id,
                    status=stale.current.label,
                )
            ) from None

    async def _resend_submission(
        self, order: repo.OrderRecord, staff_id: int, why: str
    ) -> ConfirmOutcome:
        await self._not_held(order)
        try:
            claimed = await self._change(
                order,
                repo.StatusChange(
                    OrderStatus.SUBMITTING,
                    actor=str(staff_id),
                    detail=why,
                    alert=alerts.order_sent_again(order, staff_id, why, time.time_ns()),
                ),
            )
        except wallet.InsufficientBalance as short:
            # Its payment came back (it failed and was refunded): sending it again takes
            # it again, or nothing is sent.
            raise StaffOrderError(
                _(
                    "Order `{order_id}` must be paid again before it is sent: <@{user_id}> "
                    "has {balance}, {needed} is due. Nothing was "
                    "sent. Credit them first (`/admin wallet credit`) if they have paid you.",
                    order_id=order.id,
                    user_id=order.user_id,
                    balance=short.balance.format(),
                    needed=short.needed.format(),
                )
            ) from None
        # The buyer isn't in this interaction: whatever the outcome, they hear it by DM.
        return await self.ordering.submitter.submit(claimed)

    async def _not_held(self, order: repo.OrderRecord) -> None:
        """A provider that asked us to hold off (Retry-After) gets nothing from staff
        either: a send now would most likely be refused, and end the order."""
        until = await provider_health.hold_until(self.db, order.provider)
        if until > time.time():
            raise StaffOrderError(
                _(
                    "{provider} asked us to wait until {time} ({relative}). Nothing was "
                    "sent; order `{order_id}` stays **{status}**. Try again then.",
                    provider=order.provider,
                    time=ts(until + 1, "T"),
                    relative=ts(until + 1, "R"),
                    order_id=order.id,
                    status=order.status.label,
                )
            )
