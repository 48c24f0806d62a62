"""What providers say by webhook about online top-ups (issue 28): a verified event is
stored before the endpoint answers 2xx (bot/payment_webhooks.py), then applied; a crash
in between, or an event that can't be applied yet, is finished by `apply_pending_events`.
`TopupService` (bot/services/topups.py) is built on this: the events credit, end and
reverse through the same storage calls as its reconciliation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.payments.base import EventUnreadable, LinkState, PaymentClient, PaymentEvent
from core import alerts
from core.crash_points import crash_point
from core.crypto import DeliveryCipher
from core.timings import Timings
from storage import payment_events, staff_alerts, topup_reversals, topups
from storage.database import Database
from storage.topups import Payment, Topup, TopupState

log = logging.getLogger(__name__)

# A stored event that can't be applied yet (a refund whose payment isn't credited yet)
# is tried again until it is this old, then given up with a log line.
PENDING_GIVE_UP = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A webhook event stored and not yet applied."""

    row: int
    topup: Topup | None
    event: PaymentEvent


class TopupEvents:
    """The webhook half of TopupService; what it reads of the service is declared here."""

    db: Database
    cipher: DeliveryCipher
    clients: Mapping[str, PaymentClient]
    clock: Callable[[], float]
    timings: Timings

    def _late_check(self, state: TopupState) -> float | None:
        raise NotImplementedError

    async def receive_event(self, provider: str, event: PaymentEvent, body: bytes) -> bool:
        """Store a verified event, then apply it (`store_event` + `apply_stored`).
        False for an event delivered before (nothing done)."""
        stored = await self.store_event(provider, event, body)
        if stored is None:
            return False
        await self.apply_stored(stored)
        return True

    async def store_event(
        self, provider: str, event: PaymentEvent, body: bytes
    ) -> StoredDelivery | None:
        """Store a verified webhook event (encrypted: it names the payer) once per event
        id. None for an event delivered before. Once this returns, the endpoint may
        answer 2xx: applying is safe to repeat, and `apply_pending_events` finishes what
        a crash interrupted."""
        topup = await self._topup_for(provider, event)
        row = await payment_events.record_event(
            self.db,
            provider=provider,
            event_id=event.event_id,
            kind=event.kind,
            topup_id=topup.id if topup is not None else None,
            body_enc=self.cipher.encrypt_text(body.decode("utf-8", errors="replace")),
            now=self.clock(),
        )
        if row is None:
            return None
        crash_point("topup.event_stored")
        return StoredDelivery(row, topup, event)

    async def store_unreadable(self, provider: str, event_id: str, body: bytes) -> bool:
        """A verified body the client can't read (a shape it doesn't know): stored
        unapplied, so the provider's retries stop and nothing is lost; the stored-events
        job reads it again for a day (an update may), and staff are told once. False
        when it was stored before."""
        row = await payment_events.record_event(
            self.db,
            provider=provider,
            event_id=event_id,
            kind="unreadable",
            topup_id=None,
            body_enc=self.cipher.encrypt_text(body.decode("utf-8", errors="replace")),
            now=self.clock(),
        )
        if row is None:
            return False
        await staff_alerts.raise_alert(self.db, alerts.payment_event_unreadable(provider, event_id))
        return True

    async def apply_stored(self, stored: StoredDelivery) -> bool:
        """Apply a stored event; False when it must wait (left for apply_pending_events)."""
        if not await self._apply_event(stored.topup, stored.event):
            return False
        await payment_events.event_processed(self.db, stored.row, now=self.clock())
        return True

    async def _topup_for(self, provider: str, event: PaymentEvent) -> Topup | None:
        if event.reference:
            found = await topups.get(self.db, event.reference)
            if found is not None and found.provider == provider:
                return found
        if event.remote_id:
            return await topups.by_remote(self.db, provider, event.remote_id)
        named = event.reversal or event.undone
        if named is not None:
            return await topups.by_payment(self.db, provider, named.payment_id)
        return None

    async def _apply_event(self, topup: Topup | None, event: PaymentEvent) -> bool:
        """Apply an event; False when it can't be applied yet: a refund of a payment not
        yet credited (its webhook comes later, or the poll hasn't seen it) waits for it,
        instead of being lost."""
        if topup is None:
            # A refund may name a payment we haven't credited yet. Anything else that
            # names none of our top-ups belongs to another integration on the same
            # account: stored, ignored.
            return event.reversal is None and event.undone is None
        now = self.clock()
        for payment in event.payments:
            await topups.credit(self.db, topup, Payment(payment.payment_id, payment.paid), now=now)
        if event.ended is not None and not event.payments:
            state = (
                TopupState.EXPIRED if event.ended is LinkState.EXPIRED else (TopupState.CANCELLED)
            )
            await topups.end(
                self.db,
                topup.id,
                state,
                expect=TopupState.OPEN,
                now=now,
                late_check_at=self._late_check(state),
            )
        if event.reversals and topup.payment_id is None:
            return False  # credited later: then these refunds apply
        for reversal in event.reversals:
            await topup_reversals.reverse(
                self.db,
                topup,
                reference=reversal.reference,
                payment_id=reversal.payment_id,
                taken=reversal.taken,
                what=reversal.what,
                cumulative=reversal.cumulative,
                now=now,
            )
        if event.undone is not None:
            if topup.payment_id is None:
                return False
            await topup_reversals.undo_reversal(
                self.db,
                topup,
                reference=event.undone.reference,
                payment_id=event.undone.payment_id,
                currency=event.undone.taken.currency,
                now=now,
            )
        return True

    async def apply_pending_events(self) -> int:
        """Events stored but not applied (the process died between the 2xx and the
        credit): apply them now. Applying twice is harmless (keys and compare-and-sets)."""
        applied = 0
        for pending in await payment_events.pending_events(
            self.db, older_than=self.clock() - self.timings.topup_event_grace
        ):
            client = self.clients.get(pending.provider)
            if client is None:
                continue
            try:
                body = self.cipher.decrypt_text(pending.body_enc).encode()
                try:
                    event: PaymentEvent | None = client.parse_event(body, pending.headers())
                except EventUnreadable:
                    event = None  # still unreadable: staff were told when it came
                if event is not None:
                    topup = await self._topup_for(pending.provider, event)
                if event is None or not await self._apply_event(topup, event):
                    if self.clock() - pending.received_at < PENDING_GIVE_UP:
                        continue  # tried again on the next run
                    log.warning(
                        "%s event %s (%s) could not be applied for a day: given up",
                        pending.provider,
                        pending.event_id,
                        pending.kind,
                    )
                await payment_events.event_processed(self.db, pending.id, now=self.clock())
                applied += 1
            except Exception:
                log.exception("applying stored %s event %s failed", pending.provider, pending.id)
        return applied
