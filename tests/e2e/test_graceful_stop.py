"""Issue 14, part 3: SIGTERM stops the bot gracefully. In-flight work (a poll, a DM, a
provider send) finishes, the process exits 0, and after a restart nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import time

import pytest

from demo.stack import LocalStack
from sandbox.common import Fault
from tests.e2e.helpers import (
    assert_exactly_one_dm,
    button,
    db_rows,
    embed_text,
    nothing_owed,
    requests_to,
    wait_for_row,
    wait_until,
)
from tests.e2e.journeys import dm_path, link, open_buy_form, submit_buy_form

SECRET = "pass: GRACEFUL-SECRET-3391"


# SIGTERM to a real process: its handler, its exit status.
pytestmark = pytest.mark.stack(process=True)


async def test_sigterm_during_a_poll_lets_it_finish_and_exits_0(stack: LocalStack) -> None:
    world = stack.emulator.world
    shop = stack.sandbox.state("digital_shop")
    remote = shop.create_order(
        deliveryData=SECRET,
        timeline=[{"after": 0, "status": "PENDING"}, {"after": 4, "status": "COMPLETED"}],
    )
    order_id = await link(stack, "digital_shop", remote, world.buyer_id)
    shop.hang_seconds = 2
    gets_before = len([r for r in shop.requests if r.method == "GET"])
    shop.add_fault(Fault("hang", method="GET", count=1))
    deadline = time.monotonic() + 15
    while len([r for r in shop.requests if r.method == "GET"]) == gets_before:
        assert time.monotonic() < deadline, "no poll came"
        await asyncio.sleep(0.05)  # then the poll is waiting on the provider
    started = time.monotonic()
    assert await stack.stop_bot() == 0
    took = time.monotonic() - started
    assert 1.0 <= took < 12, took  # it waited for the poll, within the grace
    assert "in-flight work finished" in stack.bot_log()
    assert "closed the providers and the database" in stack.bot_log()
    await stack.start_bot()
    dm = await assert_exactly_one_dm(stack, world.buyer_id, order_id)
    assert SECRET in dm["content"]
    (row,) = db_rows(stack, "SELECT status FROM orders WHERE id = ?", (order_id,))
    assert row["status"] == "completed"


async def test_sigterm_during_a_dm_lets_it_finish_and_sends_it_once(stack: LocalStack) -> None:
    emu = stack.emulator
    world = emu.world
    # Discord stores the DM and answers 502 after 2 s; discord.py then re-sends it (the
    # same nonce, so Discord answers with the stored one).
    emu.inject_store_then_fail("POST", dm_path(stack), 502, delay=2)
    remote = stack.sandbox.state("digital_shop").create_order(
        deliveryData=SECRET, timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    order_id = await link(stack, "digital_shop", remote, world.buyer_id)
    await emu.wait_for_dm(world.buyer_id, timeout=20, predicate=lambda m: order_id in embed_text(m))
    assert await stack.stop_bot() == 0  # while the bot still waits for Discord's answer
    (row,) = db_rows(stack, "SELECT state FROM notifications WHERE order_id = ?", (order_id,))
    assert row["state"] == "sent"  # it finished before the process stopped
    await stack.start_bot()
    # The restarted bot has been through its start-up and has sent a DM since: another
    # order's, which comes after its notify job has run. Nothing is owed about the first
    # order, so no second DM about it can come (a row is sent once).
    later = stack.sandbox.state("digital_shop").create_order(
        deliveryData=SECRET, timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    later_id = await link(stack, "digital_shop", later, world.buyer_id)
    await assert_exactly_one_dm(stack, world.buyer_id, later_id)
    await nothing_owed(stack, order_id)
    assert len([m for m in emu.dms(world.buyer_id) if order_id in embed_text(m)]) == 1
    await wait_for_row(
        stack,
        "SELECT state FROM notifications WHERE order_id = ?",
        (order_id,),
        lambda r: r["state"] == "sent",
    )


@pytest.mark.stack(env={"PAYMENT_MODE": "wallet"})
async def test_sigterm_during_a_provider_send_lets_it_finish_and_sends_it_once(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    await stack.credit(buyer, "₹500")
    checkout = stack.sandbox.state("checkout")
    # The checkout API creates the order, then holds its answer for 2 s.
    checkout.hang_seconds = 2
    hang = checkout.add_fault(Fault("hang", method="POST", count=1))
    form = await open_buy_form(stack, buyer, "streaming-1m", 1)
    confirmation = await submit_buy_form(stack, buyer, form)
    pressed = await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    # The create reached the provider, which has the order and is holding its answer.
    await wait_until(
        lambda: checkout.orders and hang not in checkout.faults,
        15,
        lambda: f"the create never reached checkout: {requests_to(stack, 'checkout')}",
    )
    (order,) = db_rows(stack, "SELECT id, status FROM orders")
    order_id = order["id"]
    assert order["status"] == "submitting"  # the send is in flight

    started = time.monotonic()
    assert await stack.stop_bot() == 0
    took = time.monotonic() - started
    assert 1.0 <= took < 12, took  # it waited for the provider's answer, within the grace
    assert "in-flight work finished" in stack.bot_log()
    assert "closed the providers and the database" in stack.bot_log()
    # The answer was read and recorded before the process ended: placed, under the
    # provider's id, paid once.
    (row,) = db_rows(stack, "SELECT status, remote_id FROM orders WHERE id = ?", (order_id,))
    assert row["status"] == "submitted", dict(row)
    assert list(checkout.orders) == [row["remote_id"]], (dict(row), list(checkout.orders))
    assert len(requests_to(stack, "checkout")) == 1
    debits = db_rows(stack, "SELECT kind, amount_minor FROM ledger WHERE order_id = ?", (order_id,))
    assert [(d["kind"], d["amount_minor"]) for d in debits] == [("order_debit", -19900)]
    # The buyer watching their Confirm saw it placed.
    assert "placed" in embed_text(pressed.original_message or {}), pressed.original_message

    await stack.start_bot()
    # The restarted bot has been through its start-up (its recovery of orders left
    # `submitting` runs then) and places the buyer's next order: the first one's create
    # is still the only one, and it was paid once.
    form = await open_buy_form(stack, buyer, "streaming-1m", 1)
    confirmation = await submit_buy_form(stack, buyer, form)
    pressed = await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=15)
    creates = [r.json["id"] for r in requests_to(stack, "checkout")]
    assert creates.count(order_id) == 1 and len(creates) == 2, creates
    assert sorted(checkout.orders) == sorted(creates)
    (again,) = db_rows(stack, "SELECT status FROM orders WHERE id = ?", (order_id,))
    assert again["status"] == "submitted"
    assert len(db_rows(stack, "SELECT id FROM ledger WHERE order_id = ?", (order_id,))) == 1
    (wallet,) = db_rows(stack, "SELECT balance_minor FROM wallets WHERE user_id = ?", (buyer,))
    assert wallet["balance_minor"] == 50000 - 2 * 19900
