"""Small shop-wide switches persisted across restarts (e.g. ordering paused)."""

from __future__ import annotations

import aiosqlite

from core.kinds import Alert
from storage import audit
from storage.database import Database
from storage.staff_alerts import raise_alert_in

# Staff paused ordering ("1") or not ("0"), and why (shown to buyers).
PAUSED_KEY = "ordering_paused"
PAUSED_REASON_KEY = "ordering_paused_reason"


async def get_value(db: Database, key: str) -> str | None:
    row = await db.fetch_one("SELECT value FROM shop_state WHERE key = ?", (key,))
    return str(row[0]) if row else None


async def set_value(db: Database, key: str, value: str) -> None:
    async with db.transaction() as conn:
        await set_value_in(conn, key, value)


async def set_value_in(conn: aiosqlite.Connection, key: str, value: str) -> None:
    """Inside an open transaction (with the audit row of whoever changed it)."""
    await conn.execute(
        "INSERT INTO shop_state (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def is_paused_in(conn: aiosqlite.Connection) -> bool:
    """Inside an open transaction: has staff paused ordering?"""
    async with conn.execute("SELECT value FROM shop_state WHERE key = ?", (PAUSED_KEY,)) as cur:
        row = await cur.fetchone()
    return row is not None and row[0] == "1"


async def pause(db: Database, *, staff_id: int, reason: str | None, alert: Alert) -> None:
    """Pause ordering: the switch, its reason, the audit row and the staff-channel line,
    in one transaction."""
    async with db.transaction() as conn:
        await set_value_in(conn, PAUSED_KEY, "1")
        await set_value_in(conn, PAUSED_REASON_KEY, reason or "")
        await audit.record_in(
            conn, actor_id=staff_id, action="shop.pause", detail=reason or "no reason given"
        )
        await raise_alert_in(conn, alert)


async def resume(db: Database, *, staff_id: int, alert: Alert | None) -> None:
    """Resume ordering, with its audit row (and its staff-channel line when it was
    paused), in one transaction."""
    async with db.transaction() as conn:
        await set_value_in(conn, PAUSED_KEY, "0")
        await set_value_in(conn, PAUSED_REASON_KEY, "")
        await audit.record_in(conn, actor_id=staff_id, action="shop.resume")
        if alert is not None:
            await raise_alert_in(conn, alert)
