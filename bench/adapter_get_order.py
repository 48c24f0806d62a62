"""Adapter `get_order` vs a bare httpx loop, same sandbox server, same run.

5,000 GETs at concurrency 32 against the boost sandbox (in its own process). The
baseline is a bare `httpx.AsyncClient` making the same requests with the same headers
and connection limits; the adapter adds validation, normalization and the error
taxonomy. Rounds alternate (bare, adapter, bare, ...) and medians are compared.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import httpx
from pydantic import SecretStr

from bench.common import Timing, gather_limited, median_timing, sandbox_process, timed, write_result
from bot.providers.registry import auth_headers, build_adapter
from sandbox.boost import DEFAULT_KEY

REQUESTS = 5_000
CONCURRENCY = 32
ROUNDS = 3
ORDERS = 100


def seed_orders(base_url: str) -> list[str]:
    ids = []
    for i in range(ORDERS):
        body = json.dumps({"inviteCode": f"bench{i}", "amount": 3}).encode()
        req = urllib.request.Request(  # noqa: S310 - loopback sandbox URL
            f"{base_url}/_sandbox/orders", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req) as resp:  # noqa: S310
            ids.append(json.loads(resp.read())["id"])
    return ids


async def bare_loop(base_url: str, ids: list[str]) -> Timing:
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Accept": "application/json", **auth_headers("boost", DEFAULT_KEY)},
        timeout=10,
        limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
    ) as client:

        async def one(i: int) -> None:
            response = await client.get(f"/order/{ids[i % len(ids)]}")
            response.raise_for_status()
            response.json()

        return await timed(lambda: gather_limited(REQUESTS, CONCURRENCY, one))


async def adapter_loop(base_url: str, ids: list[str]) -> Timing:
    adapter = build_adapter(
        "boost", base_url, SecretStr(DEFAULT_KEY), timeout=10, max_connections=CONCURRENCY
    )
    try:

        async def one(i: int) -> None:
            await adapter.get_order(ids[i % len(ids)])

        return await timed(lambda: gather_limited(REQUESTS, CONCURRENCY, one))
    finally:
        await adapter.aclose()


async def run() -> dict[str, object]:
    with sandbox_process() as urls:
        base = urls["boost"]
        ids = seed_orders(base)
        await bare_loop(base, ids)  # warm-up: connections, imports, JIT-free but caches
        bare, ours = [], []
        for _ in range(ROUNDS):
            bare.append(await bare_loop(base, ids))
            ours.append(await adapter_loop(base, ids))
    b, a = median_timing(bare), median_timing(ours)
    result = {
        "requests": REQUESTS,
        "concurrency": CONCURRENCY,
        "rounds": ROUNDS,
        "bare_wall_s": round(b.wall, 3),
        "bare_cpu_s": round(b.cpu, 3),
        "adapter_wall_s": round(a.wall, 3),
        "adapter_cpu_s": round(a.cpu, 3),
        "wall_ratio": round(a.wall / b.wall, 3),
        "cpu_ratio": round(a.cpu / b.cpu, 3),
        "targets": {"wall_ratio": 1.3, "cpu_ratio": 1.5},
    }
    return result


def main() -> None:
    result = asyncio.run(run())
    write_result("adapter_get_order", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
