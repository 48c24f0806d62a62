"""The staff-channel outbox: alerts recorded transactionally, posted later, each once."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

from storage.database import Database


@dataclass(frozen=True, slots=True)
class StaffAlert:
    id: int
    order_id: str | None
    kind: str
    dedupe_key: str
    message: str
    created_at: float
    posted_at: float | None
    attempts: int


def _alert(row: aiosqlite.Row) -> StaffAlert:
    return StaffAlert(
        id=row["id"],
        order_id=row["order_id"],
        kind=row["kind"],
        dedupe_key=row["dedupe_key"],
        message=row["message"],
        created_at=row["created_at"],
        posted_at=row["posted_at"],
        attempts=row["attempts"],
    )


async def raise_alert_in(
    conn: aiosqlite.Connection,
    *,
    kind: str,
    message: str,
    dedupe_key: str,
    order_id: str | None = None,
) -> bool:
    """Inside an open transaction. Returns False when this alert was already raised."""
    cur = await conn.execute(
        "INSERT INTO staff_alerts (order_id, kind, dedupe_key, message, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
        (order_id, kind, dedupe_key, message, time.time()),
    )
    return cur.rowcount == 1


async def raise_alert(
    db: Database, *, kind: str, message: str, dedupe_key: str, order_id: str | None = None
) -> bool:
    async with db.transaction() as conn:
        return await raise_alert_in(
            conn, kind=kind, message=message, dedupe_key=dedupe_key, order_id=order_id
        )


async def unposted_alerts(db: Database, *, limit: int = 20) -> list[StaffAlert]:
    rows = await db.fetch_all(
        "SELECT * FROM staff_alerts WHERE posted_at IS NULL ORDER BY id LIMIT ?", (limit,)
    )
    return [_alert(r) for r in rows]


async def mark_alert_posted(db: Database, alert_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE staff_alerts SET posted_at = ?, attempts = attempts + 1 WHERE id = ?",
            (time.time(), alert_id),
        )


async def mark_alert_attempt_failed(db: Database, alert_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE staff_alerts SET attempts = attempts + 1 WHERE id = ?", (alert_id,)
        )
