"""Small shop-wide switches persisted across restarts (e.g. ordering paused)."""

from __future__ import annotations

from storage.database import Database


async def get_value(db: Database, key: str) -> str | None:
    row = await db.fetch_one("SELECT value FROM shop_state WHERE key = ?", (key,))
    return str(row[0]) if row else None


async def set_value(db: Database, key: str, value: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO shop_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
