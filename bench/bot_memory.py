"""(c) Resident memory of the real bot process with 100,000 stored orders, 10,000 open.

The bot runs as a subprocess on the emulator and sandboxes. Its database is filled
before it starts: 90,000 finished orders (half with encrypted deliveries, each with
two timeline events) and 10,000 open digital-shop orders that exist at the sandbox and
are all due within the first minute, so the poller works through every one of them
while RSS is sampled. The baseline is the same bot on an empty database, same run.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench.common import write_result
from core.crypto import DeliveryCipher
from core.domain import Delivery
from demo.stack import LocalStack
from storage.database import open_database

STORED = 100_000
OPEN = 10_000
SAMPLE_SECONDS = 45.0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def sample(stack: LocalStack, seconds: float) -> tuple[float, float]:
    assert stack.process is not None
    peak = 0.0
    deadline = time.monotonic() + seconds
    last = 0.0
    while time.monotonic() < deadline:
        last = rss_mb(stack.process.pid)
        peak = max(peak, last)
        await asyncio.sleep(0.5)
    return peak, last


async def populate(stack: LocalStack) -> None:
    db = await open_database(stack.database_path)
    await db.close()
    cipher = DeliveryCipher(SecretStr(stack.fernet_key))
    state = stack.sandbox.state("digital_shop")
    rng = random.Random(7)
    now = time.time()
    orders: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    delivery_blob = cipher.encrypt_delivery(
        Delivery.from_text("user: someone@example.com\npass: hunter2-xyz")
    )
    for i in range(STORED):
        oid = f"ORD-M{i:09d}"
        created = now - rng.uniform(0, 90 * 86400)
        if i < OPEN:
            remote = state.create_order(timeline=[{"after": 0, "status": "PENDING"}])
            status, next_poll, delivery, provider = (
                "submitted",
                now + rng.uniform(0, 60),
                None,
                "digital_shop",
            )
        else:
            remote = f"R{i:011d}"
            status, next_poll, provider = "completed", None, "digital_shop" if i % 2 else "boost"
            delivery = delivery_blob if i % 2 else None
        orders.append(
            (
                oid,
                1000 + i % 5000,
                1,
                "streaming-1m",
                "Streaming account, 1 month",
                provider,
                "digital",
                "placed",
                1,
                19900,
                19900,
                "INR",
                status,
                status.upper(),
                remote,
                delivery,
                created,
                created,
                next_poll,
            )
        )
        events.append((oid, created, "system", "created", None, "submitting", None, None))
        events.append(
            (oid, created + 5, "provider", "status", "submitting", status, status.upper(), None)
        )
    with sqlite3.connect(stack.database_path) as conn:
        conn.executemany(
            "INSERT INTO orders (id, user_id, guild_id, product_key, product_name, provider, kind,"
            " source, quantity, unit_price_minor, total_minor, currency, status, raw_status,"
            " remote_id, delivery_enc, created_at, updated_at, next_poll_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            orders,
        )
        conn.executemany(
            "INSERT INTO order_events (order_id, at, actor, kind, old_status, new_status, raw_status,"
            " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            events,
        )


async def measure(workdir: Path, *, filled: bool) -> dict[str, Any]:
    # A high rate limit so the poller really works through all 10,000 open orders while
    # memory is sampled (the default, 20/s per provider, is gentler on providers).
    stack = LocalStack(workdir, env={"PROVIDER_RATE_PER_SECOND": "2000"})
    await stack.sandbox.start()
    await stack.emulator.start()
    try:
        if filled:
            await populate(stack)
        await stack.start_bot(timeout=60)
        peak, last = await sample(stack, SAMPLE_SECONDS)
        polled = len([r for r in stack.sandbox.state("digital_shop").requests if r.method == "GET"])
    finally:
        await stack.stop()
    with sqlite3.connect(stack.database_path) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    return {
        "stored_orders": stored,
        "polls_made": polled,
        "rss_peak_mb": round(peak, 1),
        "rss_end_mb": round(last, 1),
    }


async def run(workdir: Path) -> dict[str, Any]:
    empty = await measure(workdir / "empty", filled=False)
    full = await measure(workdir / "full", filled=True)
    return {
        "baseline_empty_db": empty,
        "with_100k_orders_10k_open": full,
        "peak_ratio_vs_empty": round(full["rss_peak_mb"] / empty["rss_peak_mb"], 2),
        "targets": {"rss_peak_mb": 150},
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        result = asyncio.run(run(Path(tmp)))
    write_result("bot_memory", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
