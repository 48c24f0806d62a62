"""The queries behind /admin stats (SQLite's own date functions included). The service
(bot/services/stats.py) turns them into figures and a chart."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain import OrderStatus
from storage.database import Database
from storage.wallet import EntryKind


async def orders_per_day(db: Database, *, since: float) -> list[tuple[str, str, int]]:
    """(UTC day, status, orders created that day) since then, drafts left out."""
    rows = await db.fetch_all(
        "SELECT date(created_at, 'unixepoch') AS day, status, COUNT(*) AS n FROM orders"
        " WHERE created_at >= ? AND status != 'draft' GROUP BY day, status",
        (since,),
    )
    return [(row["day"], row["status"], row["n"]) for row in rows]


async def revenue_per_day(
    db: Database, *, since: float, statuses: Sequence[OrderStatus]
) -> list[tuple[str, str, int]]:
    """(UTC day, currency, minor units) of the orders placed here since then in those
    statuses, by the day each was created (the period's revenue is their sum)."""
    placeholders = ", ".join("?" for _ in statuses)
    rows = await db.fetch_all(
        "SELECT date(created_at, 'unixepoch') AS day, currency, SUM(total_minor) AS total"  # noqa: S608 - only placeholders are interpolated
        f" FROM orders WHERE created_at >= ? AND source = 'placed' AND status IN ({placeholders})"
        " GROUP BY day, currency ORDER BY day, currency",
        (since, *(s.value for s in statuses)),
    )
    return [(row["day"], row["currency"], int(row["total"])) for row in rows]


async def completion_times(db: Database, *, since: float) -> dict[str, list[float]]:
    """Provider -> seconds from creation to completed, for each order placed here since
    then and completed (never below zero)."""
    durations: dict[str, list[float]] = {}
    for row in await db.fetch_all(
        "SELECT o.provider, MIN(e.at) - o.created_at AS took FROM orders o"
        " JOIN order_events e ON e.order_id = o.id AND e.new_status = 'completed'"
        " WHERE o.created_at >= ? AND o.status = 'completed' AND o.source = 'placed'"
        " GROUP BY o.id",
        (since,),
    ):
        durations.setdefault(row["provider"], []).append(max(float(row["took"]), 0.0))
    return durations


async def dm_counts(db: Database, *, since: float) -> tuple[int, int]:
    """(DMs owed since then that went out, of which as a notice: DMs closed)."""
    row = await db.fetch_one(
        "SELECT SUM(CASE WHEN state IN ('sent', 'fallback') THEN 1 ELSE 0 END) AS out,"
        " SUM(CASE WHEN state = 'fallback' THEN 1 ELSE 0 END) AS fallback"
        " FROM notifications WHERE created_at >= ? AND order_id IS NOT NULL",
        (since,),
    )
    if not row:
        return 0, 0
    return int(row["out"] or 0), int(row["fallback"] or 0)


# Credits paid online carry the key `topup:<provider>:<payment id>`
# (storage.topups.credit_key); every other credit is a staff member's.
ONLINE_CREDIT = "credit_online"


async def wallet_flows(db: Database, *, since: float) -> dict[str, dict[str, int]]:
    """Currency -> ledger kind -> minor units moved since then (debits as spent: > 0).
    Credits are split by source: `credit` (staff) and `credit_online` (paid online)."""
    wallet: dict[str, dict[str, int]] = {}
    for row in await db.fetch_all(
        # `credit_online` is ONLINE_CREDIT: written out, so the query is one constant.
        "SELECT currency, CASE WHEN kind = 'credit' AND idempotency_key LIKE 'topup:%'"
        " THEN 'credit_online' ELSE kind END AS kind, SUM(amount_minor) AS total"
        " FROM ledger WHERE created_at >= ? GROUP BY 1, 2 ORDER BY 1",
        (since,),
    ):
        total = int(row["total"])
        wallet.setdefault(row["currency"], {})[row["kind"]] = (
            -total if row["kind"] == EntryKind.ORDER_DEBIT else total
        )
    return wallet
