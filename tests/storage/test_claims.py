"""Lease claims across processes (issue 26): due polls, owed DMs and staff alerts.

Several processes (two handles on one shop here: two pools on PostgreSQL, two
connections on SQLite) claim at once, and each row goes to exactly one of them. On
PostgreSQL a claim locks only the rows it takes (`FOR UPDATE SKIP LOCKED`): it skips a
row another transaction holds, and never waits for the shop-wide write lock.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from core.crypto import DeliveryCipher
from core.domain import OrderStatus
from core.kinds import Alert, AlertKind
from storage import notifications as outbox
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database
from storage.postgres import WRITE_LOCK, PostgresDatabase
from tests.storage.factories import new_order

CLAIMERS = 8


async def due_orders(db: Database, cipher: DeliveryCipher, count: int) -> list[str]:
    ids = []
    for n in range(count):
        order = await repo.insert_order(
            db,
            new_order(status=OrderStatus.SUBMITTED, remote_id=f"r-{n}", next_poll_at=float(n)),
            cipher,
        )
        ids.append(order.id)
    return ids


async def test_many_claimers_take_each_due_order_exactly_once(
    db: Database, second: Database, cipher: DeliveryCipher
) -> None:
    ids = await due_orders(db, cipher, 120)
    batches = await asyncio.gather(
        *(
            repo.claim_due_orders(
                (db, second)[n % 2], provider="boost", now=1000.0, lease_until=2000.0, limit=20
            )
            for n in range(CLAIMERS)
        )
    )
    claimed = [o.id for batch in batches for o in batch]
    assert len(claimed) == len(set(claimed)), "an order was claimed twice"
    assert sorted(claimed) == sorted(ids)  # 8 x 20 places for 120: nothing left behind


async def test_many_senders_claim_each_owed_dm_exactly_once(
    db: Database, second: Database, cipher: DeliveryCipher
) -> None:
    owed = []
    for order_id in await due_orders(db, cipher, 30):
        assert await outbox.owe_notification(db, order_id, "final", user_id=42)
        owed.append(order_id)
    claims = await asyncio.gather(
        *(outbox.claim_due_notification((db, second)[n % 2], now=10**10) for n in range(40))
    )
    taken = [c for c in claims if c is not None]
    assert sorted(c.order_id for c in taken) == sorted(owed)  # each once, none left
    assert all(c.state is outbox.NotificationState.SENDING and c.attempts == 1 for c in taken)
    assert all(c.claimed_at is not None for c in taken)


async def test_many_posters_claim_each_alert_exactly_once(db: Database, second: Database) -> None:
    for n in range(40):
        await staff_alerts.raise_alert(db, Alert(AlertKind.STAFF_ACTION, f"m{n}", f"k{n}"))
    batches = await asyncio.gather(
        *(
            staff_alerts.claim_due_alerts((db, second)[n % 2], now=10**10, lease=60, limit=7)
            for n in range(CLAIMERS)
        )
    )
    claimed = [a.id for batch in batches for a in batch]
    assert len(claimed) == len(set(claimed)) == 40


@pytest.mark.postgres
async def test_claims_skip_rows_another_transaction_holds_and_ignore_the_write_lock(
    postgres_db: PostgresDatabase, cipher: DeliveryCipher
) -> None:
    """Another process is mid-transaction: it holds the shop's write lock and has one
    order, one owed DM and one alert locked. Claims neither wait for it nor take what it
    holds; once it commits, what it held is claimable."""
    db = postgres_db
    first, *rest = await due_orders(db, cipher, 3)
    for order_id in (first, *rest):
        await outbox.owe_notification(db, order_id, "final", user_id=42)
    for n in range(3):
        await staff_alerts.raise_alert(db, Alert(AlertKind.STAFF_ACTION, f"m{n}", f"k{n}"))
    alert_ids = [a.id for a in await staff_alerts.unposted_alerts(db)]
    other = await asyncpg.connect(db.url, server_settings={"search_path": str(db.schema)})
    try:
        holding = other.transaction()
        await holding.start()
        await other.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", WRITE_LOCK
        )
        await other.execute("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE", first)
        await other.execute("SELECT 1 FROM notifications WHERE order_id = $1 FOR UPDATE", first)
        await other.execute("SELECT 1 FROM staff_alerts WHERE id = $1 FOR UPDATE", alert_ids[0])

        async def claim_everything() -> tuple[list[str], list[str], list[int]]:
            orders = await repo.claim_due_orders(
                db, provider="boost", now=1000.0, lease_until=2000.0, limit=10
            )
            dms = []
            while (note := await outbox.claim_due_notification(db, now=10**10)) is not None:
                dms.append(note.order_id)
            alerts = await staff_alerts.claim_due_alerts(db, now=10**10, lease=60)
            return [o.id for o in orders], dms, [a.id for a in alerts]

        # The guard only fails a claim that waits; a passing run takes milliseconds.
        orders, dms, alerts = await asyncio.wait_for(claim_everything(), timeout=60)
        assert sorted(orders) == sorted(rest)
        assert sorted(dms) == sorted(rest)
        assert sorted(alerts) == sorted(alert_ids[1:])
        await holding.commit()
    finally:
        await other.close()
    (late,) = await repo.claim_due_orders(
        db, provider="boost", now=1000.0, lease_until=2000.0, limit=10
    )
    assert late.id == first
    note = await outbox.claim_due_notification(db, now=10**10)
    assert note is not None and note.order_id == first
    assert [a.id for a in await staff_alerts.claim_due_alerts(db, now=10**10, lease=60)] == [
        alert_ids[0]
    ]
