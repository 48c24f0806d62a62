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
    LinkState,
    PaymentClient,
    PaymentLink,
)
from bot.providers.errors import ProviderError, ProviderRejected, SubmissionAmbiguous
from bot.services.topup_events import TopupEvents
from core import i18n
from core.crypto import DeliveryCipher
from core.domain import Money
from core.i18n import N_, _, _n, in_staff_language, number
from core.timings import Timings
from storage import shop_state, topups
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


# Why reconciliation gave up on a top-up (staff's alert): `{hours}` after the link's
# expiry, in the staff language (`_gave_up`).
STILL_OPEN = N_("its link is still open {hours} h after the link's expiry")
STILL_SETTLING = N_("its payment is still settling {hours} h after the link's expiry")
KEEPS_FAILING = N_("checking it keeps failing ({error}) {hours} h after the link's expiry")


class TopupRefused(UserFacingError):
    """A top-up that can't be started, said to the buyer."""


@dataclass(frozen=True, slots=True)
class Applied:
    """What a provider's word did to a top-up."""

    credits: tuple[Credit, ...] = ()
    ended: TopupState | None = None
    # Set when the provider couldn't be asked (the check is tried again later).
    problem: str | None = None


def new_topup_id() -> str:
    # Razorpay's reference_id holds at most 40 characters; this is 16.
    return "TOP-" + secrets.token_hex(6).upper()


class TopupService(TopupEvents):
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
            raise TopupRefused(
                _(
                    "Paying online in {currency} isn't set up in this shop.",
                    currency=currency.upper(),
                )
            )
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
            if reason:
                raise TopupRefused(
                    _(
                        "The shop is paused right now, so no new payment links are made; "
                        "nothing was charged. A link you already paid still credits your "
                        "wallet. Staff say: {reason}",
                        reason=reason,
                    )
                )
            raise TopupRefused(
                _(
                    "The shop is paused right now, so no new payment links are made; nothing "
                    "was charged. A link you already paid still credits your wallet."
                )
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
                _n(
                    "You have {count} payment link open already: pay it, or wait for it to "
                    "expire (they last about 30 minutes). Nothing was charged.",
                    "You have {count} payment links open already: pay one of them, or "
                    "wait for one to expire (they last about 30 minutes). Nothing was charged.",
                    len(payable),
                )
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
            raise TopupRefused(_("A top-up must be more than zero."))
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
            language=i18n.current(),
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
                _("The payment provider didn't answer; nothing was charged. Try again in a minute.")
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
            if isinstance(cause, ProviderRejected) and cause.user_message:
                raise TopupRefused(
                    _(
                        "No payment link was made ({problem}); nothing was charged.",
                        problem=_(cause.user_message),
                    )
                )
            raise TopupRefused(
                _(
                    "No payment link was made (the payment provider didn't answer); nothing "
                    "was charged."
                )
            )
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
            await self._check_again(topup, STILL_OPEN)
        elif link.state is LinkState.SETTLING and topup.state is TopupState.OPEN:
            # Paid by a bank debit that takes days to settle (SEPA up to 14): asked
            # hourly until it does, or fails.
            await self._check_again(
                topup,
                STILL_SETTLING,
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
                self.db, topup, why=_no_captured_payment(link.state.value), now=self.clock()
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
        error: str = "",
    ) -> None:
        """Schedule the next check, or give up once the link is long past its expiry
        (`give_up_after`): a provider that keeps failing, or a link that never ends, must
        not be asked about forever. `why`: STILL_OPEN, STILL_SETTLING or KEEPS_FAILING
        (with `error`), staff's reason when it gives up."""
        now = self.clock()
        ends = topup.expires_at or (topup.created_at + LINK_TTL_SECONDS)
        if topup.state is TopupState.EXPIRED and now > ends + GIVE_UP_AFTER:
            # An expired link's late check that keeps failing: the buyer was told it
            # ended unpaid, and a webhook still credits a late payment.
            await topups.checked(self.db, topup.id, next_check_at=None)
            return
        if now > ends + give_up_after:
            await topups.stop_checks(
                self.db, topup, why=_gave_up(why, round((now - ends) / 3600), error), now=now
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
            return Applied(
                problem=_("{provider} is not configured in this process", provider=topup.provider)
            )
        try:
            if topup.remote_id is None:
                return await self._settle_creating(client, topup)
            link = await client.fetch_link(topup.remote_id)
        except ProviderError as exc:
            log.warning("top-up %s: checking at %s failed: %s", topup.id, topup.provider, exc)
            if topup.state in (TopupState.OPEN, TopupState.EXPIRED):
                await self._check_again(topup, KEEPS_FAILING, error=exc.message[:80])
            return Applied(problem=exc.message[:200])
        return await self.apply_link(topup, link)

    async def _settle_creating(self, client: PaymentClient, topup: Topup) -> Applied:
        if topup.state is not TopupState.CREATING:
            return Applied()
        if self.clock() - topup.created_at < CREATING_GRACE:
            return Applied(problem=_("its link is being made right now; check again in a minute"))
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


# Staff's words (the alert when reconciliation gives up), in the staff language whoever's
# check found it.


@in_staff_language
def _gave_up(why: str, hours: int, error: str) -> str:
    return _(why, hours=number(hours), error=error)


@in_staff_language
def _no_captured_payment(state: str) -> str:
    return _("the provider says {state} but shows no captured payment", state=state)
