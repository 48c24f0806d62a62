"""Buyer journeys 1, 2 and 4 end to end: the real bot process, the Discord emulator
and the sandbox providers. Assertions are on what the emulator received, what the
sandbox received, and the rows in the bot's own SQLite file."""

from __future__ import annotations

from typing import Any

import pytest

from demo.stack import LocalStack
from sandbox.common import Fault
from tests.e2e.helpers import (
    EPHEMERAL,
    button,
    database_bytes,
    db_rows,
    embed_text,
    requests_to,
    wait_until,
)
from tests.e2e.journeys import boost_confirmation, buy_confirmation, press

# On both engines (issue 26).
pytestmark = pytest.mark.both_engines


async def test_boost_happy_path(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    _, confirmation = await boost_confirmation(stack)
    text = embed_text(confirmation)
    assert confirmation["flags"] & EPHEMERAL
    assert "$14.00 USD" in text and "4 × $3.50 USD" in text
    assert "Demo Server" in text  # resolved through GET /invites/shopdemo
    assert requests_to(stack, "boost") == []  # nothing sent before Confirm
    (draft,) = db_rows(stack, "SELECT id, status FROM orders")
    assert draft["status"] == "draft"

    pressed = await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
    result = await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=10)
    assert draft["id"] in embed_text(result)
    assert not result.get("components")  # buttons removed

    (sent,) = requests_to(stack, "boost")
    assert sent.json == {"inviteCode": "shopdemo", "amount": "4"}
    (row,) = db_rows(stack, "SELECT * FROM orders")
    assert row["status"] == "submitted" and row["raw_status"] == "PENDING"
    assert row["remote_id"] in stack.sandbox.state("boost").orders
    staff = await emu.wait_for_channel_message(
        emu.world.staff_channel_id, timeout=10, predicate=lambda m: row["id"] in m["content"]
    )
    assert "New order" in staff["content"] and "$14.00 USD" in staff["content"]


async def test_double_confirm_and_redelivery_order_once(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    _, confirmation = await boost_confirmation(stack)
    confirm_id = button(confirmation, "order:confirm:")
    first = await emu.press_button(buyer, confirmation, confirm_id)
    second = await emu.press_button(buyer, confirmation, confirm_id)
    await first.wait_for_response()
    await second.wait_for_response()
    await emu.redeliver(first)  # Discord delivers the same interaction again
    # The two presses race (on PostgreSQL truly in parallel): whichever claims the order
    # places it, and the other is told it was already confirmed.
    presses = (first, second)

    def settled() -> tuple[Any, Any] | None:
        for winner, loser in (presses, presses[::-1]):
            shown = winner.original_message
            if shown and "placed" in embed_text(shown) and loser.followups:
                return winner, loser
        return None

    await wait_until(settled, 10, lambda: "no press was placed with the other one told")
    outcome = settled()
    assert outcome is not None
    assert "already confirmed" in outcome[1].followups[0]["content"]
    assert len(requests_to(stack, "boost")) == 1
    assert len(db_rows(stack, "SELECT id FROM orders")) == 1


async def test_only_the_buyer_sees_and_presses_confirm(stack: LocalStack) -> None:
    emu = stack.emulator
    _, confirmation = await boost_confirmation(stack)
    with pytest.raises(PermissionError):  # ephemeral: nobody else can even see it
        await emu.press_button(
            emu.world.buyer2_id, confirmation, button(confirmation, "order:confirm:")
        )
    assert requests_to(stack, "boost") == []


async def test_cancel_orders_nothing(stack: LocalStack) -> None:
    emu = stack.emulator
    _, confirmation = await boost_confirmation(stack)
    pressed = await press(
        stack, emu.world.buyer_id, confirmation, button(confirmation, "order:cancel:")
    )
    done = await pressed.wait_for_original(lambda m: "cancelled" in embed_text(m), timeout=10)
    assert "Nothing was ordered" in embed_text(done)
    assert db_rows(stack, "SELECT id FROM orders") == []
    assert requests_to(stack, "boost") == []


async def test_buy_happy_path_sends_our_id_contact_and_amounts(stack: LocalStack) -> None:
    emu = stack.emulator
    confirmation = await buy_confirmation(stack)
    assert "₹398.00 INR" in embed_text(confirmation)
    pressed = await press(
        stack, emu.world.buyer_id, confirmation, button(confirmation, "order:confirm:")
    )
    await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=10)
    (row,) = db_rows(stack, "SELECT * FROM orders")
    (sent,) = requests_to(stack, "checkout")
    assert sent.json["id"] == row["id"]
    assert sent.json["contact"] == {"phone_number": "+919876543210", "name": "Asha"}
    assert sent.json["items"] == [
        {"name": "Streaming account, 1 month", "amount": 19900, "quantity": 2, "sale_amount": 19900}
    ]
    assert sent.json["total_amount"] == 39800 and sent.json["currency"] == "INR"
    assert row["status"] == "submitted" and row["remote_id"] == row["id"]
    # The phone number is encrypted at rest.
    assert b"9876543210" not in database_bytes(stack)


async def test_buy_422_is_a_clear_error_and_a_failed_order(stack: LocalStack) -> None:
    emu = stack.emulator
    stack.sandbox.state("checkout").add_fault(Fault("rejected", method="POST"))
    confirmation = await buy_confirmation(stack)
    pressed = await press(
        stack, emu.world.buyer_id, confirmation, button(confirmation, "order:confirm:")
    )
    result = await pressed.wait_for_original(
        lambda m: "could not be placed" in embed_text(m), timeout=10
    )
    assert "phone_number" in embed_text(result)
    (row,) = db_rows(stack, "SELECT status, status_message FROM orders")
    assert row["status"] == "failed" and "phone_number" in row["status_message"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"invite": "not an invite!!", "amount": 4}, "doesn't look like a Discord invite"),
        ({"invite": "discord.gg/nosuchinvite", "amount": 4}, "unknown or has expired"),
    ],
)
async def test_bad_boost_input_is_explained_and_orders_nothing(
    stack: LocalStack, options: dict[str, Any], expected: str
) -> None:
    emu = stack.emulator
    driven = await emu.send_slash_command(emu.world.buyer_id, "boost", options)
    await driven.wait_for_response()
    error = await driven.wait_for_followup(timeout=10)
    assert expected in error["content"] and error["flags"] & EPHEMERAL
    assert db_rows(stack, "SELECT id FROM orders") == []
    assert requests_to(stack, "boost") == []


async def test_unknown_product_and_bad_phone_order_nothing(stack: LocalStack) -> None:
    emu = stack.emulator
    driven = await emu.send_slash_command(
        emu.world.buyer_id, "buy", {"product": "nope", "quantity": 1}
    )
    first = await driven.wait_for_response()
    assert first["type"] == 4 and "no product `nope`" in first["data"]["content"]
    bad_phone = await buy_confirmation(stack, phone="12345abc")
    assert "phone number doesn't look right" in bad_phone["content"]
    assert db_rows(stack, "SELECT id FROM orders") == []
    assert requests_to(stack, "checkout") == []


async def test_product_autocomplete_offers_enabled_digital_products(stack: LocalStack) -> None:
    emu = stack.emulator
    choices = await emu.send_autocomplete(emu.world.buyer_id, "buy", {"product": ""}, "product")
    assert {c["value"] for c in choices} == {"streaming-1m", "game-key"}
    narrowed = await emu.send_autocomplete(
        emu.world.buyer_id, "buy", {"product": "steam"}, "product"
    )
    assert [c["value"] for c in narrowed] == ["game-key"]


async def test_orders_and_order_show_only_the_callers_orders(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer, other = emu.world.buyer_id, emu.world.buyer2_id
    _, confirmation = await boost_confirmation(stack)
    pressed = await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=10)
    (row,) = db_rows(stack, "SELECT id FROM orders")
    order_id = row["id"]

    mine = await emu.send_slash_command(buyer, "orders")
    await mine.wait_for_response()
    listing = await mine.wait_for_followup(timeout=10)
    assert order_id in embed_text(listing) and listing["flags"] & EPHEMERAL

    theirs = await emu.send_slash_command(other, "orders")
    await theirs.wait_for_response()
    assert order_id not in embed_text(await theirs.wait_for_followup(timeout=10))

    detail = await emu.send_slash_command(buyer, "order", {"id": order_id})
    await detail.wait_for_response()
    shown = embed_text(await detail.wait_for_followup(timeout=10))
    assert order_id in shown and "submitted" in shown and "$14.00 USD" in shown

    snoop = await emu.send_slash_command(other, "order", {"id": order_id})
    await snoop.wait_for_response()
    refused = await snoop.wait_for_followup(timeout=10)
    assert "No order" in refused["content"] and "Server Boost" not in embed_text(refused)
    missing = await emu.send_slash_command(other, "order", {"id": "ORD-0000000000"})
    await missing.wait_for_response()
    # Exactly the same answer as for an order that doesn't exist.
    assert (await missing.wait_for_followup(timeout=10))["content"].replace(
        "ORD-0000000000", order_id
    ) == refused["content"]

    assert [c["value"] for c in await emu.send_autocomplete(buyer, "order", {"id": ""}, "id")] == [
        order_id
    ]
    assert await emu.send_autocomplete(other, "order", {"id": ""}, "id") == []


async def test_per_user_cooldown_and_paused_shop(tmp_path: Any) -> None:

    async with LocalStack(
        tmp_path / "cooldown",
        env={"ORDER_COOLDOWN_SECONDS": "120"},
        in_process=True,
        fast=True,
    ) as stack:
        emu = stack.emulator
        buyer = emu.world.buyer_id
        await boost_confirmation(stack)
        again = await emu.send_slash_command(buyer, "boost", {"invite": "shopdemo", "amount": 4})
        refused = await again.wait_for_response()
        assert refused["type"] == 4 and "Slow down" in refused["data"]["content"]
        assert refused["data"]["flags"] & EPHEMERAL
        # Another buyer is not affected by the first one's cooldown...
        other = await emu.send_slash_command(
            emu.world.buyer2_id, "boost", {"invite": "shopdemo", "amount": 4}
        )
        await other.wait_for_response()
        assert "Confirm" in embed_text(await other.wait_for_followup(timeout=10))
        # ...but nobody can order while staff have paused the shop.
        await stack.admin("shop pause", {"reason": "stocktaking"})
        third = emu.add_member("carol")
        paused = await emu.send_slash_command(third, "boost", {"invite": "shopdemo", "amount": 4})
        await paused.wait_for_response()
        assert "paused" in (await paused.wait_for_followup(timeout=10))["content"]
        stack.emulator.assert_no_contract_violations()


async def test_a_confirm_result_that_cant_be_shown_never_says_try_again(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    _, confirmation = await boost_confirmation(stack)
    # Discord applies the edit of the confirmation but answers 404 (an expired token, a
    # flaky edge): the order is placed, only showing it "failed".
    emu.inject_store_then_fail("PATCH", r"^/webhooks/\d+/[^/]+/messages/@original$", 404)
    pressed = await press(
        stack, emu.world.buyer_id, confirmation, button(confirmation, "order:confirm:")
    )
    note = await pressed.wait_for_followup(timeout=10)
    (row,) = db_rows(stack, "SELECT id, status FROM orders")
    assert row["status"] == "submitted"
    assert row["id"] in note["content"] and "Don't confirm it again" in note["content"]
    assert "try again" not in note["content"].lower()
    assert len(requests_to(stack, "boost")) == 1
