"""Sending a confirmed order to its provider, and recording whatever comes back.

The rules (docs/architecture.md, "Exactly-once submission"):
- the request sent is the one frozen at confirm, every time;
- the provider's id is stored before anything else is done with its answer;
- once bytes may have left, any exception means "outcome unknown": the idempotent
  provider (checkout) gets the same request again later, the other (boost) goes to
  staff as needs_review, and the buyer is never told to try again;
- every move is a compare-and-set on `submitting`: staff acting meanwhile win.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.catalog import Catalog
from bot.providers.base import CreateRequest, PreparedCreate, ProviderAdapter, ProviderOrder
from bot.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    SubmissionAmbiguous,
)
from bot.providers.registry import ProviderRegistry
from bot.services.poll_answers import bad_ending_alert
from core.crash_points import crash_point
from core.crypto import DeliveryCipher
from core.domain import IllegalTransition, OrderStatus
from storage import orders as repo
from storage import provider_health, staff_alerts
from storage.database import Database

log = logging.getLogger(__name__)

FIRST_POLL_DELAY = 2.0  # poll soon after submission: buyers want news fast
RESUBMIT_DELAYS = (5.0, 15.0, 45.0, 120.0, 300.0)  # idempotent re-sends, then staff
# An order still `submitting` this long after its send began, and not in flight in this
# process, was abandoned by an unexpected error: it is recovered (re-sent or to staff).
STUCK_SUBMITTING_AFTER = 120.0


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


def create_request(
    order: repo.OrderRecord, catalog: Catalog, cipher: DeliveryCipher
) -> CreateRequest:
    """What the buyer confirmed, for the adapter to build its request from."""
    product = catalog.get(order.product_key)
    return CreateRequest(
        order_id=order.id,
        product_key=order.product_key,
        product_name=order.product_name,
        quantity=order.quantity,
        unit_price=order.unit_price,
        details=order.details,
        contact=order.contact(cipher),
        options=product.options if product else {},
    )


class Submitter:
    def __init__(
        self,
        db: Database,
        cipher: DeliveryCipher,
        catalog: Catalog,
        providers: ProviderRegistry,
        *,
        clock: Callable[[], float] = time.time,
        resubmit_delays: tuple[float, ...] = RESUBMIT_DELAYS,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.catalog = catalog
        self.providers = providers
        self.clock = clock
        self.resubmit_delays = resubmit_delays
        # Orders being sent right now by this process: a re-send job or the startup
        # recovery must not send the same order concurrently.
        self._in_flight: set[str] = set()

    async def _hold(self, exc: ProviderRateLimited) -> None:
        provider, until = exc.provider, self.clock() + exc.retry_after
        try:
            await provider_health.set_hold(self.db, provider, until)
            if exc.asked is not None:
                # Same alert (and dedupe) as a poll's clamped hold: staff hear it once.
                await staff_alerts.raise_alert(
                    self.db,
                    kind="provider_hold",
                    message=f"⏳ {provider} asked us to wait {exc.asked:g}s, which we cut to "
                    f"{exc.retry_after:.0f}s (Retry-After): nothing is sent to it until "
                    f"<t:{int(until)}:T>. Nothing to do unless it keeps happening; "
                    "`/admin providers` shows it.",
                    dedupe_key=f"provider_hold:{provider}:{int(until // 60)}",
                    group_key=f"provider_hold:{provider}",
                )
        except Exception:
            log.exception("recording %s's Retry-After hold failed", provider)

    async def _record_submission(self, provider: str, exc: ProviderError | None) -> None:
        # Bookkeeping for /admin providers, between a provider's answer and recording it:
        # it must never be the reason an answer is lost, so any failure here is only logged.
        try:
            await provider_health.record_submission(
                self.db,
                provider,
                error_kind=exc.kind if exc is not None else None,
                error=exc.message if exc is not None else None,
            )
        except Exception:
            log.exception("recording a %s submission for /admin providers failed", provider)

    async def _frozen_request(
        self, order: repo.OrderRecord, adapter: ProviderAdapter
    ) -> PreparedCreate:
        text = order.frozen_request(self.cipher)
        if text is not None:
            return PreparedCreate.from_json(text)
        # Confirmed before requests were frozen: build it now, once; re-sends repeat it.
        prepared = adapter.prepare_create(create_request(order, self.catalog, self.cipher))
        await repo.freeze_request(self.db, order.id, prepared.to_json(), self.cipher)
        return prepared

    def reserve(self, order_id: str) -> bool:
        """Mark an order as being sent by this process, before the claim that makes it
        `submitting` is committed: recovery, which skips such orders, can't mistake a
        fresh Confirm for a crash leftover in between. False if it already is."""
        if order_id in self._in_flight:
            return False
        self._in_flight.add(order_id)
        return True

    def release(self, order_id: str) -> None:
        self._in_flight.discard(order_id)

    async def submit(
        self, order: repo.OrderRecord, *, buyer_watching: bool = False, reserved: bool = False
    ) -> ConfirmOutcome:
        """Send a `submitting` order to its provider and record the answer.

        Never raises: once a request may have left, no error may reach the buyer as
        "something went wrong, try again" (trying again could order it twice)."""
        if not reserved and not self.reserve(order.id):
            return ConfirmOutcome(
                ConfirmResult.ALREADY, order, f"Order `{order.id}` is being sent right now."
            )
        try:
            # A re-send, or a staff retry, happens when the buyer isn't watching: a failure
            # then reaches them by DM instead of in their Confirm interaction.
            return await self._submit(order, not buyer_watching)
        except Exception:
            # Even recording the outcome failed (the database, most likely). The order is
            # still `submitting`: recover_submitting picks it up (a re-send with the same
            # id, or staff review), so the buyer must only wait.
            log.exception("order %s: the outcome of sending it could not be recorded", order.id)
            return ConfirmOutcome(
                ConfirmResult.NEEDS_REVIEW,
                None,
                f"Order `{order.id}` was sent, but we couldn't record the provider's answer "
                "yet. Please don't order it again: we'll sort it out and DM you. `/order` "
                "shows where it is.",
            )
        finally:
            self.release(order.id)

    async def _submit(self, order: repo.OrderRecord, notify: bool) -> ConfirmOutcome:
        """`notify`: the buyer isn't watching, so an order that went through owes them a
        "placed" DM. (Endings and reviews are always DMed.)"""
        adapter = self.providers.get(order.provider)
        if adapter is None:
            return await self._needs_review(
                order,
                f"provider {order.provider} is not configured",
                "Your order is waiting for staff.",
            )
        try:
            prepared = await self._frozen_request(order, adapter)
        except ProviderRejected as exc:
            # Only an order confirmed before requests were frozen gets here; its request
            # was refused as it was being built, so nothing was sent this time.
            reason = exc.user_message or "the provider would refuse the order"
            return await self._failed(order, reason, exc.message)
        except Exception as exc:
            # The frozen request doesn't decrypt (a key was removed) or doesn't parse. It may
            # have been sent already, and it can't be repeated: staff must look.
            log.error(
                "order %s: its frozen request can't be read (%s)", order.id, type(exc).__name__
            )
            return await self._needs_review(
                order,
                f"the request frozen at confirm can't be read ({type(exc).__name__}); it may "
                "have been sent before",
                "Your order is waiting for staff.",
            )
        # Sends of this submission so far (a staff retry starts a new one). Counted from
        # events written before each send, so the count holds even when recording an
        # outcome keeps failing: re-sends are bounded whatever happens after them.
        attempt = await repo.count_sends_since_status(self.db, order.id)
        if attempt > len(self.resubmit_delays):
            return await self._needs_review(
                order,
                f"sent {attempt} times without a recorded outcome",
                "Your order is waiting for staff.",
            )
        await repo.add_event(
            self.db,
            order.id,
            actor=repo.ACTOR_SYSTEM,
            kind="send",
            detail=f"sent to {order.provider}" + (f" (re-send {attempt})" if attempt else ""),
        )
        try:
            try:
                answer = await adapter.send_create(prepared)
            except ProviderError as exc:
                await self._record_submission(order.provider, exc)
                if isinstance(exc, ProviderRateLimited):
                    await self._hold(exc)
                if isinstance(exc, ProviderAuthError):
                    await staff_alerts.raise_alert(
                        self.db,
                        kind="provider_auth",
                        message=f"🔑 {order.provider} rejected our credentials while placing "
                        f"order `{order.id}` ({exc.message}). Fix {order.provider.upper()}_API_* "
                        "in the settings and restart; `/admin providers` shows its health.",
                        dedupe_key=f"provider_auth:{order.provider}:{int(self.clock() // 3600)}",
                    )
                raise
            crash_point("create.answered")
            await self._record_submission(order.provider, None)
        except SubmissionAmbiguous as exc:
            # No usable answer, or one that contradicts our request (a 409, another id).
            if exc.remote_id is not None:
                await self._keep_answer(order, exc.remote_id, None, exc.message)
            if adapter.capabilities.idempotent_create and attempt:
                exc.message += f" (after {attempt} earlier send(s))"
            return await self._needs_review(
                order,
                exc.message,
                f"We couldn't confirm order `{order.id}` with the provider yet. "
                "Staff are checking with them; you won't be charged twice.",
            )
        except (ProviderRejected, ProviderAuthError) as exc:
            if adapter.capabilities.idempotent_create and (attempt or exc.earlier_send):
                # A refusal of a re-send says nothing about the earlier send, which may
                # have landed: never "nothing was ordered" then.
                return await self._needs_review(
                    order,
                    f"{exc.message}, refusing a re-send; an earlier send may have reached it",
                    f"We couldn't confirm order `{order.id}` with the provider yet. "
                    "Staff are checking with them; you won't be charged twice.",
                )
            if isinstance(exc, ProviderRejected):
                reason = exc.user_message or "the provider refused the order"
                return await self._failed(order, reason, exc.message)
            return await self._failed(
                order,
                "the provider is unavailable right now; nothing was ordered, please try again "
                "later",
                exc.message,
            )
        except (ProviderUnavailable, ProviderRateLimited, ProviderProtocolError) as exc:
            if adapter.capabilities.idempotent_create:
                return await self._retry_later(order, exc.message, attempt, _wait_asked(exc))
            if isinstance(exc, ProviderProtocolError):
                # A 2xx we can't read: the provider may well have the order.
                return await self._needs_review(
                    order,
                    exc.message,
                    f"We couldn't read the provider's answer for order `{order.id}`. "
                    "Staff are checking; you won't be charged twice.",
                )
            # Unavailable here means the request never left (a refused connection), and a
            # 429 means the provider didn't act on it: nothing was ordered.
            reason = (
                "the provider is busy right now"
                if isinstance(exc, ProviderRateLimited)
                else "the provider is unavailable right now"
            )
            return await self._failed(
                order,
                f"{reason}; nothing was ordered, please try again later",
                exc.message,
            )
        except Exception as exc:
            # Any other error once the request may have left: the outcome is unknown. The
            # idempotent provider gets the same request again; the other goes to staff.
            log.exception(
                "order %s: %s while sending it to %s", order.id, type(exc).__name__, order.provider
            )
            detail = f"unexpected {type(exc).__name__} after sending; the provider may have it"
            if adapter.capabilities.idempotent_create:
                return await self._retry_later(order, detail, attempt)
            return await self._needs_review(order, detail, "Your order is waiting for staff.")
        try:
            return await self._accepted(order, adapter, answer, notify)
        except Exception as exc:
            log.exception("order %s: recording %s's answer failed", order.id, order.provider)
            return await self._needs_review(
                order,
                f"{order.provider} accepted it as `{answer.remote_id}` ({answer.raw_status}), but "
                f"recording that failed ({type(exc).__name__})",
                f"Order `{order.id}` reached the provider; staff are checking its details. "
                "You won't be charged twice.",
            )

    async def _keep_answer(
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
            return dup.existing_id or "another order"
        return None

    async def _accepted(
        self,
        order: repo.OrderRecord,
        adapter: ProviderAdapter,
        answer: ProviderOrder,
        notify: bool,
    ) -> ConfirmOutcome:
        # The provider's id first, in its own transaction: whatever goes wrong below, it
        # is never lost (staff and recovery see it).
        try:
            taken_by = await self._keep_answer(
                order,
                answer.remote_id,
                answer.raw_status,
                f"{order.provider} answered: order {answer.remote_id}, {answer.raw_status}",
            )
        except repo.StaleStatus as stale:
            return await self._answer_too_late(order, answer, stale.current)
        if taken_by is not None:
            return await self._needs_review(
                order,
                f"{order.provider} answered with order id `{answer.remote_id}`, which is "
                f"already order `{taken_by}`",
                f"We couldn't confirm order `{order.id}` with the provider yet. "
                "Staff are checking with them; you won't be charged twice.",
            )
        status = answer.status or OrderStatus.SUBMITTED  # unknown raw status: still open
        if status is OrderStatus.SUBMITTING:
            status = OrderStatus.SUBMITTED
        if status is OrderStatus.COMPLETED and answer.delivery_missing:
            status = OrderStatus.PROCESSING  # done, but the goods are still to come
        next_poll = self.clock() + FIRST_POLL_DELAY if adapter.capabilities.can_poll else None
        price = f"{answer.price} {answer.currency}".strip() if answer.price else None
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
                    # The buyer not watching Confirm hears that it went through, too.
                    notify_kind=("final" if status.is_terminal else ("placed" if notify else None)),
                    expect=OrderStatus.SUBMITTING,
                    alert=repo.AlertSpec(
                        "new_order",
                        f"🛒 New order `{order.id}`: <@{order.user_id}> ordered "
                        f"{order.quantity} × {order.product_name} for {order.total.format()} "
                        f"({order.provider} `{answer.remote_id}`, {status.label}).",
                        f"new_order:{order.id}",
                    ),
                ),
                self.cipher,
            )
        except repo.StaleStatus as stale:
            return await self._answer_too_late(order, answer, stale.current)
        except IllegalTransition as exc:
            # A real provider status we can't move to from here: recorded, and staff decide.
            return await self._needs_review(
                order,
                f"{order.provider} accepted it as `{answer.remote_id}` but answered "
                f"{answer.raw_status} ({exc.new.label}), which can't follow {exc.old.label}",
                f"Order `{order.id}` reached the provider; staff are checking its status.",
            )
        log.info(
            "order %s accepted by %s as %s (%s)",
            order.id,
            order.provider,
            answer.remote_id,
            answer.raw_status,
        )
        if status.is_terminal:
            message = (
                f"Order `{order.id}` is already **{updated.status.label}** at the provider. "
                "You'll get a DM with the details; `/order` shows it any time."
            )
        else:
            message = (
                f"Order `{order.id}` is placed: **{updated.status.label}**. "
                "You'll get a DM when it's done; `/order` shows it any time."
            )
        ending = bad_ending_alert(order, status, answer.raw_status)
        if ending is not None:
            await staff_alerts.raise_alert(
                self.db,
                kind=ending.kind,
                message=ending.message,
                dedupe_key=ending.dedupe_key,
                order_id=order.id,
                group_key=ending.group_key,
            )
        return ConfirmOutcome(ConfirmResult.SUBMITTED, updated, message)

    async def _answer_too_late(
        self, order: repo.OrderRecord, answer: ProviderOrder, current: OrderStatus
    ) -> ConfirmOutcome:
        """The provider answered after somebody else (staff) already moved the order."""
        await staff_alerts.raise_alert(
            self.db,
            kind="late_answer",
            message=f"⚠️ {order.provider} accepted order `{order.id}` as `{answer.remote_id}` "
            f"({answer.raw_status}) after it was set to {current.label}. Compare the two with "
            f"`/admin order view order_id:{order.id}`.",
            dedupe_key=f"late_answer:{order.id}:{answer.remote_id}",
            order_id=order.id,
            group_key=f"late_answer:{order.provider}",
        )
        latest = await repo.get_order(self.db, order.id)
        return ConfirmOutcome(
            ConfirmResult.ALREADY,
            latest,
            f"Order `{order.id}` is **{current.label}**; staff are looking after it.",
        )

    async def _failed(self, order: repo.OrderRecord, reason: str, detail: str) -> ConfirmOutcome:
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
                    notify_kind="final",
                    expect=OrderStatus.SUBMITTING,
                    alert=repo.AlertSpec(
                        "order_failed",
                        f"❌ Order `{order.id}` by <@{order.user_id}> failed at submission "
                        f"({order.provider}): {detail}. Nothing was ordered. "
                        f"`/admin order retry order_id:{order.id}` sends it again.",
                        f"order_failed:{order.id}:{order.updated_at}",
                        group_key=f"order_failed:{order.provider}",
                    ),
                ),
                self.cipher,
            )
        except repo.StaleStatus as stale:
            return await self._moved_meanwhile(order, stale.current)
        log.warning("order %s failed at submission: %s", order.id, detail)
        return ConfirmOutcome(
            ConfirmResult.FAILED, updated, f"Order `{order.id}` could not be placed: {reason}."
        )

    async def _needs_review(
        self, order: repo.OrderRecord, detail: str, user_message: str
    ) -> ConfirmOutcome:
        try:
            updated = await repo.transition_order(
                self.db,
                order.id,
                repo.StatusChange(
                    OrderStatus.NEEDS_REVIEW,
                    actor=repo.ACTOR_SYSTEM,
                    status_message="Checking with the provider",
                    detail=detail,
                    expect=OrderStatus.SUBMITTING,
                    # Always owed (one per review), also after a Confirm: see _failed.
                    notify_kind="review",
                    alert=repo.AlertSpec(
                        "needs_review",
                        f"⚠️ Order `{order.id}` by <@{order.user_id}> needs review: the outcome "
                        f"at {order.provider} is unknown ({detail}). The bot won't send it again on "
                        f"its own. Check the provider, then use `/admin order view "
                        f"order_id:{order.id}`.",
                        f"needs_review:{order.id}:{order.updated_at}",
                        group_key=f"needs_review:{order.provider}",
                    ),
                ),
                self.cipher,
            )
        except repo.StaleStatus as stale:
            return await self._moved_meanwhile(order, stale.current)
        log.warning("order %s needs review: %s", order.id, detail)
        return ConfirmOutcome(ConfirmResult.NEEDS_REVIEW, updated, user_message)

    async def _moved_meanwhile(
        self, order: repo.OrderRecord, current: OrderStatus
    ) -> ConfirmOutcome:
        # Staff (or another job) moved the order while it was being sent; theirs stands.
        log.info("order %s moved to %s while being sent; leaving it", order.id, current.value)
        latest = await repo.get_order(self.db, order.id)
        return ConfirmOutcome(
            ConfirmResult.ALREADY,
            latest,
            f"Order `{order.id}` is **{current.label}**; staff are looking after it.",
        )

    async def _retry_later(
        self,
        order: repo.OrderRecord,
        problem: str,
        attempt: int,
        wait: float = 0.0,
    ) -> ConfirmOutcome:
        if attempt >= len(self.resubmit_delays):
            return await self._needs_review(
                order,
                f"still failing after {attempt} re-sends: {problem}",
                "Your order is waiting for staff.",
            )
        delay = max(self.resubmit_delays[attempt], wait)
        await repo.set_next_poll(self.db, order.id, self.clock() + delay)
        await repo.add_event(
            self.db,
            order.id,
            actor=repo.ACTOR_SYSTEM,
            kind="retry",
            detail=f"{problem}; re-sending the same request in {delay:g}s",
        )
        log.info("order %s: %s; re-send in %.0fs", order.id, problem, delay)
        return ConfirmOutcome(
            ConfirmResult.RETRYING,
            await repo.get_order(self.db, order.id),
            f"Order `{order.id}` is recorded. The provider is slow to answer, so we'll keep "
            "trying automatically — you'll get a DM with the result.",
        )

    # --- recovery ---------------------------------------------------------------------------

    async def recover_submitting(self, *, at_startup: bool) -> int:
        """Resolve orders stuck in `submitting`, each provider on its own (one hanging
        provider's re-sends don't delay another's, nor staff hearing about it).

        At startup, an order the last process was sending when it stopped is a crash
        leftover: idempotent providers get the same request again; the rest go to
        needs_review (never re-sent blindly). A re-send already scheduled keeps its time,
        and a provider's Retry-After hold is honoured, at startup too. While running,
        due re-sends are made, and an order left `submitting` by an unexpected error is
        recovered the same way once it is clearly not in flight.
        """
        now = self.clock()
        due: dict[str, list[repo.OrderRecord]] = {}
        for order in await repo.list_orders_in_status(self.db, OrderStatus.SUBMITTING):
            if order.id in self._in_flight:
                continue
            adapter = self.providers.get(order.provider)
            idempotent = adapter is not None and adapter.capabilities.idempotent_create
            if order.next_poll_at is not None and idempotent:
                when = order.next_poll_at  # a scheduled re-send
            elif at_startup:
                when = now
            else:
                # The send in progress should have ended long before this: if it hasn't,
                # an error broke off its recording.
                when = order.updated_at + STUCK_SUBMITTING_AFTER
            if when <= now:
                due.setdefault(order.provider, []).append(order)
        results = await asyncio.gather(
            *(self._recover_provider(name, orders, now) for name, orders in due.items())
        )
        return sum(results)

    async def _recover_provider(
        self, provider: str, orders: list[repo.OrderRecord], now: float
    ) -> int:
        adapter = self.providers.get(provider)
        idempotent = adapter is not None and adapter.capabilities.idempotent_create
        if idempotent and await provider_health.hold_until(self.db, provider) > now:
            return 0  # the provider asked us to wait; the next run sends them
        handled = 0
        for order in orders:
            try:
                if idempotent:
                    await self.submit(order)
                else:
                    await self._needs_review(
                        order,
                        _abandoned_reason(order),
                        "Your order is waiting for staff.",
                    )
                handled += 1
            except Exception:
                # One bad order must not stop the others.
                log.exception("recovering order %s failed", order.id)
        return handled


def _abandoned_reason(order: repo.OrderRecord) -> str:
    if order.remote_id is not None:
        return (
            f"{order.provider} answered (order `{order.remote_id}`, {order.raw_status}) but "
            "the bot stopped before recording the outcome"
        )
    return "the bot stopped while sending this order; the provider may or may not have it"


def _wait_asked(exc: ProviderError) -> float:
    """The provider's Retry-After (already clamped), for errors that carry one."""
    return exc.retry_after if isinstance(exc, ProviderRateLimited) else 0.0
