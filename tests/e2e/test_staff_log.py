"""Staff alerts through the real bot and the emulator when Discord stored the message but
the bot never heard so (a dropped connection, or a 502 on every one of discord.py's
tries): the alert is posted once, not once per try.

The staff log posts every alert under a nonce of its own (with `enforce_nonce`), and a
failed connection is a channel outage like a 5xx: the alert waits
`timings.staff_channel_retry` and is posted again under the same nonce, which Discord
answers with the message it already has.
"""

from __future__ import annotations

import re

import pytest

import bot.services.staff_log
from demo.stack import LocalStack
from tests.e2e.helpers import button, wait_for_row
from tests.e2e.journeys import boost_draft, press

PENDING_FOREVER = [{"after": 0, "status": "PENDING"}]


@pytest.fixture
def short_claim_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """An alert left claimed (its post ended in an error nobody handled) is taken again
    when its lease ends, a minute later in the shop. A short lease makes that second
    post, and so a duplicate, happen within this test instead of after it."""
    monkeypatch.setattr(bot.services.staff_log, "CLAIM_LEASE", 1.0)


# How the answer to a stored message is lost: (drop the connection, else answer this
# status; on how many tries; the statuses of the staff channel's POSTs then: the lost
# tries, then the retry Discord answers with the message it has).
LOST_ANSWERS: dict[str, tuple[bool, int, int, list[int]]] = {
    # The connection drops before the answer (discord.py doesn't retry that on Linux).
    "dropped": (True, 502, 1, [0, 200]),
    # 502 on each of discord.py's five tries: it gives up with DiscordServerError.
    "502 five times": (False, 502, 5, [502] * 5 + [200]),
}


@pytest.mark.usefixtures("short_claim_lease")
@pytest.mark.stack(env={"PAYMENT_MODE": "approval"})
@pytest.mark.parametrize("lost", sorted(LOST_ANSWERS))
async def test_an_approval_discord_stored_but_never_answered_is_posted_once(
    stack: LocalStack, lost: str
) -> None:
    emu = stack.emulator
    world = emu.world
    buyer = world.buyer_id
    stack.sandbox.state("boost").set_default_timeline(PENDING_FOREVER)
    # The next message to the staff channel, the approval, is stored and shown to staff;
    # then the bot's answer is lost.
    drop, status, tries, expected_posts = LOST_ANSWERS[lost]
    fault = emu.inject_store_then_fail(
        "POST", rf"^/channels/{world.staff_channel_id}/messages$", status, count=tries, drop=drop
    )

    confirmation = await boost_draft(stack, buyer)
    await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
    order = await wait_for_row(
        stack,
        "SELECT id, status FROM orders WHERE user_id = ?",
        (buyer,),
        lambda r: r["status"] == "awaiting_approval",
    )
    order_id = order["id"]
    # Posted once the retry got Discord's answer: the message it already had.
    alert = await wait_for_row(
        stack,
        "SELECT id, posted_at, failed_at, attempts FROM staff_alerts"
        " WHERE kind = 'approval' AND order_id = ?",
        (order_id,),
        lambda r: r["posted_at"] is not None,
    )

    assert fault.hits == tries  # every lost answer happened
    # The alert can't come back now (it is posted); the channel holds it once, so staff see
    # one pair of Approve / Reject buttons for the order, not two.
    approvals = [
        m
        for m in emu.channel_messages(world.staff_channel_id)
        if order_id in (m.get("content") or "")
    ]
    assert len(approvals) == 1, [m["content"][:80] for m in approvals]
    assert button(approvals[0], "approval:approve:") and button(approvals[0], "approval:reject:")
    # The lost tries at the staff channel, then the retry that Discord answered...
    posts = [
        r.status
        for r in emu.requests
        if r.method == "POST" and r.path == f"/channels/{world.staff_channel_id}/messages"
    ]
    assert posts == expected_posts, posts
    # ...under one nonce, the alert's own (discord.py's retries reuse it, and so does ours)...
    assert approvals[0]["nonce"].startswith("alert-"), approvals[0].get("nonce")
    # ...and the lost answer was an outage of the channel, not the alert's fault: no
    # attempt was used up.
    assert (alert["attempts"], alert["failed_at"]) == (1, None)
    assert re.search(r"staff channel \d+ unavailable \(.+\): \d+ alert\(s\) wait", stack.bot_log())
