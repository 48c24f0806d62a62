"""Rows for storage tests: a valid new order whose fields a test overrides."""

from __future__ import annotations

from core.domain import Money, OrderKind, new_order_id
from storage import orders as repo


def new_order(user_id: int = 42, /, **overrides: object) -> repo.NewOrder:
    fields: dict[str, object] = {
        "id": new_order_id(),
        "user_id": user_id,
        "guild_id": 7,
        "product_key": "server-boost",
        "product_name": "Server Boost",
        "provider": "boost",
        "kind": OrderKind.BOOST,
        "quantity": 4,
        "unit_price": Money(350, "USD"),
        "idempotency_key": f"confirm:{new_order_id()}",
        "details": {"invite_code": "shopdemo"},
    }
    fields.update(overrides)
    return repo.NewOrder(**fields)  # type: ignore[arg-type]
