"""Pruning removes what has expired and nothing else (a seeded real SQLite file)."""

from __future__ import annotations

import time

from core.crypto import DeliveryCipher
from core.domain import OrderStatus
from core.kinds import Alert, AlertKind
from storage import audit, retention, staff_alerts
from storage import notifications as outbox
from storage import orders as repo
from storage.database import Database
from tests.storage.factories import new_order

DAY = 86_400.0


async def test_pruning_removes_what_expired_and_nothing_else(
    db: Database, cipher: DeliveryCipher
) -> None:
    now = time.time()
    old_draft = await repo.insert_order(db, new_order(status=OrderStatus.DRAFT), cipher)
    fresh_draft = await repo.insert_order(db, new_order(status=OrderStatus.DRAFT), cipher)
    ancient_order = await repo.insert_order(db, new_order(), cipher)
    await repo.transition_order(
        db,
        ancient_order.id,
        repo.StatusChange(OrderStatus.COMPLETED, actor="provider", notify_kind="final"),
        cipher,
    )
    for key in ("old-posted", "new-posted", "old-unposted", "old-failed"):
        await staff_alerts.raise_alert(db, Alert(AlertKind.STAFF_ACTION, key, key))
    await audit.record(db, actor_id=1, action="old")
    await audit.record(db, actor_id=1, action="new")
    async with db.transaction() as conn:
        minute = int(now // 60)
        await conn.execute(
            "INSERT INTO provider_requests (provider, minute, requests) VALUES"
            " ('boost', ?, 3), ('boost', ?, 5)",
            (minute - 180, minute),  # kept for 2 h
        )
        # Age the rows as if they had been written long ago.
        await conn.execute(
            "UPDATE orders SET created_at = ? WHERE id IN (?, ?)",
            (now - 3600, old_draft.id, ancient_order.id),
        )
        await conn.execute(
            "UPDATE staff_alerts SET posted_at = ? WHERE dedupe_key = 'old-posted'",
            (now - 31 * DAY,),
        )
        await conn.execute(
            "UPDATE staff_alerts SET posted_at = ? WHERE dedupe_key = 'new-posted'",
            (now - 29 * DAY,),
        )
        await conn.execute(
            "UPDATE staff_alerts SET created_at = ? WHERE dedupe_key = 'old-unposted'",
            (now - 90 * DAY,),
        )
        await conn.execute(
            "UPDATE staff_alerts SET failed_at = ? WHERE dedupe_key = 'old-failed'",
            (now - 31 * DAY,),
        )
        await conn.execute("UPDATE audit_log SET at = ? WHERE action = 'old'", (now - 400 * DAY,))

    pruned = await retention.prune_expired(db, now=now)

    assert pruned == {"drafts": 1, "provider_requests": 1, "staff_alerts": 2, "audit_log": 1}
    assert await repo.get_order(db, old_draft.id) is None
    assert await repo.get_order(db, fresh_draft.id) is not None
    # Orders, their timelines and their DMs are the shop's record: kept, however old.
    assert await repo.get_order(db, ancient_order.id) is not None
    assert len(await repo.list_events(db, ancient_order.id)) == 2
    assert len(await outbox.list_notifications(db, ancient_order.id)) == 1
    left = [r["dedupe_key"] for r in await db.fetch_all("SELECT dedupe_key FROM staff_alerts")]
    # An alert never posted is kept whatever its age: staff haven't seen it yet.
    assert sorted(left) == ["new-posted", "old-unposted"]
    assert [e.action for e in await audit.recent(db)] == ["new"]
    assert await retention.prune_expired(db, now=now) == dict.fromkeys(pruned, 0)
