"""Provider faults against the real bot process (issue 12): what one provider does must
not hold up another, and what it answers to a create never reaches the buyer as "try
again" when it may hold the order."""

from __future__ import annotations

import pytest

from demo.stack import LocalStack
from sandbox.common import Fault, ProviderState
from tests.e2e.helpers import button, db_rows, embed_text, requests_to, wait_until
from tests.e2e.journeys import boost_confirmation, press

# Longer than any run of this test: the bot waits this long for a reply
# (PROVIDER_TIMEOUT_SECONDS) and the sandbox holds a hanging one as long, so a poll that
# hangs is in flight from then until the test lets it go, however loaded the machine is.
FOREVER = 3600.0
# Polls of each Namefi order counted beside the hanging one. A run of a provider's poll job
# asks about an order once, so two polls of an order are two runs of Namefi's job.
POLLS_EACH = 2


def gets_of(state: ProviderState, remote: str) -> int:
    return sum(1 for r in state.requests if r.method == "GET" and remote in r.path)


@pytest.mark.stack(env={"PROVIDER_TIMEOUT_SECONDS": str(FOREVER)})
async def test_a_hanging_provider_does_not_slow_the_others(stack: LocalStack) -> None:
    world = stack.emulator.world
    shop = stack.sandbox.state("digital_shop")
    shop.hang_seconds = FOREVER
    stuck = shop.create_order(timeline=[{"after": 0, "status": "PENDING"}])
    stuck_id = await stack.staff_link_order("digital_shop", stuck, world.buyer2_id)
    # The digital shop stops answering: its next poll arrives and hangs.
    shop.add_fault(Fault("hang", method="GET", count=-1))
    asked = gets_of(shop, stuck)
    await wait_until(
        lambda: gets_of(shop, stuck) > asked, 30, lambda: "the digital shop was never polled"
    )
    (before,) = db_rows(stack, "SELECT poll_count FROM orders WHERE id = ?", (stuck_id,))
    try:
        # Orders of another provider, linked while that poll hangs, are polled again and
        # again. With one poll job for all providers, the job's run waits for the
        # hanging poll and none of them is polled at all.
        namefi = stack.sandbox.state("namefi")
        linked: dict[str, int] = {}
        for _ in range(3):
            remote = namefi.create_order(timeline=[{"after": 0, "status": "CREATED"}])
            await stack.staff_link_order("namefi", remote, world.buyer_id)
            linked[remote] = gets_of(namefi, remote)  # the link's own look
        await wait_until(
            lambda: all(gets_of(namefi, r) >= n + POLLS_EACH for r, n in linked.items()),
            60,
            lambda: (
                f"polls of each Namefi order beside a hanging provider (wanted {POLLS_EACH}):"
                f" {[gets_of(namefi, r) - n for r, n in linked.items()]}"
            ),
        )
        # All that while, the shop's poll hung: asked once and never again (the bot
        # neither gave up nor retried), its order still leased to that run.
        assert gets_of(shop, stuck) == asked + 1
        (after,) = db_rows(
            stack, "SELECT poll_count, poll_lease_until FROM orders WHERE id = ?", (stuck_id,)
        )
        assert after["poll_lease_until"] is not None
        assert after["poll_count"] == before["poll_count"]
    finally:
        # Closing the sandbox lets the hanging reply go, so the bot stops at once
        # instead of waiting out its grace for that poll.
        await stack.sandbox.stop()


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
    # The command it names is a mention each client shows in its own language (issue 29).
    admin_id = next(c["id"] for c in emu.commands(emu.world.guild_id) if c["name"] == "admin")
    assert f"</admin order view:{admin_id}> `order_id:{row['id']}`" in staff["content"]
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
