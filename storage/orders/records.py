"""What the order repository hands out and accepts: the records, the errors, and the
mapping from a database row to a record.

Secrets (delivery data, buyer contact details, the frozen request) stay encrypted inside
an `OrderRecord`; a caller that needs one decrypts it explicitly with the cipher.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from core.crypto import DeliveryCipher
from core.domain import Delivery, Money, OrderKind, OrderSource, OrderStatus, PaymentMode

ACTOR_SYSTEM = "system"
ACTOR_PROVIDER = "provider"


def staff_actor(user_id: int) -> str:
    """Events by staff record the member's id, so every admin action has a name on it."""
    return str(user_id)


class DuplicateOrder(Exception):
    """An order with this idempotency key (or provider + remote id) already exists."""

    def __init__(self, existing_id: str | None) -> None:
        super().__init__(f"order already exists: {existing_id}")
        self.existing_id = existing_id


class OrderNotFound(LookupError):
    pass


class ShopClosed(Exception):
    """Staff paused ordering: the change that would send an order was not made."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"ordering is paused; order {order_id} stays as it was")
        self.order_id = order_id


class StaleStatus(Exception):
    """A compare-and-set transition found the order in another status than expected:
    somebody else (a second button press, another job) got there first."""

    def __init__(self, order_id: str, current: OrderStatus) -> None:
        super().__init__(f"order {order_id} is {current.value}")
        self.order_id = order_id
        self.current = current


@dataclass(frozen=True, slots=True)
class NewOrder:
    id: str
    user_id: int
    guild_id: int | None
    product_key: str
    product_name: str
    provider: str
    kind: OrderKind
    quantity: int
    unit_price: Money
    status: OrderStatus = OrderStatus.SUBMITTING
    source: OrderSource = OrderSource.PLACED
    idempotency_key: str | None = None
    remote_id: str | None = None
    raw_status: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    contact: Mapping[str, str] | None = None
    next_poll_at: float | None = None
    buyer_name: str | None = None
    payment: PaymentMode | None = None
    # The language the buyer ordered in (core/i18n.py): later DMs use it unless the
    # member chose one with /language. None for orders staff linked.
    language: str | None = None

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: str
    user_id: int
    guild_id: int | None
    product_key: str
    product_name: str
    provider: str
    kind: OrderKind
    source: OrderSource
    quantity: int
    unit_price: Money
    total: Money
    status: OrderStatus
    raw_status: str | None
    status_message: str | None
    remote_id: str | None
    remote_price: str | None
    idempotency_key: str | None
    details: dict[str, Any]
    has_contact: bool
    has_delivery: bool
    created_at: float
    updated_at: float
    next_poll_at: float | None
    last_polled_at: float | None
    poll_count: int
    unchanged_polls: int
    poll_failures: int
    buyer_name: str | None
    payment: PaymentMode | None  # None: linked, or from before payments existed
    confirmed_at: float | None
    language: str | None
    # Ciphertext stays inside the record so a caller that needs the secret must decrypt
    # it explicitly; it is excluded from repr.
    _contact_enc: bytes | None = field(default=None, repr=False)
    _delivery_enc: bytes | None = field(default=None, repr=False)
    _request_enc: bytes | None = field(default=None, repr=False)

    @property
    def has_frozen_request(self) -> bool:
        return self._request_enc is not None

    def frozen_request(self, cipher: DeliveryCipher) -> str | None:
        """The create request frozen at confirm (JSON), or None for an older order."""
        return cipher.decrypt_text(self._request_enc) if self._request_enc else None

    def delivery(self, cipher: DeliveryCipher) -> Delivery | None:
        return cipher.decrypt_delivery(self._delivery_enc) if self._delivery_enc else None

    def contact(self, cipher: DeliveryCipher) -> dict[str, str] | None:
        if not self._contact_enc:
            return None
        data: dict[str, str] = json.loads(cipher.decrypt_text(self._contact_enc))
        return data


@dataclass(frozen=True, slots=True)
class OrderEvent:
    id: int
    order_id: str
    at: float
    actor: str
    kind: str
    old_status: OrderStatus | None
    new_status: OrderStatus | None
    raw_status: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class StuckOrder:
    """An order open since before the watchdog's cutoff, not yet alerted about."""

    id: str
    provider: str
    status: OrderStatus
    created_at: float


def order_from_row(row: aiosqlite.Row) -> OrderRecord:
    # Read by name once, into a dict: a sqlite3.Row looks each name up by scanning its
    # columns, and a poll claim maps thousands of rows (bench/poll_cycle.py).
    r = dict(zip(row.keys(), row, strict=True))
    currency = r["currency"]
    details = r["details_json"]
    return OrderRecord(
        id=r["id"],
        user_id=r["user_id"],
        guild_id=r["guild_id"],
        product_key=r["product_key"],
        product_name=r["product_name"],
        provider=r["provider"],
        kind=OrderKind(r["kind"]),
        source=OrderSource(r["source"]),
        quantity=r["quantity"],
        unit_price=Money(r["unit_price_minor"], currency),
        total=Money(r["total_minor"], currency),
        status=OrderStatus(r["status"]),
        raw_status=r["raw_status"],
        status_message=r["status_message"],
        remote_id=r["remote_id"],
        remote_price=r["remote_price"],
        idempotency_key=r["idempotency_key"],
        details=json.loads(details) if details and details != "{}" else {},
        has_contact=r["contact_enc"] is not None,
        has_delivery=r["delivery_enc"] is not None,
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        next_poll_at=r["next_poll_at"],
        last_polled_at=r["last_polled_at"],
        poll_count=r["poll_count"],
        unchanged_polls=r["unchanged_polls"],
        poll_failures=r["poll_failures"],
        buyer_name=r["buyer_name"],
        payment=PaymentMode(r["payment"]) if r["payment"] else None,
        confirmed_at=r["confirmed_at"],
        language=r["language"],
        _contact_enc=r["contact_enc"],
        _delivery_enc=r["delivery_enc"],
        _request_enc=r["request_enc"],
    )


def event_from_row(row: aiosqlite.Row) -> OrderEvent:
    return OrderEvent(
        id=row["id"],
        order_id=row["order_id"],
        at=row["at"],
        actor=row["actor"],
        kind=row["kind"],
        old_status=OrderStatus(row["old_status"]) if row["old_status"] else None,
        new_status=OrderStatus(row["new_status"]) if row["new_status"] else None,
        raw_status=row["raw_status"],
        detail=row["detail"],
    )
