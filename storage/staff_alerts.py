"""The staff-channel outbox: alerts recorded transactionally, posted later, each once.

An alert is raised in the same transaction as what it reports. The staff log then claims
it (a lease, so a retry or a second process never posts it twice), posts it, and marks it
posted; one that fails is retried with backoff without blocking the ones behind it.
Alerts with the same `group_key` (kind and provider) are gathered into a digest when many
arrive at once, so an outage gives a handful of messages, not one per order.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from core.kinds import Alert
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
    group_key: str | None = None


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
        group_key=row["group_key"],
    )


async def raise_alert_in(conn: aiosqlite.Connection, alert: Alert) -> bool:
    """Inside an open transaction. Returns False when this alert was already raised.

    The alert's ``group_key`` (e.g. ``unknown_status:boost``) lets a burst of alerts
    become a digest; None posts every alert on its own (staff actions)."""
    cur = await conn.execute(
        "INSERT INTO staff_alerts (order_id, kind, dedupe_key, message, created_at, group_key)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
        (
            alert.order_id,
            str(alert.kind),
            alert.dedupe_key,
            alert.message,
            time.time(),
            alert.group_key,
        ),
    )
    return cur.rowcount == 1


async def raise_alert(db: Database, alert: Alert) -> bool:
    """`raise_alert_in` in a transaction of its own."""
    async with db.transaction() as conn:
        return await raise_alert_in(conn, alert)


async def unposted_alerts(db: Database, *, limit: int = 200) -> list[StaffAlert]:
    rows = await db.fetch_all(
        "SELECT * FROM staff_alerts WHERE posted_at IS NULL AND failed_at IS NULL"
        " ORDER BY id LIMIT ?",
        (limit,),
    )
    return [_alert(r) for r in rows]


async def claim_due_alerts(
    db: Database, *, now: float, lease: float, limit: int = 200, raised_before: float | None = None
) -> list[StaffAlert]:
    """Take the alerts due for posting; nobody else gets them until the lease ends (and
    a process claiming at the same moment skips them: `Database.claiming`). With
    `raised_before`, only alerts raised by then."""
    raised, since = (
        ("", ()) if raised_before is None else (" AND created_at <= ?", (raised_before,))
    )
    async with db.claiming() as conn:
        cur = await conn.execute(
            "UPDATE staff_alerts SET claimed_until = ? WHERE id IN ("  # noqa: S608 - a fixed clause only
            " SELECT id FROM staff_alerts WHERE posted_at IS NULL AND failed_at IS NULL"
            " AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)"
            f"{raised} ORDER BY id LIMIT ?{db.skip_locked}) RETURNING *",
            (now + lease, now, now, *since, limit),
        )
        rows = list(await cur.fetchall())
    return sorted((_alert(r) for r in rows), key=lambda a: a.id)


async def mark_alerts_posted(
    db: Database, alert_ids: Sequence[int], *, digest_id: int | None = None
) -> None:
    if not alert_ids:
        return
    now = time.time()
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE staff_alerts SET posted_at = ?, attempts = attempts + 1,"
            " claimed_until = NULL, digest_id = ? WHERE id = ? AND posted_at IS NULL",
            [(now, digest_id, alert_id) for alert_id in alert_ids],
        )


async def mark_alert_posted(db: Database, alert_id: int) -> None:
    await mark_alerts_posted(db, [alert_id])


async def release_alerts(db: Database, alert_ids: Sequence[int], *, not_before: float) -> None:
    """Give claimed alerts back, to be posted no earlier than ``not_before``."""
    if not alert_ids:
        return
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE staff_alerts SET claimed_until = NULL, next_attempt_at = ? WHERE id = ?",
            [(not_before, alert_id) for alert_id in alert_ids],
        )


async def mark_alert_attempt_failed(
    db: Database, alert_id: int, *, retry_at: float | None = None, give_up: bool = False
) -> None:
    now = time.time()
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE staff_alerts SET attempts = attempts + 1, claimed_until = NULL,"
            " next_attempt_at = ?, failed_at = ? WHERE id = ?",
            (retry_at if retry_at is not None else now, now if give_up else None, alert_id),
        )


async def messages_posted_since(db: Database, group_key: str, since: float) -> int:
    """How many staff-channel messages this group produced since then (an alert posted on
    its own counts one; a digest counts one however many alerts it carried)."""
    row = await db.fetch_one(
        "SELECT COUNT(*) FROM staff_alerts WHERE group_key = ? AND posted_at >= ?"
        " AND (digest_id IS NULL OR digest_id = id)",
        (group_key, since),
    )
    return int(row[0]) if row else 0


async def last_digest_at(db: Database, group_key: str) -> float | None:
    row = await db.fetch_one(
        "SELECT MAX(posted_at) FROM staff_alerts WHERE group_key = ? AND digest_id = id",
        (group_key,),
    )
    return float(row[0]) if row and row[0] is not None else None


async def digests_posted_since(db: Database, group_key: str, since: float) -> int:
    row = await db.fetch_one(
        "SELECT COUNT(*) FROM staff_alerts WHERE group_key = ? AND digest_id = id"
        " AND posted_at >= ?",
        (group_key, since),
    )
    return int(row[0]) if row else 0
