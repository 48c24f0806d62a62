"""An order's timeline (`order_events`): every status change, payment, delivery, send,
answer and staff look, with who did it. Append-only; written in the transaction of
whatever it records."""

from __future__ import annotations

import time

import aiosqlite

from core.domain import OrderStatus
from core.kinds import Alert, EventKind
from storage.database import Database
from storage.orders.records import OrderEvent, event_from_row
from storage.staff_alerts import raise_alert_in


async def add_event_in(
    conn: aiosqlite.Connection,
    order_id: str,
    *,
    actor: str,
    kind: str,
    old_status: OrderStatus | None = None,
    new_status: OrderStatus | None = None,
    raw_status: str | None = None,
    detail: str | None = None,
    at: float | None = None,
) -> None:
    """Append to an order's timeline inside an open transaction. `kind` is an
    EventKind (any text is stored as given)."""
    await conn.execute(
        "INSERT INTO order_events (order_id, at, actor, kind, old_status, new_status,"
        " raw_status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            order_id,
            time.time() if at is None else at,
            actor,
            kind,
            old_status.value if old_status else None,
            new_status.value if new_status else None,
            raw_status,
            detail,
        ),
    )


async def add_event(
    db: Database,
    order_id: str,
    *,
    actor: str,
    kind: str,
    detail: str | None = None,
    at: float | None = None,
    alert: Alert | None = None,
) -> None:
    """Append to the timeline in a transaction of its own, with the staff-channel line
    of the same action (`alert`) when there is one."""
    async with db.transaction() as conn:
        await add_event_in(conn, order_id, actor=actor, kind=kind, detail=detail, at=at)
        if alert is not None:
            await raise_alert_in(conn, alert)


async def list_events(db: Database, order_id: str) -> list[OrderEvent]:
    rows = await db.fetch_all(
        "SELECT * FROM order_events WHERE order_id = ? ORDER BY id", (order_id,)
    )
    return [event_from_row(r) for r in rows]


async def count_sends_since_status(db: Database, order_id: str) -> int:
    """Sends of the current submission: "send" events after the last status change."""
    row = await db.fetch_one(
        "SELECT COUNT(*) AS n FROM order_events WHERE order_id = ? AND kind = ? AND id >"
        " COALESCE((SELECT MAX(id) FROM order_events WHERE order_id = ? AND kind = ?), 0)",
        (order_id, EventKind.SEND, order_id, EventKind.STATUS),
    )
    return int(row["n"]) if row else 0


async def first_event_at(db: Database, order_id: str, kind: str) -> float | None:
    row = await db.fetch_one(
        "SELECT MIN(at) AS at FROM order_events WHERE order_id = ? AND kind = ?",
        (order_id, kind),
    )
    return None if row is None else row["at"]
