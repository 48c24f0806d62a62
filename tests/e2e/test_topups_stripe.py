"""Issue 28 through Discord with the second provider: Stripe Checkout Sessions take the
shop's USD top-ups (Razorpay keeps INR), on the real bot, the emulator and the Stripe
sandbox. Its signature is timed (`t=`), its payments may settle later (a bank debit),
and its refunds and disputes come as charge events: the same interface, another shape.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.domain import Money
from demo.stack import LocalStack
from sandbox.stripe import StripeState
from tests.e2e.helpers import button, db_rows, embed_text, wait_for_row
from tests.e2e.journeys import boost_draft, press, staff_line
from tests.e2e.topup_steps import dms_about, ledger, pay_button, settled, top_up, topup_id_of

pytestmark = [
    pytest.mark.stack(payments=True, stripe=True, env={"PAYMENT_MODE": "wallet"}),
    pytest.mark.both_engines,
]


def usd(minor: int) -> str:
    return Money(minor, "USD").format()


def stripe(stack: LocalStack) -> StripeState:
    assert stack.payments is not None and stack.payments.stripe is not None
    return stack.payments.stripe


def session_of(stack: LocalStack, topup_id: str) -> dict[str, Any]:
    (session,) = [
        s for s in stripe(stack).sessions.values() if s["client_reference_id"] == topup_id
    ]
    return session


async def test_a_short_boost_tops_up_through_stripe_and_a_timed_signature_is_checked(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    confirmation = await boost_draft(stack, buyer, amount=3)  # 3 boosts at $3.50
    order_id = confirmation["embeds"][0]["footer"]["text"].split()[1]
    assert f"{usd(1050)} short" in embed_text(confirmation)
    offered = await press(stack, buyer, confirmation, button(confirmation, "order:topup:"))
    answer = await offered.wait_for_followup(timeout=15)
    link = pay_button(answer)
    assert link["label"] == f"Pay {usd(1050)}" and "(Stripe)" in embed_text(answer)
    topup_id = topup_id_of(answer)
    session = session_of(stack, topup_id)
    assert link["url"] == session["url"] and session["amount_total"] == 1050
    assert session["currency"] == "usd" and session["mode"] == "payment"
    # The payer pays by card; the event is held back, then delivered signed too long ago
    # (refused: a replayed capture), with a wrong secret (refused), then properly, three
    # times at once.
    intent, _, event_id = stripe(stack).pay(session["id"])
    assert await stripe(stack).deliver(event_id, signature="old") == [401]
    assert await stripe(stack).deliver(event_id, signature="wrong") == [401]
    answers = await asyncio.gather(*(stripe(stack).deliver(event_id) for _ in range(3)))
    assert [a for (a,) in answers] == [200, 200, 200]
    await settled(stack, topup_id, "paid")
    assert ledger(stack, buyer) == [("credit", 1050, "USD")]
    keys = db_rows(stack, "SELECT idempotency_key FROM ledger WHERE user_id = ?", (buyer,))
    assert [r[0] for r in keys] == [f"topup:stripe:{intent}"]
    (dm,) = dms_about(stack, buyer, topup_id)
    assert f"Your order `{order_id}`" in embed_text(dm)
    pressed = await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=15)
    assert ledger(stack, buyer)[-1] == ("order_debit", -1050, "USD")
    # INR still goes through Razorpay.
    inr = await top_up(stack, buyer, "300", "INR")
    assert "(Razorpay)" in embed_text(inr)


async def test_a_bank_debit_credits_when_it_settles_and_a_failed_one_ends_unpaid(
    stack: LocalStack,
) -> None:
    buyer = stack.emulator.world.buyer_id
    settling = topup_id_of(await top_up(stack, buyer, "20", "USD"))
    failing = topup_id_of(await top_up(stack, buyer, "30", "USD"))
    for topup_id in (settling, failing):
        _, _, completed = stripe(stack).pay(session_of(stack, topup_id)["id"], is_async=True)
        assert await stripe(stack).deliver(completed) == [200]
    # Completed but unpaid: nothing credited yet, and still checked.
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM payment_events WHERE processed_at IS NOT NULL",
        (),
        lambda r: r["n"] == 2,
    )
    assert ledger(stack, buyer) == []
    succeeded = stripe(stack).settle(session_of(stack, settling)["id"], succeeded=True)
    failed = stripe(stack).settle(session_of(stack, failing)["id"], succeeded=False)
    assert await stripe(stack).deliver(succeeded) == [200]
    assert await stripe(stack).deliver(failed) == [200]
    await settled(stack, settling, "paid")
    await settled(stack, failing, "cancelled")
    assert ledger(stack, buyer) == [("credit", 2000, "USD")]
    (unpaid,) = dms_about(stack, buyer, failing)
    assert "Top-up not paid" in embed_text(unpaid)


async def test_a_refund_and_a_dispute_take_back_what_the_balance_allows_once(
    stack: LocalStack,
) -> None:
    buyer = stack.emulator.world.buyer_id
    topup_id = topup_id_of(await top_up(stack, buyer, "40", "USD"))
    intent, _, paid = stripe(stack).pay(session_of(stack, topup_id)["id"])
    assert await stripe(stack).deliver(paid) == [200]
    await settled(stack, topup_id, "paid")
    # The buyer spends some: $30 of the $40 is gone.
    await stack.admin(
        "wallet debit", {"member": buyer, "amount": "30 USD", "note": "spent elsewhere"}
    )
    _, refunded = stripe(stack).refund(intent, 500)
    assert await stripe(stack).deliver(refunded, copies=2) == [200, 200]
    alert = await staff_line(stack, "refunded")
    assert topup_id in alert["content"]
    _, disputed = stripe(stack).dispute(intent, 3500)
    assert await stripe(stack).deliver(disputed) == [200]
    await staff_line(stack, "disputed")
    kinds = [(k, m) for k, m, _ in ledger(stack, buyer)]
    # $40 in, $30 out; the refund takes $5 of the $10 left, the dispute the last $5.
    assert kinds == [
        ("credit", 4000),
        ("adjustment", -3000),
        ("adjustment", -500),
        ("adjustment", -500),
    ]
    balance = db_rows(stack, "SELECT balance_minor FROM wallets WHERE user_id = ?", (buyer,))
    assert balance[0][0] == 0


async def test_stripes_amount_rules_refuse_before_any_session(stack: LocalStack) -> None:
    buyer = stack.emulator.world.buyer_id
    too_small = await top_up(stack, buyer, "0.30", "USD")
    assert f"smallest top-up paid online is {usd(50)}" in too_small["content"]
    other = await top_up(stack, buyer, "5", "EUR")
    assert "INR, USD" in other["content"] and "not EUR" in other["content"]
    assert stripe(stack).sessions == {}


async def test_a_shortfall_below_stripes_minimum_offers_the_minimum(stack: LocalStack) -> None:
    buyer = stack.emulator.world.buyer_id
    await stack.credit(buyer, "6.80 USD")
    confirmation = await boost_draft(stack, buyer, amount=2)  # $7.00: $0.20 short
    offered = await press(stack, buyer, confirmation, button(confirmation, "order:topup:"))
    answer = await offered.wait_for_followup(timeout=15)
    assert pay_button(answer)["label"] == f"Pay {usd(50)}"
    assert f"still needs {usd(20)}" in embed_text(answer)
    assert session_of(stack, topup_id_of(answer))["amount_total"] == 50
