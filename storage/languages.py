"""Members' language choices (/language), and the language a DM is written in."""

from __future__ import annotations

import time

from storage.database import Database


async def get_choice(db: Database, user_id: int) -> str | None:
    row = await db.fetch_one("SELECT language FROM member_languages WHERE user_id = ?", (user_id,))
    return str(row[0]) if row else None


async def set_choice(db: Database, user_id: int, language: str | None) -> None:
    """Record the member's choice; None forgets it (Discord's language applies again)."""
    async with db.transaction() as conn:
        if language is None:
            await conn.execute("DELETE FROM member_languages WHERE user_id = ?", (user_id,))
            return
        await conn.execute(
            "INSERT INTO member_languages (user_id, language, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET language = excluded.language,"
            " updated_at = excluded.updated_at",
            (user_id, language, time.time()),
        )
