"""Staff alerts the docs promise about DMs, each at the moment it is promised and once.

- docs/architecture.md ("Notifications"): a DM that Discord keeps answering 429/5xx is
  retried with backoff, and "staff are alerted after 5 attempts" (`notify_stuck`).
- docs/architecture.md: an interrupted DM whose history stays unreadable is "reported to
  staff" after 15 minutes (`dm_history_alert_after`, short here), not before.

Each test injects its Discord fault on the buyer's DM channel only, shows it fired (the
emulator's count of the requests it answered), and asserts what staff received: the
alert's row in the bot's database and the message in the staff channel.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest

from demo.stack import LocalStack
from emulator.faults import FOREVER
from tests.e2e.helpers import (
    REFUSE_SENT_TRIGGER,
    assert_exactly_one_dm,
    db_rows,
    embed_text,
    wait_for_log,
    wait_for_row,
    wait_until,
    write_outside,
)
from tests.e2e.journeys import link

SECRET = "pass: PROMISED-ALERT-5150"
HISTORY_ALERT_AFTER = 3.0  # the 15 minutes, short


def buyer_dm_messages(stack: LocalStack) -> str:
    """The path of the buyer's DM channel's messages (created now if Discord hasn't yet):
    a fault on it leaves every other channel alone."""
    world = stack.emulator.world
    return rf"^/channels/{world.dm_channel_for(world.buyer_id).id}/messages$"


def dm_alerts(stack: LocalStack, order_id: str) -> list[sqlite3.Row]:
    return db_rows(
        stack,
        "SELECT dedupe_key, created_at, posted_at FROM staff_alerts"
        " WHERE kind = 'notify_stuck' AND order_id = ? ORDER BY id",
        (order_id,),
    )


def note_row(stack: LocalStack, order_id: str) -> sqlite3.Row:
    (row,) = db_rows(
        stack,
        "SELECT state, attempts, claimed_at, last_error FROM notifications WHERE order_id = ?",
        (order_id,),
    )
    return row


def staff_messages_about(stack: LocalStack, order_id: str, text: str) -> list[dict[str, Any]]:
    world = stack.emulator.world
    return [
        m
        for m in stack.emulator.channel_messages(world.staff_channel_id)
        if order_id in m["content"] and text in m["content"]
    ]


async def all_alerts_posted(stack: LocalStack) -> None:
    """Nothing is left for the staff channel: every alert is posted (or in a digest)."""
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS left FROM staff_alerts WHERE posted_at IS NULL AND failed_at IS NULL",
        (),
        lambda r: r["left"] == 0,
    )


# Retries 0.1, 0.2, 0.4, 0.8, 0.8, … s apart: the whole story in about four seconds.
@pytest.mark.stack(env={"TIMINGS": "dm_retry_base=0.1,dm_retry_cap=0.8"})
async def test_staff_hear_of_a_failing_dm_at_the_fifth_failed_attempt_and_once(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    world = emu.world
    path = buyer_dm_messages(stack)
    # Discord answers 503 to the buyer's DM six times (discord.py doesn't retry a 503
    # itself, so each is one attempt of the notifier); the seventh goes through.
    posts = emu.inject_error("POST", path, 503, count=6)
    remote = stack.sandbox.state("digital_shop").create_order(
        deliveryData=SECRET, timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    order_id = await link(stack, "digital_shop", remote, world.buyer_id)

    # Four attempts failed and the fourth is recorded: a retry is due.
    await wait_for_row(
        stack,
        "SELECT state, attempts FROM notifications WHERE order_id = ?",
        (order_id,),
        lambda r: r["state"] == "pending" and r["attempts"] == 4,
    )
    assert posts.hits == 4
    # The fifth attempt reads the DM history first (the failures were ambiguous); Discord
    # is slow to answer it, which holds that attempt where the test can look.
    held = emu.inject_store_then_fail("GET", path, 502, delay=0.5)
    await wait_until(
        lambda: held.hits == 1,
        15,
        lambda: f"the fifth attempt never came: {dict(note_row(stack, order_id))}",
    )
    # The fifth attempt is under way: the run that recorded the fourth failure has ended
    # (runs of the DM job never overlap), and the fifth hasn't failed yet.
    row = note_row(stack, order_id)
    assert (row["state"], row["attempts"], posts.hits) == ("sending", 5, 4), dict(row)
    assert dm_alerts(stack, order_id) == [], "staff were alerted before the fifth failure"
    assert staff_messages_about(stack, order_id, "keeps failing") == []

    # The fifth failure: staff hear of it.
    await wait_until(
        lambda: dm_alerts(stack, order_id),
        15,
        lambda: f"no alert after five failures: {dict(note_row(stack, order_id))}",
    )
    assert posts.hits == 5
    alert = await emu.wait_for_channel_message(
        world.staff_channel_id,
        timeout=15,
        predicate=lambda m: order_id in m["content"] and "keeps failing" in m["content"],
    )
    assert "Discord 503" in alert["content"]

    # The sixth attempt fails too, and the seventh goes through: one DM, and still one
    # alert.
    dm = await assert_exactly_one_dm(stack, world.buyer_id, order_id)
    assert SECRET in (dm.get("content") or "") + embed_text(dm)
    await all_alerts_posted(stack)
    (note,) = db_rows(stack, "SELECT id FROM notifications WHERE order_id = ?", (order_id,))
    assert [r["dedupe_key"] for r in dm_alerts(stack, order_id)] == [f"notify_stuck:{note['id']}"]
    assert len(staff_messages_about(stack, order_id, "keeps failing")) == 1
    # The faults fired as injected: six refused sends, one held history read.
    refused = [r for r in emu.requests if r.method == "POST" and r.status == 503]
    assert len(refused) == 6 and (posts.hits, held.hits) == (6, 1)


@pytest.mark.stack(
    env={
        "TIMINGS": f"dm_history_alert_after={HISTORY_ALERT_AFTER:g}",
        # Reconciliation looks at a row half a second after its claim, not a minute.
        "DM_RECONCILE_AFTER_SECONDS": "0.5",
    }
)
async def test_staff_hear_of_an_unreadable_history_after_the_window_and_once(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    world = emu.world
    path = buyer_dm_messages(stack)
    # Discord can't list the buyer's DM channel (503 on every read of its history).
    history = emu.inject_error("GET", path, 503, count=FOREVER)
    # The DM goes out, but SQLite refuses to record it as sent: the row stays `sending`,
    # an interrupted DM that only reconciliation settles, from the history.
    await write_outside(stack, REFUSE_SENT_TRIGGER)
    remote = stack.sandbox.state("digital_shop").create_order(
        deliveryData=SECRET, timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    order_id = await link(stack, "digital_shop", remote, world.buyer_id)
    await emu.wait_for_dm(world.buyer_id, timeout=15, predicate=lambda m: order_id in embed_text(m))
    await wait_for_log(stack, "went out but recording it failed")
    row = note_row(stack, order_id)
    assert row["state"] == "sending", dict(row)
    claimed_at = float(row["claimed_at"])

    # Inside the window: reconciliation has tried the history and failed, twice; staff
    # haven't been told.
    await wait_until(
        lambda: history.hits >= 2,
        15,
        lambda: f"reconciliation never read the history: {dict(note_row(stack, order_id))}",
    )
    raised = dm_alerts(stack, order_id)
    inside = time.time() - claimed_at
    assert inside < HISTORY_ALERT_AFTER, f"the check came {inside:.1f}s after the claim"
    assert raised == [], f"staff were alerted {inside:.1f}s into a {HISTORY_ALERT_AFTER}s window"
    assert note_row(stack, order_id)["state"] == "sending"

    # Past the window: staff are told, once.
    await wait_until(
        lambda: dm_alerts(stack, order_id),
        30,
        lambda: f"no alert about the unreadable history: {dict(note_row(stack, order_id))}",
    )
    (alert_row,) = dm_alerts(stack, order_id)
    assert alert_row["dedupe_key"].endswith(":interrupted")
    assert alert_row["created_at"] - claimed_at > HISTORY_ALERT_AFTER
    alert = await emu.wait_for_channel_message(
        world.staff_channel_id,
        timeout=15,
        predicate=lambda m: order_id in m["content"] and "was interrupted" in m["content"],
    )
    assert "can't be read" in alert["content"] and "will not be sent twice" in alert["content"]
    # Reconciliation keeps trying (and failing) after the alert; it isn't raised again.
    hits_at_alert = history.hits
    await wait_until(
        lambda: history.hits >= hits_at_alert + 3,
        15,
        lambda: "reconciliation stopped trying the history",
    )
    assert len(dm_alerts(stack, order_id)) == 1

    # SQLite and Discord's history work again: the DM is found there, not sent a second
    # time.
    await write_outside(stack, "DROP TRIGGER refuse_sent")
    emu.clear_faults()
    await wait_for_row(
        stack,
        "SELECT state FROM notifications WHERE order_id = ?",
        (order_id,),
        lambda r: r["state"] == "sent",
        within=15,
    )
    await all_alerts_posted(stack)
    assert len(staff_messages_about(stack, order_id, "was interrupted")) == 1
    assert len([m for m in emu.dms(world.buyer_id) if order_id in embed_text(m)]) == 1
    # The fault fired as injected: every failed read was one of its 503s.
    refused = [r for r in emu.requests if r.method == "GET" and r.status == 503]
    assert len(refused) == history.hits >= hits_at_alert + 3
