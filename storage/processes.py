"""The processes serving a shop (issue 27): who runs, in which role, whether it is alive,
and when each of its jobs last ran to the end.

A process registers when it starts, beats every `heartbeat_interval`, records each job
run that finished without an error, and marks itself stopped on a clean stop. One that
stops beating without a clean stop died (kill -9, a lost machine); a watch in every
process raises one staff alert for it (`claim_stalled`), and its claims on orders, DMs
and alerts expire by themselves.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.kinds import ProcessRole as Role
from storage.database import Database

WEEK = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    id: str
    role: Role
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    stopped_at: float | None
    jobs: dict[str, float] = field(default_factory=dict)  # job -> its last good run
    claims: int = 0  # orders it has leased and DMs it is sending, now

    def alive(self, now: float, stale_after: float) -> bool:
        return self.stopped_at is None and now - self.heartbeat_at <= stale_after

    @property
    def name(self) -> str:
        """How staff see it: role, host and pid (the id is for the database)."""
        return f"{self.role.value} {self.host}:{self.pid}"


def _record(row: Any, *, jobs: dict[str, float] | None = None, claims: int = 0) -> ProcessRecord:
    return ProcessRecord(
        id=row["id"],
        role=Role(row["role"]),
        host=row["host"],
        pid=int(row["pid"]),
        started_at=float(row["started_at"]),
        heartbeat_at=float(row["heartbeat_at"]),
        stopped_at=None if row["stopped_at"] is None else float(row["stopped_at"]),
        jobs=jobs or {},
        claims=claims,
    )


def new_process_id() -> str:
    return secrets.token_hex(8)


async def register(db: Database, role: Role, *, now: float, process_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO processes (id, role, host, pid, started_at, heartbeat_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (process_id, role.value, socket.gethostname()[:64], os.getpid(), now, now),
        )


async def beat(
    db: Database, process_id: str, *, now: float, jobs: Mapping[str, float] | None = None
) -> bool:
    """The heartbeat, with the jobs that ran to the end since the last one (job -> when),
    in one transaction. False when the row is gone or marked stopped: the caller
    registers again."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE processes SET heartbeat_at = ?, stall_alerted = 0"
            " WHERE id = ? AND stopped_at IS NULL",
            (now, process_id),
        )
        if cur.rowcount != 1:
            return False
        await conn.executemany(
            "INSERT INTO process_jobs (process_id, job, last_ok_at) VALUES (?, ?, ?)"
            " ON CONFLICT (process_id, job) DO UPDATE SET last_ok_at = excluded.last_ok_at",
            [(process_id, job, at) for job, at in (jobs or {}).items()],
        )
        return True


async def stopped(db: Database, process_id: str, *, now: float) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE processes SET stopped_at = ? WHERE id = ? AND stopped_at IS NULL",
            (now, process_id),
        )


async def list_processes(
    db: Database, *, since: float, now: float | None = None
) -> list[ProcessRecord]:
    """Processes that beat after `since` or are still marked running, newest first, with
    their jobs' last good runs and (given `now`) the claims they hold."""
    rows = await db.fetch_all(
        "SELECT * FROM processes WHERE heartbeat_at >= ? OR stopped_at IS NULL"
        " ORDER BY started_at DESC, id",
        (since,),
    )
    jobs: dict[str, dict[str, float]] = {}
    claims: dict[str, int] = {}
    if rows and now is not None:
        for held in await db.fetch_all(
            "SELECT lease_owner AS owner, COUNT(*) AS n FROM orders"
            " WHERE lease_owner IS NOT NULL AND poll_lease_until > ? GROUP BY lease_owner"
            " UNION ALL SELECT claimed_by AS owner, COUNT(*) AS n FROM notifications"
            " WHERE claimed_by IS NOT NULL AND state = 'sending' GROUP BY claimed_by",
            (now,),
        ):
            claims[held["owner"]] = claims.get(held["owner"], 0) + int(held["n"])
    if rows:
        marks = ", ".join("?" * len(rows))
        for job in await db.fetch_all(
            f"SELECT process_id, job, last_ok_at FROM process_jobs WHERE process_id IN ({marks})",  # noqa: S608 - placeholders only
            [r["id"] for r in rows],
        ):
            jobs.setdefault(job["process_id"], {})[job["job"]] = float(job["last_ok_at"])
    return [_record(r, jobs=jobs.get(r["id"], {}), claims=claims.get(r["id"], 0)) for r in rows]


async def claim_stalled(db: Database, *, now: float, stale_after: float) -> list[ProcessRecord]:
    """Processes that stopped beating without a clean stop and haven't been reported:
    marked reported in the same statement, so of all the processes watching, exactly one
    reports each (a compare-and-set on `stall_alerted`). A process that beats again is
    reported again if it stalls again."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE processes SET stall_alerted = 1 WHERE stopped_at IS NULL"
            " AND stall_alerted = 0 AND heartbeat_at < ? RETURNING *",
            (now - stale_after,),
        )
        rows = await cur.fetchall()
    return [_record(r) for r in rows]


async def prune(db: Database, *, now: float) -> int:
    """Processes stopped, or silent, for a week (their jobs go with them)."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM processes WHERE COALESCE(stopped_at, heartbeat_at) < ?",
            (now - WEEK,),
        )
        return cur.rowcount
