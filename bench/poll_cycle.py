"""(a) One poll cycle over 10,000 open orders vs a bare httpx loop, same run.

10,000 orders spread over the three pollable sandboxes (in their own process), stored in
a real SQLite file. The poller claims them (leases), polls each through its adapter
with the per-provider concurrency limit (8), and writes the bookkeeping. The baseline
makes the same 10,000 GETs with bare `httpx.AsyncClient`s, one per provider, at the same
concurrency, and does nothing with the answers. Each round runs both, in alternating order,
and the ratio is the median of the rounds' own ratios: on 2 cores the sandbox server and
the client share the machine, and a round-to-round drift of ±5 % would otherwise swamp
the few per cent being measured.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bench.common import (
    INSERT_TRACKED_ORDER,
    Timing,
    median_timing,
    sandbox_process,
    timed,
    tracked_order_row,
    write_result,
)
from bot.providers.registry import ProviderRegistry, auth_headers, build_adapter
from bot.services.poller import Poller, PollerSettings
from core.crypto import DeliveryCipher
from sandbox.boost import DEFAULT_KEY as BOOST_KEY
from sandbox.digital_shop import DEFAULT_KEY as DIGITAL_KEY
from sandbox.namefi import DEFAULT_TOKEN as NAMEFI_TOKEN
from storage.database import open_database

ORDERS = 10_000
CONCURRENCY = 8  # per provider, as the bot's PROVIDER_CONCURRENCY default
ROUNDS = 6
KEYS = {"boost": BOOST_KEY, "namefi": NAMEFI_TOKEN, "digital_shop": DIGITAL_KEY}
PATHS = {"boost": "/order/{}", "namefi": "/v-next/orders/{}", "digital_shop": "/api/v1/orders/{}"}
SEEDS: dict[str, dict[str, Any]] = {
    "boost": {"inviteCode": "bench", "amount": 2, "timeline": [{"after": 0, "status": "PENDING"}]},
    "namefi": {"timeline": [{"after": 0, "status": "CREATED"}]},
    "digital_shop": {"timeline": [{"after": 0, "status": "PENDING"}]},
}


async def seed_remote(urls: dict[str, str]) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {name: [] for name in KEYS}
    names = list(KEYS)
    async with httpx.AsyncClient(timeout=30) as client:
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            name = names[i % len(names)]
            async with sem:
                resp = await client.post(f"{urls[name]}/_sandbox/orders", json=SEEDS[name])
                resp.raise_for_status()
                ids[name].append(resp.json()["id"])

        await asyncio.gather(*(one(i) for i in range(ORDERS)))
    return ids


def seed_db(path: Path, ids: dict[str, list[str]]) -> None:
    import sqlite3

    now = time.time()
    rows = [
        tracked_order_row(
            f"ORD-B{n:09d}",
            provider,
            remote,
            user_id=1000 + n % 500,
            created_at=now,
            next_poll_at=now - 1,
        )
        for n, (provider, remote) in enumerate(
            (provider, remote) for provider, remote_ids in ids.items() for remote in remote_ids
        )
    ]
    with sqlite3.connect(path) as conn:
        conn.executemany(INSERT_TRACKED_ORDER, rows)


async def make_all_due(path: Path) -> None:
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE orders SET next_poll_at = ?, poll_lease_until = NULL", (time.time() - 1,)
        )


async def poller_cycle(urls: dict[str, str], db_path: Path) -> tuple[Timing, int]:
    await make_all_due(db_path)
    db = await open_database(db_path)
    registry = ProviderRegistry(
        {
            name: build_adapter(
                name, urls[name], SecretStr(KEYS[name]), timeout=30, max_connections=CONCURRENCY
            )
            for name in KEYS
        }
    )
    poller = Poller(
        db,
        DeliveryCipher(SecretStr(Fernet.generate_key().decode())),
        registry,
        settings=PollerSettings(concurrency=CONCURRENCY, rate_per_second=1e9, batch_size=ORDERS),
    )
    polled = 0

    async def cycle() -> None:
        nonlocal polled
        polled = await poller.poll_due_orders()

    try:
        timing = await timed(cycle)
    finally:
        await registry.aclose()
        await db.close()
    return timing, polled


async def bare_cycle(urls: dict[str, str], ids: dict[str, list[str]]) -> Timing:
    clients = {
        name: httpx.AsyncClient(
            base_url=urls[name],
            headers={"Accept": "application/json", **auth_headers(name, KEYS[name])},
            timeout=30,
            limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
        )
        for name in KEYS
    }

    async def provider_loop(name: str) -> None:
        queue = list(ids[name])

        async def worker() -> None:
            while queue:
                remote = queue.pop()
                resp = await clients[name].get(PATHS[name].format(remote))
                resp.json()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    async def cycle() -> None:
        await asyncio.gather(*(provider_loop(name) for name in KEYS))

    try:
        return await timed(cycle)
    finally:
        for client in clients.values():
            await client.aclose()


async def run(workdir: Path) -> dict[str, Any]:
    with sandbox_process() as urls:
        ids = await seed_remote(urls)
        db_path = workdir / "bench.sqlite3"
        db = await open_database(db_path)
        await db.close()
        seed_db(db_path, ids)
        await bare_cycle(urls, ids)  # warm-up
        bare: list[Timing] = []
        ours: list[Timing] = []
        for n in range(ROUNDS):
            # ABBA: which side goes first alternates, so a drift (the sandbox's heap
            # growing, the machine warming) lands on both sides alike.
            for side in ("bare", "poller") if n % 2 == 0 else ("poller", "bare"):
                if side == "bare":
                    bare.append(await bare_cycle(urls, ids))
                else:
                    timing, polled = await poller_cycle(urls, db_path)
                    assert polled == ORDERS, polled
                    ours.append(timing)
    b, a = median_timing(bare), median_timing(ours)
    wall_ratios = sorted(o.wall / r.wall for r, o in zip(bare, ours, strict=True))
    cpu_ratios = sorted(o.cpu / r.cpu for r, o in zip(bare, ours, strict=True))
    return {
        "orders": ORDERS,
        "providers": list(KEYS),
        "concurrency_per_provider": CONCURRENCY,
        "rounds": ROUNDS,
        "bare_wall_s": round(b.wall, 2),
        "bare_cpu_s": round(b.cpu, 2),
        "poller_wall_s": round(a.wall, 2),
        "poller_cpu_s": round(a.cpu, 2),
        "wall_ratio": round(statistics.median(wall_ratios), 3),
        "cpu_ratio": round(statistics.median(cpu_ratios), 3),
        "wall_ratio_range": [round(wall_ratios[0], 3), round(wall_ratios[-1], 3)],
        "cpu_ratio_range": [round(cpu_ratios[0], 3), round(cpu_ratios[-1], 3)],
        "targets": {"wall_ratio": 1.3, "cpu_ratio": 1.5},
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        result = asyncio.run(run(Path(tmp)))
    write_result("poll_cycle", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
