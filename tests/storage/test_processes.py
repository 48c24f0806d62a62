"""The registry of a shop's processes (issue 27), on both engines, and the wake-ups of
LISTEN/NOTIFY on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from core.crypto import DeliveryCipher
from core.domain import OrderStatus
from core.kinds import Alert, AlertKind, ProcessRole
from storage import notifications as outbox
from storage import orders as repo
from storage import processes, rate_limits, staff_alerts
from storage.database import Database
from storage.liveness import LivenessLock, void_dead_claims
from storage.postgres import PostgresDatabase
from storage.wakeups import WakeListener
from tests.storage.factories import new_order
from tests.support import fresh_postgres


async def test_a_process_beats_records_its_jobs_and_stops(db: Database) -> None:
    await processes.register(db, ProcessRole.WORKER, now=100.0, process_id="w1")
    assert await processes.beat(db, "w1", now=105.0, jobs={"notify": 104.0, "poll:boost": 103.0})
    assert await processes.beat(db, "w1", now=110.0, jobs={"notify": 109.0})
    (record,) = await processes.list_processes(db, since=0)
    assert (record.role, record.heartbeat_at, record.stopped_at) == (
        ProcessRole.WORKER,
        110.0,
        None,
    )
    assert record.jobs == {"notify": 109.0, "poll:boost": 103.0}
    assert record.alive(now=115.0, stale_after=10) and not record.alive(now=121.0, stale_after=10)
    await processes.stopped(db, "w1", now=112.0)
    assert not await processes.beat(db, "w1", now=113.0)  # a stopped row isn't revived
    (record,) = await processes.list_processes(db, since=0)
    assert record.stopped_at == 112.0 and not record.alive(now=112.5, stale_after=10)


async def test_a_silent_process_is_reported_once_whoever_watches(
    db: Database, second: Database
) -> None:
    await processes.register(db, ProcessRole.WORKER, now=100.0, process_id="dead")
    await processes.register(db, ProcessRole.WORKER, now=100.0, process_id="clean")
    await processes.register(db, ProcessRole.GATEWAY, now=100.0, process_id="alive")
    await processes.stopped(db, "clean", now=101.0)
    await processes.beat(db, "alive", now=200.0)
    reports = await asyncio.gather(
        *(processes.claim_stalled((db, second)[n % 2], now=200.0, stale_after=60) for n in range(6))
    )
    assert [r.id for batch in reports for r in batch] == ["dead"]
    # "alive" has gone silent since: reported now; "dead" is not reported again.
    later = await processes.claim_stalled(second, now=300.0, stale_after=60)
    assert [r.id for r in later] == ["alive"]
    # A process that beats again and falls silent again is reported again.
    assert await processes.beat(db, "dead", now=400.0)
    (again,) = await processes.claim_stalled(db, now=500.0, stale_after=60)
    assert again.id == "dead"


async def test_stopped_and_long_silent_processes_are_pruned_with_their_jobs(db: Database) -> None:
    await processes.register(db, ProcessRole.WORKER, now=0.0, process_id="old")
    await processes.beat(db, "old", now=1.0, jobs={"notify": 1.0})
    await processes.register(db, ProcessRole.ALL, now=processes.WEEK, process_id="new")
    assert await processes.prune(db, now=processes.WEEK + 10) == 1
    assert [r.id for r in await processes.list_processes(db, since=0)] == ["new"]
    (count,) = await db.fetch_one("SELECT COUNT(*) FROM process_jobs")  # type: ignore[misc]
    assert count == 0


@pytest.mark.postgres
async def test_a_dm_owed_or_an_alert_raised_wakes_the_listeners_of_that_shop_only(
    postgres_db: PostgresDatabase, cipher: DeliveryCipher
) -> None:
    db = postgres_db
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = WakeListener(db, heard.put_nowait)
    other_shop = await fresh_postgres("other_shop")
    deaf: list[str] = []
    stranger = WakeListener(other_shop, deaf.append)
    await listener.keep_listening()
    await stranger.keep_listening()
    try:
        order = await repo.insert_order(db, new_order(), cipher)
        await outbox.owe_notification(db, order.id, "final", user_id=42)
        assert await asyncio.wait_for(heard.get(), 30) == "notify"
        await staff_alerts.raise_alert(db, Alert(AlertKind.STAFF_ACTION, "m", "k"))
        assert await asyncio.wait_for(heard.get(), 30) == "staff-log"
        # The stranger's own shop wakes it; ours never did.
        woke = asyncio.Event()

        def heard_elsewhere(job: str) -> None:
            deaf.append(job)
            woke.set()

        stranger.on_wake = heard_elsewhere
        await staff_alerts.raise_alert(other_shop, Alert(AlertKind.STAFF_ACTION, "m2", "k2"))
        await asyncio.wait_for(woke.wait(), 30)
        assert deaf[-1] == "staff-log" and listener.woken == 2 and heard.empty()
    finally:
        await listener.close()
        await stranger.close()
        await other_shop.close()


async def test_rate_slots_reserved_by_many_processes_are_spaced_by_the_interval(
    db: Database, second: Database
) -> None:
    """Forty requests at once from two processes, at 10 a second: each gets its own slot,
    a tenth of a second after the one before, whichever process asked."""
    slots = await asyncio.gather(
        *(
            rate_limits.reserve((db, second)[n % 2], "provider:boost", interval=0.1, now=1000.0)
            for n in range(40)
        )
    )
    assert sorted(round((s - 1000.0) * 10) for s in slots) == list(range(40))
    # Later, after a quiet spell: the next request goes at once, not in the past.
    assert await rate_limits.reserve(db, "provider:boost", interval=0.1, now=2000.0) == 2000.0
    # Each limit is its own.
    assert await rate_limits.reserve(second, "discord", interval=0.1, now=1000.0) == 1000.0


@pytest.mark.postgres
async def test_the_claims_of_a_dead_process_are_taken_over_and_a_live_ones_never(
    postgres_db: PostgresDatabase, cipher: DeliveryCipher
) -> None:
    """Proof of life is a lock PostgreSQL releases when the process's connection ends
    (kill -9 included): a dead owner's poll leases go, a live owner's stay."""
    db = postgres_db
    alive = LivenessLock(db, "alive")
    await alive.hold()
    leases = {}
    for owner in ("alive", "dead"):
        await repo.insert_order(
            db,
            new_order(status=OrderStatus.SUBMITTED, remote_id=f"r-{owner}", next_poll_at=0.0),
            cipher,
        )
        (claimed,) = await repo.claim_due_orders(
            db, provider="boost", now=100.0, lease_until=10_000.0, limit=1, owner=owner
        )
        leases[owner] = claimed.id
    try:
        assert await void_dead_claims(db, now=200.0) == 1
        (free,) = await repo.claim_due_orders(
            db, provider="boost", now=200.0, lease_until=300.0, limit=10
        )
        assert free.id == leases["dead"]  # "alive"'s lease held
        assert await void_dead_claims(db, now=200.0) == 0
    finally:
        await alive.release()
    # The live one stops (its connection ends): now its lease goes too, but only once its
    # last heartbeat is older than the grace (a poll it sent may still be answered).
    await processes.register(db, ProcessRole.WORKER, now=190.0, process_id="alive")
    assert await void_dead_claims(db, now=200.0, grace=30.0) == 0
    assert await void_dead_claims(db, now=221.0, grace=30.0) == 1
