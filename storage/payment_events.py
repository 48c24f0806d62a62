"""Verified payment webhook events (migration 0011), stored before the 2xx answer so a
crash after it loses nothing: applied at once, or later by the stored-events job. The
provider's event id is unique per provider, so a retried or duplicated delivery is
stored once and applied once. Bodies are encrypted at rest (`body_enc`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.database import Database


async def record_event(
    db: Database,
    *,
    provider: str,
    event_id: str,
    kind: str,
    topup_id: str | None,
    body_enc: bytes,
    now: float | None = None,
) -> int | None:
    """Store a verified webhook event before answering 2xx. Returns its row id, or None
    when the provider delivered this event before (a retry, a duplicate)."""
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        async with conn.execute(
            "INSERT INTO payment_events (provider, event_id, kind, topup_id, received_at,"
            " body_enc) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (provider, event_id) DO NOTHING RETURNING id",
            (provider, event_id, kind, topup_id, now, body_enc),
        ) as cur:
            row = await cur.fetchone()
    return int(row[0]) if row is not None else None


async def event_processed(db: Database, event_row: int, *, now: float | None = None) -> None:
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE payment_events SET processed_at = ? WHERE id = ? AND processed_at IS NULL",
            (now, event_row),
        )


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    provider: str
    event_id: str
    kind: str
    body_enc: bytes
    received_at: float

    def headers(self) -> dict[str, str]:
        """What the parser needs of the delivery's headers (the event id)."""
        return {"X-Razorpay-Event-Id": self.event_id}


async def pending_events(db: Database, *, older_than: float, limit: int = 100) -> list[StoredEvent]:
    """Events stored before `older_than` and never applied (a crash after the 2xx)."""
    rows = await db.fetch_all(
        "SELECT id, provider, event_id, kind, body_enc, received_at FROM payment_events"
        " WHERE processed_at IS NULL AND received_at < ? ORDER BY received_at LIMIT ?",
        (older_than, limit),
    )
    return [StoredEvent(r[0], r[1], r[2], r[3], bytes(r[4]), float(r[5])) for r in rows]
