"""Provider faults against the real bot process (issue 12): what one provider does must
not hold up another."""

from __future__ import annotations

import asyncio

from demo.stack import LocalStack
from sandbox.common import Fault

WINDOW = 10.0


async def namefi_polls(stack: LocalStack, count: int) -> int:
    """Link ``count`` fresh Namefi orders and count the GETs they get in WINDOW seconds."""
    namefi = stack.sandbox.state("namefi")
    remotes = [
        namefi.create_order(timeline=[{"after": 0, "status": "CREATED"}]) for _ in range(count)
    ]
    for remote in remotes:
        await stack.staff_link_order("namefi", remote, stack.emulator.world.buyer_id)
    await asyncio.sleep(WINDOW)
    return sum(
        1
        for r in namefi.requests
        if r.method == "GET" and any(remote in r.path for remote in remotes)
    )


async def test_a_hanging_provider_does_not_slow_the_others(stack: LocalStack) -> None:
    baseline = await namefi_polls(stack, 3)

    # The digital shop stops answering: every GET is held by the sandbox for 30 s, so each
    # of its batches lasts as long as the bot's deadline and retries allow.
    shop = stack.sandbox.state("digital_shop")
    for _ in range(3):
        remote = shop.create_order(timeline=[{"after": 0, "status": "PENDING"}])
        await stack.staff_link_order("digital_shop", remote, stack.emulator.world.buyer2_id)
    shop.add_fault(Fault("hang", method="GET", count=-1))
    await asyncio.sleep(1)  # its next batch is now in flight, and hanging
    during = await namefi_polls(stack, 3)

    ratio = during / baseline
    print(f"namefi GETs in {WINDOW:g}s: {baseline} alone, {during} beside a hanging provider")
    assert baseline >= 6, baseline  # the schedule polls new orders every few seconds
    assert ratio >= 0.75, (baseline, during)
