"""Request rates shared by every process using the database (issue 27): a provider's
polls, the bot's Discord requests.

Each limit is one row holding its next free slot, GCRA's "theoretical arrival time".
A request reserves a slot with one statement (an upsert): the slot is the later of now
and the row's time, and the row moves on by one interval. Requests are spaced by exactly
`1 / rate`, whichever process sends them, so N processes together never exceed the
rate. A process that reserves a slot and dies wastes that slot: the limit errs on the
slow side, never the fast one. The UPDATE runs in `Database.claiming()`: on PostgreSQL
it locks only the limit's row, not the shop.
"""

from __future__ import annotations

from storage.database import Database


async def reserve(db: Database, name: str, *, interval: float, now: float) -> float:
    """Reserve the next slot of limit `name`; the time the request may be sent (never
    before `now`)."""
    async with db.claiming() as conn:
        cur = await conn.execute(
            "INSERT INTO rate_limits (name, next_at) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET"
            " next_at = MAX(rate_limits.next_at, ?) + ? RETURNING next_at",
            (name, now + interval, now, interval),
        )
        row = await cur.fetchone()
    assert row is not None
    return float(row[0]) - interval
