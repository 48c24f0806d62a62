"""Issue 15: the bot killed (os._exit, as kill -9) around a debit and around a refund,
then restarted. After the restart the ledger must still explain everything:

- no order reached the provider without its debit;
- no debit exists without its order being live, or else its refund;
- no refund was written twice, and every balance is its ledger's sum.
"""

from __future__ import annotations

import asyncio

import pytest

from core.crash_points import CRASH_EXIT, ENV
from demo.stack import LocalStack
from tests.e2e.helpers import (
    button,
    db_rows,
    embed_text,
    order_ended,
    requests_to,
    wait_for_row,
)
from tests.e2e.journeys import boost_draft

LIVE = ("submitting", "submitted", "processing", "needs_review", "completed")
ENDED_WITHOUT_GOODS = ("failed", "refunded", "cancelled")


# Crash points end the process (os._exit): the bot runs as one of its own.
pytestmark = pytest.mark.stack(process=True, env={"PAYMENT_MODE": "wallet"})


async def restart_armed(stack: LocalStack, point: str | None) -> None:
    await stack.stop_bot()
    if point is None:
        stack.extra_env.pop(ENV, None)
    else:
        stack.extra_env[ENV] = point
    await stack.start_bot()


async def until_dead(stack: LocalStack) -> None:
    assert stack.process is not None
    status = await asyncio.wait_for(stack.process.wait(), 20)
    assert status == CRASH_EXIT, stack.bot_log()[-2000:]
    await stack.stop_bot()
    stack.extra_env.pop(ENV, None)


def assert_ledger_explains_everything(stack: LocalStack) -> None:
    sent = len(requests_to(stack, "boost"))
    for order in db_rows(stack, "SELECT id, status, total_minor, remote_id FROM orders"):
        rows = db_rows(
            stack, "SELECT kind, amount_minor FROM ledger WHERE order_id = ?", (order["id"],)
        )
        paid = -sum(r["amount_minor"] for r in rows)
        refunds = [r for r in rows if r["kind"] == "refund"]
        if order["status"] in LIVE:
            assert paid == order["total_minor"], (dict(order), rows)
        elif order["status"] in ENDED_WITHOUT_GOODS:
            assert paid == 0 and len(refunds) <= 1, (dict(order), rows)
        else:  # a draft: never claimed, so never debited and never sent
            assert rows == [] and order["remote_id"] is None, (dict(order), rows)
    debited = db_rows(stack, "SELECT COUNT(*) AS n FROM ledger WHERE kind = 'order_debit'")
    assert sent <= debited[0]["n"]  # nothing reached the provider unpaid
    for wallet in db_rows(stack, "SELECT user_id, currency, balance_minor FROM wallets"):
        (total,) = db_rows(
            stack,
            "SELECT COALESCE(SUM(amount_minor), 0) AS s FROM ledger"
            " WHERE user_id = ? AND currency = ?",
            (wallet["user_id"], wallet["currency"]),
        )
        assert wallet["balance_minor"] == total["s"] >= 0


@pytest.mark.parametrize("point", ["payment.posted", "confirm.claimed", "create.sent"])
async def test_killed_around_the_debit(stack: LocalStack, point: str) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    stack.sandbox.state("boost").set_default_timeline([{"after": 0, "status": "PENDING"}])
    await stack.credit(buyer, "$20")
    await restart_armed(stack, point)
    confirmation = await boost_draft(stack, buyer, 2)
    await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    await until_dead(stack)
    await stack.start_bot()
    (order,) = db_rows(stack, "SELECT id, status FROM orders")
    if point == "payment.posted":
        # The debit died with the claim it was part of: still a draft, nothing taken,
        # nothing sent; Confirm works again.
        assert order["status"] == "draft"
        assert db_rows(stack, "SELECT * FROM ledger WHERE kind = 'order_debit'") == []
        assert requests_to(stack, "boost") == []
    else:
        # Paid and claimed: recovery settles it (boost can't be re-sent blindly, so
        # staff review it), and its payment stays with it until it ends.
        await wait_for_row(
            stack,
            "SELECT status FROM orders",
            (),
            lambda r: r["status"] == "needs_review",
            within=20,
        )
    assert_ledger_explains_everything(stack)
    (wallet,) = db_rows(stack, "SELECT balance_minor FROM wallets")
    assert wallet["balance_minor"] == (2000 if point == "payment.posted" else 1300)


@pytest.mark.parametrize("point", ["poll.read", "payment.posted"])
async def test_killed_around_the_refund(stack: LocalStack, point: str) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    stack.sandbox.state("boost").set_default_timeline(
        [{"after": 0, "status": "PENDING"}, {"after": 4, "status": "FAILED"}]
    )
    await stack.credit(buyer, "$20")
    confirmation = await boost_draft(stack, buyer, 2)
    pressed = await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=15)
    (order,) = db_rows(stack, "SELECT id FROM orders")
    # Armed before the provider says FAILED: the poll that reads it dies (before writing
    # anything, or with the refund written and not committed).
    await restart_armed(stack, point)
    await until_dead(stack)
    assert db_rows(stack, "SELECT * FROM ledger WHERE kind = 'refund'") == []
    await stack.start_bot()
    await wait_for_row(
        stack,
        "SELECT status FROM orders WHERE id = ?",
        (order["id"],),
        lambda r: r["status"] == "failed",
        within=20,
    )
    dm = await emu.wait_for_dm(
        buyer,
        timeout=20,
        predicate=lambda m: order["id"] in embed_text(m) and "failed" in embed_text(m),
    )
    assert "$7.00 USD refunded" in embed_text(dm)
    # The order has ended and no poll can take it up again: the refund, written by the
    # move that failed it, is the only one there will be.
    await order_ended(stack, order["id"], "failed")
    refunds = db_rows(stack, "SELECT amount_minor FROM ledger WHERE kind = 'refund'")
    assert [r["amount_minor"] for r in refunds] == [700]
    assert_ledger_explains_everything(stack)
    (wallet,) = db_rows(stack, "SELECT balance_minor FROM wallets")
    assert wallet["balance_minor"] == 2000
