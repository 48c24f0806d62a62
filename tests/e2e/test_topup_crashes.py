"""Issue 28: the bot killed (os._exit, as kill -9) between receiving a payment webhook and
the credit's commit, and between the credit and the buyer's DM, then restarted. After
the restart the payment is credited once, the buyer has one DM, and every balance is
its ledger's sum."""

from __future__ import annotations

import asyncio

import pytest

from core.crash_points import CRASH_EXIT, ENV
from demo.stack import LocalStack
from tests.e2e.helpers import db_rows, embed_text, wait_for_row
from tests.e2e.topup_steps import (
    dms_about,
    inr,
    ledger,
    link_of,
    sandbox,
    settled,
    top_up,
    topup_id_of,
)

# Crash points end the process: the bot runs as one of its own.
pytestmark = pytest.mark.stack(process=True, payments=True, env={"PAYMENT_MODE": "wallet"})


POINTS = [
    "topup.event_stored",  # the webhook's event stored, not answered, not credited
    "topup.credited",  # the credit written, not committed
    "dm.claimed",  # credited; the DM claimed, not sent
    "dm.sent",  # the DM went out; that it did is not recorded
]


# Armed from the start (nothing before the payment reaches these points), so each test
# starts the bot once before the crash and once after.
@pytest.mark.parametrize(
    "point", [pytest.param(p, marks=pytest.mark.stack(env={ENV: p})) for p in POINTS]
)
async def test_killed_between_the_webhook_the_credit_and_the_dm(
    stack: LocalStack, point: str
) -> None:
    buyer = stack.emulator.world.buyer_id
    topup_id = topup_id_of(await top_up(stack, buyer, "800"))
    _, event_id = sandbox(stack).pay(link_of(stack, topup_id)["id"], None)
    # The webhook, and the reconciliation poll, both lead to the armed point.
    await sandbox(stack).deliver(event_id)
    assert stack.process is not None
    status = await asyncio.wait_for(stack.process.wait(), 20)
    assert status == CRASH_EXIT, stack.bot_log()[-2000:]
    assert f"crash point {point} reached" in stack.bot_log()
    await stack.stop_bot()
    stack.extra_env.pop(ENV, None)
    await stack.start_bot()
    # Razorpay retries a delivery that got no 2xx.
    assert await sandbox(stack).deliver(event_id) == [200]
    await settled(stack, topup_id, "paid")
    assert ledger(stack, buyer) == [("credit", 80000, "INR")]
    (dm,) = dms_about(stack, buyer, topup_id)
    assert f"Your balance: **{inr(80000)}**" in embed_text(dm)
    # The event stored before the crash is applied by the stored-events job (it changes
    # nothing now), and stored once: the redelivery was a duplicate.
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n, MIN(processed_at) AS done FROM payment_events WHERE event_id = ?",
        (event_id,),
        lambda r: r["n"] == 1 and r["done"] is not None,
    )
    (wallet,) = db_rows(stack, "SELECT balance_minor FROM wallets WHERE user_id = ?", (buyer,))
    assert wallet[0] == 80000
