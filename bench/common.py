"""Shared helpers: start the sandbox providers in their own process, time a coroutine."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


@contextmanager
def sandbox_process() -> Iterator[dict[str, str]]:
    """`python -m sandbox --port 0` in a separate process, so its CPU is not ours."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("sandbox did not start")
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def timed(run: Callable[[], Awaitable[None]]) -> Timing:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await run()
    return Timing(time.perf_counter() - wall0, time.process_time() - cpu0)


def median_timing(samples: list[Timing]) -> Timing:
    return Timing(
        statistics.median(s.wall for s in samples), statistics.median(s.cpu for s in samples)
    )


async def gather_limited(n: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> None:
    """Run `one(i)` for i in range(n) with at most `concurrency` in flight."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await one(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def write_result(name: str, data: dict[str, object]) -> None:
    os.makedirs("bench/results", exist_ok=True)
    with open(f"bench/results/{name}.json", "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")


# Tracked (staff-linked) open orders written straight into the bot's schema, for
# benchmarks that need thousands of them without thousands of provider round-trips.
INSERT_TRACKED_ORDER = (
    "INSERT INTO orders (id, user_id, guild_id, product_key, product_name, provider, kind,"
    " source, quantity, unit_price_minor, total_minor, currency, status, raw_status,"
    " remote_id, created_at, updated_at, next_poll_at)"
    " VALUES (?, ?, 1, 'bench', 'Bench', ?, 'digital', 'linked', 1, 0, 0, 'USD',"
    " 'submitted', 'PENDING', ?, ?, ?, ?)"
)


def tracked_order_row(
    order_id: str,
    provider: str,
    remote_id: str,
    *,
    user_id: int,
    created_at: float,
    next_poll_at: float,
) -> tuple[object, ...]:
    return (order_id, user_id, provider, remote_id, created_at, created_at, next_poll_at)
