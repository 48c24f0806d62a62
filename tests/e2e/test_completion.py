"""Journey 3 and the poller/notifier: orders finish at the provider, buyers get exactly
one DM (with the delivery for digital goods), and nothing is lost to closed DMs,
provider trouble or a killed bot process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.presenters import notice_marker_line
from demo.stack import LocalStack
from sandbox.common import Fault
from tests.e2e.helpers import (
    assert_exactly_one_dm,
    database_bytes,
    db_rows,
    embed_text,
    requests_to,
    wait_for_row,
    wait_until,
)
from tests.e2e.journeys import link, place_boost

# On both engines (issue 26).
pytestmark = pytest.mark.both_engines

SECRET_DD = "login: alice@example.com / pass: SECRET-DD-7731"
SECRET_ITEM = "SECRET-ITEM-KEY-5521"


def statuses(stack: LocalStack, order_id: str) -> list[tuple[str | None, str | None]]:
    return [
        (r["old_status"], r["new_status"])
        for r in db_rows(
            stack,
            "SELECT old_status, new_status FROM order_events WHERE order_id = ? AND kind = 'status' ORDER BY id",
            (order_id,),
        )
    ]


def assert_nowhere_public(stack: LocalStack, *secrets: str) -> None:
    emu = stack.emulator
    public = [
        *emu.channel_messages(emu.world.staff_channel_id),
        *emu.channel_messages(emu.world.notice_channel_id),
        *emu.channel_messages(emu.world.general_channel_id),
    ]
    blob = "\n".join(embed_text(m) for m in public) + stack.bot_log()
    for secret in secrets:
        assert secret not in blob


async def test_boost_completes_with_timeline_and_one_dm(stack: LocalStack) -> None:
    stack.sandbox.state("boost").set_default_timeline(
        [
            {"after": 0, "status": "PENDING"},
            {"after": 2, "status": "PROCESSING"},
            {"after": 4, "status": "COMPLETED"},
        ]
    )
    buyer = stack.emulator.world.buyer_id
    order_id = await place_boost(stack, buyer)
    dm = await assert_exactly_one_dm(stack, buyer, order_id)
    text = embed_text(dm)
    assert "complete" in text and "Server Boost" in text and "$10.50 USD" in text and "3" in text
    assert statuses(stack, order_id) == [
        ("draft", "submitting"),
        ("submitting", "submitted"),
        ("submitted", "processing"),
        ("processing", "completed"),
    ]
    (row,) = db_rows(
        stack, "SELECT status, raw_status, next_poll_at FROM orders WHERE id = ?", (order_id,)
    )
    assert (row["status"], row["raw_status"], row["next_poll_at"]) == (
        "completed",
        "COMPLETED",
        None,
    )
    await wait_for_row(
        stack,
        "SELECT state FROM notifications WHERE order_id = ?",
        (order_id,),
        lambda r: r["state"] == "sent",
    )


async def test_digital_shop_delivery_data_reaches_only_the_owner(stack: LocalStack) -> None:
    buyer = stack.emulator.world.buyer_id
    remote = stack.sandbox.state("digital_shop").create_order(
        productName="Streaming account",
        timeline=[
            {"after": 0, "status": "PROCESSING"},
            {"after": 2, "status": "COMPLETED", "deliveryData": SECRET_DD},
        ],
    )
    order_id = await link(stack, "digital_shop", remote, buyer)
    dm = await assert_exactly_one_dm(stack, buyer, order_id)
    assert SECRET_DD in dm["content"]
    assert_nowhere_public(stack, SECRET_DD, "SECRET-DD")
    assert b"SECRET-DD" not in database_bytes(stack)


async def test_digital_shop_items_delivery(stack: LocalStack) -> None:
    buyer = stack.emulator.world.buyer2_id
    remote = stack.sandbox.state("digital_shop").create_order(
        productName="Game key",
        timeline=[
            {"after": 0, "status": "PENDING"},
            {"after": 1, "status": "COMPLETED", "items": [{"uid": "k1", "content": SECRET_ITEM}]},
        ],
    )
    order_id = await link(stack, "digital_shop", remote, buyer)
    dm = await assert_exactly_one_dm(stack, buyer, order_id)
    assert f"[k1] {SECRET_ITEM}" in dm["content"]
    assert_nowhere_public(stack, SECRET_ITEM)


async def test_namefi_succeeded_and_failed_dms(stack: LocalStack) -> None:
    world = stack.emulator.world
    ok_remote = stack.sandbox.state("namefi").create_order(
        timeline=[{"after": 0, "status": "CREATED"}, {"after": 1, "status": "SUCCEEDED"}]
    )
    bad_remote = stack.sandbox.state("namefi").create_order(
        timeline=[{"after": 0, "status": "PROCESSING"}, {"after": 1, "status": "FAILED"}]
    )
    ok_id = await link(stack, "namefi", ok_remote, world.buyer_id)
    bad_id = await link(stack, "namefi", bad_remote, world.buyer2_id)
    ok_dm = await assert_exactly_one_dm(stack, world.buyer_id, ok_id)
    bad_dm = await assert_exactly_one_dm(stack, world.buyer2_id, bad_id)
    assert "is complete" in embed_text(ok_dm)
    assert "failed" in embed_text(bad_dm) and "Questions?" in embed_text(bad_dm)


async def test_closed_dms_fall_back_without_credentials_and_order_shows_delivery(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    emu.set_dms_closed(buyer, True)
    remote = stack.sandbox.state("digital_shop").create_order(
        productName="Streaming account",
        timeline=[{"after": 0, "status": "COMPLETED", "deliveryData": SECRET_DD}],
    )
    order_id = await link(stack, "digital_shop", remote, buyer)
    notice = await emu.wait_for_channel_message(
        emu.world.notice_channel_id,
        timeout=30,
        predicate=lambda m: notice_marker_line(order_id, "final") in m["content"],
    )
    assert f"<@{buyer}>" in notice["content"] and "/orders" in notice["content"]
    assert order_id not in notice["content"]  # a public channel: no order, no product
    assert SECRET_DD not in notice["content"]
    assert emu.dms(buyer) == []
    await wait_for_row(
        stack,
        "SELECT state FROM notifications WHERE order_id = ?",
        (order_id,),
        lambda r: r["state"] == "fallback",
    )
    assert_nowhere_public(stack, SECRET_DD, "SECRET-DD")
    shown = await emu.send_slash_command(buyer, "order", {"id": order_id})
    await shown.wait_for_response()
    reply = await shown.wait_for_followup(timeout=10)
    assert SECRET_DD in reply["content"] and reply["flags"] & 64


async def test_long_delivery_goes_as_a_txt_attachment(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    long_delivery = "\n".join(f"account{i}:SECRET-LONG-{i:04d}" for i in range(120))
    remote = stack.sandbox.state("digital_shop").create_order(
        timeline=[{"after": 0, "status": "COMPLETED", "deliveryData": long_delivery}]
    )
    order_id = await link(stack, "digital_shop", remote, buyer)
    dm = await assert_exactly_one_dm(stack, buyer, order_id)
    (attachment,) = dm["attachments"]
    assert attachment["filename"] == f"{order_id}-delivery.txt"
    assert emu.attachment_bytes(attachment).decode() == long_delivery
    assert "SECRET-LONG" not in dm["content"]


# Long enough that a bot ignoring it would ask again within it many times over (the stack
# retries a failed poll after 0.2 s and asks about a pending order at least every second),
# short enough to wait out.
RETRY_AFTER = 3.0


async def test_rate_limit_holds_every_order_of_that_provider(stack: LocalStack) -> None:
    state = stack.sandbox.state("namefi")
    buyer = stack.emulator.world.buyer_id
    remotes = [state.create_order(timeline=[{"after": 0, "status": "CREATED"}]) for _ in range(3)]
    for remote in remotes:
        await link(stack, "namefi", remote, buyer)
    state.clear_requests()
    state.add_fault(Fault("rate_limit", retry_after=RETRY_AFTER))
    # The next poll is answered 429 and the bot holds all of Namefi (/admin providers shows it).
    await wait_for_row(
        stack,
        "SELECT hold_until FROM provider_health WHERE provider = ?",
        ("namefi",),
        lambda r: r["hold_until"] > 0,
        within=30,
    )
    first = state.requests[0]  # the request that took the fault
    assert first.method == "GET"
    (limited,) = [r for r in remotes if r in first.path]
    # The bot starts the hold once that request's answer is back, so anything it sends after
    # the hold arrives at first.at + RETRY_AFTER or later by the sandbox's clock: a bound
    # that load can only make later, never break.
    ends = first.at + RETRY_AFTER

    def asked(remote: str) -> list[float]:
        return [r.at for r in state.requests[1:] if r.method == "GET" and remote in r.path]

    # Polling resumes after the hold, for every order of that provider...
    await wait_until(
        lambda: all(any(at >= ends for at in asked(r)) for r in remotes),
        RETRY_AFTER + 30,
        lambda: f"polling never resumed after the Retry-After: {[asked(r) for r in remotes]}",
    )
    # ...and during it nothing was sent but what was already on its way beside the 429: its
    # batch, which asks each other order once at most, and never the limited order again.
    during = {r: sum(1 for at in asked(r) if at < ends) for r in remotes}
    assert during[limited] == 0, f"the limited order was asked again during Retry-After: {during}"
    assert all(n <= 1 for n in during.values()), f"request(s) sent during Retry-After: {during}"


@pytest.mark.stack(env={"BREAKER_COOLDOWN_SECONDS": "3600"})
async def test_provider_500s_open_the_circuit_and_others_keep_polling(stack: LocalStack) -> None:
    # An hour's cooldown: once open, Namefi's circuit stays open to the end of the test, so
    # everything the other provider's order goes through here, it goes through beside it.
    world = stack.emulator.world
    broken = stack.sandbox.state("namefi")
    for _ in range(3):  # linking asks Namefi once, so it is linked while Namefi is up
        remote = broken.create_order(timeline=[{"after": 0, "status": "CREATED"}])
        await link(stack, "namefi", remote, world.buyer_id)
    broken.add_fault(Fault("server_error", count=-1))
    # Namefi's orders come due and fail; after 5 failures in a row its circuit opens,
    # and staff are told once.
    await stack.emulator.wait_for_channel_message(
        world.staff_channel_id,
        timeout=60,
        predicate=lambda m: "namefi keeps failing" in m["content"],
    )
    assert "circuit OPEN" in stack.bot_log()
    health = "SELECT circuit, open_until FROM provider_health WHERE provider = 'namefi'"
    opened = await wait_for_row(stack, health, (), lambda r: r["circuit"] == "open")
    asked = len(requests_to(stack, "namefi", "GET"))
    # The digital shop's order, linked now, is polled while pending, then completes and
    # its buyer gets the DM: all while Namefi's circuit is open.
    shop = stack.sandbox.state("digital_shop")
    healthy_remote = shop.create_order(timeline=[{"after": 0, "status": "PENDING"}])
    healthy_id = await link(stack, "digital_shop", healthy_remote, world.buyer2_id)
    await wait_for_row(
        stack,
        "SELECT poll_count FROM orders WHERE id = ?",
        (healthy_id,),
        lambda r: r["poll_count"] >= 1,
        within=30,
    )
    shop.orders[healthy_remote].timeline = shop.validate_timeline(
        [{"after": 0, "status": "COMPLETED", "deliveryData": "x"}]
    )
    await assert_exactly_one_dm(stack, world.buyer2_id, healthy_id)
    # Namefi's circuit is still the one that opened (no probe, no reopening), and not one
    # request went through it meanwhile.
    (still,) = db_rows(stack, health)
    assert (still["circuit"], still["open_until"]) == ("open", opened["open_until"])
    assert len(requests_to(stack, "namefi", "GET")) == asked


@pytest.mark.stack(process=True)  # kill -9
async def test_kill_9_loses_nothing_and_repeats_nothing(stack: LocalStack, tmp_path: Path) -> None:
    emu = stack.emulator
    world = emu.world
    stack.sandbox.state("boost").set_default_timeline(
        [{"after": 0, "status": "PENDING"}, {"after": 3, "status": "COMPLETED"}]
    )
    buyers = [world.buyer_id, world.buyer2_id, emu.add_member("carol"), emu.add_member("dave")]
    orders = {buyer: await place_boost(stack, buyer) for buyer in buyers}
    # A linked order that completes only once the bot is back (an open order to poll).
    late = stack.sandbox.state("digital_shop").create_order(
        timeline=[
            {"after": 0, "status": "PENDING"},
            {"after": 8, "status": "COMPLETED", "deliveryData": "late-key"},
        ]
    )
    late_id = await link(stack, "digital_shop", late, world.buyer_id)
    # The boosts complete while the bot is down (owed DMs).
    assert await stack.stop_bot(kill=True) == -9
    await asyncio.sleep(4)
    await stack.start_bot()
    for buyer, order_id in orders.items():
        await assert_exactly_one_dm(stack, buyer, order_id)
    await assert_exactly_one_dm(stack, world.buyer_id, late_id)
    for order_id in [*orders.values(), late_id]:
        (row,) = db_rows(stack, "SELECT status FROM orders WHERE id = ?", (order_id,))
        assert row["status"] == "completed"
    assert len(requests_to(stack, "boost")) == len(buyers)  # nothing ordered twice
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS sent FROM notifications WHERE state = 'sent'",
        (),
        lambda r: r["sent"] == len(buyers) + 1,
    )
    states = db_rows(stack, "SELECT state FROM notifications")
    assert [s["state"] for s in states] == ["sent"] * (len(buyers) + 1)
