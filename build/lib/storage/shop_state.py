"""Small shop-wide switches persisted across restarts (e.g. ordering paused)."""

from __future__ import annotations

import aiosqlite

from storage.database import Database


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
