"""The poller against real SQLite and the real sandboxes, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from bot.providers.registry import ProviderRegistry
from bot.services.poller import CircuitState, Poller, PollerSettings
from core.crypto import DeliveryCipher
from core.domain import OrderStatus
from sandbox.common import Fault
from sandbox.runner import SandboxCluster
from storage import notifications as outbox
from storage import orders as repo
from storage import provider_health, staff_alerts
from storage.database import Database
from tests.bot.helpers import track
from tests.support import FakeClock


def gets(cluster: SandboxCluster, name: str) -> int:
    return len([r for r in cluster.state(name).requests if r.method == "GET"])


def make_poller(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry, clock: FakeClock
) -> Poller:
    return Poller(
        db,
        cipher,
        adapters,
        settings=PollerSettings(
            concurrency=4, rate_per_second=1000, breaker_threshold=2, breaker_cooldown=30
        ),
        clock=clock,
    )


async def test_status_change_writes_timeline_and_owes_one_dm(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    remote = cluster.state("digital_shop").create_order(
        timeline=[
            {"after": 0, "status": "PENDING"},
            {"after": 5, "status": "COMPLETED", "deliveryData": "u:p"},
        ]
    )
    oid = await track(db, cipher, "digital_shop", remote, clock.now)
    poller = make_poller(db, cipher, adapters, clock)
    assert await poller.poll_due_orders() == 1
    same = await repo.get_order(db, oid)
    assert same is not None and same.status is OrderStatus.SUBMITTED
    assert same.poll_count == 1 and same.unchanged_polls == 1 and same.next_poll_at > clock.now  # type: ignore[operator]
    assert len(await repo.list_events(db, oid)) == 1  # no event for a non-change
    clock.advance(same.next_poll_at - clock.now + 5)  # type: ignore[operator]
    assert await poller.poll_due_orders() == 1
    done = await repo.get_order(db, oid)
    assert done is not None and done.status is OrderStatus.COMPLETED and done.next_poll_at is None
    assert done.delivery(cipher).reveal() == "u:p"  # type: ignore[union-attr]
    assert [n.kind for n in await outbox.list_notifications(db, oid)] == ["final"]
    clock.advance(1000)
    assert await poller.poll_due_orders() == 0  # terminal: never polled again


async def test_overlapping_runs_never_double_poll(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    cluster.state("namefi").set_latency(0.05)
    ids = [
        await track(db, cipher, "namefi", cluster.state("namefi").create_order(), clock.now)
        for _ in range(12)
    ]
    poller_a = make_poller(db, cipher, adapters, clock)
    poller_b = make_poller(db, cipher, adapters, clock)
    made = await asyncio.gather(
        poller_a.poll_due_orders(), poller_b.poll_due_orders(), poller_a.poll_due_orders()
    )
    assert sum(made) == len(ids)
    assert gets(cluster, "namefi") == len(ids)


async def test_unknown_status_alerts_once_and_keeps_polling(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    oid = await track(
        db,
        cipher,
        "boost",
        cluster.state("boost").create_order(inviteCode="x1", amount=2),
        clock.now,
    )
    cluster.state("boost").add_fault(Fault("unknown_status", count=-1))
    poller = make_poller(db, cipher, adapters, clock)
    for _ in range(3):
        assert await poller.poll_due_orders() == 1
        clock.advance(1000)
    order = await repo.get_order(db, oid)
    assert order is not None and order.status is OrderStatus.SUBMITTED
    assert order.raw_status == "WEIRD_NEW_STATE" and order.next_poll_at is not None
    alerts = [a for a in await staff_alerts.unposted_alerts(db) if a.kind == "unknown_status"]
    assert len(alerts) == 1 and "WEIRD_NEW_STATE" in alerts[0].message


async def test_malformed_replies_dont_stop_other_orders_or_providers(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    bad = await track(db, cipher, "namefi", cluster.state("namefi").create_order(), clock.now)
    good = await track(
        db,
        cipher,
        "digital_shop",
        cluster.state("digital_shop").create_order(timeline=[{"after": 0, "status": "PROCESSING"}]),
        clock.now,
    )
    cluster.state("namefi").add_fault(Fault("malformed", count=-1))
    poller = make_poller(db, cipher, adapters, clock)
    await poller.poll_due_orders()
    assert (await repo.get_order(db, good)).status is OrderStatus.PROCESSING  # type: ignore[union-attr]
    failed = await repo.get_order(db, bad)
    assert failed is not None and failed.poll_failures == 1 and failed.next_poll_at > clock.now  # type: ignore[operator]
    assert [a.kind for a in await staff_alerts.unposted_alerts(db)] == ["provider_fault"]


async def test_repeated_failures_open_the_circuit_then_a_probe_closes_it(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    for adapter in adapters.all():
        adapter.retry_backoff = 0.001
    state = cluster.state("namefi")
    for _ in range(4):
        await track(db, cipher, "namefi", state.create_order(), clock.now)
    state.add_fault(Fault("server_error", count=-1))
    poller = make_poller(db, cipher, adapters, clock)
    await poller.poll_due_orders()
    health = {h.name: h for h in poller.health()}["namefi"]
    assert health.circuit is CircuitState.OPEN
    before = gets(cluster, "namefi")
    clock.advance(10)
    await poller.poll_due_orders()
    assert gets(cluster, "namefi") == before  # open: nothing sent
    state.clear_faults()
    clock.advance(400)
    await poller.poll_due_orders()  # half-open: exactly one probe
    assert gets(cluster, "namefi") == before + 1
    assert health.circuit is CircuitState.CLOSED


async def test_rate_limit_postpones_all_of_that_providers_orders(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    state = cluster.state("boost")
    ids = [
        await track(db, cipher, "boost", state.create_order(inviteCode="x", amount=2), clock.now)
        for _ in range(3)
    ]
    state.add_fault(Fault("rate_limit", retry_after=60))
    poller = Poller(
        db,
        cipher,
        adapters,
        settings=PollerSettings(concurrency=1, rate_per_second=1000),
        clock=clock,
    )
    await poller.poll_due_orders()
    assert gets(cluster, "boost") == 1  # the 429; the other two were held, not sent
    for oid in ids:
        order = await repo.get_order(db, oid)
        assert (
            order is not None
            and order.next_poll_at is not None
            and order.next_poll_at >= clock.now + 60
        )
    clock.advance(30)
    await poller.poll_due_orders()
    assert gets(cluster, "boost") == 1
    clock.advance(31)
    await poller.poll_due_orders()
    assert gets(cluster, "boost") == 4


async def test_an_endless_retry_after_holds_ten_minutes_at_most_and_is_reported(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    state = cluster.state("digital_shop")
    ids = [
        await track(db, cipher, "digital_shop", state.create_order(), clock.now) for _ in range(3)
    ]
    state.add_fault(Fault("rate_limit", retry_after_header="inf"))
    poller = make_poller(db, cipher, adapters, clock)
    await poller.poll_due_orders()
    first = gets(cluster, "digital_shop")
    for oid in ids:
        order = await repo.get_order(db, oid)
        assert order is not None and order.next_poll_at is not None
        assert order.next_poll_at <= clock.now + 600  # not infinity, not years
    [alert] = [a for a in await staff_alerts.unposted_alerts(db) if a.kind == "provider_hold"]
    assert "asked us to wait infs, which we cut to 600s" in alert.message
    clock.advance(599)
    await poller.poll_due_orders()
    assert gets(cluster, "digital_shop") == first  # still held
    clock.advance(2)
    await poller.poll_due_orders()
    assert gets(cluster, "digital_shop") == first + 3  # all three polled again


async def test_a_retry_after_lets_nothing_through_until_the_clock_passes_it(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    # More orders than workers, and every poll answered 429 while the fault lasts: when
    # the first 429 comes back, two polls at most are out, and nothing is sent after it.
    state = cluster.state("namefi")
    for _ in range(8):
        await track(db, cipher, "namefi", state.create_order(), clock.now)
    state.add_fault(Fault("rate_limit", retry_after=60, count=-1))
    poller = Poller(
        db,
        cipher,
        adapters,
        settings=PollerSettings(concurrency=2, rate_per_second=1000),
        clock=clock,
    )
    held_until = clock.now + 60
    await poller.poll_due_orders()
    in_flight = gets(cluster, "namefi")
    assert 1 <= in_flight <= 2, in_flight  # the other orders of the batch were not sent
    # Recorded: /admin providers shows it, and a restarted bot honours it.
    assert (await provider_health.load_all(db))["namefi"].hold_until == held_until
    state.clear_faults()
    # An order linked during the hold is due at once: it waits as well.
    await track(db, cipher, "namefi", state.create_order(), clock.now)
    for now in (clock.now, held_until - 30, held_until - 0.001):
        clock.now = now
        await poller.poll_due_orders()
        assert gets(cluster, "namefi") == in_flight, f"sent {held_until - now:g}s before the end"
    clock.now = held_until
    await poller.poll_due_orders()
    assert gets(cluster, "namefi") == in_flight + 9  # every order of that provider, at once


async def test_a_slow_batch_keeps_its_orders_until_it_is_done(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    # 20 orders, one poll at a time, each poll allowed 3 tries of up to 1 s: the batch may
    # take minutes (the lease covers the whole claim limit); a 10 s lease setting, or the
    # old fixed 120 s, would run out mid-batch.
    state = cluster.state("digital_shop")
    state.hang_seconds = 5
    ids = [
        await track(db, cipher, "digital_shop", state.create_order(), clock.now) for _ in range(20)
    ]
    state.add_fault(Fault("hang", count=-1))
    poller = Poller(
        db,
        cipher,
        adapters,
        settings=PollerSettings(concurrency=1, rate_per_second=1000, lease_seconds=10),
        clock=clock,
    )
    gate = poller.gates["digital_shop"]
    assert poller.lease_for(gate, 20) >= 20 * 3 * gate.adapter.deadline
    assert poller.lease_for(gate, poller.settings.batch_size) > 150
    batch = asyncio.create_task(poller.poll_due_orders())
    try:
        await asyncio.sleep(0.3)  # the batch has claimed its orders and hangs on the first
        clock.advance(150)  # past the setting (and the old 120 s), inside the worst case
        another_run = await repo.claim_due_orders(
            db, provider="digital_shop", now=clock.now, lease_until=clock.now + 10, limit=100
        )
        assert another_run == []  # nobody else polls these orders while the batch runs
    finally:
        batch.cancel()
        await asyncio.gather(batch, return_exceptions=True)
    assert len(ids) == 20


# --- issue 12: ids checked, and a completion without its goods isn't final ---------------


async def test_a_reply_about_another_order_is_never_recorded(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    # Ours is pending; the provider answers with another order's completed credentials.
    state = cluster.state("digital_shop")
    ours = state.create_order()
    theirs = state.create_order(
        deliveryData="someone-else:secret", timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    oid = await track(db, cipher, "digital_shop", ours, clock.now)
    state.add_fault(Fault("wrong_id", id_value=theirs))
    poller = make_poller(db, cipher, adapters, clock)
    await poller.poll_due_orders()
    stored = await repo.get_order(db, oid)
    assert stored is not None and stored.status is OrderStatus.SUBMITTED
    assert stored.delivery(cipher) is None and stored.poll_failures == 1
    assert await outbox.list_notifications(db, oid) == []
    (alert,) = await staff_alerts.unposted_alerts(db)
    assert alert.kind == "provider_fault" and theirs in alert.message


@pytest.mark.parametrize("bad", ["../../admin?x=1", "abc-123\n", " abc-123"])
async def test_a_stored_id_unfit_for_a_path_is_never_requested_and_goes_to_staff(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
    bad: str,
) -> None:
    oid = await track(db, cipher, "boost", bad, clock.now)
    healthy = await track(
        db,
        cipher,
        "boost",
        cluster.state("boost").create_order(timeline=[{"after": 0, "status": "PROCESSING"}]),
        clock.now,
    )
    poller = make_poller(db, cipher, adapters, clock)
    await poller.poll_due_orders()
    assert [r.path for r in cluster.state("boost").requests] == [
        f"/order/{(await repo.get_order(db, healthy)).remote_id}"  # type: ignore[union-attr]
    ]
    stored = await repo.get_order(db, oid)
    assert stored is not None and stored.status is OrderStatus.NEEDS_REVIEW
    assert [a.kind for a in await staff_alerts.unposted_alerts(db)] == ["invalid_remote_id"]
    # The order's fault, not the provider's: its circuit stays closed.
    assert poller.gates["boost"].health.consecutive_failures == 0


async def test_completed_without_goods_waits_for_them(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    remote = cluster.state("digital_shop").create_order(
        timeline=[
            {"after": 0, "status": "COMPLETED", "deliveryData": None},
            {"after": 120, "status": "COMPLETED", "deliveryData": "late:goods"},
        ]
    )
    oid = await track(db, cipher, "digital_shop", remote, clock.now)
    poller = make_poller(db, cipher, adapters, clock)
    assert await poller.poll_due_orders() == 1
    waiting = await repo.get_order(db, oid)
    assert waiting is not None and waiting.status is OrderStatus.SUBMITTED
    assert await outbox.list_notifications(db, oid) == []  # no "completed" DM without goods
    assert "awaiting_delivery" in [e.kind for e in await repo.list_events(db, oid)]
    for _ in range(20):  # keeps asking, about every 15 s at most
        clock.advance(16)
        await poller.poll_due_orders()
    done = await repo.get_order(db, oid)
    assert done is not None and done.status is OrderStatus.COMPLETED
    assert done.delivery(cipher).reveal() == "late:goods"  # type: ignore[union-attr]
    assert [n.kind for n in await outbox.list_notifications(db, oid)] == ["final"]


async def test_completed_without_goods_for_too_long_goes_to_staff(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    remote = cluster.state("digital_shop").create_order(
        timeline=[{"after": 0, "status": "COMPLETED"}]  # no deliveryData, not a service
    )
    oid = await track(db, cipher, "digital_shop", remote, clock.now)
    poller = make_poller(db, cipher, adapters, clock)
    polls = 0
    for _ in range(200):
        polls += await poller.poll_due_orders()
        clock.advance(16)
        stored = await repo.get_order(db, oid)
        if stored is not None and stored.status is OrderStatus.NEEDS_REVIEW:
            break
    assert stored is not None and stored.status is OrderStatus.NEEDS_REVIEW
    # Bounded: about DELIVERY_WAIT_SECONDS (15 min) of polls at most every 15 s.
    assert 30 <= polls <= 70
    alerts = [a for a in await staff_alerts.unposted_alerts(db) if a.kind == "delivery_missing"]
    assert len(alerts) == 1 and "/admin order deliver" in alerts[0].message
    clock.advance(3600)
    assert await poller.poll_due_orders() == 0  # staff's now


async def test_a_completed_service_order_needs_no_goods(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    remote = cluster.state("digital_shop").create_order(
        isService=True, timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    oid = await track(db, cipher, "digital_shop", remote, clock.now)
    await make_poller(db, cipher, adapters, clock).poll_due_orders()
    done = await repo.get_order(db, oid)
    assert done is not None and done.status is OrderStatus.COMPLETED
