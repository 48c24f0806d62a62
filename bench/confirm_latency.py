"""50 buyers press Confirm at once, through the Discord emulator, on the real bot process.

Measures, per press, the time from the emulator dispatching INTERACTION_CREATE to the
bot's first callback arriving (Discord's 3-second clock; target p99 < 150 ms), and the
orders per second until all 50 are placed at the boost sandbox. For scale, the same
measurement for 50 simultaneous `/orders` (a defer plus one SQLite read) is reported as
the in-run baseline.

Run twice in one go: with PAYMENT_MODE=free, and with wallet (each buyer credited by
staff first), so the cost of the debit and the limits inside Confirm's claim transaction
is a ratio from the same run.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import write_result
from demo.stack import LocalStack

BUYERS = 50


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def latencies_ms(driven: list[Any]) -> list[float]:
    return [(d.first_callback_at - d.dispatched_at) * 1000 for d in driven]


def confirm_id(message: dict[str, Any]) -> str:
    for row in message.get("components") or []:
        for comp in row.get("components") or []:
            if str(comp.get("custom_id", "")).startswith("order:confirm:"):
                return str(comp["custom_id"])
    raise LookupError("no confirm button")


async def run(workdir: Path, payment_mode: str = "free") -> dict[str, Any]:
    env = {"PAYMENT_MODE": payment_mode}
    if payment_mode == "wallet":
        env |= {"MAX_OPEN_ORDERS": "5", "DAILY_SPEND_LIMITS": "USD 1000"}
    async with LocalStack(workdir, env=env) as stack:
        emu = stack.emulator
        buyers = [emu.add_member(f"buyer{i}") for i in range(BUYERS)]
        if payment_mode == "wallet":
            for buyer in buyers:
                await stack.credit(buyer, "$20", note="bench")

        # Baseline: 50 simultaneous /orders.
        baseline = await asyncio.gather(*(emu.send_slash_command(b, "orders") for b in buyers))
        await asyncio.gather(*(d.wait_for_response(timeout=10) for d in baseline))

        async def confirmation(buyer: int) -> dict[str, Any]:
            driven = await emu.send_slash_command(
                buyer, "boost", {"invite": "shopdemo", "amount": 2}
            )
            await driven.wait_for_response(timeout=10)
            followup: dict[str, Any] = await driven.wait_for_followup(timeout=30)
            return followup

        confirmations = await asyncio.gather(*(confirmation(b) for b in buyers))
        await asyncio.sleep(1.0)  # let the bot settle before the burst

        started = time.monotonic()
        presses = await asyncio.gather(
            *(
                emu.press_button(b, c, confirm_id(c))
                for b, c in zip(buyers, confirmations, strict=True)
            )
        )
        await asyncio.gather(*(p.wait_for_response(timeout=10) for p in presses))
        await asyncio.gather(
            *(
                p.wait_for_original(lambda m: not (m.get("components") or []), timeout=60)
                for p in presses
            )
        )
        elapsed = time.monotonic() - started
        posts = [r for r in stack.sandbox.state("boost").requests if r.method == "POST"]
        assert len(posts) == BUYERS, len(posts)
        emu.assert_no_contract_violations()

    confirm_ms = latencies_ms(presses)
    base_ms = latencies_ms(baseline)
    return {
        "buyers": BUYERS,
        "confirm_first_response_ms": {
            "p50": round(statistics.median(confirm_ms), 1),
            "p99": round(percentile(confirm_ms, 99), 1),
            "max": round(max(confirm_ms), 1),
        },
        "baseline_orders_first_response_ms": {
            "p50": round(statistics.median(base_ms), 1),
            "p99": round(percentile(base_ms, 99), 1),
        },
        "p99_ratio_vs_baseline": round(percentile(confirm_ms, 99) / percentile(base_ms, 99), 2),
        "orders_per_second": round(BUYERS / elapsed, 1),
        "all_placed_in_s": round(elapsed, 2),
        "targets": {"p99_ms": 150},
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-confirm-") as tmp:
        free = asyncio.run(run(Path(tmp) / "free", "free"))
        paid = asyncio.run(run(Path(tmp) / "wallet", "wallet"))
    result = {
        **free,
        "wallet": paid,
        "wallet_vs_free": {
            "confirm_p99_ratio": round(
                paid["confirm_first_response_ms"]["p99"] / free["confirm_first_response_ms"]["p99"],
                2,
            ),
            "orders_per_second_ratio": round(
                paid["orders_per_second"] / free["orders_per_second"], 2
            ),
        },
    }
    write_result("confirm_latency", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
