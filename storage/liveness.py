"""Proof that a process is alive, from PostgreSQL itself (issue 27).

Every process serving a shop on PostgreSQL holds a session advisory lock keyed by its
id in the registry (storage/processes.py), on a connection of its own, for its whole
life. PostgreSQL releases a session's locks the moment its connection ends, and a
killed process's connection ends with it. So "can this lock be taken?" answers "is that
process dead?" with no clock involved.

`void_dead_claims` uses that: the poll leases of an owner proven dead are released, so
its orders are polled again now rather than after their lease (which is raised to the
slowest possible batch: minutes for a large one). A live owner's leases are never
touched. Its DMs left `sending` keep their own, short lease (DM_RECONCILE_AFTER_SECONDS):
a DM sent just before the death may still land, and the history is checked after it. One edge remains: a process cut off from the database
(its connection dropped while it runs) counts as dead. Its polls may then overlap
another's, which is harmless (they are reads), and every write it makes is still a
compare-and-set.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from storage.postgres import PostgresDatabase

log = logging.getLogger(__name__)

OWNER_LOCK = 0x6F776E72  # "ownr"


class LivenessLock:
    """This process's lock, held on a dedicated connection until `release`."""

    def __init__(self, db: PostgresDatabase, process_id: str) -> None:
        self.db = db
        self.process_id = process_id
        self._conn: asyncpg.Connection[Any] | None = None

    async def hold(self) -> None:
        settings = {"search_path": self.db.schema} if self.db.schema else {}
        conn = await asyncpg.connect(self.db.url, server_settings=settings)
        try:
            await conn.execute(
                "SELECT pg_advisory_lock($1, hashtext($2))", OWNER_LOCK, self.process_id
            )
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


async def dead_owners(db: PostgresDatabase, owners: set[str]) -> set[str]:
    """Of `owners` (process ids), those whose liveness lock nobody holds."""
    dead: set[str] = set()
    async with db.pool.acquire() as conn:
        for owner in sorted(owners):
            if await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", OWNER_LOCK, owner
            ):
                await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", OWNER_LOCK, owner)
                dead.add(owner)
    return dead


async def void_dead_claims(db: PostgresDatabase, *, now: float, grace: float = 0.0) -> int:
    """Release the poll leases of dead owners; how many.

    An owner is taken over `grace` seconds after its last heartbeat at the earliest: a
    poll it sent just before it died may still be being answered, and another process's
    poll of the same order must not overlap it. `grace` is a call's deadline."""
    rows = await db.fetch_all(
        "SELECT DISTINCT lease_owner AS owner FROM orders"
        " WHERE lease_owner IS NOT NULL AND poll_lease_until > ?",
        (now,),
    )
    owners = {str(r["owner"]) for r in rows}
    if not owners:
        return 0
    dead = await dead_owners(db, owners)
    if dead:
        marks = ", ".join("?" * len(dead))
        recent = await db.fetch_all(
            f"SELECT id FROM processes WHERE id IN ({marks}) AND heartbeat_at >= ?",  # noqa: S608 - placeholders only
            (*sorted(dead), now - grace),
        )
        dead -= {str(r["id"]) for r in recent}
    if not dead:
        return 0
    orders = 0
    async with db.transaction() as conn:
        for owner in sorted(dead):
            cur = await conn.execute(
                "UPDATE orders SET poll_lease_until = NULL, lease_owner = NULL"
                " WHERE lease_owner = ? AND poll_lease_until > ?",
                (owner, now),
            )
            orders += cur.rowcount
    if orders:
        log.info("took over %d poll lease(s) from %d dead process(es)", orders, len(dead))
    return orders
