"""Online top-ups (issue 28): a payment link per top-up, and the one credit it leads to.

Two paths credit a top-up and neither trusts the other: a verified webhook
(`apply_event`, from bot/payment_webhooks.py) and reconciliation by polling
(`reconcile_due_topups`, a scheduler job, which works with no public URL at all and
catches every webhook that never came). Both credit what the provider says was paid,
under one ledger key per payment (storage.topups.credit_in), so the second changes
nothing. Every state change is a compare-and-set in storage.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.errors import UserFacingError
from bot.payments.base import (
    EventUnreadable,
    LinkState,
    PaymentClient,
    PaymentEvent,
    PaymentLink,
)
from bot.providers.errors import ProviderError, ProviderRejected, SubmissionAmbiguous
from core import alerts
from core.crash_points import crash_point
from core.crypto import DeliveryCipher
from core.domain import Money
from core.timings import Timings
from storage import payment_events, shop_state, staff_alerts, topup_reversals, topups
from storage.database import Database
from storage.shop_state import PAUSED_KEY, PAUSED_REASON_KEY
from storage.topups import Credit, Payment, Topup, TopupState

log = logging.getLogger(__name__)

# How long a buyer has to pay a link (Razorpay wants at least 15 minutes ahead; Stripe's
# Checkout Sessions 30 minutes to 24 hours). A minute over Stripe's minimum: the expiry
# is reckoned before the request, which reaches Stripe a moment later.
LINK_TTL_SECONDS = 31 * 60
# A top-up still `creating` younger than this is a buyer's link being made right now:
# Check now leaves it to that request.
CREATING_GRACE = 120.0
# Reconciliation: a check's lease (a fetch is bounded by the provider timeout, far less).
CHECK_LEASE = 120.0
# An open top-up still unsettled this long after its link's expiry is handed to staff.
GIVE_UP_AFTER = 24 * 3600.0
# A stored event that can't be applied yet (a refund whose payment isn't credited yet)
# is tried again until it is this old, then given up with a log line.
PENDING_GIVE_UP = 24 * 3600.0
CHECK_BATCH = 50
# A payment settling (a bank debit) is asked about hourly, for up to 15 days.
SETTLING_CHECK_EVERY = 3600.0
SETTLING_GIVE_UP = 15 * 24 * 3600.0
# An expired link is asked about once more this long after it ended: a payer who was
# mid-checkout at the expiry is captured minutes later, and without webhooks nothing
# else would notice.
LATE_CHECK_AFTER = 15 * 60.0
# A buyer's payable links at most: more would only be forgotten ones.
MAX_OPEN_LINKS = 3
# An open link for the same amount (and draft) is offered again rather than a new one,
# while it has at least this long left to pay.
REUSE_IF_LEFT = 10 * 60.0


class TopupRefused(UserFacingError):
    """A top-up that can't be started, said to the buyer."""


@dataclass(frozen=True, slots=True)
class Applied:
    """What a provider's word did to a top-up."""

    credits: tuple[Credit, ...] = ()
    ended: TopupState | None = None
    # Set when the provider couldn't be asked (the check is tried again later).
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A webhook event stored and not yet applied."""

    row: int
    topup: Topup | None
    event: PaymentEvent


def new_topup_id() -> str:
    # Razorpay's reference_id holds at most 40 characters; this is 16.
    return "TOP-" + secrets.token_hex(6).upper()


class TopupService:
    def __init__(
        self,
        db: Database,
        clients: Mapping[str, PaymentClient],
        *,
        currencies: Mapping[str, str],
        cipher: DeliveryCipher,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        timings: Timings | None = None,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.timings = timings or Timings()
        self.clients = clients
        # Which provider takes which currency (INR: razorpay, the rest: stripe).
        self.currencies = currencies
        self.clock = clock
        self.owner = owner

    def provider_for(self, currency: str) -> PaymentClient:
        name = self.currencies.get(currency.upper()) or self.currencies.get("*")
        client = self.clients.get(name or "")
        if client is None:
            raise TopupRefused(f"Paying online in {currency.upper()} isn't set up in this shop.")
        return client

    def payable(self, amount: Money) -> Money:
        """`amount`, raised to what the currency's provider takes at least."""
        return self.provider_for(amount.currency).payable(amount)

    def takes(self, currency: str) -> bool:
        """Whether a buyer can top up in this currency online here."""
        name = self.currencies.get(currency.upper()) or self.currencies.get("*")
        return name is not None and name in self.clients

    async def offer(
        self, *, user_id: int, guild_id: int | None, amount: Money, draft_id: str | None = None
    ) -> Topup:
        """What a buyer's /top-up (or Top up button) gets: a payable link for `amount`.
        No new link while the shop is paused (one already paid still credits); a second
        press for the same amount gets the same link back; at most MAX_OPEN_LINKS."""
        if await shop_state.get_value(self.db, PAUSED_KEY) == "1":
            reason = await shop_state.get_value(self.db, PAUSED_REASON_KEY)
            raise TopupRefused(
                "The shop is paused right now, so no new payment links are made; nothing was "
                "charged. A link you already paid still credits your wallet."
                + (f" Staff say: {reason}" if reason else "")
            )
        client = self.provider_for(amount.currency)
        client.check_amount(amount)
        now = self.clock()
        payable = await topups.open_links(self.db, user_id, now=now)
        for topup in payable:
            if (
                topup.amount == amount
                and topup.draft_id == draft_id
                and (topup.expires_at or 0) - now >= REUSE_IF_LEFT
            ):
                return topup
        if len(payable) >= MAX_OPEN_LINKS:
            raise TopupRefused(
                f"You have {len(payable)} payment links open already: pay one of them, or "
                "wait for one to expire (they last about 30 minutes). Nothing was charged."
            )
        return await self.start(
            user_id=user_id, guild_id=guild_id, amount=amount, draft_id=draft_id
        )

    async def start(
        self, *, user_id: int, guild_id: int | None, amount: Money, draft_id: str | None = None
    ) -> Topup:
        """Record the top-up, ask the provider for a link, and return it open. The row
        exists before the provider is asked, so a link made just before a crash or a lost
        answer is found again by its reference (our id)."""
        if amount.minor <= 0:
            raise TopupRefused("A top-up must be more than zero.")
        client = self.provider_for(amount.currency)
        client.check_amount(amount)  # refused before anything is written or asked
        now = self.clock()
        topup = await topups.create(
            self.db,
            topup_id=new_topup_id(),
            user_id=user_id,
            guild_id=guild_id,
            provider=client.name,
            amount=amount,
            draft_id=draft_id,
            now=now,
        )
        try:
            link = await client.create_link(
                reference=topup.id,
                amount=amount,
                description=f"Store credit {topup.id}",
                expires_at=now + LINK_TTL_SECONDS,
            )
        except (SubmissionAmbiguous, ProviderRejected) as exc:
            # The answer was lost, or the provider says our reference was used: it may
            # have made the link. Look before saying anything.
            link = await self._find_after(client, topup, exc)
        except ProviderError as exc:
            await topups.end(self.db, topup.id, TopupState.FAILED, expect=TopupState.CREATING)
            log.warning("top-up %s: %s could not make a link: %s", topup.id, client.name, exc)
            raise TopupRefused(
                "The payment provider didn't answer; nothing was charged. Try again in a minute."
            ) from None
        try:
            await topups.opened(
                self.db,
                topup.id,
                remote_id=link.remote_id,
                url=link.url,
                expires_at=link.expires_at,
                next_check_at=now + self.timings.topup_first_check,
                now=self.clock(),
            )
        except topups.StaleTopup:
            # Moved on meanwhile (a webhook that found it by reference): what it says wins.
            log.info("top-up %s moved on before its link was stored", topup.id)
        opened = await topups.get(self.db, topup.id)
        assert opened is not None
        return opened

    async def _find_after(
        self, client: PaymentClient, topup: Topup, cause: ProviderError
    ) -> PaymentLink:
        try:
            found = await client.find_link(topup.id)
        except ProviderError:
            found = None
        if found is None:
            await topups.end(self.db, topup.id, TopupState.FAILED, expect=TopupState.CREATING)
            log.warning("top-up %s: no link at %s after %s", topup.id, client.name, cause)
            message = (
                cause.user_message
                if isinstance(cause, ProviderRejected) and cause.user_message
                else "the payment provider didn't answer"
            )
            raise TopupRefused(f"No payment link was made ({message}); nothing was charged.")
        return found

    # -- what a provider says ----------------------------------------------------------

    async def apply_link(self, topup: Topup, link: PaymentLink) -> Applied:
        """Apply a link as the provider reads now: credit each captured payment (once),
        or end an unpaid one. Paid beats ended: money that arrived is credited."""
        credits = [
            await topups.credit(self.db, topup, Payment(p.payment_id, p.paid), now=self.clock())
            for p in link.payments
        ]
        ended: TopupState | None = None
        if link.payments:
            pass  # credited: the top-up is paid, and no longer checked
        elif link.state in (LinkState.EXPIRED, LinkState.CANCELLED):
            state = (
                TopupState.EXPIRED if link.state is LinkState.EXPIRED else (TopupState.CANCELLED)
            )
            if await topups.end(
                self.db,
                topup.id,
                state,
                expect=TopupState.OPEN,
                now=self.clock(),
                late_check_at=self._late_check(state),
            ):
                ended = state
            elif topup.state is TopupState.EXPIRED:
                # Its late check: still nothing paid, so nothing more to ask.
                await topups.checked(self.db, topup.id, next_check_at=None)
        elif link.state is LinkState.OPEN and topup.state is TopupState.OPEN:
            await self._check_again(topup, "its link is still open")
        elif link.state is LinkState.SETTLING and topup.state is TopupState.OPEN:
            # Paid by a bank debit that takes days to settle (SEPA up to 14): asked
            # hourly until it does, or fails.
            await self._check_again(
                topup,
                "its payment is still settling",
                give_up_after=SETTLING_GIVE_UP,
                every=SETTLING_CHECK_EVERY,
            )
        elif topup.state is TopupState.EXPIRED:
            # A late check that found neither a payment nor the expiry: nothing to credit,
            # and the buyer was told it ended unpaid. No more checks.
            log.warning("top-up %s: its late check found the link %s", topup.id, link.state)
            await topups.checked(self.db, topup.id, next_check_at=None)
        else:
            # Paid (or partly) at the provider, with no captured payment to credit: it was
            # refunded before we looked, or is in a state we can't settle. Asking again
            # changes nothing, so staff decide.
            await topups.stop_checks(
                self.db,
                topup,
                why=f"the provider says {link.state.value} but shows no captured payment",
                now=self.clock(),
            )
        return Applied(tuple(credits), ended)

    def _late_check(self, state: TopupState) -> float | None:
        return self.clock() + LATE_CHECK_AFTER if state is TopupState.EXPIRED else None

    async def _check_again(
        self,
        topup: Topup,
        why: str,
        *,
        give_up_after: float = GIVE_UP_AFTER,
        every: float | None = None,
    ) -> None:
        """Schedule the next check, or give up once the link is long past its expiry
        (`give_up_after`): a provider that keeps failing, or a link that never ends, must
        not be asked about forever."""
        now = self.clock()
        ends = topup.expires_at or (topup.created_at + LINK_TTL_SECONDS)
        if topup.state is TopupState.EXPIRED and now > ends + GIVE_UP_AFTER:
            # An expired link's late check that keeps failing: the buyer was told it
            # ended unpaid, and a webhook still credits a late payment.
            await topups.checked(self.db, topup.id, next_check_at=None)
            return
        if now > ends + give_up_after:
            await topups.stop_checks(
                self.db,
                topup,
                why=f"{why} {(now - ends) / 3600:.0f} h after the link's expiry",
                now=now,
            )
            return
        every = max(every or 0.0, self.timings.topup_check_every)
        await topups.checked(self.db, topup.id, next_check_at=now + every)

    async def check(self, topup: Topup) -> Applied:
        """Reconcile one top-up now (the job, and staff's Check now). A top-up left
        `creating` (the process died before the provider's answer was stored) is looked
        up by its reference: opened if the link exists, failed if it doesn't."""
        client = self.clients.get(topup.provider)
        if client is None:
            return Applied(problem=f"{topup.provider} is not configured in this process")
        try:
            if topup.remote_id is None:
                return await self._settle_creating(client, topup)
            link = await client.fetch_link(topup.remote_id)
        except ProviderError as exc:
            log.warning("top-up %s: checking at %s failed: %s", topup.id, topup.provider, exc)
            if topup.state in (TopupState.OPEN, TopupState.EXPIRED):
                await self._check_again(topup, f"checking it keeps failing ({exc.message[:80]})")
            return Applied(problem=exc.message[:200])
        return await self.apply_link(topup, link)

    async def _settle_creating(self, client: PaymentClient, topup: Topup) -> Applied:
        if topup.state is not TopupState.CREATING:
            return Applied()
        if self.clock() - topup.created_at < CREATING_GRACE:
            return Applied(problem="its link is being made right now; check again in a minute")
        found = await client.find_link(topup.id)
        if found is None:
            if await topups.end(
                self.db, topup.id, TopupState.FAILED, expect=TopupState.CREATING, now=self.clock()
            ):
                return Applied(ended=TopupState.FAILED)
            return Applied()
        try:
            await topups.opened(
                self.db,
                topup.id,
                remote_id=found.remote_id,
                url=found.url,
                expires_at=found.expires_at,
                next_check_at=self.clock() + self.timings.topup_check_every,
                now=self.clock(),
            )
        except topups.StaleTopup:
            pass
        current = await topups.get(self.db, topup.id)
        assert current is not None
        return await self.apply_link(current, found)

    # -- webhooks ------------------------------------------------------------------------

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

    async def reconcile_due_topups(self) -> int:
        """The job: every open top-up whose check is due, claimed so no two processes
        check one at once. Errors are per top-up."""
        now = self.clock()
        due = await topups.claim_due_checks(
            self.db, now=now, lease_until=now + CHECK_LEASE, limit=CHECK_BATCH, owner=self.owner
        )
        for topup in due:
            try:
                await self.check(topup)
            except Exception:
                log.exception("reconciling top-up %s failed", topup.id)
        return len(due)
