"""Issue 13, end to end: every outcome reaches the buyer exactly once, and buyers never
see each other's orders. The real bot process, the Discord emulator (with its
store-then-fail and dropped-connection faults), the sandbox providers, and faults in the
bot's own SQLite file."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from demo.stack import LocalStack
from emulator.interactions import OptionError
from sandbox.common import Fault
from tests.e2e.helpers import (
    REFUSE_SENT_TRIGGER,
    assert_exactly_one_dm,
    button,
    db_rows,
    embed_text,
    requests_to,
    wait_for_log,
    wait_for_row,
    wait_until,
    write_outside,
)
from tests.e2e.journeys import (
    boost_confirmation,
    dm_path,
    link,
    open_buy_form,
    press,
    submit_buy_form,
)

SECRET = "login: sam@example.com / pass: DM-ONCE-SECRET-8812"
BUYER_FACING_FAILURES = ("something went wrong", "only the buyer who started")


# Short re-send waits and a short reconciliation age, so background outcomes happen
# within a test; the logic is the same as with the defaults.
pytestmark = pytest.mark.stack(
    env={"RESUBMIT_DELAYS_SECONDS": "0.5,0.5", "DM_RECONCILE_AFTER_SECONDS": "1"}
)


async def confirmed_checkout(stack: LocalStack) -> str:
    buyer = stack.emulator.world.buyer_id
    form = await open_buy_form(stack, buyer, "streaming-1m", 1)
    confirmation = await submit_buy_form(stack, buyer, form)
    pressed = await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
    result = await pressed.wait_for_original(
        lambda m: not m.get("components"), timeout=15
    )  # the buttons go once the outcome is shown
    text = embed_text(result).lower()
    assert "keep trying" in text and "try again" not in text, text
    (row,) = db_rows(stack, "SELECT id FROM orders WHERE status != 'draft'")
    return str(row["id"])


def answers(stack: LocalStack, pressed: Any) -> int:
    """How many answers the bot gave a button press: followups, and edits of the message
    the button was on (PATCH @original with the press's own token)."""
    edits = [
        r
        for r in stack.emulator.requests
        if r.method == "PATCH"
        and r.path.endswith(f"/{pressed.token}/messages/@original")
        and r.status == 200
    ]
    return len(pressed.followups) + len(edits)


def dms_about(stack: LocalStack, user_id: int, order_id: str) -> list[dict[str, Any]]:
    return [m for m in stack.emulator.dms(user_id) if order_id in embed_text(m)]


# --- 4. buyers never see each other's orders --------------------------------------------


async def test_two_buyers_with_buy_forms_open_at_once_each_get_their_own(
    stack: LocalStack,
) -> None:
    world = stack.emulator.world
    first = await open_buy_form(stack, world.buyer_id, "streaming-1m", 1)
    second = await open_buy_form(stack, world.buyer2_id, "game-key", 3)
    assert first.modal["custom_id"] != second.modal["custom_id"]
    mine, theirs = await asyncio.gather(
        submit_buy_form(stack, world.buyer_id, first),
        submit_buy_form(stack, world.buyer2_id, second),
    )
    assert "Streaming account" in embed_text(mine) and "× ₹199.00" in embed_text(mine)
    assert "Game key" in embed_text(theirs) and "3 × ₹499.00" in embed_text(theirs)
    drafts = db_rows(stack, "SELECT user_id, product_key, quantity FROM orders ORDER BY user_id")
    assert {(r["user_id"], r["product_key"], r["quantity"]) for r in drafts} == {
        (world.buyer_id, "streaming-1m", 1),
        (world.buyer2_id, "game-key", 3),
    }


# --- 5. clear answers at the edges -------------------------------------------------------


async def test_a_form_submitted_after_a_restart_gets_an_answer(stack: LocalStack) -> None:
    buyer = stack.emulator.world.buyer_id
    form = await open_buy_form(stack, buyer, "streaming-1m", 1)
    await stack.stop_bot()
    await stack.start_bot()
    submitted = await stack.emulator.submit_modal(
        buyer,
        form.modal["custom_id"],
        {"contact:phone": "+91 98765 43210", "contact:name": "", "contact:email": ""},
        source_interaction=form,
    )
    answer = await submitted.wait_for_response(timeout=10)
    assert (
        "expired" in answer["data"]["content"]
        and "Nothing was ordered" in answer["data"]["content"]
    )
    assert db_rows(stack, "SELECT id FROM orders") == []


async def test_confirm_after_cancel_says_it_was_cancelled(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    _, confirmation = await boost_confirmation(stack)
    await press(stack, buyer, confirmation, button(confirmation, "order:cancel:"))
    late = await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    await late.wait_for_response()
    note = await late.wait_for_followup(timeout=10)
    assert "cancelled" in note["content"] and "nothing was ordered" in note["content"]
    assert not any(f in note["content"].lower() for f in BUYER_FACING_FAILURES)
    assert requests_to(stack, "boost") == []


async def test_confirm_and_cancel_pressed_at_once_each_get_a_clear_answer(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    _, confirmation = await boost_confirmation(stack)
    confirm, cancel = await asyncio.gather(
        emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:")),
        emu.press_button(buyer, confirmation, button(confirmation, "order:cancel:")),
    )
    # Each press ends with one answer, the last thing its handler does: an edit of the
    # message it was pressed on, or a followup. Once both are in, neither does any more.
    await wait_until(
        lambda: answers(stack, confirm) and answers(stack, cancel),
        30,
        lambda: f"not both answered: {confirm.summary()} {cancel.summary()}",
    )
    said = []
    for pressed in (confirm, cancel):
        said += [m.get("content") or "" for m in pressed.followups]
        if pressed.original_message:
            said.append(embed_text(pressed.original_message))
    blob = "\n".join(said).lower()
    assert not any(f in blob for f in BUYER_FACING_FAILURES), blob
    placed = len(requests_to(stack, "boost"))
    rows = db_rows(stack, "SELECT status FROM orders")
    if placed:  # Confirm won: the order exists, and Cancel said it can't cancel it
        assert [r["status"] for r in rows] == ["submitted"] and "can't be cancelled" in blob
    else:  # Cancel won: nothing exists, and Confirm said so
        assert rows == [] and "cancelled" in blob


async def test_drafts_are_not_orders_anywhere(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    _, confirmation = await boost_confirmation(stack)
    placed = await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
    await placed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=10)
    await boost_confirmation(stack)  # a second one, left unconfirmed
    drafts = db_rows(stack, "SELECT id FROM orders WHERE status = 'draft'")
    (real,) = db_rows(stack, "SELECT id FROM orders WHERE status != 'draft'")
    assert len(drafts) == 1
    listing = await emu.send_slash_command(buyer, "orders")
    await listing.wait_for_response()
    page = embed_text(await listing.wait_for_followup(timeout=10))
    assert real["id"] in page and drafts[0]["id"] not in page and "1 order" in page
    offered = await emu.send_autocomplete(buyer, "order", {"id": ""}, "id")
    assert [c["value"] for c in offered] == [real["id"]]
    asked = await emu.send_slash_command(buyer, "order", {"id": drafts[0]["id"]})
    await asked.wait_for_response()
    assert "No order" in (await asked.wait_for_followup(timeout=10))["content"]


async def test_an_overlong_order_id_gets_a_short_clear_refusal(stack: LocalStack) -> None:
    emu = stack.emulator
    # Discord's client refuses it before it is sent (the option has max_length 40) ...
    with pytest.raises(OptionError, match="max_length"):
        await emu.send_slash_command(emu.world.buyer_id, "order", {"id": "X" * 4000})
    # ... and the longest id it lets through gets a short answer that fits.
    asked = await emu.send_slash_command(emu.world.buyer_id, "order", {"id": "`" * 40})
    await asked.wait_for_response()
    reply = (await asked.wait_for_followup(timeout=10))["content"]
    assert reply.startswith("No order") and len(reply) < 150


# --- 2. every outcome reaches the buyer, once ----------------------------------------------


async def test_a_later_refusal_reaches_the_buyer_once(stack: LocalStack) -> None:
    checkout = stack.sandbox.state("checkout")
    checkout.add_fault(Fault("server_error", count=3, method="POST"))  # the adapter's 3 tries
    checkout.add_fault(Fault("conflict", method="POST"))  # the re-send: 409
    order_id = await confirmed_checkout(stack)
    dm = await assert_exactly_one_dm(stack, stack.emulator.world.buyer_id, order_id)
    assert "checked by staff" in embed_text(dm)
    (row,) = db_rows(stack, "SELECT status FROM orders WHERE id = ?", (order_id,))
    assert row["status"] == "needs_review"


async def test_a_later_422_reaches_the_buyer_once(stack: LocalStack) -> None:
    checkout = stack.sandbox.state("checkout")
    checkout.add_fault(Fault("server_error", count=3, method="POST"))
    checkout.add_fault(Fault("rejected", method="POST"))
    order_id = await confirmed_checkout(stack)
    # The first send got 500s (nothing stored), so a refusal of the re-send is final.
    dm = await assert_exactly_one_dm(stack, stack.emulator.world.buyer_id, order_id)
    (row,) = db_rows(stack, "SELECT status FROM orders WHERE id = ?", (order_id,))
    assert row["status"] in ("failed", "needs_review")
    assert ("failed" in embed_text(dm)) == (row["status"] == "failed")


async def test_giving_up_reaches_the_buyer_once(stack: LocalStack) -> None:
    stack.sandbox.state("checkout").add_fault(Fault("server_error", count=-1, method="POST"))
    order_id = await confirmed_checkout(stack)
    dm = await assert_exactly_one_dm(stack, stack.emulator.world.buyer_id, order_id)
    assert "checked by staff" in embed_text(dm)
    (row,) = db_rows(stack, "SELECT status FROM orders WHERE id = ?", (order_id,))
    assert row["status"] == "needs_review"
    # The first send and one re-send per configured wait, each tried 3 times by the adapter.
    assert len(requests_to(stack, "checkout")) == 3 * 3


@pytest.mark.stack(process=True)  # kill -9
async def test_a_boost_caught_by_a_crash_reaches_the_buyer_once(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    boost = stack.sandbox.state("boost")
    boost.hang_seconds = 30
    boost.add_fault(Fault("hang", method="POST"))
    _, confirmation = await boost_confirmation(stack)
    await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    await wait_for_row(
        stack, "SELECT status FROM orders", (), lambda r: r["status"] == "submitting"
    )
    # The POST is at the provider, hanging: logged on arrival, its order created (a hang
    # answers late, after the work is done).
    await wait_until(
        lambda: requests_to(stack, "boost") and boost.orders,
        30,
        lambda: f"the POST never reached boost: {requests_to(stack, 'boost')}",
    )
    assert await stack.stop_bot(kill=True) == -9
    await stack.start_bot()
    (row,) = db_rows(stack, "SELECT id FROM orders")
    dm = await assert_exactly_one_dm(stack, buyer, row["id"])
    assert "checked by staff" in embed_text(dm)
    assert len(requests_to(stack, "boost")) == 1


# --- 3. at most one DM per order and kind ----------------------------------------------------


async def test_a_completion_dm_stored_then_502_on_every_try_arrives_once(
    stack: LocalStack,
) -> None:
    world = stack.emulator.world
    remote = stack.sandbox.state("digital_shop").create_order(
        deliveryData=SECRET,
        timeline=[{"after": 0, "status": "PENDING"}, {"after": 2, "status": "COMPLETED"}],
    )
    # Discord stores the DM, then answers 502 to each of discord.py's five tries.
    stack.emulator.inject_store_then_fail("POST", dm_path(stack), 502, count=5)
    order_id = await link(stack, "digital_shop", remote, world.buyer_id)
    dm = await assert_exactly_one_dm(stack, world.buyer_id, order_id)
    assert SECRET in dm["content"]
    # discord.py's five tries (its own backoff, shortened by the test stack), then our
    # retry finds the DM in the history: the row is `sent`, and no second DM went out.
    await wait_for_row(
        stack,
        "SELECT state FROM notifications WHERE order_id = ?",
        (order_id,),
        lambda r: r["state"] == "sent",
        within=60,
    )
    assert len(dms_about(stack, world.buyer_id, order_id)) == 1


async def test_a_failed_write_after_the_send_sends_no_second_dm(stack: LocalStack) -> None:
    world = stack.emulator.world
    # SQLite refuses to record a DM as sent (a full disk, say) until the trigger goes.
    # The trigger waits its turn behind the running bot's writes (up to a minute on a
    # loaded machine; sqlite3's default is 5 s).
    await write_outside(stack, REFUSE_SENT_TRIGGER)
    remote = stack.sandbox.state("digital_shop").create_order(
        deliveryData=SECRET, timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    order_id = await link(stack, "digital_shop", remote, world.buyer_id)
    await stack.emulator.wait_for_dm(
        world.buyer_id, timeout=30, predicate=lambda m: order_id in embed_text(m)
    )
    # The bot sent it and then failed to record that: the row stays `sending`, which no
    # send picks up again (only reconciliation, which looks in the history first).
    await wait_for_log(stack, "went out but recording it failed")
    (row,) = db_rows(stack, "SELECT state FROM notifications WHERE order_id = ?", (order_id,))
    assert row["state"] == "sending"
    assert len(dms_about(stack, world.buyer_id, order_id)) == 1
    await write_outside(stack, "DROP TRIGGER refuse_sent")
    await wait_for_row(
        stack,
        "SELECT state FROM notifications WHERE order_id = ?",
        (order_id,),
        lambda r: r["state"] == "sent",
        within=30,
    )
    assert len(dms_about(stack, world.buyer_id, order_id)) == 1


# --- 1. recovery is independent, and it retries ------------------------------------------


@pytest.mark.stack(process=True)  # kill -9
async def test_a_dropped_connection_in_startup_reconciliation_stops_nothing(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    world = emu.world
    # A DM in flight: Discord has stored it and holds the answer.
    remote = stack.sandbox.state("digital_shop").create_order(
        deliveryData=SECRET, timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    emu.inject_store_then_fail("POST", dm_path(stack), 502, delay=30)
    dm_order = await link(stack, "digital_shop", remote, world.buyer_id)
    await emu.wait_for_dm(world.buyer_id, timeout=15, predicate=lambda m: dm_order in embed_text(m))
    # And a checkout send in flight: stored at the provider, the answer held.
    checkout = stack.sandbox.state("checkout")
    checkout.hang_seconds = 30
    checkout.add_fault(Fault("hang", count=-1, method="POST"))
    buyer = world.buyer2_id
    form = await open_buy_form(stack, buyer, "streaming-1m", 1)
    confirmation = await submit_buy_form(stack, buyer, form)
    await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM orders WHERE status = 'submitting'",
        (),
        lambda r: r["n"] == 1,
    )
    # The POST is at the provider, hanging: logged on arrival, its order stored.
    await wait_until(
        lambda: requests_to(stack, "checkout") and checkout.orders,
        30,
        lambda: f"the POST never reached checkout: {requests_to(stack, 'checkout')}",
    )
    assert await stack.stop_bot(kill=True) == -9
    (leftover,) = db_rows(stack, "SELECT id FROM orders WHERE status = 'submitting'")
    checkout.clear_faults()
    emu.clear_faults()
    # The restarted bot's first look at the DM history: the connection drops.
    emu.inject_store_then_fail("GET", r"^/channels/\d+/messages$", drop=True)
    await stack.start_bot()
    # Submission recovery still ran: the same request again, and the order is placed.
    await wait_for_row(
        stack,
        "SELECT status FROM orders WHERE id = ?",
        (leftover["id"],),
        lambda r: r["status"] == "submitted",
        within=20,
    )
    assert {r.json["id"] for r in requests_to(stack, "checkout")} == {leftover["id"]}
    assert list(checkout.orders) == [leftover["id"]]
    # And the reconciliation was retried: the DM is found, never sent twice.
    await wait_for_row(
        stack,
        "SELECT state FROM notifications WHERE order_id = ?",
        (dm_order,),
        lambda r: r["state"] == "sent",
        within=30,
    )
    assert len(dms_about(stack, world.buyer_id, dm_order)) == 1
