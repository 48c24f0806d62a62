"""Issue 15 through Discord: the real bot process, the emulator and the sandboxes.

Buyers pay from store credit that staff add with /admin wallet credit; Confirm debits it
in the same transaction that claims the order; an order that fails gives the money back
and says so in the outcome DM; approval-mode orders wait for staff's Approve / Reject
(buttons that survive a restart); the buyer role, open-order and daily limits refuse
with the reason and when it resets. Every assertion reads what Discord received, what
the provider received, or the bot's own database file.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

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

PENDING_FOREVER = [{"after": 0, "status": "PENDING"}]
WALLET = pytest.mark.stack(
    env={
        "PAYMENT_MODE": "wallet",
        "TOP_UP_INSTRUCTIONS": "Pay by UPI to shop@upi, then open a ticket.",
    }
)

# The wallet journeys run on both engines (issue 26).
pytestmark = pytest.mark.both_engines


async def confirm(stack: LocalStack, user_id: int, confirmation: dict[str, Any]) -> str:
    """Press Confirm; returns what the buyer then sees (the edited message or a note)."""
    pressed = await stack.emulator.press_button(
        user_id, confirmation, button(confirmation, "order:confirm:")
    )
    await pressed.wait_for_response()

    async def seen() -> str:
        while True:
            if pressed.followups:
                return embed_text(pressed.followups[-1])
            original = pressed.original_message
            if original is not None and original.get("embeds"):
                title = original["embeds"][0].get("title") or ""
                if title != "Confirm your order":
                    return embed_text(original)
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(seen(), 15)


def ledger(stack: LocalStack, user_id: int) -> list[tuple[str, int, str | None]]:
    return [
        (r["kind"], r["amount_minor"], r["order_id"])
        for r in db_rows(
            stack,
            "SELECT kind, amount_minor, order_id FROM ledger WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
    ]


def balance(stack: LocalStack, user_id: int, currency: str = "USD") -> int:
    rows = db_rows(
        stack,
        "SELECT balance_minor FROM wallets WHERE user_id = ? AND currency = ?",
        (user_id, currency),
    )
    return int(rows[0]["balance_minor"]) if rows else 0


def order_id_of(text: str) -> str:
    match = re.search(r"ORD-[0-9A-Z]{10}", text)
    assert match, text
    return match.group(0)


@WALLET
async def test_wallet_journey_credit_debit_complete_refund_and_wallet(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    boost = stack.sandbox.state("boost")

    # No credit yet: refused at /boost, with the balance, the price and how to top up.
    refusal = embed_text(await boost_draft(stack, buyer))
    assert "$0.00 USD" in refusal and "$10.50 USD" in refusal, refusal
    assert "Pay by UPI to shop@upi" in refusal and "nothing was ordered" in refusal
    assert requests_to(stack, "boost") == []
    assert db_rows(stack, "SELECT id FROM orders WHERE user_id = ?", (buyer,)) == []

    # Staff credit the buyer after they paid: a DM for the member, a line for staff.
    said = await stack.credit(buyer, "$20", note="UPI ref 4471")
    assert "+$20.00 USD" in said and "balance now $20.00 USD" in said and "They got a DM" in said
    dm = await emu.wait_for_dm(
        buyer, timeout=10, predicate=lambda m: "Store credit" in embed_text(m)
    )
    assert "+$20.00 USD" in embed_text(dm) and "UPI ref 4471" in embed_text(dm)
    await emu.wait_for_channel_message(
        emu.world.staff_channel_id,
        timeout=10,
        predicate=lambda m: "credited" in (m.get("content") or "") and "$20.00" in m["content"],
    )

    # /boost: the confirmation shows the balance before and after; Confirm debits it.
    boost.set_default_timeline(
        [{"after": 0, "status": "PENDING"}, {"after": 2, "status": "COMPLETED"}]
    )
    confirmation = await boost_draft(stack, buyer)
    assert "$20.00 USD → **$9.50 USD**" in embed_text(confirmation), embed_text(confirmation)
    shown = await confirm(stack, buyer, confirmation)
    order_id = order_id_of(shown)
    assert "placed" in shown.lower() or "submitted" in shown.lower(), shown
    assert ledger(stack, buyer) == [("credit", 2000, None), ("order_debit", -1050, order_id)]
    assert balance(stack, buyer) == 950
    assert len(requests_to(stack, "boost")) == 1

    # The completion DM says how it was paid.
    done = await emu.wait_for_dm(
        buyer,
        timeout=30,
        predicate=lambda m: order_id in embed_text(m) and "complete" in embed_text(m),
    )
    assert "$10.50 USD from your store credit" in embed_text(done)

    # The provider fails the next one: the money comes back once, told in the same DM.
    boost.set_default_timeline(
        [{"after": 0, "status": "PENDING"}, {"after": 1, "status": "FAILED"}]
    )
    shown = await confirm(stack, buyer, await boost_draft(stack, buyer, amount=2))
    failed_id = order_id_of(shown)
    failed_dm = await emu.wait_for_dm(
        buyer,
        timeout=30,
        predicate=lambda m: failed_id in embed_text(m) and "failed" in embed_text(m),
    )
    text = embed_text(failed_dm)
    assert "$7.00 USD from your store credit" in text and "$7.00 USD refunded" in text, text
    # The order has ended and no poll can take it up again: the refund, written by the
    # move that failed it, is the only one there will be.
    await order_ended(stack, failed_id, "failed")
    assert ledger(stack, buyer)[2:] == [
        ("order_debit", -700, failed_id),
        ("refund", 700, failed_id),
    ]
    assert balance(stack, buyer) == 950

    # The balance is checked again at Confirm: staff took credit off after the draft.
    confirmation = await boost_draft(stack, buyer, amount=2)
    before = len(requests_to(stack, "boost"))
    _, answer = await stack.admin(
        "wallet debit", {"member": buyer, "amount": "$5", "note": "chargeback"}
    )
    assert "Debited" in (answer.get("content") or "")
    # A bare symbol of a currency the shop doesn't sell is not guessed at: `¥` is yen in
    # English, and this shop prices in INR and USD.
    _, refused = await stack.admin(
        "wallet credit", {"member": buyer, "amount": "¥500", "note": "wrong symbol"}
    )
    said = refused.get("content") or ""
    assert "reads as JPY, and this shop prices in INR, USD" in said, said
    assert "`500 INR`" in said and "Nothing was changed" in said
    shown = await confirm(stack, buyer, confirmation)
    assert "$4.50 USD" in shown and "$7.00 USD" in shown and "nothing was ordered" in shown, shown
    assert len(requests_to(stack, "boost")) == before
    assert balance(stack, buyer) == 450

    # /wallet: the balance and the ledger, newest first.
    driven = await emu.send_slash_command(buyer, "wallet", {})
    await driven.wait_for_response()
    statement = embed_text(await driven.wait_for_followup(timeout=10))
    assert "$4.50 USD" in statement
    for line in ("Top-up", "+$20.00 USD", f"Order `{order_id}`", f"Refund `{failed_id}`"):
        assert line in statement, (line, statement)
    assert "Adjustment" in statement and "chargeback" in statement
    # Staff see the same in /admin wallet view.
    _, viewed = await stack.admin("wallet view", {"member": buyer})
    staff_view = embed_text(viewed)
    assert "Store credit of Buyer One" in staff_view and "$4.50 USD" in staff_view
    assert f"Refund `{failed_id}`" in staff_view
    # The ledger and the balance agree, and nothing was ever edited.
    assert sum(amount for _, amount, _ in ledger(stack, buyer)) == balance(stack, buyer)


@WALLET
async def test_staff_refund_of_a_partly_delivered_order(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer2_id
    stack.sandbox.state("boost").set_default_timeline(PENDING_FOREVER)
    await stack.credit(buyer, "10 USD")
    order_id = order_id_of(await confirm(stack, buyer, await boost_draft(stack, buyer, 2)))

    # While it is live it keeps its payment (a refund could let it be sent unpaid).
    _, answer = await stack.admin("order refund", {"order_id": order_id, "amount": "2"})
    assert "Only a completed or partly completed order" in (answer.get("content") or ""), answer
    _, answer = await stack.admin(
        "order set-status",
        {"order_id": order_id, "status": "partially_completed", "note": "1 of 2 boosts arrived"},
    )
    assert "partially completed" in (answer.get("content") or ""), answer
    _, answer = await stack.admin("order refund", {"order_id": order_id, "amount": "9"})
    assert "left to refund" in (answer.get("content") or ""), answer  # $9 > $7 paid
    _, answer = await stack.admin("order refund", {"order_id": order_id, "amount": "2.50"})
    assert "Refunded **$2.50 USD**" in (answer.get("content") or ""), answer
    dm = await emu.wait_for_dm(
        buyer, timeout=15, predicate=lambda m: "Store credit refunded" in embed_text(m)
    )
    assert order_id in embed_text(dm) and "$2.50 USD refunded" in embed_text(dm)
    # Staff were told the partial order's payment needs their decision.
    await emu.wait_for_channel_message(
        emu.world.staff_channel_id,
        timeout=10,
        predicate=lambda m: (
            "only partly delivered" in (m.get("content") or "") and order_id in m["content"]
        ),
    )
    assert ledger(stack, buyer)[-1] == ("refund", 250, order_id)
    assert balance(stack, buyer) == 1000 - 700 + 250


async def test_approval_mode_approve_after_a_restart_and_reject(tmp_path: Path) -> None:
    async with LocalStack(
        tmp_path / "stack", env={"PAYMENT_MODE": "approval"}, in_process=True, fast=True
    ) as stack:
        emu = stack.emulator
        buyer = emu.world.buyer_id
        stack.sandbox.state("boost").set_default_timeline(PENDING_FOREVER)

        confirmation = await boost_draft(stack, buyer)
        assert "Staff check your payment" in embed_text(confirmation)
        shown = await confirm(stack, buyer, confirmation)
        order_id = order_id_of(shown)
        assert "waiting for staff" in shown
        assert requests_to(stack, "boost") == []
        approval = await emu.wait_for_channel_message(
            emu.world.staff_channel_id,
            timeout=10,
            predicate=lambda m: order_id in (m.get("content") or "") and bool(m.get("components")),
        )
        (row,) = db_rows(stack, "SELECT status, payment FROM orders WHERE id = ?", (order_id,))
        assert (row["status"], row["payment"]) == ("awaiting_approval", "approval")
        assert ledger(stack, buyer) == []  # nothing is debited: staff check the payment

        # A buyer can't even see the staff channel, let alone press Approve there.
        with pytest.raises(PermissionError):
            await emu.press_button(buyer, approval, button(approval, "approval:approve:"))

        # The buttons work after a restart.
        await stack.stop_bot()
        await stack.start_bot()
        pressed = await emu.press_button(
            emu.world.staff_id, approval, button(approval, "approval:approve:")
        )
        await pressed.wait_for_response()
        note = embed_text(await pressed.wait_for_followup(timeout=15))
        assert "Approved" in note, note
        assert len(requests_to(stack, "boost")) == 1
        await wait_for_row(
            stack,
            "SELECT status FROM orders WHERE id = ?",
            (order_id,),
            lambda r: r["status"] == "submitted",
        )
        placed = await emu.wait_for_dm(
            buyer, timeout=15, predicate=lambda m: order_id in embed_text(m)
        )
        assert "placed" in embed_text(placed)
        # The message says who decided and loses its buttons (a press that races it is
        # refused by the service's compare-and-set: tests/bot/test_payments.py).
        decided = next(
            m for m in emu.channel_messages(emu.world.staff_channel_id) if m["id"] == approval["id"]
        )
        assert "Approved by" in decided["content"] and not decided.get("components")
        assert len(requests_to(stack, "boost")) == 1

        # Reject: nothing is sent, and the buyer is told why.
        shown = await confirm(stack, buyer, await boost_draft(stack, buyer, amount=2))
        rejected_id = order_id_of(shown)
        approval = await emu.wait_for_channel_message(
            emu.world.staff_channel_id,
            timeout=10,
            predicate=lambda m: (
                rejected_id in (m.get("content") or "") and bool(m.get("components"))
            ),
        )
        pressed = await emu.press_button(
            emu.world.staff_id, approval, button(approval, "approval:reject:")
        )
        modal = await pressed.wait_for_response()
        await emu.submit_modal(
            emu.world.staff_id,
            modal["data"]["custom_id"],
            {"reject:note": "No payment found for this order."},
        )
        told = await emu.wait_for_dm(
            buyer, timeout=15, predicate=lambda m: rejected_id in embed_text(m)
        )
        assert "cancelled" in embed_text(told) and "No payment found" in embed_text(told)
        assert len(requests_to(stack, "boost")) == 1
        (row,) = db_rows(stack, "SELECT status FROM orders WHERE id = ?", (rejected_id,))
        assert row["status"] == "cancelled"


async def test_role_open_order_and_daily_limits(tmp_path: Path) -> None:
    async with LocalStack(
        tmp_path / "stack",
        env={"MAX_OPEN_ORDERS": "1", "DAILY_SPEND_LIMITS": "USD 20", "PAYMENT_MODE": "free"},
        in_process=True,
        fast=True,
    ) as plain:
        emu = plain.emulator
        buyer = emu.world.buyer_id
        boost = plain.sandbox.state("boost")
        boost.set_default_timeline(
            [{"after": 0, "status": "PENDING"}, {"after": 6, "status": "COMPLETED"}]
        )
        await confirm(plain, buyer, await boost_draft(plain, buyer, 3))  # $10.50, open
        refusal = embed_text(await boost_draft(plain, buyer, 2))
        assert "1 open order" in refusal and "as soon as it finishes" in refusal
        assert len(requests_to(plain, "boost")) == 1

        # Once it finishes, the open-order limit lets go; the daily one ($20) doesn't.
        await wait_for_row(
            plain,
            "SELECT status FROM orders WHERE user_id = ?",
            (buyer,),
            lambda r: r["status"] == "completed",
            within=20,
        )
        refusal = embed_text(await boost_draft(plain, buyer, 3))  # 10.50 + 10.50 > 20
        assert "daily limit of $20.00 USD" in refusal and "$9.50 USD is left" in refusal, refusal
        assert "resets <t:" in refusal
        confirmation = await boost_draft(plain, buyer, 2)  # 10.50 + 7.00 fits
        assert "Confirm your order" in embed_text(confirmation)
        assert len(requests_to(plain, "boost")) == 1

        # The role limit: only members with BUYER_ROLE_ID may order.
        await plain.stop_bot()
        plain.extra_env["BUYER_ROLE_ID"] = str(emu.world.staff_role_id)
        await plain.start_bot()
        refusal = embed_text(await boost_draft(plain, emu.world.buyer2_id, 2))
        assert f"<@&{emu.world.staff_role_id}>" in refusal and "Nothing was ordered" in refusal
        allowed = await boost_draft(plain, emu.world.staff_id, 2)
        assert "Confirm your order" in embed_text(allowed)
        assert len(requests_to(plain, "boost")) == 1
