"""Poll throughput with worker processes (issue 27): 10,000 open orders polled once, by
the all-in-one process on SQLite, then by 1, 2 and 4 worker processes on PostgreSQL, in
one run, with the provider rate limits lifted.

Each worker is a process of its own running the bot's real Poller (claims with FOR
UPDATE SKIP LOCKED, leases, the adapters, the bookkeeping, the shared rate slots) until
nothing is due; the sandboxes run in another process. Reported: polls per second and
each ratio to the all-in-one SQLite run. One worker is then profiled with cProfile, in
a run of its own, to see what a worker spends its time on. On this 2-core machine, N workers share 2 cores
with the sandboxes and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr

from bench.common import INSERT_TRACKED_ORDER, sandbox_process, tracked_order_row, write_result
from bench.poll_cycle import KEYS, seed_remote
from bot.providers.registry import ProviderRegistry, build_adapter
from bot.services.poller import Poller, PollerSettings
from bot.services.rate_limits import share_provider_rates
from bot.services.schedule import PollSchedule
from core.crypto import DeliveryCipher
from storage.database import Database, open_database
from storage.postgres import empty_schema, open_postgres

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".ci"))
from postgres import PostgresServer

ORDERS = 10_000
CONCURRENCY = 8  # per provider and process, the PROVIDER_CONCURRENCY default
BATCH = 200  # the POLL_BATCH_SIZE default
WORKERS = (1, 2, 4)
LIFTED = 1e6  # requests a second: "the provider rate limits lifted"


def rows(ids: dict[str, list[str]]) -> list[tuple[object, ...]]:
    now = time.time()
    pairs = [(p, r) for p, remote_ids in ids.items() for r in remote_ids]
    return [
        tracked_order_row(
            f"ORD-W{n:09d}", p, r, user_id=1000 + n % 500, created_at=now, next_poll_at=now - 1
        )
        for n, (p, r) in enumerate(pairs)
    ]


async def poll_until_done(db: Database, urls: dict[str, str]) -> int:
    """The worker's loop: poll every provider's due orders until none is left."""
    registry = ProviderRegistry(
        {
            name: build_adapter(
                name, urls[name], SecretStr(KEYS[name]), timeout=30, max_connections=CONCURRENCY
            )
            for name in KEYS
        }
    )
    if db.shared:
        share_provider_rates(db, registry.all(), LIFTED)
    poller = Poller(
        db,
        DeliveryCipher(SecretStr(Fernet.generate_key().decode())),
        registry,
        settings=PollerSettings(concurrency=CONCURRENCY, rate_per_second=LIFTED, batch_size=BATCH),
        # Polled once each: the next poll of any order is long after the run ends.
        schedule=PollSchedule(min_delay=3600.0),
    )
    polled = 0
    try:
        while made := await poller.poll_due_orders():
            polled += made
    finally:
        await registry.aclose()
    return polled


async def worker_main(url: str, schema: str, urls: dict[str, str], profile: str) -> None:
    db = await open_postgres(url, schema=schema)
    profiler = cProfile.Profile() if profile else None
    try:
        if profiler:
            profiler.enable()
        polled = await poll_until_done(db, urls)
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
    finally:
        await db.close()
    print(polled, flush=True)


async def reset_postgres(url: str, schema: str, data: list[tuple[object, ...]]) -> None:
    await empty_schema(url, schema)
    db = await open_postgres(url, schema=schema)  # migrated
    try:
        async with db.transaction() as tx:
            await tx.executemany(INSERT_TRACKED_ORDER, data)
    finally:
        await db.close()


def run_workers(count: int, url: str, schema: str, urls: dict[str, str], profile: str) -> float:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "bench.worker_polls", "--worker", url, schema, json.dumps(urls)]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*args, profile if n == 0 else ""], stdout=subprocess.PIPE, text=True, env=env
        )
        for n in range(count)
    ]
    polled = sum(int((p.communicate()[0] or "0").strip() or 0) for p in procs)
    wall = time.perf_counter() - started
    assert polled == ORDERS, (count, polled)
    return wall


def top_of(profile: str, lines: int = 12) -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(lines)
    return out.getvalue()


async def sqlite_run(folder: Path, urls: dict[str, str], data: list[tuple[object, ...]]) -> float:
    path = folder / "allinone.sqlite3"
    db = await open_database(path)
    await db.close()
    with sqlite3.connect(path) as conn:
        conn.executemany(INSERT_TRACKED_ORDER, data)
    db = await open_database(path)
    try:
        started = time.perf_counter()
        polled = await poll_until_done(db, urls)
        wall = time.perf_counter() - started
    finally:
        await db.close()
    assert polled == ORDERS, polled
    return wall


def main() -> None:
    with (
        PostgresServer.start() as server,
        sandbox_process() as urls,
        tempfile.TemporaryDirectory() as tmp,
    ):
        url = server.create_database("bench")
        ids = asyncio.run(seed_remote(urls))
        data = rows(ids)
        baseline = asyncio.run(sqlite_run(Path(tmp), urls, data))
        result: dict[str, Any] = {
            "orders": ORDERS,
            "all_in_one_sqlite_s": round(baseline, 2),
            "all_in_one_sqlite_polls_per_s": round(ORDERS / baseline),
        }
        for count in WORKERS:
            schema = f"workers_{count}"
            asyncio.run(reset_postgres(url, schema, data))
            wall = run_workers(count, url, schema, urls, "")
            result[f"workers_{count}_s"] = round(wall, 2)
            result[f"workers_{count}_polls_per_s"] = round(ORDERS / wall)
            result[f"workers_{count}_ratio"] = round(baseline / wall, 2)
        # Profiled apart from the measured runs (cProfile slows what it watches).
        profile = str(Path(tmp) / "worker.prof")
        asyncio.run(reset_postgres(url, "profiled", data))
        run_workers(1, url, "profiled", urls, profile)
        profile_text = top_of(profile)
    write_result("worker_polls", result)
    print(json.dumps(result, indent=2))
    print("one worker on PostgreSQL, by own time (cProfile):")
    print(profile_text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, dsn, schema_name, sandbox_urls, profile_path = sys.argv
        asyncio.run(worker_main(dsn, schema_name, json.loads(sandbox_urls), profile_path))
    else:
        main()
