"""Issue 28 through Discord: buyers top up their wallet by paying online, on the real bot,
the emulator and the Razorpay sandbox.

A buyer runs /top-up (or presses Top up under /wallet, or under a confirmation their
balance doesn't cover) and gets a private link button. The sandbox's payer pays; the
bot credits the payment exactly once, whichever of the signed webhook and the
reconciliation poll comes first, and DMs the new balance through the outbox. Every
assertion reads what Discord received, what the sandbox received, or the bot's database.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from demo.stack import LocalStack
from tests.e2e.helpers import button, db_rows, embed_text, wait_for_row, wait_until
from tests.e2e.journeys import open_buy_form, press, staff_line, submit_buy_form
from tests.e2e.topup_steps import (
    dms_about,
    inr,
    ledger,
    link_fetches,
    link_of,
    pay_button,
    sandbox,
    settled,
    top_up,
    topup_id_of,
)

# Wallet orders, and the Razorpay sandbox with the bot's webhook endpoint.
pytestmark = [
    pytest.mark.stack(payments=True, env={"PAYMENT_MODE": "wallet"}),
    pytest.mark.both_engines,
]


async def test_a_top_up_paid_once_is_credited_once_by_five_webhooks_and_the_poll(
    stack: LocalStack,
) -> None:
    buyer = stack.emulator.world.buyer_id
    answer = await top_up(stack, buyer, "500")
    pay = pay_button(answer)
    assert pay["label"] == f"Pay {inr(50000)}"
    assert "expires <t:" in embed_text(answer)
    topup_id = topup_id_of(answer)
    link = link_of(stack, topup_id)
    assert pay["url"] == link["short_url"] and link["amount"] == 50000
    assert link["currency"] == "INR" and link["accept_partial"] is False
    # The payer pays; the webhook is held back until the poll has found the payment.
    polled_before = link_fetches(stack, link["id"])
    payment_id, event_id = sandbox(stack).pay(link["id"], None)
    await settled(stack, topup_id, "paid")
    assert link_fetches(stack, link["id"]) > polled_before  # reconciliation credited it
    # Razorpay delivers the paid event five times at once: each is answered 2xx, and
    # nothing more is credited or said.
    answers = await asyncio.gather(*(sandbox(stack).deliver(event_id) for _ in range(5)))
    assert [a for (a,) in answers] == [200] * 5
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n, MIN(processed_at) AS done FROM payment_events WHERE event_id = ?",
        (event_id,),
        lambda r: r["n"] == 1 and r["done"] is not None,
    )
    await settled(stack, topup_id, "paid")
    assert ledger(stack, buyer) == [("credit", 50000, "INR")]
    keys = db_rows(stack, "SELECT idempotency_key FROM ledger WHERE user_id = ?", (buyer,))
    assert [r[0] for r in keys] == [f"topup:razorpay:{payment_id}"]
    (dm,) = dms_about(stack, buyer, topup_id)
    text = embed_text(dm)
    assert "Store credit added" in text and f"{inr(50000)}" in text
    assert f"Your balance: **{inr(50000)}**" in text


async def test_the_bot_down_while_the_buyer_pays_credits_by_reconciliation_once_started(
    stack: LocalStack,
) -> None:
    buyer = stack.emulator.world.buyer_id
    topup_id = topup_id_of(await top_up(stack, buyer, "450"))
    await stack.stop_bot()
    _, event_id = sandbox(stack).pay(link_of(stack, topup_id)["id"], None)
    # Razorpay can't reach the bot: no answer, nothing stored.
    assert await sandbox(stack).deliver(event_id) == [None]
    await stack.start_bot()
    await settled(stack, topup_id, "paid")
    assert db_rows(stack, "SELECT COUNT(*) FROM payment_events", ())[0][0] == 0
    assert ledger(stack, buyer) == [("credit", 45000, "INR")]
    (dm,) = dms_about(stack, buyer, topup_id)
    assert f"Your balance: **{inr(45000)}**" in embed_text(dm)


async def test_a_short_confirmation_tops_up_the_difference_then_confirm_places_it(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    await stack.credit(buyer, "50 INR")
    form = await open_buy_form(stack, buyer, "streaming-1m", 1)
    confirmation = await submit_buy_form(stack, buyer, form)
    order_id = confirmation["embeds"][0]["footer"]["text"].split()[1]
    assert f"{inr(14900)} short" in embed_text(confirmation)
    # Confirm before paying: nothing is ordered, and the answer offers exactly the
    # difference.
    pressed = await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
    refusal = await pressed.wait_for_followup(timeout=15)
    assert f"press **Top up** below to pay the difference, {inr(14900)}" in embed_text(refusal)
    assert db_rows(stack, "SELECT status FROM orders WHERE id = ?", (order_id,))[0][0] == "draft"
    offered = await press(stack, buyer, refusal, button(refusal, f"order:topup:{order_id}"))
    answer = await offered.wait_for_followup(timeout=15)
    assert pay_button(answer)["label"] == f"Pay {inr(14900)}"
    assert order_id in embed_text(answer)
    topup_id = topup_id_of(answer)
    # Pressing Top up again (on the confirmation) offers the same link, not a second one.
    again = await press(stack, buyer, confirmation, button(confirmation, "order:topup:"))
    assert topup_id_of(await again.wait_for_followup(timeout=15)) == topup_id
    sandbox(stack).pay(link_of(stack, topup_id)["id"], None)
    await settled(stack, topup_id, "paid")
    (dm,) = dms_about(stack, buyer, topup_id)
    text = embed_text(dm)
    assert f"Your balance: **{inr(19900)}**" in text
    assert f"Your order `{order_id}`" in text and "the shop isn't paused" in text
    # The credit DM's promise holds: Confirm now goes through, paid from the wallet.
    pressed = await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=15)
    assert ledger(stack, buyer) == [
        ("credit", 5000, "INR"),
        ("credit", 14900, "INR"),
        ("order_debit", -19900, "INR"),
    ]


async def test_wallet_top_up_button_opens_a_form_whose_link_credits(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer2_id
    driven = await emu.send_slash_command(buyer, "wallet", {})
    await driven.wait_for_response()
    wallet = await driven.wait_for_followup(timeout=10)
    opened = await press(stack, buyer, wallet, button(wallet, "topup:wallet"))
    modal = opened.modal
    assert modal is not None and modal["custom_id"] == f"topup:form:{opened.id}"
    # A bad amount: one friendly line, nothing made.
    bad = await emu.submit_modal(
        buyer, modal["custom_id"], {"topup:amount": "1,250"}, source_interaction=opened
    )
    await bad.wait_for_response()
    refused = await bad.wait_for_followup(timeout=10)
    assert "without thousands separators" in refused["content"]
    assert "Nothing was charged" in refused["content"]
    # Discord closed that form; pressing Top up again opens a new one, its own id.
    reopened = await press(stack, buyer, wallet, button(wallet, "topup:wallet"))
    modal = reopened.modal
    assert modal is not None and modal["custom_id"] == f"topup:form:{reopened.id}"
    submitted = await emu.submit_modal(
        buyer, modal["custom_id"], {"topup:amount": "250"}, source_interaction=reopened
    )
    await submitted.wait_for_response()
    answer = await submitted.wait_for_followup(timeout=10)
    assert pay_button(answer)["label"] == f"Pay {inr(25000)}"
    assert len(sandbox(stack).links) == 1
    topup_id = topup_id_of(answer)
    sandbox(stack).pay(link_of(stack, topup_id)["id"], None)
    await settled(stack, topup_id, "paid")
    assert ledger(stack, buyer) == [("credit", 25000, "INR")]


async def test_no_new_links_while_paused_but_a_paid_link_still_credits(
    stack: LocalStack,
) -> None:
    buyer = stack.emulator.world.buyer_id
    answer = await top_up(stack, buyer, "300")
    topup_id = topup_id_of(answer)
    await stack.admin("shop pause", {"reason": "stocktaking"})
    refused = await top_up(stack, buyer, "100")
    assert "paused" in refused["content"] and "stocktaking" in refused["content"]
    assert len(sandbox(stack).links) == 1
    sandbox(stack).pay(link_of(stack, topup_id)["id"], None)
    await settled(stack, topup_id, "paid")
    assert ledger(stack, buyer) == [("credit", 30000, "INR")]


async def test_an_expired_link_tells_the_buyer_and_credits_nothing(stack: LocalStack) -> None:
    buyer = stack.emulator.world.buyer_id
    topup_id = topup_id_of(await top_up(stack, buyer, "₹75"))
    event_id = sandbox(stack).expire(link_of(stack, topup_id)["id"])
    assert event_id is not None
    assert await sandbox(stack).deliver(event_id) == [200]
    await settled(stack, topup_id, "expired")
    (dm,) = dms_about(stack, buyer, topup_id)
    assert "expired before a payment arrived" in embed_text(dm) and f"{inr(7500)}" in embed_text(dm)
    assert ledger(stack, buyer) == []


async def test_an_amount_mismatch_is_credited_as_paid_with_a_staff_alert(
    stack: LocalStack,
) -> None:
    buyer = stack.emulator.world.buyer_id
    topup_id = topup_id_of(await top_up(stack, buyer, "400"))
    payment_id, _ = sandbox(stack).pay(link_of(stack, topup_id)["id"], 35000)
    await settled(stack, topup_id, "paid")
    assert ledger(stack, buyer) == [("credit", 35000, "INR")]
    alert = await staff_line(stack, topup_id)
    assert (
        f"asked {inr(40000)}" in alert["content"] and f"{inr(35000)} was paid" in alert["content"]
    )
    assert payment_id in alert["content"]
    (dm,) = dms_about(stack, buyer, topup_id)
    assert f"You were asked {inr(40000)}" in embed_text(dm)


async def test_forged_missing_and_replayed_webhooks_credit_nothing_and_log_no_body(
    stack: LocalStack,
) -> None:
    buyer = stack.emulator.world.buyer_id
    topup_id = topup_id_of(await top_up(stack, buyer, "900"))
    link = link_of(stack, topup_id)
    forged_payment = {
        "id": "pay_Forged00000001",
        "entity": "payment",
        "amount": 90000,
        "currency": "INR",
        "status": "captured",
        "email": "forger@example.com",
    }
    forged = sandbox(stack).new_event(
        "payment_link.paid",
        {
            "payment_link": {"entity": {**link, "status": "paid", "amount_paid": 90000}},
            "payment": {"entity": forged_payment},
        },
    )
    assert await sandbox(stack).deliver(forged, signature="wrong") == [401]
    assert await sandbox(stack).deliver(forged, signature="missing") == [401]
    assert db_rows(stack, "SELECT event_id FROM payment_events", ()) == []
    # The link is still unpaid at Razorpay: reconciliation finds nothing to credit.
    fetched = link_fetches(stack, link["id"])
    await wait_until(
        lambda: link_fetches(stack, link["id"]) >= fetched + 2,
        30,
        lambda: "reconciliation never asked about the link again",
    )
    assert ledger(stack, buyer) == []
    # A real payment, credited; its event replayed later changes nothing.
    _, event_id = sandbox(stack).pay(link["id"], None)
    assert await sandbox(stack).deliver(event_id) == [200]
    await settled(stack, topup_id, "paid")
    assert await sandbox(stack).deliver(event_id, copies=3) == [200, 200, 200]
    await settled(stack, topup_id, "paid")
    assert ledger(stack, buyer) == [("credit", 90000, "INR")]
    assert len(dms_about(stack, buyer, topup_id)) == 1
    log = stack.bot_log()
    assert "forger@example.com" not in log and "pay_Forged" not in log
    assert "payer@example.com" not in log
    stored = db_rows(stack, "SELECT body_enc FROM payment_events", ())
    assert stored and all(b"payer@example.com" not in bytes(r[0]) for r in stored)


async def test_closed_dms_get_a_notice_that_names_no_amount(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    topup_id = topup_id_of(await top_up(stack, buyer, "620"))
    emu.set_dms_closed(buyer)
    sandbox(stack).pay(link_of(stack, topup_id)["id"], None)
    await settled(stack, topup_id, "paid")
    notice = await emu.wait_for_channel_message(
        emu.world.notice_channel_id,
        timeout=15,
        predicate=lambda m: f"<@{buyer}>" in m["content"],
    )
    assert "store credit" in notice["content"] and "/wallet" in notice["content"]
    for secret in ("620", "₹", topup_id):
        assert secret not in notice["content"]
    rows = db_rows(stack, "SELECT state FROM notifications WHERE topup_id = ?", (topup_id,))
    assert [r[0] for r in rows] == ["fallback"]


async def test_fifty_buyers_paid_at_once_with_webhooks_racing_polls(stack: LocalStack) -> None:
    emu = stack.emulator
    buyers = [emu.add_member(f"payer{i}") for i in range(50)]
    answers = await asyncio.gather(*(top_up(stack, b, str(100 + i)) for i, b in enumerate(buyers)))
    ids = [topup_id_of(a) for a in answers]
    state = sandbox(stack)
    events = [state.pay(link_of(stack, t)["id"], None)[1] for t in ids]
    # Every paid event delivered twice, at once, while reconciliation polls the links.
    delivered = await asyncio.gather(*(state.deliver(e, copies=2) for e in events))
    assert all(d == [200, 200] for d in delivered), delivered
    for topup_id in ids:
        await settled(stack, topup_id, "paid")
    credits = db_rows(
        stack, "SELECT user_id, amount_minor FROM ledger WHERE kind = 'credit' ORDER BY user_id", ()
    )
    assert sorted((r[0], r[1]) for r in credits) == sorted(
        (b, (100 + i) * 100) for i, b in enumerate(buyers)
    )
    balances = db_rows(stack, "SELECT SUM(balance_minor) FROM wallets", ())[0][0]
    assert balances == sum(r[1] for r in credits)
    for buyer, topup_id in zip(buyers, ids, strict=True):
        assert len(dms_about(stack, buyer, topup_id)) == 1
    assert json.dumps(state.links)  # the sandbox's own record stayed readable


@pytest.mark.stack(env={"TIMINGS": "topup_first_check=600,topup_check_every=600"})
async def test_staff_list_top_ups_and_check_now_credits_a_payment_once(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    topup_id = topup_id_of(await top_up(stack, buyer, "210"))
    # Paid, and neither the webhook nor the next poll (ten minutes away) has said so.
    payment_id, _ = sandbox(stack).pay(link_of(stack, topup_id)["id"], None)
    _, listed = await stack.admin("payments", {"state": "open"})
    assert topup_id in embed_text(listed) and f"<@{buyer}>" in embed_text(listed)
    _, shown = await stack.admin("payment", {"topup_id": topup_id.lower()})
    assert "open" in embed_text(shown) and ledger(stack, buyer) == []
    checked = await press(stack, emu.world.staff_id, shown, button(shown, "admin-topup-check:"))
    answer = await checked.wait_for_followup(timeout=15)
    assert "credited now" in embed_text(answer) and payment_id in embed_text(answer)
    await settled(stack, topup_id, "paid")
    again = await press(stack, emu.world.staff_id, shown, button(shown, "admin-topup-check:"))
    assert "already credited" in embed_text(await again.wait_for_followup(timeout=15))
    assert ledger(stack, buyer) == [("credit", 21000, "INR")]
    assert len(dms_about(stack, buyer, topup_id)) == 1
    await stack.credit(buyer, "100 INR")
    _, stats = await stack.admin("stats", {"days": 1})
    assert f"online {inr(21000)}, staff {inr(10000)}" in embed_text(stats)


async def test_a_refund_and_a_chargeback_at_razorpay_take_back_what_the_balance_allows(
    stack: LocalStack,
) -> None:
    buyer = stack.emulator.world.buyer_id
    topup_id = topup_id_of(await top_up(stack, buyer, "1000"))
    payment_id, paid = sandbox(stack).pay(link_of(stack, topup_id)["id"], None)
    assert await sandbox(stack).deliver(paid) == [200]
    await settled(stack, topup_id, "paid")
    await stack.admin("wallet debit", {"member": buyer, "amount": "700 INR", "note": "spent"})
    refunded = sandbox(stack).refund(payment_id, 20_000)
    assert await sandbox(stack).deliver(refunded, copies=2) == [200, 200]
    assert "refunded" in (await staff_line(stack, f"Top-up `{topup_id}`"))["content"]
    disputed = sandbox(stack).dispute(payment_id, 50_000)
    assert await sandbox(stack).deliver(disputed) == [200]
    alert = await staff_line(stack, "disputed")
    assert topup_id in alert["content"]
    # ₹1,000 in, ₹700 spent: the refund takes ₹200, the chargeback the ₹100 left.
    assert [m for _, m, _ in ledger(stack, buyer)] == [100_000, -70_000, -20_000, -10_000]
    balance = db_rows(stack, "SELECT balance_minor FROM wallets WHERE user_id = ?", (buyer,))
    assert balance[0][0] == 0
