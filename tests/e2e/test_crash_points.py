"""Issue 14, part 4: the bot killed at each point of placing an order, then restarted:
no duplicate order at the provider, and no lost order. Boost (no idempotency: the
order goes to staff review, and the buyer hears so) and checkout (our id makes the
re-send safe: the order is placed)."""

from __future__ import annotations

import asyncio

import pytest

from core.crash_points import CRASH_EXIT, ENV
from demo.stack import LocalStack
from tests.e2e.helpers import (
    assert_exactly_one_dm,
    button,
    db_rows,
    embed_text,
    requests_to,
    wait_for_row,
)
from tests.e2e.journeys import boost_confirmation, open_buy_form, submit_buy_form

# Each test's bot starts with its crash point armed (one start fewer than arming it by a
# restart); the point fires at the first order, and the bot is started again unarmed.
PLACEMENT_POINTS = [
    pytest.param(point, marks=pytest.mark.stack(env={ENV: point}), id=point)
    for point in ("confirm.claimed", "create.sent", "create.answered")
]


# Crash points end the process (os._exit): the bot runs as one of its own. On both
# engines (issue 26).
pytestmark = [pytest.mark.stack(process=True), pytest.mark.both_engines]


async def until_dead(stack: LocalStack, engine: str) -> None:
    assert stack.process is not None
    status = await asyncio.wait_for(stack.process.wait(), 20)
    assert status == CRASH_EXIT, stack.bot_log()[-2000:]
    await stack.stop_bot()  # collect it
    del stack.extra_env[ENV]
    if engine == "postgres":
        # On a shared database the restarted bot can't know the order's sender is dead
        # (a worker may be sending it), so it takes the order once its send is
        # STUCK_SUBMITTING_AFTER old: a second here, not the default two minutes.
        stack.extra_env["TIMINGS"] += ",stuck_submitting_after=1"


@pytest.mark.parametrize("point", PLACEMENT_POINTS)
async def test_a_boost_killed_while_placing_is_neither_lost_nor_doubled(
    stack: LocalStack, point: str, engine: str
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    _, confirmation = await boost_confirmation(stack)
    await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    await until_dead(stack, engine)
    posts_at_crash = len(requests_to(stack, "boost"))
    assert posts_at_crash == (0 if point == "confirm.claimed" else 1)
    await stack.start_bot()
    (order,) = db_rows(stack, "SELECT id FROM orders")
    # Not knowable from our side whether boost has it: staff check, the buyer is told.
    await wait_for_row(
        stack, "SELECT status FROM orders", (), lambda r: r["status"] == "needs_review", within=20
    )
    dm = await assert_exactly_one_dm(stack, buyer, order["id"])
    assert "checked by staff" in embed_text(dm)
    assert len(requests_to(stack, "boost")) == posts_at_crash  # never re-sent
    assert len(stack.sandbox.state("boost").orders) == posts_at_crash


@pytest.mark.parametrize("point", PLACEMENT_POINTS)
async def test_a_checkout_killed_while_placing_is_placed_once(
    stack: LocalStack, point: str, engine: str
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    form = await open_buy_form(stack, buyer, "streaming-1m", 1)
    confirmation = await submit_buy_form(stack, buyer, form)
    await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    await until_dead(stack, engine)
    await stack.start_bot()
    (order,) = db_rows(stack, "SELECT id FROM orders")
    await wait_for_row(
        stack, "SELECT status FROM orders", (), lambda r: r["status"] == "submitted", within=20
    )
    # The same request again (our id): one order at the provider, whatever it had.
    assert list(stack.sandbox.state("checkout").orders) == [order["id"]]
    assert {r.text for r in requests_to(stack, "checkout")} == {
        requests_to(stack, "checkout")[0].text
    }
    dm = await assert_exactly_one_dm(stack, buyer, order["id"])  # "placed": it went through
    assert "placed" in embed_text(dm)
