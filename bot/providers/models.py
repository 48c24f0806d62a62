"""What adapters and the services exchange: a provider's capabilities, the create request
(as the buyer confirmed it, and as it goes on the wire), and one normalized view of a
provider's order. Plain data: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.domain import Delivery, Money, OrderStatus

MAX_PROVIDER_MESSAGE = 200
MAX_RAW_STATUS = 64
# The id the key check asks for where ids are UUIDs: well formed, and never an order's.
NIL_UUID = "00000000-0000-0000-0000-000000000000"
# Keys whose values are secrets in some provider's payload; scrubbed from the raw
# payload we keep for the timeline.
SECRET_PAYLOAD_KEYS = frozenset(
    {"deliveryData", "content", "encryptedEppAuthorizationCode", "contact", "phone_number"}
)


@dataclass(frozen=True, slots=True)
class Capabilities:
    can_create: bool
    can_poll: bool
    # The create call carries our own id, so re-sending it can never make a second order.
    idempotent_create: bool
    # Staff may link an existing order of this provider to a member (tracking).
    can_link: bool


class KeyState(StrEnum):
    """What a provider said about our API key, as /admin providers and check-config show it."""

    UNCHECKED = "unchecked"  # nothing has told us yet (or its API can't be asked)
    ACCEPTED = "accepted"  # an authenticated request got past authentication
    REFUSED = "refused"  # 401/403: buyers can't order its products until it works


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """One check of a provider's key. `state` is None when the check was inconclusive (it
    didn't answer, asked us to wait, or answered garbage): `detail` says which, and
    nothing is concluded about the key."""

    state: KeyState | None
    detail: str
    # The check can never be made: the API has no endpoint that changes nothing.
    uncheckable: bool = False


@dataclass(frozen=True, slots=True)
class CreateRequest:
    order_id: str  # our id; idempotent providers receive it as theirs
    product_key: str
    product_name: str
    quantity: int
    unit_price: Money
    details: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"invite_code": ...}
    contact: Mapping[str, str] | None = None  # e.g. {"phone_number": ...}
    options: Mapping[str, Any] = field(default_factory=dict)  # catalog provider options

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity

    def __repr__(self) -> str:
        # Contact details are personal data: keep them out of reprs and logs.
        return (
            f"CreateRequest(order_id={self.order_id!r}, product_key={self.product_key!r}, "
            f"quantity={self.quantity}, contact={'<hidden>' if self.contact else None})"
        )


@dataclass(frozen=True, slots=True)
class PreparedCreate:
    """A create request exactly as it goes on the wire, built once when the buyer confirms.

    It is frozen in the order row (encrypted: it carries contact details), so a re-send
    after a lost reply is byte for byte the first send, whatever happened to the catalog
    since. `our_id` is the id we asked an idempotent provider to use; its answer must
    echo it."""

    method: str
    path: str
    body: dict[str, Any]
    our_id: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {"method": self.method, "path": self.path, "body": self.body, "our_id": self.our_id},
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> PreparedCreate:
        data = json.loads(text)
        return cls(
            method=str(data["method"]),
            path=str(data["path"]),
            body=dict(data["body"]),
            our_id=data.get("our_id"),
        )

    def __repr__(self) -> str:
        return f"PreparedCreate({self.method} {self.path}, our_id={self.our_id!r}, body=<hidden>)"


@dataclass(frozen=True, slots=True)
class ProviderOrder:
    """One normalized view of a provider's order, whatever the provider.

    `status` is None when the provider reported a status we don't know: the order is
    still open, and `raw_status` holds the provider's word so staff can be told.
    """

    remote_id: str
    status: OrderStatus | None
    raw_status: str
    status_message: str | None = None
    price: str | None = None  # as the provider stated it; informational, never summed
    currency: str | None = None
    delivery: Delivery | None = field(default=None, repr=False)
    # The provider says the order is done but its goods aren't in the reply yet (a
    # digital-goods order completed without its credentials): not final for us.
    delivery_missing: bool = False
    # The reply as received. Private: it may hold credentials. Use `raw`.
    payload: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # What a provider says is stored and shown: never unbounded, whatever it sends.
        object.__setattr__(self, "raw_status", str(self.raw_status)[:MAX_RAW_STATUS])
        if self.status_message is not None:
            object.__setattr__(
                self, "status_message", " ".join(self.status_message.split())[:MAX_PROVIDER_MESSAGE]
            )

    @property
    def unknown_status(self) -> bool:
        return self.status is None

    @property
    def raw(self) -> dict[str, Any]:
        """The provider's payload for the timeline, scrubbed of secret-bearing fields.
        Computed on demand: most polls never need it."""
        scrubbed = scrub_payload(self.payload)
        return scrubbed if isinstance(scrubbed, dict) else {}

    def __repr__(self) -> str:
        return (
            f"ProviderOrder(remote_id={self.remote_id!r}, status={self.status}, "
            f"raw_status={self.raw_status!r}, delivery={'<redacted>' if self.delivery else None})"
        )


def scrub_payload(value: Any) -> Any:
    """Copy of a provider payload without secret-bearing fields (kept for the timeline)."""
    if isinstance(value, dict):
        return {
            k: (
                "<redacted>"
                if k in SECRET_PAYLOAD_KEYS and v not in (None, "", [])
                else scrub_payload(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub_payload(v) for v in value]
    return value


__all__ = [
    "Capabilities",
    "CreateRequest",
    "PreparedCreate",
    "ProviderOrder",
    "scrub_payload",
]
