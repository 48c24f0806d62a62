"""The poller's claims on orders: leases, so overlapping runs never poll an order twice,
and the bookkeeping of polls that changed no status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.domain import OrderStatus
from storage.database import Database
from storage.orders.records import OrderRecord, order_from_row

# Statuses the poller asks providers about. needs_review is for staff; submitting is the
# ordering service's (re-sends); terminal statuses are done.
POLLABLE_STATUSES = (OrderStatus.SUBMITTED.value, OrderStatus.PROCESSING.value)


async def claim_due_orders(
    db: Database,
    *,
    provider: str,
    now: float,
    lease_until: float,
    limit: int,
    owner: str | None = None,
) -> list[OrderRecord]:
    """Lease up to `limit` due orders of one provider. A leased row is invisible to other
    claims until the lease ends or the poll is recorded, so overlapping runs (or a slow
    one) never poll the same order twice. Processes sharing a PostgreSQL database claim
    side by side: each skips the rows another is claiming (`Database.claiming`)."""
    async with db.claiming() as conn:
        async with conn.execute(
            "UPDATE orders SET poll_lease_until = ?, lease_owner = ? WHERE id IN ("  # noqa: S608 - a fixed clause only
            " SELECT id FROM orders WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?"
            " AND provider = ? AND status IN (?, ?) AND remote_id IS NOT NULL"
            " AND (poll_lease_until IS NULL OR poll_lease_until < ?)"
            f" ORDER BY next_poll_at LIMIT ?{db.skip_locked}) RETURNING *",
            (lease_until, owner, now, provider, *POLLABLE_STATUSES, now, limit),
        ) as cur:
            rows = await cur.fetchall()
    return sorted((order_from_row(r) for r in rows), key=lambda o: o.next_poll_at or 0)


async def release_all_leases(db: Database) -> int:
    """At startup on SQLite nothing is in flight (the file lock proves this is the only
    process): leases left by a killed process are void. On a shared database (PostgreSQL)
    another process may hold a live lease, so none is voided: a dead process's leases end
    by expiring, and claims take only expired ones."""
    if db.shared:
        return 0
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE orders SET poll_lease_until = NULL WHERE poll_lease_until IS NOT NULL"
        )
        return cur.rowcount


async def claim_for_recovery(db: Database, order_id: str, *, now: float, until: float) -> bool:
    """Claim an order left `submitting` for recovery (a re-send, or staff review), so that
    of all the processes that find it, one acts. The order's lease column is its work
    lease here: no poll uses it while the order is `submitting`. False when the order has
    moved on, or another process holds a live claim."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE orders SET poll_lease_until = ? WHERE id = ? AND status = ?"
            " AND (poll_lease_until IS NULL OR poll_lease_until < ?)",
            (until, order_id, OrderStatus.SUBMITTING.value, now),
        )
        return cur.rowcount == 1


async def release_recovery_claim(db: Database, order_id: str, *, until: float) -> None:
    """Give the claim back once recovery has acted (a re-send it schedules is then due at
    its own time, not at the claim's end). A claim another process has since taken is
    left alone."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE orders SET poll_lease_until = NULL WHERE id = ? AND poll_lease_until = ?",
            (order_id, until),
        )


async def release_leases(db: Database, leases: Mapping[str, float]) -> None:
    """A stopping process gives back the leases it still holds (order id -> the lease it
    set; orders claimed but not polled before the stop), so another process polls them
    at once instead of after the lease. A lease that is no longer ours is left alone."""
    if not leases:
        return
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE orders SET poll_lease_until = NULL WHERE id = ? AND poll_lease_until = ?",
            list(leases.items()),
        )


@dataclass(frozen=True, slots=True)
class PollBookkeeping:
    """A poll that changed no status: only the schedule and counters move."""

    order_id: str
    polled_at: float
    next_poll_at: float
    ok: bool  # the provider answered (unchanged); False = the poll itself failed
    raw_status: str | None = None
    counted: bool = True  # False: no request was made, only reschedule and release


async def record_polls(db: Database, entries: list[PollBookkeeping]) -> None:
    """Write many polls' bookkeeping in one transaction (the common, no-change case)."""
    if not entries:
        return
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE orders SET next_poll_at = ?, poll_lease_until = NULL WHERE id = ?",
            [(e.next_poll_at, e.order_id) for e in entries if not e.counted],
        )
        await conn.executemany(
            "UPDATE orders SET last_polled_at = ?, poll_count = poll_count + 1,"
            " unchanged_polls = unchanged_polls + ?, poll_failures = CASE WHEN ? = 1 THEN 0"
            " ELSE poll_failures + 1 END, next_poll_at = ?, poll_lease_until = NULL,"
            " raw_status = COALESCE(?, raw_status) WHERE id = ?",
            [
                (
                    e.polled_at,
                    1 if e.ok else 0,
                    1 if e.ok else 0,
                    e.next_poll_at,
                    e.raw_status,
                    e.order_id,
                )
                for e in entries
                if e.counted
            ],
        )


async def postpone_provider_polls(db: Database, provider: str, until: float) -> int:
    """Rate limited: nothing of this provider's is due before `until`."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE orders SET next_poll_at = ? WHERE provider = ? AND next_poll_at IS NOT NULL"
            " AND next_poll_at < ? AND status IN (?, ?)",
            (until, provider, until, *POLLABLE_STATUSES),
        )
        return cur.rowcount
