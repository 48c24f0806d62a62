"""Provider faults against the real bot process (issue 12): what one provider does must
not hold up another, and what it answers to a create never reaches the buyer as "try
again" when it may hold the order."""

from __future__ import annotations

import asyncio

from demo.stack import LocalStack
from sandbox.common import Fault
from tests.e2e.helpers import button, db_rows, embed_text, requests_to
from tests.e2e.test_ordering import boost_confirmation, press

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


async def test_an_unreadable_create_reply_tells_the_buyer_to_wait_and_staff_to_look(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    # The provider makes the order, and its reply claims gzip but isn't.
    stack.sandbox.state("boost").add_fault(
        Fault("raw", body="{not gzip", headers={"Content-Encoding": "gzip"}, method="POST")
    )
    _, confirmation = await boost_confirmation(stack)
    pressed = await press(
        stack, emu.world.buyer_id, confirmation, button(confirmation, "order:confirm:")
    )
    result = await pressed.wait_for_original(lambda m: "needs review" in embed_text(m), timeout=10)
    text = embed_text(result).lower()
    assert "staff are checking" in text and "charged twice" in text
    assert "try again" not in text
    (row,) = db_rows(stack, "SELECT id, status FROM orders")
    assert row["status"] == "needs_review"
    staff = await emu.wait_for_channel_message(
        emu.world.staff_channel_id, timeout=10, predicate=lambda m: "needs review" in m["content"]
    )
    assert row["id"] in staff["content"] and "won't send it again" in staff["content"]
    assert len(requests_to(stack, "boost")) == 1
    assert len(stack.sandbox.state("boost").orders) == 1


async def test_a_create_answered_partial_reaches_the_buyer_by_dm(stack: LocalStack) -> None:
    emu = stack.emulator
    stack.sandbox.state("boost").set_default_timeline([{"after": 0, "status": "PARTIAL"}])
    _, confirmation = await boost_confirmation(stack)
    pressed = await press(
        stack, emu.world.buyer_id, confirmation, button(confirmation, "order:confirm:")
    )
    await pressed.wait_for_original(lambda m: "partially completed" in embed_text(m), timeout=10)
    (row,) = db_rows(stack, "SELECT id, status, remote_id FROM orders")
    assert row["status"] == "partially_completed"
    assert row["remote_id"] in stack.sandbox.state("boost").orders
    dm = await emu.wait_for_dm(
        emu.world.buyer_id, timeout=20, predicate=lambda m: row["id"] in embed_text(m)
    )
    assert "partially completed" in embed_text(dm).lower()
