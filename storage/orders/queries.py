"""Reading orders: by id, by key, a buyer's own, staff lists and searches, counts.

Drafts are a buyer's unconfirmed screens, not orders: no list or count here shows them
(a lookup by id still finds one, for the draft's own buttons).
"""

from __future__ import annotations

from typing import Any

from core.alerts.staff import STUCK_ORDER_KEY
from core.domain import OrderStatus
from storage.database import Database
from storage.orders.records import OrderRecord, StuckOrder, order_from_row

OPEN_STATUSES = tuple(s.value for s in OrderStatus if s.is_open)


async def get_order(db: Database, order_id: str) -> OrderRecord | None:
    row = await db.fetch_one("SELECT * FROM orders WHERE id = ?", (order_id,))
    return order_from_row(row) if row else None


async def get_order_for_user(db: Database, order_id: str, user_id: int) -> OrderRecord | None:
    """The privacy boundary: another member's order is indistinguishable from none."""
    row = await db.fetch_one(
        "SELECT * FROM orders WHERE id = ? AND user_id = ?", (order_id, user_id)
    )
    return order_from_row(row) if row else None


async def get_order_by_idempotency_key(db: Database, key: str) -> OrderRecord | None:
    row = await db.fetch_one("SELECT * FROM orders WHERE idempotency_key = ?", (key,))
    return order_from_row(row) if row else None


async def get_order_by_remote_id(db: Database, provider: str, remote_id: str) -> OrderRecord | None:
    row = await db.fetch_one(
        "SELECT * FROM orders WHERE provider = ? AND remote_id = ?", (provider, remote_id)
    )
    return order_from_row(row) if row else None


async def list_orders_for_user(
    db: Database, user_id: int, *, limit: int = 10, offset: int = 0
) -> list[OrderRecord]:
    rows = await db.fetch_all(
        # Drafts are unconfirmed screens, not orders: never listed (count_orders_for_user
        # agrees, and /order refuses them).
        "SELECT * FROM orders WHERE user_id = ? AND status != 'draft'"
        " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        (user_id, limit, offset),
    )
    return [order_from_row(r) for r in rows]


async def search_orders_for_user(
    db: Database, user_id: int, text: str, *, limit: int = 25
) -> list[OrderRecord]:
    """The caller's own orders (never drafts) whose id or product matches `text`, newest
    first: autocomplete reaches every order, not only the latest 25."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await db.fetch_all(
        "SELECT * FROM orders WHERE user_id = ? AND status != 'draft' AND (id LIKE ? ESCAPE '\\'"
        " OR product_name LIKE ? ESCAPE '\\') ORDER BY created_at DESC, id DESC LIMIT ?",
        (user_id, f"%{escaped.upper()}%", f"%{escaped}%", limit),
    )
    return [order_from_row(r) for r in rows]


async def count_orders_for_user(db: Database, user_id: int) -> int:
    row = await db.fetch_one(
        "SELECT COUNT(*) FROM orders WHERE user_id = ? AND status != 'draft'", (user_id,)
    )
    return int(row[0]) if row else 0


async def list_orders(
    db: Database,
    *,
    statuses: list[OrderStatus] | None = None,
    user_id: int | None = None,
    provider: str | None = None,
    since: float | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[OrderRecord]:
    where, params = _order_filters(statuses, user_id, provider, since)
    rows = await db.fetch_all(
        f"SELECT * FROM orders {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",  # noqa: S608 - only placeholders are interpolated
        (*params, limit, offset),
    )
    return [order_from_row(r) for r in rows]


def _order_filters(
    statuses: list[OrderStatus] | None,
    user_id: int | None,
    provider: str | None,
    since: float | None,
) -> tuple[str, list[Any]]:
    # Drafts are a buyer's unconfirmed screens, not orders: staff lists never show them.
    clauses: list[str] = ["status != 'draft'"]
    params: list[Any] = []
    if statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(s.value for s in statuses)
    if user_id is not None:
        clauses.append("user_id = ?")
        params.append(user_id)
    if provider is not None:
        clauses.append("provider = ?")
        params.append(provider)
    if since is not None:
        clauses.append("created_at >= ?")
        params.append(since)
    return f"WHERE {' AND '.join(clauses)}", params


async def count_orders_by_status(
    db: Database,
    *,
    user_id: int | None = None,
    provider: str | None = None,
    since: float | None = None,
) -> dict[str, int]:
    where, params = _order_filters(None, user_id, provider, since)
    rows = await db.fetch_all(
        f"SELECT status, COUNT(*) AS n FROM orders {where} GROUP BY status",  # noqa: S608 - only placeholders are interpolated
        tuple(params),
    )
    return {r["status"]: r["n"] for r in rows}


async def search_orders(db: Database, text: str, *, limit: int = 25) -> list[OrderRecord]:
    """For staff autocomplete: an id prefix, or part of the buyer's display name."""
    text = text.strip()
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await db.fetch_all(
        "SELECT * FROM orders WHERE status != 'draft' AND (id LIKE ? ESCAPE '\\'"
        " OR buyer_name LIKE ? ESCAPE '\\') ORDER BY created_at DESC LIMIT ?",
        (f"{escaped.upper()}%", f"%{escaped}%", limit),
    )
    return [order_from_row(r) for r in rows]


async def list_orders_in_status(db: Database, status: OrderStatus) -> list[OrderRecord]:
    rows = await db.fetch_all(
        "SELECT * FROM orders WHERE status = ? ORDER BY created_at", (status.value,)
    )
    return [order_from_row(r) for r in rows]


async def open_orders_by_provider(db: Database) -> dict[str, int]:
    """How many open orders each provider has (/admin providers)."""
    placeholders = ", ".join("?" for _ in OPEN_STATUSES)
    rows = await db.fetch_all(
        f"SELECT provider, COUNT(*) AS n FROM orders WHERE status IN ({placeholders})"  # noqa: S608 - placeholders only
        " GROUP BY provider",
        OPEN_STATUSES,
    )
    return {r["provider"]: int(r["n"]) for r in rows}


async def stuck_orders(db: Database, *, created_before: float, limit: int) -> list[StuckOrder]:
    """Open orders created before then that no stuck-order alert (its dedupe key is
    `STUCK_ORDER_KEY` + the id, core.alerts) was raised for yet,
    oldest first."""
    placeholders = ", ".join("?" for _ in OPEN_STATUSES)
    rows = await db.fetch_all(
        "SELECT id, provider, status, created_at FROM orders"  # noqa: S608 - only placeholders are interpolated
        f" WHERE status IN ({placeholders}) AND created_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM staff_alerts a WHERE a.dedupe_key = ? || orders.id)"
        " ORDER BY created_at LIMIT ?",
        (*OPEN_STATUSES, created_before, STUCK_ORDER_KEY, limit),
    )
    return [
        StuckOrder(row["id"], row["provider"], OrderStatus(row["status"]), row["created_at"])
        for row in rows
    ]
