"""The domain model: order statuses, the one table of allowed transitions, money, delivery.

Nothing here does I/O. Storage, providers and cogs all speak these types.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import SecretStr


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
        return self.value.replace("_", " ")


S = OrderStatus

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


# --- Money ---------------------------------------------------------------------------

# Minor-unit exponents and symbols of the currencies we format. Unknown currencies are
# refused by the catalog rather than guessed.
_CURRENCIES: dict[str, tuple[int, str]] = {
    "USD": (2, "$"),
    "EUR": (2, "€"),
    "GBP": (2, "£"),
    "INR": (2, "₹"),
    "BDT": (2, "৳"),
    "JPY": (0, "¥"),
}


def known_currency(code: str) -> bool:
    return code in _CURRENCIES


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units plus an ISO 4217 code. Never a float."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError("Money.minor must be an int (minor units)")

    def __mul__(self, quantity: int) -> Money:
        return Money(self.minor * quantity, self.currency)

    def format(self) -> str:
        exponent, symbol = _CURRENCIES.get(self.currency, (2, ""))
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 10**exponent) if exponent else (abs(self.minor), 0)
        text = f"{whole:,}" + (f".{frac:0{exponent}d}" if exponent else "")
        return f"{sign}{symbol}{text} {self.currency}"

    def __str__(self) -> str:
        return self.format()


_AMOUNT = re.compile(r"^(?P<whole>\d{1,12})(?:\.(?P<frac>\d{1,4}))?$")


class AmountError(ValueError):
    """An amount staff typed that can't be read exactly; the message says why."""


def parse_amount(text: str, currency: str | None = None) -> Money:
    """An amount as people write it (`12.50`, `₹199`, `199 INR`, `$3`), exactly in minor
    units: never through a float. A currency symbol or code in the text must agree with
    `currency` when both are given. Refused as ambiguous: thousands separators (`1,250`
    is 1250 in one country and 1.25 in another), more decimals than the currency has,
    signs, exponents, zero."""
    raw = " ".join(text.split())
    code = currency.upper() if currency else None
    body, seen = raw, set[str]()
    stripped = True
    while stripped and len(seen) < 3:  # a symbol, a code, or both (`$3.00 USD`)
        stripped = False
        for iso, (_, symbol) in _CURRENCIES.items():
            for marker in (iso, symbol):
                if body.upper().startswith(marker.upper()):
                    body, stripped = body[len(marker) :].strip(), True
                elif body.upper().endswith(marker.upper()):
                    body, stripped = body[: -len(marker)].strip(), True
                if stripped:
                    seen.add(iso)
                    break
            if stripped:
                break
    if len(seen) > 1:
        raise AmountError(f"`{raw[:20]}` names more than one currency.")
    found = next(iter(seen), None)
    if found and code and found != code:
        raise AmountError(f"`{raw[:20]}` is in {found}, not {code}.")
    code = code or found
    if code is None:
        raise AmountError("Say which currency, e.g. `12.50 USD`.")
    if code not in _CURRENCIES:
        raise AmountError(f"`{code[:10]}` isn't a currency this shop uses.")
    if "," in body or "_" in body or " " in body:
        raise AmountError(
            f"Write `{raw[:20]}` without thousands separators, e.g. `1250.00`: a comma is "
            "a decimal point in some countries."
        )
    match = _AMOUNT.match(body)
    if match is None:
        raise AmountError(f"`{raw[:20]}` isn't an amount like `12.50`.")
    exponent = _CURRENCIES[code][0]
    frac = match["frac"] or ""
    if len(frac) > exponent:
        raise AmountError(f"{code} has {exponent} decimal place(s); `{raw[:20]}` has {len(frac)}.")
    minor = int(match["whole"]) * 10**exponent + int(frac.ljust(exponent, "0") or "0")
    if minor == 0:
        raise AmountError("The amount must be more than zero.")
    return Money(minor, code)


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
    return "ORD-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))
