"""The outbox: notifications owed to buyers, one per (order, kind) or (top-up, kind).

A notification is *owed* in the same transaction as the status change that caused it,
so a crash can never lose one. UNIQUE(order_id, kind) means it can't be owed twice.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

import aiosqlite

from core.kinds import NotificationKind
from storage.database import Database


class NotificationState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender; an interrupted send is reconciled at start
    SENT = "sent"
    FALLBACK = "fallback"  # DMs closed: a notice without delivery data was posted instead
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    # The subject: the order's id, or the top-up's (`topup_id` is then set too). Markers
    # and nonces are derived from it, and order and top-up ids never collide (ORD-/TOP-).
    order_id: str
    kind: str
    user_id: int
    state: NotificationState
    attempts: int
    next_attempt_at: float
    created_at: float
    sent_at: float | None
    last_error: str | None
    claimed_at: float | None = None
    # An earlier attempt may have reached Discord: look at the history before sending.
    unsure: bool = False
    # A fallback notice was attempted: the notices channel is part of that history.
    notice_tried: bool = False
    topup_id: str | None = None

    @property
    def for_topup(self) -> bool:
        return self.topup_id is not None

    @property
    def subject(self) -> str:
        """What it is about, for a log line: `order ORD-…` or `top-up TOP-…`."""
        return f"{'top-up' if self.for_topup else 'order'} {self.order_id}"


def _notification(row: aiosqlite.Row) -> Notification:
    return Notification(
        id=row["id"],
        order_id=row["order_id"] or row["topup_id"],
        kind=row["kind"],
        user_id=row["user_id"],
        state=NotificationState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        last_error=row["last_error"],
        claimed_at=row["claimed_at"],
        unsure=bool(row["unsure"]),
        notice_tried=bool(row["notice_tried"]),
        topup_id=row["topup_id"],
    )


async def owe_notification_in(
    conn: aiosqlite.Connection, order_id: str, kind: str, *, user_id: int, now: float
) -> bool:
    """Inside an open transaction: record that (order, kind) is owed. Returns False when
    it was already owed (or already sent); the existing row is left untouched."""
    cur = await conn.execute(
        "INSERT INTO notifications (order_id, kind, user_id, state, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT (order_id, kind) DO NOTHING",
        (order_id, kind, user_id, now, now),
    )
    return cur.rowcount == 1


async def owe_topup_notification_in(
    conn: aiosqlite.Connection, topup_id: str, kind: str, *, user_id: int, now: float
) -> bool:
    """As `owe_notification_in`, for a top-up's DM (its credit, its expiry)."""
    cur = await conn.execute(
        "INSERT INTO notifications (topup_id, kind, user_id, state, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT (topup_id, kind) DO NOTHING",
        (topup_id, kind, user_id, now, now),
    )
    return cur.rowcount == 1


async def count_topup_notifications_in(conn: aiosqlite.Connection, topup_id: str, base: str) -> int:
    """How many `base` DMs (`base`, `base-2`, …) this top-up owes, inside the write
    transaction (a second payment on one link owes a second credit DM)."""
    async with conn.execute(
        "SELECT COUNT(*) FROM notifications WHERE topup_id = ? AND (kind = ? OR kind LIKE ?)",
        (topup_id, base, f"{base}-%"),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def next_notification_kind(conn: aiosqlite.Connection, order_id: str, base: str) -> str:
    """The kind to owe for another `base` DM of this order, inside the write transaction:
    `base` the first time, then `base-2`, `base-3`, … (NotificationKind.base_of reads
    them back)."""
    async with conn.execute(
        "SELECT COUNT(*) FROM notifications WHERE order_id = ? AND (kind = ? OR kind LIKE ?)",
        (order_id, base, f"{base}-%"),
    ) as cur:
        row = await cur.fetchone()
    count = int(row[0]) if row else 0
    return base if count == 0 else f"{base}-{count + 1}"


async def next_resend_kind(conn: aiosqlite.Connection, order_id: str) -> str:
    """The kind of a staff resend, inside the write transaction (two resends at once get
    two numbers): `resend-1`, `resend-2`, … (numbered from the first, unlike the rest)."""
    base = NotificationKind.RESEND.value
    async with conn.execute(
        "SELECT COUNT(*) FROM notifications WHERE order_id = ? AND kind LIKE ?",
        (order_id, f"{base}-%"),
    ) as cur:
        row = await cur.fetchone()
    return f"{base}-{1 + (int(row[0]) if row else 0)}"


async def owe_notification(db: Database, order_id: str, kind: str, *, user_id: int) -> bool:
    async with db.transaction() as conn:
        return await owe_notification_in(conn, order_id, kind, user_id=user_id, now=time.time())


async def get_notification(db: Database, order_id: str, kind: str) -> Notification | None:
    row = await db.fetch_one(
        "SELECT * FROM notifications WHERE order_id = ? AND kind = ?", (order_id, kind)
    )
    return _notification(row) if row else None


async def get_notification_by_id(db: Database, notification_id: int) -> Notification | None:
    row = await db.fetch_one("SELECT * FROM notifications WHERE id = ?", (notification_id,))
    return _notification(row) if row else None


async def topup_notifications(db: Database, topup_id: str) -> list[Notification]:
    rows = await db.fetch_all(
        "SELECT * FROM notifications WHERE topup_id = ? ORDER BY id", (topup_id,)
    )
    return [_notification(r) for r in rows]


async def list_notifications(db: Database, order_id: str) -> list[Notification]:
    rows = await db.fetch_all(
        "SELECT * FROM notifications WHERE order_id = ? ORDER BY id", (order_id,)
    )
    return [_notification(r) for r in rows]


async def due_notifications(db: Database, *, now: float, limit: int = 50) -> list[Notification]:
    rows = await db.fetch_all(
        "SELECT * FROM notifications WHERE state = 'pending' AND next_attempt_at <= ?"
        " ORDER BY next_attempt_at, id LIMIT ?",
        (now, limit),
    )
    return [_notification(r) for r in rows]


async def any_due(db: Database, *, now: float) -> bool:
    """Is a DM owed and due? A read, so an idle sender takes no write lock each run."""
    row = await db.fetch_one(
        "SELECT 1 FROM notifications WHERE state = 'pending' AND next_attempt_at <= ? LIMIT 1",
        (now,),
    )
    return row is not None


async def claim_due_notification(
    db: Database, *, now: float, skip: Collection[int] = (), owner: str | None = None
) -> Notification | None:
    """Claim the next owed DM (pending and due) for sending: it moves to `sending` with
    this claim's time, and the attempt is counted. One row per claim, taken just before
    it is sent, so a claim's age is the age of its send. Processes sharing a PostgreSQL
    database skip the row another is claiming (`Database.claiming`); `skip` leaves out
    rows this process is busy with. None when nothing is due."""
    not_in = f" AND id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
    async with db.claiming() as conn:
        cur = await conn.execute(
            "UPDATE notifications SET state = 'sending', claimed_at = ?, claimed_by = ?,"  # noqa: S608 - a fixed clause and placeholders
            " attempts = attempts + 1 WHERE id IN ("
            " SELECT id FROM notifications WHERE state = 'pending' AND next_attempt_at <= ?"
            f"{not_in} ORDER BY next_attempt_at, id LIMIT 1{db.skip_locked}) RETURNING *",
            (time.time(), owner, now, *skip),
        )
        row = await cur.fetchone()
    return _notification(row) if row else None


async def list_sending(db: Database, *, claimed_before: float) -> list[Notification]:
    """Rows claimed for sending before `claimed_before`: their send was interrupted."""
    rows = await db.fetch_all(
        "SELECT * FROM notifications WHERE state = 'sending'"
        " AND COALESCE(claimed_at, 0) < ? ORDER BY id",
        (claimed_before,),
    )
    return [_notification(r) for r in rows]


async def mark_notice_tried(db: Database, notification_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE notifications SET notice_tried = 1 WHERE id = ?", (notification_id,)
        )


async def set_notification_state(
    db: Database,
    notification_id: int,
    state: NotificationState,
    *,
    expect: NotificationState | None = None,
    error: str | None = None,
    next_attempt_at: float | None = None,
    count_attempt: bool = False,
    unsure: bool | None = None,
    expect_claimed_at: float | None = None,
) -> bool:
    """Compare-and-set a notification's state. With `expect`, the update only happens
    from that state, which is how a sender claims a row exactly once (and how nothing
    after a send can overwrite `sent`). Claiming (-> sending) stamps `claimed_at`."""
    now = time.time()
    sent_at = now if state in (NotificationState.SENT, NotificationState.FALLBACK) else None
    claimed_at = now if state is NotificationState.SENDING else None
    sql = (
        "UPDATE notifications SET state = ?, last_error = COALESCE(?, last_error),"
        " next_attempt_at = COALESCE(?, next_attempt_at), sent_at = COALESCE(?, sent_at),"
        " claimed_at = COALESCE(?, claimed_at), unsure = COALESCE(?, unsure),"
        " attempts = attempts + ? WHERE id = ?"
    )
    params: list[object] = [
        state.value,
        error,
        next_attempt_at,
        sent_at,
        claimed_at,
        None if unsure is None else int(unsure),
        1 if count_attempt else 0,
        notification_id,
    ]
    if expect is not None:
        sql += " AND state = ?"
        params.append(expect.value)
    if expect_claimed_at is not None:
        # Only the claim we read: a newer claim by another sender is not ours to move.
        sql += " AND claimed_at = ?"
        params.append(expect_claimed_at)
    async with db.transaction() as conn:
        cur = await conn.execute(sql, params)
        return cur.rowcount == 1
