"""What every payment provider's client offers (issue 28), in the provider's words turned
into ours: a link the buyer pays, what was paid on it, and how it ended.

Two providers of different shapes implement it, Razorpay Payment Links (a link with
payments on it) and Stripe Checkout Sessions (a session with one payment intent), so
the interface is not one provider's shape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

from core.domain import Money


class LinkState(StrEnum):
    OPEN = "open"  # payable
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


class PaymentClient(ABC):
    """One payment provider's API: create a link for a top-up, read it back, cancel it,
    and check the key with a call that changes nothing."""

    name: str

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
    async def aclose(self) -> None: ...
