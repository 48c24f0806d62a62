"""(b) Our adaptive poll schedule vs a fixed 30 s poll, on a compressed clock.

500 orders are submitted at t=0 and complete at random times within 10 minutes of
simulated time. The REAL poller (adapters, SQLite bookkeeping, status transitions)
polls the REAL digital-shop sandbox over HTTP; only the clock is simulated: it advances
one second per tick and both the poller and the sandbox read it. A completed order's DM
goes out at the next notifier tick (1 s), so "completion to DM" is measured as
detection tick + 1 s - completion time. Provider requests are counted from the
sandbox's own request log.

Two completion models, same seed for both schedules:
- `instant_heavy`: like a digital-goods shop — 70 % of orders are instant API
  deliveries completing 1-15 s after submission, 30 % are manual deliveries that an
  admin picks up (PROCESSING, 20-60 s before completion) and completes 1-10 min in.
- `uniform`: every order completes at a uniformly random time in 0-10 min, with a
  PROCESSING phase of 20-60 s before it. No schedule can be 5x faster than a fixed
  30 s poll on this model without more requests (detection latency is half the poll
  gap where completions are spread evenly); it is reported to show the trade-off.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr

from bench.common import INSERT_TRACKED_ORDER, tracked_order_row, write_result
from bot.providers.registry import ProviderRegistry, build_adapter
from bot.services.poller import Poller, PollerSettings
from bot.services.schedule import PollSchedule
from core.crypto import DeliveryCipher
from core.domain import OrderStatus
from sandbox.runner import SandboxCluster
from storage.database import open_database

ORDERS = 500
HORIZON = 600  # seconds of simulated time in which every order completes
NOTIFY_TICK = 1.0
SEED = 20261122


class FixedSchedule(PollSchedule):
    """The naive baseline: every 30 s, whatever happens."""

    def __init__(self) -> None:
        super().__init__(first_delay=30.0, jitter=0.0)

    def next_unchanged(self, status: OrderStatus, unchanged_polls: int, rng: Any = None) -> float:
        return 30.0

    def next_after_change(self, rng: Any = None) -> float:
        return 30.0


@dataclass
class SimClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def timelines(model: str, rng: random.Random) -> list[tuple[float, list[dict[str, Any]]]]:
    out = []
    for _ in range(ORDERS):
        if model == "instant_heavy" and rng.random() < 0.7:
            done = rng.uniform(1, 15)
            steps = [
                {"after": 0, "status": "PENDING"},
                {"after": done, "status": "COMPLETED", "deliveryData": "k"},
            ]
        else:
            low = 60 if model == "instant_heavy" else 0
            done = rng.uniform(low, HORIZON)
            started = max(0.0, done - rng.uniform(20, 60))
            steps = [
                {"after": 0, "status": "PENDING"},
                {"after": started, "status": "PROCESSING"},
                {"after": done, "status": "COMPLETED", "deliveryData": "k"},
            ]
        out.append((done, steps))
    return out


async def simulate(model: str, schedule: PollSchedule, workdir: Path) -> dict[str, Any]:
    clock = SimClock()
    rng = random.Random(SEED)
    plan = timelines(model, rng)
    async with SandboxCluster(port=0, clock=clock) as cluster:
        state = cluster.state("digital_shop")
        db = await open_database(workdir / f"{model}-{type(schedule).__name__}.sqlite3")
        adapter = build_adapter(
            "digital_shop",
            cluster.base_url("digital_shop"),
            SecretStr(cluster.api_key("digital_shop")),
            timeout=30,
            max_connections=8,
        )
        registry = ProviderRegistry({"digital_shop": adapter})
        poller = Poller(
            db,
            DeliveryCipher(SecretStr(Fernet.generate_key().decode())),
            registry,
            settings=PollerSettings(concurrency=8, rate_per_second=1e9, batch_size=ORDERS),
            schedule=schedule,
            clock=clock,
        )
        completes_at: dict[str, float] = {}
        rows = []
        for i, (done, steps) in enumerate(plan):
            remote = state.create_order(timeline=steps)
            order_id = f"ORD-S{i:09d}"
            completes_at[order_id] = done
            rows.append(
                tracked_order_row(
                    order_id,
                    "digital_shop",
                    remote,
                    user_id=1,
                    created_at=0.0,
                    next_poll_at=schedule.first_delay,
                )
            )
        async with db.transaction() as conn:
            await conn.executemany(INSERT_TRACKED_ORDER, rows)
        detected: dict[str, float] = {}
        while len(detected) < ORDERS and clock.now < HORIZON * 3:
            clock.now += 1.0
            await poller.poll_due_orders()
            for row in await db.fetch_all("SELECT id FROM orders WHERE status = 'completed'"):
                detected.setdefault(row["id"], clock.now)
        await registry.aclose()
        await db.close()
        requests = len([r for r in state.requests if r.method == "GET"])
    latencies = [detected[o] + NOTIFY_TICK - completes_at[o] for o in detected]
    latencies.sort()
    return {
        "completed": len(detected),
        "p50_s": round(statistics.median(latencies), 1),
        "p99_s": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "requests_per_order": round(requests / ORDERS, 2),
    }


async def run(workdir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"orders": ORDERS, "horizon_s": HORIZON, "models": {}}
    for model in ("instant_heavy", "uniform"):
        ours = await simulate(model, PollSchedule(), workdir)
        fixed = await simulate(model, FixedSchedule(), workdir)
        result["models"][model] = {
            "adaptive": ours,
            "fixed_30s": fixed,
            "p50_speedup": round(fixed["p50_s"] / ours["p50_s"], 2),
            "requests_ratio": round(ours["requests_per_order"] / fixed["requests_per_order"], 2),
        }
    result["targets"] = {"p50_speedup": ">= 5", "requests_ratio": "<= 1"}
    return result


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        result = asyncio.run(run(Path(tmp)))
    result["bench_wall_s"] = round(time.monotonic() - started, 1)
    write_result("poll_schedule", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
