"""The shop-wide half of journey 5, end to end: pause and resume, provider health, stats
with a chart, and staff alerts that name what to do without flooding the channel."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from PIL import Image

from bot.providers.models import NIL_UUID
from demo.stack import LocalStack
from sandbox.common import Fault
from tests.e2e.helpers import (
    EPHEMERAL,
    button,
    db_rows,
    embed_field,
    embed_text,
    polled_again,
    requests_to,
    wait_for_row,
    wait_until,
)
from tests.e2e.journeys import place_boost, placed_buy, press, staff_line

# On both engines (issue 26).
pytestmark = pytest.mark.both_engines


async def boost_confirmation(stack: LocalStack, user_id: int) -> dict[str, Any]:
    driven = await stack.emulator.send_slash_command(
        user_id, "boost", {"invite": "shopdemo", "amount": 3}
    )
    await driven.wait_for_response()
    return await driven.wait_for_followup(timeout=10)


# --- pause and resume -------------------------------------------------------------------------


async def test_pause_refuses_every_way_to_order_and_resume_restores_it(stack: LocalStack) -> None:
    emu = stack.emulator
    world = emu.world
    shown_before = await boost_confirmation(stack, world.buyer_id)

    _, paused = await stack.admin("shop pause", {"reason": "stocktaking until 6pm"})
    assert "paused" in paused["content"] and paused["flags"] & EPHEMERAL
    await staff_line(stack, "paused the shop: stocktaking until 6pm")
    (row,) = db_rows(stack, "SELECT actor_id, action, detail FROM audit_log")
    assert (row["actor_id"], row["action"], row["detail"]) == (
        world.staff_id,
        "shop.pause",
        "stocktaking until 6pm",
    )

    boost = await emu.send_slash_command(
        world.buyer2_id, "boost", {"invite": "shopdemo", "amount": 3}
    )
    await boost.wait_for_response()
    assert "stocktaking until 6pm" in (await boost.wait_for_followup(timeout=10))["content"]
    buy = await emu.send_slash_command(world.buyer2_id, "buy", {"product": "streaming-1m"})
    refused = await buy.wait_for_response()
    assert refused["type"] == 4  # no form: refused before asking for anything
    assert "stocktaking until 6pm" in refused["data"]["content"]
    confirm = await press(
        stack, world.buyer_id, shown_before, button(shown_before, "order:confirm:")
    )
    # The refusal is the last thing the bot does with the press: what it did is done.
    refusal = await confirm.wait_for_followup(timeout=10)
    assert "stocktaking until 6pm" in refusal["content"]
    assert requests_to(stack, "boost") == [] and requests_to(stack, "checkout") == []
    assert [r["status"] for r in db_rows(stack, "SELECT status FROM orders")] == ["draft"]

    _, resumed = await stack.admin("shop resume")
    assert "open" in resumed["content"]
    await staff_line(stack, "resumed the shop")
    again = await press(stack, world.buyer_id, shown_before, button(shown_before, "order:confirm:"))
    await again.wait_for_original(lambda m: "placed" in embed_text(m), timeout=15)
    assert len(requests_to(stack, "boost")) == 1


# --- providers ----------------------------------------------------------------------------------


# Namefi's circuit, once open, stays open longer than the test: whatever the restarted bot
# asks it is a request it was told not to make (a short cooldown would let the circuit
# half-open, and its probe go out, while the test looks).
@pytest.mark.stack(env={"BREAKER_COOLDOWN_SECONDS": "3600"})
async def test_providers_show_circuit_error_and_hold_and_the_same_after_a_restart(
    stack: LocalStack,
) -> None:
    world = stack.emulator.world
    # A boost order the provider keeps working on: its polls show the poll jobs running.
    boost = stack.sandbox.state("boost")
    boost.set_default_timeline([{"after": 0, "status": "PROCESSING"}])
    await place_boost(stack, world.buyer_id)
    (control,) = db_rows(stack, "SELECT remote_id FROM orders WHERE provider = 'boost'")
    namefi = stack.sandbox.state("namefi")
    for _ in range(3):
        remote = namefi.create_order(timeline=[{"after": 0, "status": "CREATED"}])
        await stack.staff_link_order("namefi", remote, world.buyer_id)
    namefi.add_fault(Fault("server_error", count=-1))
    shop = stack.sandbox.state("digital_shop")
    held = shop.create_order(timeline=[{"after": 0, "status": "PENDING"}])
    await stack.staff_link_order("digital_shop", held, world.buyer2_id)
    shop.add_fault(Fault("rate_limit", retry_after=120))
    await staff_line(stack, "namefi keeps failing", timeout=60)
    await staff_line(stack, "digital_shop asked us to wait 120s", timeout=30)

    _, before = await stack.admin("providers")
    namefi_text = embed_field(before, "namefi")
    assert "open" in namefi_text and "unavailable" in namefi_text and "held for" in namefi_text
    assert "open orders: **3**" in namefi_text
    shop_text = embed_field(before, "digital_shop")
    assert "Retry-After" in shop_text and "rate_limited" in shop_text
    assert "not configured" not in embed_text(before)

    def asked() -> tuple[int, int]:
        return len(namefi.requests), len(shop.requests)

    asked_before = asked()
    restarted_at = boost.clock()
    await stack.stop_bot()
    await stack.start_bot()
    _, after = await stack.admin("providers")
    for name in ("namefi", "digital_shop"):
        assert _stable(embed_field(after, name)) == _stable(embed_field(before, name))
    # The restarted bot honours the holds it inherited: its start-up check has asked boost
    # about our key (and each provider at once), and boost's poll job has been round
    # twice since; neither held provider was asked anything, from the restart on.
    await wait_until(
        lambda: any(r.path == f"/order/{NIL_UUID}" and r.at > restarted_at for r in boost.requests),
        30,
        lambda: "the restarted bot never checked boost",
    )
    await polled_again(stack, "boost", control["remote_id"])
    assert asked() == asked_before


def _stable(text: str) -> list[str]:
    # Relative times and the countdown move on; everything else must be identical.
    return [
        line
        for line in text.splitlines()
        if not line.startswith(("⏳", "last success", "last error"))
    ] + [line.split(" — ", 1)[-1] for line in text.splitlines() if line.startswith("last error")]


# --- stats --------------------------------------------------------------------------------------


async def test_stats_chart_is_a_png_and_its_numbers_match_the_database(stack: LocalStack) -> None:
    emu = stack.emulator
    stack.sandbox.state("boost").set_default_timeline(
        [{"after": 0, "status": "PENDING"}, {"after": 1, "status": "COMPLETED"}]
    )
    for _ in range(2):
        shown = await boost_confirmation(stack, emu.world.buyer_id)
        pressed = await press(stack, emu.world.buyer_id, shown, button(shown, "order:confirm:"))
        await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=15)
    delivered = await placed_buy(stack)
    await stack.admin(
        "order set-status", {"order_id": delivered, "status": "cancelled", "note": "x"}
    )
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM orders WHERE status = 'completed'",
        (),
        lambda r: r["n"] == 2,
        within=20,
    )
    # And their DMs have gone out: the DM count below is then final.
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS owed FROM notifications WHERE state IN ('pending', 'sending')",
        (),
        lambda r: r["owed"] == 0,
    )

    driven, answer = await stack.admin("stats", {"days": 3})
    [attachment] = answer["attachments"]
    assert attachment["filename"].startswith("orders-") and attachment["filename"].endswith(".png")
    png = Image.open(io.BytesIO(emu.attachment_bytes(attachment)))
    png.load()  # decodes the whole image
    assert png.format == "PNG" and png.size[0] == 1000 and png.size[1] > 400

    rows = db_rows(
        stack, "SELECT status, total_minor FROM orders WHERE status != 'draft' ORDER BY status"
    )
    statuses = [r["status"] for r in rows]
    assert statuses == ["cancelled", "completed", "completed"]
    assert embed_field(answer, "Orders (3)") == "completed 2 · cancelled 1"
    revenue = sum(r["total_minor"] for r in rows if r["status"] == "completed")
    assert (
        embed_field(answer, "Revenue (completed orders sold here)") == f"${revenue / 100:.2f} USD"
    )
    assert "boost: median" in embed_field(answer, "Time to complete")
    assert "(2 orders)" in embed_field(answer, "Time to complete")
    dms = db_rows(stack, "SELECT state FROM notifications")
    assert embed_field(answer, "DMs").startswith(f"{sum(r['state'] == 'sent' for r in dms)} sent")
    assert driven.id


# --- alerts -------------------------------------------------------------------------------------


# A breaker that opens after 2 failures and cools down in 2 s, and orders that count as
# stuck after 6 s.
QUICK = pytest.mark.stack(
    env={
        "BREAKER_COOLDOWN_SECONDS": "2",
        "BREAKER_THRESHOLD": "2",
        "STUCK_ORDER_MINUTES": "0.1",
    }
)


@QUICK
async def test_every_alert_kind_reaches_the_staff_channel(stack: LocalStack) -> None:
    emu = stack.emulator
    world = emu.world
    boost = stack.sandbox.state("boost")
    shop = stack.sandbox.state("digital_shop")
    namefi = stack.sandbox.state("namefi")

    # A provider-side FAILED (and the buyer's DM, with DMs closed: the fallback alert).
    emu.set_dms_closed(world.buyer2_id)
    boost.set_default_timeline(
        [{"after": 0, "status": "PENDING"}, {"after": 1, "status": "FAILED"}]
    )
    shown = await boost_confirmation(stack, world.buyer2_id)
    pressed = await press(stack, world.buyer2_id, shown, button(shown, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=15)
    failed = await staff_line(stack, "is **failed**")
    assert "</admin order view:" in failed["content"] and "`order_id:" in failed["content"]
    await staff_line(stack, "has DMs closed")

    # An unknown raw status.
    odd = shop.create_order(timeline=[{"after": 0, "status": "PENDING"}])
    await stack.staff_link_order("digital_shop", odd, world.buyer_id)
    shop.add_fault(Fault("unknown_status", count=3))
    await staff_line(stack, "unknown status")

    # Credentials refused.
    creds = namefi.create_order(timeline=[{"after": 0, "status": "CREATED"}])
    await stack.staff_link_order("namefi", creds, world.buyer_id)
    namefi.add_fault(Fault("auth", count=-1))
    refused = await staff_line(stack, "namefi refused our API key")
    assert "NAMEFI_API_TOKEN" in refused["content"]
    # Keeps failing: the circuit opens; the provider recovers: it closes.
    opened = await staff_line(stack, "namefi keeps failing", timeout=40)
    assert "/admin providers" in opened["content"]
    namefi.clear_faults()
    await staff_line(stack, "namefi answers again", timeout=40)
    await staff_line(stack, "namefi accepts our API key again", timeout=40)

    # A Retry-After longer than a minute.
    shop.add_fault(Fault("rate_limit", retry_after=90))
    await staff_line(stack, "asked us to wait 90s", timeout=30)

    # An order open longer than STUCK_ORDER_MINUTES (a /buy nobody delivered).
    waiting = await placed_buy(stack)
    stuck = await staff_line(
        stack, f"Order `{waiting}` (checkout) has been **submitted**", timeout=30
    )
    assert f"`order_id:{waiting}`" in stuck["content"] and "</admin order view:" in stuck["content"]

    # Each order is reported as stuck once, however long it stays stuck: an order placed
    # now is reported in its turn, by a later run of the check (and posted by a later run
    # of the staff log), while `waiting` stayed stuck all along.
    later = await placed_buy(stack)
    await staff_line(stack, f"Order `{later}` (checkout) has been **submitted**", timeout=30)
    stuck_rows = db_rows(
        stack, "SELECT COUNT(*) AS n FROM staff_alerts WHERE dedupe_key = ?", (f"stuck:{waiting}",)
    )
    assert stuck_rows[0]["n"] == 1
    stuck_lines = [
        m
        for m in emu.channel_messages(world.staff_channel_id)
        if f"Order `{waiting}` (checkout) has been **submitted**" in m["content"]
    ]
    assert len(stuck_lines) == 1, stuck_lines


# The digest interval as shops have it: after the first digest, the rest wait a minute.
@pytest.mark.stack(env={"TIMINGS": "staff_digest_interval=60"})
async def test_an_outage_over_many_orders_gives_a_handful_of_messages(stack: LocalStack) -> None:
    world = stack.emulator.world
    shop = stack.sandbox.state("digital_shop")
    linked = []
    for _ in range(100):
        remote = shop.create_order(timeline=[{"after": 0, "status": "PENDING"}])
        linked.append(await stack.staff_link_order("digital_shop", remote, world.buyer_id))
    # Staff's own 100 link lines go out first (each a command they typed).
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM staff_alerts WHERE posted_at IS NULL",
        (),
        lambda r: r["n"] == 0,
        within=60,
    )
    before = len(stack.emulator.channel_messages(world.staff_channel_id))
    shop.add_fault(Fault("unknown_status", count=-1))
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM staff_alerts WHERE kind = 'unknown_status'",
        (),
        lambda r: r["n"] == 100,
        within=40,
    )
    # Every alert has had its turn: posted alone, in a digest, or waiting for the next
    # digest (a minute away). Nothing more can go out now, however many runs follow.
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM staff_alerts WHERE kind = 'unknown_status'"
        " AND posted_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
        (time.time() + 30,),
        lambda r: r["n"] == 0,
    )
    posted = stack.emulator.channel_messages(world.staff_channel_id)[before:]
    about = [
        m
        for m in posted
        if "status we don't know" in m["content"] or "unknown status" in m["content"]
    ]
    assert 1 <= len(about) <= 5, [m["content"][:80] for m in about]
    digest = [m for m in about if m["content"].startswith("📣")]
    assert digest and "/admin order view" in digest[0]["content"]
    # Nothing is lost: every alert is either posted (alone or in a digest) or still queued.
    rows = db_rows(
        stack,
        "SELECT posted_at, failed_at FROM staff_alerts WHERE kind = 'unknown_status'",
    )
    assert len(rows) == 100 and all(r["failed_at"] is None for r in rows)


async def test_an_alert_that_fails_does_not_hold_up_the_others(stack: LocalStack) -> None:
    emu = stack.emulator
    world = emu.world
    channel = rf"^/channels/{world.staff_channel_id}/messages$"
    # Discord refuses the next alert itself (a body it won't take; discord.py doesn't retry).
    emu.inject_error("POST", channel, 400, code=50035, message="Invalid Form Body", count=1)
    await stack.admin("shop pause", {"reason": "first"})
    await stack.admin("shop resume")
    resumed = await staff_line(stack, "resumed the shop")
    paused = await staff_line(stack, "paused the shop")
    # The refused alert came later (retried with backoff), after the one queued behind it.
    assert int(paused["id"]) > int(resumed["id"])
    assert "posting staff alert" in stack.bot_log() and "the others go on" in stack.bot_log()
    # The bot marks an alert posted just after Discord answered; wait for that write.
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM staff_alerts WHERE posted_at IS NULL",
        (),
        lambda r: r["n"] == 0,
    )
    (row,) = db_rows(stack, "SELECT MAX(attempts) AS most FROM staff_alerts")
    assert row["most"] == 2  # the refused one: once refused, once posted


async def test_a_channel_outage_delays_alerts_and_loses_none(stack: LocalStack) -> None:
    emu = stack.emulator
    world = emu.world
    channel = rf"^/channels/{world.staff_channel_id}/messages$"
    # The channel refuses everything for a while (say staff are fixing its permissions).
    refused = emu.inject_error(
        "POST", channel, 403, code=50013, message="Missing Permissions", count=1
    )
    await stack.admin("shop pause", {"reason": "outage"})
    # The resume comes after the channel has failed: it must wait behind the pause, not
    # overtake it while the pause waits for the channel to come back.
    await wait_until(lambda: refused.hits == 1, 30, lambda: "the channel never refused the pause")
    await stack.admin("shop resume")
    paused = await staff_line(stack, "paused the shop", timeout=30)
    resumed = await staff_line(stack, "resumed the shop", timeout=30)
    assert int(paused["id"]) < int(resumed["id"])  # order kept: nothing was skipped
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM staff_alerts WHERE posted_at IS NULL",
        (),
        lambda r: r["n"] == 0,
    )
    rows = db_rows(stack, "SELECT attempts, failed_at FROM staff_alerts")
    # A channel that is down is not the alerts' fault: no attempt was used up.
    assert {(r["attempts"], r["failed_at"]) for r in rows} == {(1, None)}
    assert re.search(
        r"staff channel \d+ unavailable \(403 Missing Permissions\): \d+ alert\(s\) wait",
        stack.bot_log(),
    )
