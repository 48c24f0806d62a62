"""Sending a confirmed order to its provider, and recording whatever comes back.

The rules (docs/architecture.md, "Exactly-once submission"):
- the request sent is the one frozen at confirm, every time;
- the provider's id is stored before anything else is done with its answer;
- once bytes may have left, any exception means "outcome unknown": the idempotent
  provider (checkout) gets the same request again later, the other (boost) goes to
  staff as needs_review, and the buyer is never told to try again;
- every move is a compare-and-set on `submitting`: staff acting meanwhile win.

What an exception means is decided by `classify` (classify.py, pure); recording it is
`Outcomes` (outcomes.py); orders left `submitting` are recovered by `Recovery`
(recovery.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.catalog import Catalog
from bot.providers.base import ProviderAdapter
from bot.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
)
from bot.providers.models import CreateRequest, PreparedCreate, ProviderOrder
from bot.providers.registry import ProviderRegistry
from bot.services.classify import Action, Verdict, classify
from bot.services.outcomes import (
    WAITING_FOR_STAFF,
    ConfirmOutcome,
    ConfirmResult,
    Outcomes,
    review_message,
)
from bot.services.provider_keys import ProviderKeys
from core import alerts
from core.crash_points import crash_point
from core.crypto import DeliveryCipher
from core.i18n import N_, _, _n, in_staff_language
from core.kinds import EventKind
from core.timings import Timings
from storage import orders as repo
from storage import provider_health, staff_alerts
from storage.database import Database

log = logging.getLogger(__name__)

DEFAULT_TIMINGS = Timings()

# A refusal while an old order's request was built (the buyer's reason; see classify).
WOULD_REFUSE = N_("the provider would refuse the order")


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
        timings: Timings = DEFAULT_TIMINGS,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.catalog = catalog
        self.providers = providers
        self.clock = clock
        self.timings = timings
        # Idempotent re-sends after these waits, then staff.
        self.resubmit_delays = timings.resubmit_delays
        # Recording outcomes; it reads this submitter's clock, so setting `clock` moves both.
        self.outcomes = Outcomes(
            db, cipher, lambda: self.clock(), first_poll_delay=timings.first_poll_delay
        )
        # What each provider last said about our key (closes its products when refused).
        self.keys = ProviderKeys(db, providers, catalog, clock=lambda: self.clock())
        # Orders being sent right now by this process: a re-send job or the startup
        # recovery must not send the same order concurrently.
        self._in_flight: set[str] = set()

    async def _hold(self, exc: ProviderRateLimited) -> None:
        provider, until = exc.provider, self.clock() + exc.retry_after
        try:
            await provider_health.set_hold(self.db, provider, until)
            if exc.asked is not None:
                # Same alert (and dedupe) as a poll's clamped hold: staff hear it once.
                hold = alerts.provider_hold(exc, until=until, held="sending")
                await staff_alerts.raise_alert(self.db, hold)
        except Exception:
            log.exception("recording %s's Retry-After hold failed", provider)

    async def _record_submission(
        self, provider: str, exc: ProviderError | None, sent_at: float
    ) -> None:
        # Bookkeeping for /admin providers, between a provider's answer and recording it:
        # it must never be the reason an answer is lost, so any failure here is only logged.
        try:
            await provider_health.record_submission(
                self.db,
                provider,
                error_kind=exc.kind if exc is not None else None,
                error=exc.message if exc is not None else None,
            )
            # What the answer says about our key: a refusal closes the provider's
            # products; an answer past authentication (a success, a 4xx about the order)
            # reopens them.
            if isinstance(exc, ProviderAuthError):
                await self.keys.refused(provider, exc.message, asked_at=sent_at)
            elif exc is None or isinstance(exc, ProviderRejected):
                await self.keys.accepted(provider, "an order was answered", asked_at=sent_at)
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

    def is_in_flight(self, order_id: str) -> bool:
        return order_id in self._in_flight

    async def submit(
        self, order: repo.OrderRecord, *, buyer_watching: bool = False, reserved: bool = False
    ) -> ConfirmOutcome:
        """Send a `submitting` order to its provider and record the answer. Unless the
        buyer is watching (their Confirm), every outcome also reaches them by DM.

        Never raises: once a request may have left, no error may reach the buyer as
        "something went wrong, try again" (trying again could order it twice)."""
        if not reserved and not self.reserve(order.id):
            return ConfirmOutcome(
                ConfirmResult.ALREADY,
                order,
                _("Order `{order_id}` is being sent right now.", order_id=order.id),
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
                _(
                    "Order `{order_id}` was sent, but we couldn't record the provider's answer "
                    "yet. Please don't order it again: we'll sort it out and DM you. `/order` "
                    "shows where it is.",
                    order_id=order.id,
                ),
            )
        finally:
            self.release(order.id)

    async def _submit(self, order: repo.OrderRecord, notify: bool) -> ConfirmOutcome:
        """`notify`: the buyer isn't watching, so an order that went through owes them a
        "placed" DM. (Endings and reviews are always DMed.)"""
        outcomes = self.outcomes
        adapter = self.providers.get(order.provider)
        if adapter is None:
            return await outcomes.needs_review(
                order, _not_configured(order.provider), _(WAITING_FOR_STAFF)
            )
        try:
            prepared = await self._frozen_request(order, adapter)
        except ProviderRejected as exc:
            # Only an order confirmed before requests were frozen gets here; its request
            # was refused as it was being built, so nothing was sent this time.
            reason = exc.user_message or WOULD_REFUSE
            return await outcomes.failed(order, reason, exc.message)
        except Exception as exc:
            # The frozen request doesn't decrypt (a key was removed) or doesn't parse. It may
            # have been sent already, and it can't be repeated: staff must look.
            log.error(
                "order %s: its frozen request can't be read (%s)", order.id, type(exc).__name__
            )
            return await outcomes.needs_review(
                order, _frozen_unreadable(type(exc).__name__), _(WAITING_FOR_STAFF)
            )
        # Sends of this submission so far (a staff retry starts a new one). Counted from
        # events written before each send, so the count holds even when recording an
        # outcome keeps failing: re-sends are bounded whatever happens after them.
        attempt = await repo.count_sends_since_status(self.db, order.id)
        if attempt > len(self.resubmit_delays):
            return await outcomes.needs_review(
                order, _sent_without_outcome(attempt), _(WAITING_FOR_STAFF)
            )
        await repo.add_event(
            self.db,
            order.id,
            actor=repo.ACTOR_SYSTEM,
            kind=EventKind.SEND,
            detail=f"sent to {order.provider}" + (f" (re-send {attempt})" if attempt else ""),
        )
        try:
            answer = await self._send(order, adapter, prepared)
        except Exception as exc:
            verdict = classify(
                exc,
                idempotent=adapter.capabilities.idempotent_create,
                resends=attempt,
                resend_delays=self.resubmit_delays,
            )
            if verdict.unexpected:
                log.exception(
                    "order %s: %s while sending it to %s",
                    order.id,
                    type(exc).__name__,
                    order.provider,
                )
            return await self._act_on(order, verdict)
        try:
            return await outcomes.accepted(order, adapter, answer, notify)
        except Exception as exc:
            log.exception("order %s: recording %s's answer failed", order.id, order.provider)
            return await outcomes.needs_review(
                order,
                _recording_failed(order.provider, answer, type(exc).__name__),
                _(
                    "Order `{order_id}` reached the provider; staff are checking its details. "
                    "You won't be charged twice.",
                    order_id=order.id,
                ),
            )

    async def _send(
        self, order: repo.OrderRecord, adapter: ProviderAdapter, prepared: PreparedCreate
    ) -> ProviderOrder:
        """One send of the frozen request, with what /admin providers and staff must hear
        of a provider error (raised on, for classify to judge)."""
        sent_at = self.clock()
        try:
            answer = await adapter.send_create(prepared)
        except ProviderError as exc:
            await self._record_submission(order.provider, exc, sent_at)
            if isinstance(exc, ProviderRateLimited):
                await self._hold(exc)
            raise
        crash_point("create.answered")
        await self._record_submission(order.provider, None, sent_at)
        return answer

    async def _act_on(self, order: repo.OrderRecord, verdict: Verdict) -> ConfirmOutcome:
        outcomes = self.outcomes
        if verdict.action is Action.RESEND:
            return await outcomes.resend_later(order, verdict.detail, verdict.retry_in)
        if verdict.action is Action.FAIL:
            return await outcomes.failed(order, verdict.reason, verdict.detail)
        if verdict.keep is not None:
            await outcomes.keep_answer(order, verdict.keep.remote_id, None, verdict.keep.detail)
        return await outcomes.needs_review(
            order, verdict.detail, review_message(verdict.note, order.id)
        )


# The details: staff's words (their alerts and the timeline), so in the staff language
# whoever's Confirm this is.


@in_staff_language
def _not_configured(provider: str) -> str:
    return _("provider {provider} is not configured", provider=provider)


@in_staff_language
def _frozen_unreadable(error_name: str) -> str:
    return _(
        "the request frozen at confirm can't be read ({error}); it may have been sent before",
        error=error_name,
    )


@in_staff_language
def _sent_without_outcome(attempt: int) -> str:
    return _n(
        "sent {count} time without a recorded outcome",
        "sent {count} times without a recorded outcome",
        attempt,
    )


@in_staff_language
def _recording_failed(provider: str, answer: ProviderOrder, error_name: str) -> str:
    return _(
        "{provider} accepted it as `{remote_id}` ({raw_status}), but recording that failed "
        "({error})",
        provider=provider,
        remote_id=answer.remote_id,
        raw_status=answer.raw_status,
        error=error_name,
    )
