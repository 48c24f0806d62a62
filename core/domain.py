"""The domain model: order statuses, the one table of allowed transitions, money, delivery.

Nothing here does I/O. Storage, providers and cogs all speak these types.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import SecretStr

from core.i18n import N_, _

# Money lives in core/money.py (every ISO 4217 currency through Babel); it is named here
# too, since the whole code base speaks of `core.domain.Money`.
from core.money import AmountError as AmountError
from core.money import Money as Money
from core.money import currency_digits as currency_digits
from core.money import known_currency as known_currency
from core.money import parse_amount as parse_amount


class OrderKind(StrEnum):
    BOOST = "boost"
    DIGITAL = "digital"


class PaymentMode(StrEnum):
    """How a placed order is paid. Chosen per product in the catalog, with a shop-wide
    default (PAYMENT_MODE). Recorded on the order at its draft, so a catalog edit never
    changes how an order already started is paid."""

    WALLET = "wallet"  # Confirm debits the buyer's store credit, in the claim's transaction
    APPROVAL = "approval"  # staff check the payment themselves, then Approve or Reject
    FREE = "free"  # an explicit opt-out for trusted servers; never the default


class OrderSource(StrEnum):
    PLACED = "placed"  # a buyer ordered it through the bot
    LINKED = "linked"  # staff linked an existing provider order to a member


class OrderStatus(StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"  # confirmed; staff check the payment first
    SUBMITTING = "submitting"  # row committed, provider call in flight (or crashed mid-call)
    SUBMITTED = "submitted"  # the provider accepted it; pending on their side
    PROCESSING = "processing"
    COMPLETED = "completed"
    PARTIALLY_COMPLETED = "partially_completed"
    FAILED = "failed"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    NEEDS_REVIEW = "needs_review"  # outcome of a submission unknown; staff must decide

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        """Still being worked on by somebody: the poller or staff."""
        return self not in TERMINAL_STATUSES and self is not OrderStatus.DRAFT

    @property
    def label(self) -> str:
        """The status as people read it, in the language being written (`needs review`).
        STATUS_LABELS holds the English, for text that stays English (the timeline)."""
        return _(STATUS_LABELS[self])


S = OrderStatus

# How each status reads in a sentence ("Order X is **completed**"): English here, the
# current language through `OrderStatus.label`.
STATUS_LABELS: dict[OrderStatus, str] = {
    # Translators: an order's status, shown in sentences like "Order X is **draft**"
    S.DRAFT: N_("draft"),
    # Translators: an order's status: confirmed, staff check the payment first
    S.AWAITING_APPROVAL: N_("awaiting approval"),
    # Translators: an order's status: being sent to the provider right now
    S.SUBMITTING: N_("submitting"),
    # Translators: an order's status: the provider accepted it and is working on it
    S.SUBMITTED: N_("submitted"),
    # Translators: an order's status
    S.PROCESSING: N_("processing"),
    # Translators: an order's status
    S.COMPLETED: N_("completed"),
    # Translators: an order's status: only part of it was delivered
    S.PARTIALLY_COMPLETED: N_("partially completed"),
    # Translators: an order's status
    S.FAILED: N_("failed"),
    # Translators: an order's status: the buyer got their money back
    S.REFUNDED: N_("refunded"),
    # Translators: an order's status
    S.CANCELLED: N_("cancelled"),
    # Translators: an order's status: staff must check it
    S.NEEDS_REVIEW: N_("needs review"),
}

# Terminal: the buyer is told the outcome and polling stops. Only the staff-driven
# moves listed below leave a terminal state (a refund after delivery, a retry after
# a failed submission), and each of those is recorded with the staff member's id.
TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {S.COMPLETED, S.PARTIALLY_COMPLETED, S.FAILED, S.REFUNDED, S.CANCELLED}
)

# THE table of allowed transitions. Everything not listed raises IllegalTransition.
ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.DRAFT: frozenset({S.SUBMITTING, S.AWAITING_APPROVAL, S.CANCELLED}),
    # Approve sends it (through submitting, like a Confirm); Reject ends it, unsent.
    S.AWAITING_APPROVAL: frozenset({S.SUBMITTING, S.CANCELLED}),
    # Whatever a provider may answer to the create itself is a legal next step: an
    # answer we can't record would lose the provider's order id.
    S.SUBMITTING: frozenset(
        {
            S.SUBMITTED,
            S.PROCESSING,
            S.COMPLETED,
            S.PARTIALLY_COMPLETED,
            S.FAILED,
            S.REFUNDED,
            S.NEEDS_REVIEW,
            S.CANCELLED,
        }
    ),
    S.SUBMITTED: frozenset(
        {
            S.PROCESSING,
            S.COMPLETED,
            S.PARTIALLY_COMPLETED,
            S.FAILED,
            S.REFUNDED,
            S.CANCELLED,
            S.NEEDS_REVIEW,
        }
    ),
    # needs_review from processing: the provider says it's done but never sends the
    # delivery (see Poller), so staff must get it.
    S.PROCESSING: frozenset(
        {
            S.SUBMITTED,
            S.COMPLETED,
            S.PARTIALLY_COMPLETED,
            S.FAILED,
            S.REFUNDED,
            S.CANCELLED,
            S.NEEDS_REVIEW,
        }
    ),
    # Staff resolve a needs-review order: the provider did get it (submitted/…),
    # it never arrived (failed / retry via submitting), or it is abandoned.
    S.NEEDS_REVIEW: frozenset(
        {
            S.SUBMITTING,
            S.SUBMITTED,
            S.PROCESSING,
            S.COMPLETED,
            S.PARTIALLY_COMPLETED,
            S.FAILED,
            S.REFUNDED,
            S.CANCELLED,
        }
    ),
    S.COMPLETED: frozenset({S.REFUNDED}),
    S.PARTIALLY_COMPLETED: frozenset({S.REFUNDED, S.COMPLETED}),
    S.FAILED: frozenset({S.SUBMITTING, S.REFUNDED}),
    S.REFUNDED: frozenset(),
    S.CANCELLED: frozenset(),
}


class IllegalTransition(ValueError):
    def __init__(self, old: OrderStatus, new: OrderStatus) -> None:
        super().__init__(f"illegal order transition {old.value} -> {new.value}")
        self.old = old
        self.new = new


def can_transition(old: OrderStatus, new: OrderStatus) -> bool:
    return new in ALLOWED_TRANSITIONS[old]


def check_transition(old: OrderStatus, new: OrderStatus) -> None:
    if not can_transition(old, new):
        raise IllegalTransition(old, new)


# --- Delivery (credentials) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryItem:
    uid: str
    content: SecretStr


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the buyer paid for: credentials, keys, accounts. Never printable.

    `text` is a provider's raw delivery string; `items` are per-unit deliveries.
    `repr()` and `str()` never reveal either; `reveal()` is the one way out and is
    called only when composing the owner's DM or `/order` reply.
    """

    text: SecretStr | None = None
    items: tuple[DeliveryItem, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        return f"Delivery(<redacted>, text={'yes' if self.text else 'no'}, items={len(self.items)})"

    __str__ = __repr__

    def is_empty(self) -> bool:
        return not (self.text and self.text.get_secret_value()) and not self.items

    def reveal(self) -> str:
        parts: list[str] = []
        if self.text is not None and self.text.get_secret_value():
            parts.append(self.text.get_secret_value())
        for item in self.items:
            parts.append(f"[{item.uid}] {item.content.get_secret_value()}")
        return "\n".join(parts)

    def to_json(self) -> str:
        return json.dumps(
            {
                "text": self.text.get_secret_value() if self.text is not None else None,
                "items": [
                    {"uid": i.uid, "content": i.content.get_secret_value()} for i in self.items
                ],
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> Delivery:
        data: dict[str, Any] = json.loads(raw)
        text = data.get("text")
        return cls(
            text=SecretStr(text) if text is not None else None,
            items=tuple(
                DeliveryItem(uid=str(i["uid"]), content=SecretStr(str(i["content"])))
                for i in data.get("items") or []
            ),
        )

    @classmethod
    def from_text(cls, text: str) -> Delivery:
        return cls(text=SecretStr(text))


# --- Identifiers -------------------------------------------------------------------------

# Crockford base32 without I, L, O, U: easy to read aloud and to type into /order.
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# What an order id looks like (a regex fragment, no anchors), e.g. inside a button's
# custom_id. Wider than the alphabet on purpose: buttons already posted must keep matching.
ORDER_ID_RE = r"ORD-[0-9A-Z]{10}"


def new_order_id() -> str:
    """Our own order id. It is also sent to idempotent providers as their order `id`."""
    return "ORD-" + "".join(secrets.choice(_ID_ALPHABET) for _unused in range(10))
