"""The audit table: staff actions that touch no single order.

Actions on an order are written to its timeline (`order_events`, actor = the staff
member's id) by the order repository, in the same transaction as the change itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

from storage.database import Database


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    actor_id: int
    action: str
    target: str | None
    detail: str | None


async def record_in(
    conn: aiosqlite.Connection,
    *,
    actor_id: int,
    action: str,
    target: str | None = None,
    detail: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor_id, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (time.time(), actor_id, action, target, detail),
    )


async def record(
    db: Database,
    *,
    actor_id: int,
    action: str,
    target: str | None = None,
    detail: str | None = None,
) -> None:
    async with db.transaction() as conn:
        await record_in(conn, actor_id=actor_id, action=action, target=target, detail=detail)


async def recent(db: Database, *, limit: int = 50) -> list[AuditEntry]:
    rows = await db.fetch_all(
        "SELECT id, at, actor_id, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [
        AuditEntry(r["id"], r["at"], r["actor_id"], r["action"], r["target"], r["detail"])
        for r in rows
    ]
