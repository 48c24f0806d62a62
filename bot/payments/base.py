"""What every payment provider's client offers (issue 28), in the provider's words turned
into ours: a link the buyer pays, what was paid on it, and how it ended.

Two providers of different shapes implement it, Razorpay Payment Links (a link with
payments on it) and Stripe Checkout Sessions (a session with one payment intent), so
the interface is not one provider's shape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.errors import UserFacingError
from core.domain import Money
from core.i18n import _, in_staff_language


class LinkState(StrEnum):
    OPEN = "open"  # payable
    SETTLING = "settling"  # paid by a method that settles later (a bank debit)
    PARTIALLY_PAID = "partially_paid"  # some paid; partial payments are off, so staff look
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (LinkState.PAID, LinkState.EXPIRED, LinkState.CANCELLED)


@dataclass(frozen=True, slots=True)
class CapturedPayment:
    """A payment the provider captured on a link: the id we credit under, and what was
    paid (the provider's word, not what we asked)."""

    payment_id: str
    paid: Money


@dataclass(frozen=True, slots=True)
class PaymentLink:
    remote_id: str
    reference: str | None  # our top-up id, as we gave it
    url: str
    state: LinkState
    asked: Money
    payments: tuple[CapturedPayment, ...]
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class Reversal:
    """Money the provider took back after a payment: a refund or a dispute."""

    payment_id: str
    reference: str  # the refund's or dispute's id: applied once
    taken: Money
    what: str  # "refunded", "disputed"
    # `taken` is all refunded on the payment so far, and `reference` ends in it: only
    # what no earlier total asked for is taken (storage.topup_reversals.reverse).
    cumulative: bool = False


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A verified webhook event in our words. Events we don't act on have none of
    `payments`, `ended` and `reversal`, and are stored and answered all the same."""

    event_id: str
    kind: str  # the provider's own name for it
    reference: str | None = None  # our top-up id, when the event carries it
    remote_id: str | None = None
    payments: tuple[CapturedPayment, ...] = ()
    ended: LinkState | None = None
    # Money taken back: Razorpay names one refund per event; Stripe's charge.refunded
    # lists every refund of the charge so far (each applied once, by its id).
    reversals: tuple[Reversal, ...] = ()
    # A reversal the provider gave up on (a refund that failed): what it took comes back.
    undone: Reversal | None = None

    @property
    def reversal(self) -> Reversal | None:
        return self.reversals[0] if self.reversals else None


class EventUnreadable(Exception):
    """A verified body that isn't an event we can read (answered 400, nothing stored)."""


class AmountRefused(UserFacingError):
    """An amount this provider doesn't take (below its minimum, a currency rule)."""


@in_staff_language
def for_staff(message: str) -> str:
    """A message of ours about a provider's answer (marked with N_), in the staff language:
    staff read it (Check now, their alerts), whoever's request met it."""
    return _(message)


class PaymentClient(ABC):
    """One payment provider's API: create a link for a top-up, read it back, cancel it,
    and check the key with a call that changes nothing."""

    name: str
    # The settings holding its key, as check-config names them.
    key_settings: str
    # The smallest amount a link may ask, in minor units, by currency ("*": any other).
    minimum_minor: Mapping[str, int] = {}

    def payable(self, amount: Money) -> Money:
        """The smallest amount at least `amount` this provider takes (a shortfall below
        its minimum is topped up to the minimum)."""
        least = self.minimum_minor.get(amount.currency, self.minimum_minor.get("*", 1))
        return Money(max(amount.minor, least), amount.currency)

    def check_amount(self, amount: Money) -> None:
        """Refuse, before asking the provider, an amount it would refuse."""
        least = self.minimum_minor.get(amount.currency, self.minimum_minor.get("*", 1))
        if amount.minor < least:
            raise AmountRefused(
                _(
                    "The smallest top-up paid online is {amount}.",
                    amount=Money(least, amount.currency).format(),
                )
            )

    @abstractmethod
    async def create_link(
        self, *, reference: str, amount: Money, description: str, expires_at: float
    ) -> PaymentLink: ...

    @abstractmethod
    async def fetch_link(self, remote_id: str) -> PaymentLink: ...

    @abstractmethod
    async def find_link(self, reference: str) -> PaymentLink | None:
        """The link created under our reference, if any: after a create whose answer was
        lost, this says whether the provider made it."""

    @abstractmethod
    async def cancel_link(self, remote_id: str) -> PaymentLink: ...

    @abstractmethod
    async def check_key(self) -> None:
        """Raise ProviderAuthError when the key is refused; change nothing."""

    @abstractmethod
    def parse_event(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """Read a webhook body whose signature was verified; EventUnreadable if not."""

    @abstractmethod
    async def aclose(self) -> None: ...
