"""Issue 27's soak: one gateway and three workers on PostgreSQL, 300 orders across three
providers (100 of them boosts paid from wallets), one worker killed with kill -9 in the
middle of a poll and another in the middle of a DM. `make soak` runs it; `make test`
doesn't (the soak and the benchmarks are targets of their own).

Afterwards: no order was polled by two workers at once, every DM went exactly once, no
provider has a duplicate, every wallet equals its ledger, and the dead workers' claims
were taken over: the poll leases once PostgreSQL showed their owner dead (before they
expired), the DM once its lease had expired.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from typing import Any

import pytest

from demo.stack import LocalStack
from demo.workers import Worker
from tests.e2e.helpers import db_rows, embed_text, wait_until
from tests.e2e.journeys import dm_path, place_boost

PER_PROVIDER = 100
LATENCY = 0.3  # each answer from the digital shop: polls are in flight most of the time
GATEWAY = ("run", "--no-workers")
ENV = {
    "PAYMENT_MODE": "wallet",
    "TIMINGS": "heartbeat_interval=0.2,process_stall_after=2,poll_lease_margin=1",
    # A small batch and a short deadline keep a poll lease (raised to the slowest batch
    # those allow) to a few seconds, so the takeover happens within the soak.
    "POLL_BATCH_SIZE": "16",
    "PROVIDER_TIMEOUT_SECONDS": "1",
    "POLL_LEASE_SECONDS": "1",
    "PROVIDER_RATE_PER_SECOND": "200",
    "DM_RECONCILE_AFTER_SECONDS": "3",
}
DONE = {
    "boost": {"status": "COMPLETED"},
    "namefi": {"status": "SUCCEEDED"},
    "digital_shop": {"status": "COMPLETED", "deliveryData": "KEY-0000"},
}

pytestmark = [
    pytest.mark.soak,
    pytest.mark.workers,
    pytest.mark.stack(process=True, command=GATEWAY, env=ENV),
    pytest.mark.parametrize(
        "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
    ),
]


async def in_chunks(jobs: list[Any], size: int = 10) -> list[Any]:
    done: list[Any] = []
    for start in range(0, len(jobs), size):
        done.extend(await asyncio.gather(*jobs[start : start + size]))
    return done


def worker_of(stack: LocalStack, process_id: str) -> Worker | None:
    """The running worker with this registry id (None: not one of the running)."""
    (row,) = db_rows(stack, "SELECT pid FROM processes WHERE id = ?", (process_id,))
    return next((w for w in stack.workers.running if w.process.pid == row["pid"]), None)


async def test_three_workers_lose_nothing_and_double_nothing_when_two_are_killed(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    world = emu.world
    buyers = [world.buyer_id, world.buyer2_id]
    for provider, step in DONE.items():
        waiting = "CREATED" if provider == "namefi" else "PENDING"
        stack.sandbox.state(provider).set_default_timeline(
            [{"after": 0, "status": waiting}, {**step, "after": 6}]
        )
    stack.sandbox.state("digital_shop").set_latency(LATENCY)
    for buyer in buyers:
        await stack.credit(buyer, "1000 USD")
    for _ in range(3):
        await stack.workers.start()
    emu.nonce_window = 0  # only the outbox may keep a DM from going twice

    boosts = [place_boost(stack, buyers[n % 2]) for n in range(PER_PROVIDER)]
    links = [
        stack.staff_link_order(provider, stack.sandbox.state(provider).create_order(), buyer)
        for provider in ("namefi", "digital_shop")
        for buyer in buyers * (PER_PROVIDER // 2)
    ]
    await in_chunks(boosts + links)
    placed = db_rows(stack, "SELECT provider, COUNT(*) AS n FROM orders GROUP BY provider")
    assert {r["provider"]: r["n"] for r in placed} == dict.fromkeys(DONE, PER_PROVIDER)

    # kill -9 a worker in the middle of a poll: one holding leases on digital-shop orders,
    # whose answers take LATENCY each.
    def held_leases() -> list[Any]:
        return db_rows(
            stack,
            "SELECT id, remote_id, lease_owner, poll_lease_until FROM orders"
            " WHERE provider = 'digital_shop' AND lease_owner IS NOT NULL"
            " AND poll_lease_until > ?",
            (time.time() + 1,),
        )

    await wait_until(held_leases, within=30, failure=lambda: "no digital-shop poll in flight")
    victim_id = held_leases()[0]["lease_owner"]
    leased = {
        r["remote_id"]: r["poll_lease_until"]
        for r in held_leases()
        if r["lease_owner"] == victim_id
    }
    mid_poll = worker_of(stack, victim_id)
    assert mid_poll is not None
    killed_at = time.time()
    assert await stack.workers.stop(mid_poll, kill=True) == -9

    # kill -9 another in the middle of a DM: Discord stores it and holds the answer.
    held = emu.inject_store_then_fail("POST", dm_path(stack), drop=True, delay=30)
    await wait_until(lambda: held.hits == 1, within=60, failure=lambda: "no DM was held")

    def sending() -> list[Worker]:
        """Live workers holding a DM claim (the dead one may have left one too)."""
        rows = db_rows(
            stack,
            "SELECT DISTINCT claimed_by FROM notifications WHERE state = 'sending'"
            " AND claimed_by IS NOT NULL",
        )
        found = (worker_of(stack, r["claimed_by"]) for r in rows)
        return [w for w in found if w is not None]

    await wait_until(sending, within=10, failure=lambda: "no live worker holds a DM claim")
    mid_dm = sending()[0]
    assert await stack.workers.stop(mid_dm, kill=True) == -9

    # The last worker finishes everything: every order completed, every DM sent.
    def unfinished() -> list[Any]:
        return db_rows(
            stack,
            "SELECT id FROM orders WHERE status <> 'completed'"
            " UNION ALL SELECT order_id FROM notifications WHERE state <> 'sent'",
        )

    await wait_until(
        lambda: not unfinished(),
        within=90,
        failure=lambda: f"{len(unfinished())} orders or DMs unfinished",
    )

    # Every DM exactly once: one message per notification owed, none more.
    owed: dict[str, int] = defaultdict(int)
    for row in db_rows(stack, "SELECT order_id FROM notifications"):
        owed[row["order_id"]] += 1
    got: dict[str, int] = defaultdict(int)
    for buyer in buyers:
        for message in emu.dms(buyer):
            for order_id in owed:
                if order_id in embed_text(message):
                    got[order_id] += 1
    assert got == owed

    # No order polled by two workers at once: the GETs of one order never overlap.
    shop = stack.sandbox.state("digital_shop")
    by_order: dict[str, list[float]] = defaultdict(list)
    for request in shop.requests:
        if request.method == "GET":
            by_order[request.path.rsplit("/", 1)[-1]].append(request.at)
    for remote, times in by_order.items():
        times.sort()
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= LATENCY * 0.9 for gap in gaps), (remote, gaps)

    # The dead worker's leases were taken over once PostgreSQL showed it dead (its
    # liveness lock gone) and a call's deadline had passed: after the kill, before the
    # leases would have expired by themselves.
    offset = time.time() - time.monotonic()
    for remote, until in leased.items():
        after = [t + offset for t in by_order[remote] if t + offset > killed_at]
        assert after and min(after) < until, (remote, until, after[:1])

    # No duplicates at any provider; every wallet equals its ledger.
    assert len(stack.sandbox.state("boost").orders) == PER_PROVIDER
    assert len([r for r in stack.sandbox.state("boost").requests if r.method == "POST"]) == (
        PER_PROVIDER
    )
    for row in db_rows(
        stack,
        "SELECT w.user_id, w.balance_minor, COALESCE(SUM(l.amount_minor), 0) AS total"
        " FROM wallets w LEFT JOIN ledger l ON l.user_id = w.user_id AND l.currency = w.currency"
        " GROUP BY w.user_id, w.currency, w.balance_minor",
    ):
        assert row["balance_minor"] == row["total"], dict(row)
    debits = db_rows(stack, "SELECT COUNT(*) AS n FROM ledger WHERE kind = 'order_debit'")
    assert debits[0]["n"] == PER_PROVIDER
