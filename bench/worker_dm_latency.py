"""Completion → DM latency with worker processes (issue 27): the all-in-one bot on
SQLite against a gateway and two workers on PostgreSQL, same run, same test timings.

Each setup gets 30 boosts placed through Discord (the emulator), each completing at the
provider 3 s after it was placed. Latency is the time from the provider's completion to
the DM arriving at Discord: one poll to notice it (the poll interval and schedule are
the same in both), then the DM. Workers are woken by LISTEN/NOTIFY when the DM is owed;
the all-in-one sends on its notify interval.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import write_result
from demo.stack import LocalStack
from emulator.util import snowflake_time
from storage.postgres import empty_schema

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".ci"))
from postgres import PostgresServer

ORDERS = 30
COMPLETES_AFTER = 3.0


async def place(stack: LocalStack, buyer: int) -> None:
    emu = stack.emulator
    driven = await emu.send_slash_command(buyer, "boost", {"invite": "shopdemo", "amount": 2})
    await driven.wait_for_response()
    confirmation = await driven.wait_for_followup(timeout=15)
    custom_id = next(
        c["custom_id"]
        for row in confirmation.get("components", [])
        for c in row.get("components", [])
        if c.get("custom_id", "").startswith("order:confirm:")
    )
    pressed = await emu.press_button(buyer, confirmation, custom_id)
    await pressed.wait_for_response()


async def order_ids_by_remote(stack: LocalStack) -> dict[str, str]:
    """The bot's order id for each provider order id, from the bot's own database."""
    sql = "SELECT id, remote_id FROM orders"
    url = stack.extra_env.get("DATABASE_URL")
    if url:
        conn = await asyncpg.connect(url)
        try:
            rows = [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()
    else:
        with sqlite3.connect(stack.database_path) as db:
            rows = db.execute(sql).fetchall()
    return {str(remote): str(order) for order, remote in rows}


async def measure(stack: LocalStack, workers: int) -> list[float]:
    boost = stack.sandbox.state("boost")
    boost.set_default_timeline(
        [{"after": 0, "status": "PENDING"}, {"after": COMPLETES_AFTER, "status": "COMPLETED"}]
    )
    for _ in range(workers):
        await stack.workers.start()
    buyer = stack.emulator.world.buyer_id
    for _ in range(ORDERS):
        await place(stack, buyer)
    # Confirm answers first (deferred) and sends after: wait for the last sends.
    placed_by = time.monotonic() + 30
    while len(boost.orders) < ORDERS and time.monotonic() < placed_by:  # noqa: ASYNC110 - polls the sandbox state
        await asyncio.sleep(0.05)
    assert len(boost.orders) == ORDERS, f"{len(boost.orders)} of {ORDERS} orders placed"
    # The sandbox runs in this process on the monotonic clock: its times, as wall time.
    offset = time.time() - time.monotonic()
    ours = await order_ids_by_remote(stack)
    completed = {
        ours[order.id]: order.created_at + COMPLETES_AFTER + offset
        for order in boost.orders.values()
    }
    deadline = time.monotonic() + 120
    latencies: dict[str, float] = {}
    while len(latencies) < len(completed) and time.monotonic() < deadline:
        for message in stack.emulator.dms(buyer):
            text = json.dumps(message.get("embeds", []))
            for order_id, done_at in completed.items():
                if order_id in latencies or "completed" not in text.lower():
                    continue
                if order_id in text:
                    sent = snowflake_time(int(message["id"])).timestamp()
                    latencies[order_id] = sent - done_at
        await asyncio.sleep(0.2)
    missing = set(completed) - set(latencies)
    assert not missing, f"no completion DM for {sorted(missing)}"
    return sorted(latencies.values())


async def run_setup(
    folder: Path, env: dict[str, str], command: tuple[str, ...], workers: int
) -> list[float]:
    async with LocalStack(folder, env=env, fast=True, command=command) as stack:
        return await measure(stack, workers)


async def fresh_schema(dsn: str, schema: str) -> str:
    await empty_schema(dsn, schema)
    return f"{dsn}&search_path={schema}"


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "orders": len(latencies),
        "p50_s": round(statistics.median(latencies), 3),
        "p90_s": round(latencies[int(len(latencies) * 0.9) - 1], 3),
        "max_s": round(latencies[-1], 3),
    }


def main() -> None:
    with PostgresServer.start() as server, tempfile.TemporaryDirectory() as tmp:
        dsn = server.create_database("bench")
        alone = asyncio.run(run_setup(Path(tmp) / "alone", {"PAYMENT_MODE": "free"}, ("run",), 0))
        url = asyncio.run(fresh_schema(dsn, "workers"))
        env = {"PAYMENT_MODE": "free", "DATABASE_URL": url}
        split = asyncio.run(run_setup(Path(tmp) / "split", env, ("run", "--no-workers"), 2))
    result: dict[str, Any] = {
        "orders": ORDERS,
        "all_in_one_sqlite": summary(alone),
        "gateway_and_2_workers_postgres": summary(split),
    }
    result["p50_ratio"] = round(
        result["gateway_and_2_workers_postgres"]["p50_s"] / result["all_in_one_sqlite"]["p50_s"], 2
    )
    write_result("worker_dm_latency", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
