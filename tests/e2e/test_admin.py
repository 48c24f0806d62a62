"""Journey 3 and the order half of journey 5: staff finish, fix and track orders with typed
/admin commands, through the emulator, against the real bot process and the sandboxes.
Every state change is checked for its audit row (actor = the staff member) and its one
staff-channel line; every refusal is checked to change nothing."""

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
    nothing_owed,
    polled_again,
    requests_to,
    wait_for_row,
)
from tests.e2e.journeys import buy_confirmation, placed_buy, press, staff_line, submit_modal

# On both engines (issue 26).
pytestmark = pytest.mark.both_engines

PHONE_DIGITS = "9876543210"
SECRET = "KEY-ZX81-SECRET-7731"


# What a staff action could change (poll bookkeeping and posting times are the bot's own).
SNAPSHOT = {
    "orders": "id, status, user_id, status_message, remote_id, delivery_enc, contact_enc",
    "order_events": "*",
    "notifications": "id, order_id, kind, user_id",
    "staff_alerts": "id, kind, message",
    "audit_log": "*",
}


def snapshot(stack: LocalStack) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [tuple(r) for r in db_rows(stack, f"SELECT {cols} FROM {table} ORDER BY 1")]  # noqa: S608
        for table, cols in SNAPSHOT.items()
    }


def staff_events(stack: LocalStack, order_id: str) -> list[tuple[str, str | None, str | None]]:
    staff = str(stack.emulator.world.staff_id)
    return [
        (r["kind"], r["new_status"], r["detail"])
        for r in db_rows(
            stack,
            "SELECT kind, new_status, detail FROM order_events WHERE order_id = ? AND actor = ?"
            " ORDER BY id",
            (order_id, staff),
        )
    ]


def staff_channel_text(stack: LocalStack) -> str:
    emu = stack.emulator
    return "\n".join(embed_text(m) for m in emu.channel_messages(emu.world.staff_channel_id))


async def boost_needing_review(stack: LocalStack) -> str:
    """A boost whose POST got a 5xx: the provider may or may not have it."""
    emu = stack.emulator
    stack.sandbox.state("boost").add_fault(Fault("server_error", method="POST"))
    driven = await emu.send_slash_command(
        emu.world.buyer_id, "boost", {"invite": "shopdemo", "amount": 3}
    )
    await driven.wait_for_response()
    confirmation = await driven.wait_for_followup(timeout=10)
    pressed = await press(
        stack, emu.world.buyer_id, confirmation, button(confirmation, "order:confirm:")
    )
    await pressed.wait_for_original(lambda m: "Staff are checking" in embed_text(m), timeout=15)
    (row,) = db_rows(stack, "SELECT id, status FROM orders WHERE status = 'needs_review'")
    return str(row["id"])


# --- access ---------------------------------------------------------------------------------


async def test_admin_is_refused_to_non_staff_and_outside_the_staff_channel(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    world = emu.world
    remote = stack.sandbox.state("digital_shop").create_order(
        timeline=[{"after": 0, "status": "PROCESSING"}]
    )
    order_id = await stack.staff_link_order("digital_shop", remote, world.buyer_id)
    await staff_line(stack, f"as order `{order_id}`")
    await wait_for_row(
        stack,
        "SELECT status FROM orders WHERE id = ?",
        (order_id,),
        lambda r: r["status"] == "processing",
    )
    before = snapshot(stack)
    lines_before = len(emu.channel_messages(world.staff_channel_id))
    dms_before = [m for m in emu.dms(world.buyer_id) if order_id in embed_text(m)]
    attempt = {"order_id": order_id, "status": "cancelled", "note": "let me have it"}

    # A buyer: Discord hides /admin (default_permissions), so the bot never hears of it.
    try:
        await emu.send_slash_command(
            world.buyer_id, "admin", attempt, subcommand_path="order set-status"
        )
        raise AssertionError("the emulator let a buyer run a hidden command")
    except PermissionError:
        pass

    # A server admin's override lets a member without the staff role *see* /admin.
    await emu.set_command_permissions(
        "admin",
        [
            {"id": world.staff_role_id, "type": 1, "permission": True},
            {"id": world.buyer_id, "type": 2, "permission": True},
        ],
    )
    _, refused = await stack.admin(
        "order set-status", attempt, user_id=world.buyer_id, channel_id=world.general_channel_id
    )
    assert refused["content"] == "Only staff can use `/admin`."
    assert refused["flags"] & EPHEMERAL
    # Autocomplete runs no checks in discord.py: the bot's own refusal keeps ids private.
    choices = await emu.send_autocomplete(
        world.buyer_id,
        "admin",
        {"order_id": order_id[:6]},
        "order_id",
        subcommand_path="order view",
        channel_id=world.general_channel_id,
    )
    assert choices == []

    # Staff, but not in the staff channel.
    _, elsewhere = await stack.admin(
        "order set-status", attempt, channel_id=world.general_channel_id
    )
    assert "staff channel" in elsewhere["content"]
    assert f"<#{world.staff_channel_id}>" in elsewhere["content"]

    # The refusals ran no command (its check failed first, and the refusal is the last
    # thing the bot does with it). The poll job has been round again since, nothing is owed
    # to the buyer and no staff line waits: with the same rows as before, nothing can be
    # posted, and nothing was.
    await polled_again(stack, "digital_shop", remote)
    await nothing_owed(stack, order_id)
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM staff_alerts WHERE posted_at IS NULL AND failed_at IS NULL",
        (),
        lambda r: r["n"] == 0,
    )
    assert snapshot(stack) == before
    assert len(emu.channel_messages(world.staff_channel_id)) == lines_before
    assert [m for m in emu.dms(world.buyer_id) if order_id in embed_text(m)] == dms_before
    log = stack.bot_log()
    assert f"refused /admin order set-status for user {world.buyer_id}" in log
    assert f"refused /admin order set-status for user {world.staff_id}" in log
    assert "refused /admin order view" not in log  # autocomplete is refused quietly


# --- deliver ----------------------------------------------------------------------------------


async def test_deliver_as_text_and_as_a_file(stack: LocalStack) -> None:
    emu = stack.emulator
    world = emu.world
    typed_id = await placed_buy(stack)
    filed_id = await placed_buy(stack)

    opener, first = await stack.admin("order deliver", {"order_id": typed_id})
    assert first["type"] == 9 and opener.modal["custom_id"] == f"admin-deliver:{opener.id}"
    submitted = await submit_modal(stack, opener, {"deliver:text": f"user: asha\npass: {SECRET}"})
    reply = await submitted.wait_for_followup(timeout=15)
    assert "completed" in reply["content"] and reply["flags"] & EPHEMERAL

    long_delivery = "\n".join(f"KEY-{i:04d}-{SECRET}" for i in range(120))  # a file in the DM
    _, filed = await stack.admin(
        "order deliver",
        {
            "order_id": filed_id,
            "file": {
                "filename": "keys.txt",
                "data": long_delivery.encode(),
                "content_type": "text/plain",
            },
        },
    )
    assert "completed" in filed["content"]

    # The buyer gets each delivery by DM: inline, and as an attached file when long.
    typed_dm = await emu.wait_for_dm(
        world.buyer_id, timeout=20, predicate=lambda m: typed_id in embed_text(m)
    )
    assert f"pass: {SECRET}" in typed_dm["content"]
    filed_dm = await emu.wait_for_dm(
        world.buyer_id, timeout=20, predicate=lambda m: filed_id in embed_text(m)
    )
    [attachment] = filed_dm["attachments"]
    assert emu.attachment_bytes(attachment).decode() == long_delivery

    # /order shows the owner their delivery again.
    mine = await emu.send_slash_command(world.buyer_id, "order", {"id": typed_id})
    await mine.wait_for_response()
    shown = await mine.wait_for_followup(timeout=10)
    assert SECRET in shown["content"]

    # Staff see one line each, masked; the secret is nowhere public, nor in the database.
    await staff_line(stack, f"delivered order `{typed_id}`")
    await staff_line(stack, f"delivered order `{filed_id}`")
    assert SECRET not in staff_channel_text(stack)
    assert SECRET not in stack.bot_log()
    assert SECRET.encode() not in database_bytes(stack)
    for order_id in (typed_id, filed_id):
        (row,) = db_rows(stack, "SELECT status FROM orders WHERE id = ?", (order_id,))
        assert row["status"] == "completed"
        events = staff_events(stack, order_id)
        assert ("status", "completed", events[0][2]) in events
        assert any(kind == "delivery" for kind, _, _ in events)
    # A finished order can't be delivered twice.
    _, again = await stack.admin("order deliver", {"order_id": typed_id})
    assert "only an open order can be delivered" in again["content"]


# --- view, reveal, list -------------------------------------------------------------------------


async def test_view_is_masked_and_reveal_is_audited(stack: LocalStack) -> None:
    emu = stack.emulator
    world = emu.world
    order_id = await placed_buy(stack)

    listed_ix, listed = await stack.admin("orders", {"status": "submitted"})
    text = embed_text(listed)
    assert order_id in text and "submitted 1" in text and listed["flags"] & EPHEMERAL
    names = await emu.send_autocomplete(
        world.staff_id,
        "admin",
        {"order_id": "buyer"},
        "order_id",
        subcommand_path="order view",
        channel_id=world.staff_channel_id,
    )
    assert [c["value"] for c in names] == [order_id]  # found by the buyer's name

    view_ix, view = await stack.admin("order view", {"order_id": order_id})
    shown = embed_text(view)
    assert PHONE_DIGITS not in shown and "Asha" not in shown
    assert "+91 ••••• ••210" in shown
    assert "checkout" in shown and "submitted" in shown and "Timeline" in shown
    reveal = button(view, "admin-reveal:")
    assert reveal == f"admin-reveal:{view_ix.id}"
    before = len(staff_events(stack, order_id))

    pressed = await emu.press_button(world.staff_id, view, reveal)
    await pressed.wait_for_response()
    revealed = await pressed.wait_for_followup(timeout=10)
    assert revealed["flags"] & EPHEMERAL
    assert f"+91{PHONE_DIGITS}" in revealed["content"] and "Asha" in revealed["content"]

    events = staff_events(stack, order_id)
    assert len(events) == before + 1 and events[-1][0] == "reveal"
    line = await staff_line(stack, f"revealed the contact of order `{order_id}`")
    assert PHONE_DIGITS not in line["content"]
    assert PHONE_DIGITS not in stack.bot_log()
    # Read-only commands are logged, not audited.
    assert f"staff {world.staff_id}: viewed order {order_id}" in stack.bot_log()
    del listed_ix


# --- set-status and resend --------------------------------------------------------------------


async def test_set_status_notifies_the_buyer_and_resend_owes_a_second_dm(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    world = emu.world
    order_id = await placed_buy(stack)

    _, done = await stack.admin(
        "order set-status",
        {"order_id": order_id, "status": "cancelled", "note": "Out of stock, sorry"},
    )
    assert "now **cancelled**" in done["content"]
    dm = await emu.wait_for_dm(
        world.buyer_id, timeout=20, predicate=lambda m: order_id in embed_text(m)
    )
    assert "was cancelled" in embed_text(dm) and "Out of stock, sorry" in embed_text(dm)
    await staff_line(stack, f"set order `{order_id}` from submitted to **cancelled**")
    assert ("status", "cancelled", "set by staff: Out of stock, sorry") in staff_events(
        stack, order_id
    )
    # Only moves the state machine allows: a cancelled order stays cancelled.
    _, illegal = await stack.admin(
        "order set-status", {"order_id": order_id, "status": "processing", "note": "reopen"}
    )
    assert "can't become **processing**" in illegal["content"]

    _, resent = await stack.admin("order resend", {"order_id": order_id})
    assert "resend-1" in resent["content"]
    second = await emu.wait_for_dm(
        world.buyer_id, timeout=20, predicate=lambda m: "resend-1" in embed_text(m)
    )
    assert order_id in embed_text(second)
    await staff_line(stack, f"resent the DM for order `{order_id}`")
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM notifications WHERE order_id = ? AND state = 'sent'",
        (order_id,),
        lambda r: r["n"] == 2,
    )
    assert [m for m in emu.dms(world.buyer_id) if order_id in embed_text(m)] == [dm, second]


# --- link ---------------------------------------------------------------------------------------


async def test_link_is_audited_and_refuses_bad_unknown_and_duplicate_ids(
    stack: LocalStack,
) -> None:
    world = stack.emulator.world
    remote = stack.sandbox.state("namefi").create_order(
        timeline=[{"after": 0, "status": "CREATED"}, {"after": 1, "status": "SUCCEEDED"}]
    )
    order_id = await stack.staff_link_order("namefi", remote, world.buyer_id)
    await staff_line(stack, f"linked namefi `{remote}`")
    assert any(kind == "linked" for kind, _, _ in staff_events(stack, order_id))
    await wait_for_row(
        stack,
        "SELECT status, raw_status FROM orders WHERE id = ?",
        (order_id,),
        lambda r: r["status"] == "completed" and r["raw_status"] == "SUCCEEDED",
        within=20,
    )
    before = snapshot(stack)
    cases = [
        ({"provider": "digital_shop", "remote_id": "short"}, "12"),
        ({"provider": "namefi", "remote_id": "not-a-uuid"}, "UUID"),
        (
            {"provider": "digital_shop", "remote_id": "AAAAAAAAAAAA"},
            "doesn't know that order",
        ),
        ({"provider": "namefi", "remote_id": remote}, "already linked"),
    ]
    for options, expected in cases:
        _, answer = await stack.admin("order link", {**options, "member": world.buyer2_id})
        assert expected in answer["content"], (options, answer["content"])
    assert snapshot(stack)["orders"] == before["orders"]


# --- retry ----------------------------------------------------------------------------------------


async def test_needs_review_resubmit_sends_exactly_one_more_request(stack: LocalStack) -> None:
    emu = stack.emulator
    order_id = await boost_needing_review(stack)
    assert len(requests_to(stack, "boost")) == 1
    await staff_line(stack, f"Order `{order_id}`")

    retry_ix, offer = await stack.admin("order retry", {"order_id": order_id})
    assert "needs review" in offer["content"]
    resubmit = button(offer, f"admin-review:{retry_ix.id}:resubmit")
    pressed = await emu.press_button(emu.world.staff_id, offer, resubmit)
    await pressed.wait_for_response()
    result = await pressed.wait_for_followup(timeout=15)
    assert "submitted" in result["content"]
    assert len(requests_to(stack, "boost")) == 2
    (row,) = db_rows(stack, "SELECT status, remote_id FROM orders WHERE id = ?", (order_id,))
    assert row["status"] == "submitted" and row["remote_id"]
    await staff_line(stack, f"sent order `{order_id}` to boost again")
    assert ("status", "submitting", events_detail(stack, order_id)) in staff_events(stack, order_id)
    # A second press (another staff member, a double click) sends nothing more.
    again = await emu.press_button(emu.world.staff_id, offer, resubmit)
    await again.wait_for_response()
    refusal = await again.wait_for_followup(timeout=10)
    assert "not needs review" in refusal["content"]
    assert len(requests_to(stack, "boost")) == 2


def events_detail(stack: LocalStack, order_id: str) -> str:
    (row,) = db_rows(
        stack,
        "SELECT detail FROM order_events WHERE order_id = ? AND new_status = 'submitting'"
        " AND actor = ?",
        (order_id, str(stack.emulator.world.staff_id)),
    )
    return str(row["detail"])


async def test_needs_review_mark_placed_is_polled_and_mark_failed_tells_the_buyer(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    world = emu.world
    boost = stack.sandbox.state("boost")
    placed_id = await boost_needing_review(stack)
    # Staff find the order at the provider.
    remote = boost.create_order(
        timeline=[{"after": 0, "status": "PROCESSING"}, {"after": 2, "status": "COMPLETED"}]
    )
    retry_ix, offer = await stack.admin("order retry", {"order_id": placed_id})
    pressed = await emu.press_button(
        world.staff_id, offer, button(offer, f"admin-review:{retry_ix.id}:placed")
    )
    await pressed.wait_for_response()
    submitted = await submit_modal(stack, pressed, {"placed:remote_id": remote})
    answer = await submitted.wait_for_followup(timeout=15)
    assert f"`{remote}`" in answer["content"]
    # The buyer had been told staff were checking: they hear it is placed, then done.
    dm = await emu.wait_for_dm(
        world.buyer_id,
        timeout=30,
        predicate=lambda m: placed_id in embed_text(m) and "is complete" in embed_text(m),
    )
    assert "is complete" in embed_text(dm)
    assert len(requests_to(stack, "boost")) == 1  # never re-sent
    assert any(r.path == f"/order/{remote}" for r in requests_to(stack, "boost", "GET"))
    await staff_line(stack, f"marked order `{placed_id}` as placed")

    failed_id = await boost_needing_review(stack)
    retry_ix, offer = await stack.admin("order retry", {"order_id": failed_id})
    pressed = await emu.press_button(
        world.staff_id, offer, button(offer, f"admin-review:{retry_ix.id}:failed")
    )
    await pressed.wait_for_response()
    submitted = await submit_modal(stack, pressed, {"failed:note": "Boost reseller had no stock"})
    await submitted.wait_for_followup(timeout=15)
    # The "being checked by staff" DM came first; this is the one that settles it.
    dm = await emu.wait_for_dm(
        world.buyer_id,
        timeout=20,
        predicate=lambda m: failed_id in embed_text(m) and "checked by staff" not in embed_text(m),
    )
    assert "failed" in embed_text(dm) and "no stock" in embed_text(dm)
    assert ("status", "failed", "staff checked: not placed (Boost reseller had no stock)") in (
        staff_events(stack, failed_id)
    )
    assert len(requests_to(stack, "boost")) == 2  # one per order, nothing re-sent


async def test_failed_checkout_retried_is_one_order_at_the_provider(stack: LocalStack) -> None:
    emu = stack.emulator
    checkout = stack.sandbox.state("checkout")
    checkout.add_fault(Fault("rejected", method="POST"))
    confirmation = await buy_confirmation(stack)
    pressed = await press(
        stack, emu.world.buyer_id, confirmation, button(confirmation, "order:confirm:")
    )
    await pressed.wait_for_original(lambda m: "could not be placed" in embed_text(m), timeout=15)
    (row,) = db_rows(stack, "SELECT id, status FROM orders WHERE status = 'failed'")
    order_id = str(row["id"])
    assert checkout.orders == {}

    _, answer = await stack.admin("order retry", {"order_id": order_id})
    assert "placed" in answer["content"] and "submitted" in answer["content"]
    (row,) = db_rows(stack, "SELECT status, remote_id FROM orders WHERE id = ?", (order_id,))
    assert row["status"] == "submitted" and row["remote_id"] == order_id
    await staff_line(stack, f"sent order `{order_id}` to checkout again")
    # A second retry is refused: the order is no longer failed.
    _, again = await stack.admin("order retry", {"order_id": order_id})
    assert "only a failed submission can be retried" in again["content"]
    posts = requests_to(stack, "checkout")
    assert [p.json["id"] for p in posts] == [order_id, order_id]  # our id, both times
    assert list(checkout.orders) == [order_id]  # so the provider holds exactly one order
