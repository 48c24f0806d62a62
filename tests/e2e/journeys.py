"""The buyer's and staff's steps through Discord, shared by the end-to-end tests: open
/boost or /buy, fill the form, press a button, place an order, link one, answer a modal.

Each step drives the emulator as a user would and waits for the bot's answer; the state
readers (database rows, waits, message text) are in tests/e2e/helpers.py."""

from __future__ import annotations

from typing import Any

from demo.stack import LocalStack
from tests.e2e.helpers import EPHEMERAL, button, db_rows, embed_text

# --- buyers -------------------------------------------------------------------------------


async def press(stack: LocalStack, user_id: int, message: dict[str, Any], custom_id: str) -> Any:
    pressed = await stack.emulator.press_button(user_id, message, custom_id)
    await pressed.wait_for_response()
    return pressed


async def boost_confirmation(
    stack: LocalStack, invite: str = "https://discord.gg/shopdemo", amount: int = 4
) -> tuple[Any, dict[str, Any]]:
    emu = stack.emulator
    driven = await emu.send_slash_command(
        emu.world.buyer_id, "boost", {"invite": invite, "amount": amount}
    )
    first = await driven.wait_for_response()
    assert first["type"] == 5  # deferred, within Discord's 3 s
    assert first["data"]["flags"] & EPHEMERAL
    followup = await driven.wait_for_followup(timeout=10)
    return driven, followup


async def boost_draft(stack: LocalStack, user_id: int, amount: int = 3) -> dict[str, Any]:
    """/boost as `user_id`; returns the bot's first private answer (a confirmation or a
    refusal)."""
    driven = await stack.emulator.send_slash_command(
        user_id, "boost", {"invite": "shopdemo", "amount": amount}
    )
    first = await driven.wait_for_response()
    if first["type"] == 4:  # refused before any I/O (the role, a cooldown)
        return dict(first["data"])
    return await driven.wait_for_followup(timeout=10)


async def place_boost(stack: LocalStack, user_id: int, amount: int = 3) -> str:
    emu = stack.emulator
    driven = await emu.send_slash_command(
        user_id, "boost", {"invite": "shopdemo", "amount": amount}
    )
    await driven.wait_for_response()
    confirmation = await driven.wait_for_followup(timeout=10)
    pressed = await emu.press_button(user_id, confirmation, button(confirmation, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=15)
    rows = db_rows(
        stack, "SELECT id FROM orders WHERE user_id = ? ORDER BY created_at DESC", (user_id,)
    )
    return str(rows[0]["id"])


async def buy_confirmation(stack: LocalStack, phone: str = "+91 98765 43210") -> dict[str, Any]:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    driven = await emu.send_slash_command(buyer, "buy", {"product": "streaming-1m", "quantity": 2})
    first = await driven.wait_for_response()
    assert first["type"] == 9  # the contact modal
    submitted = await emu.submit_modal(
        buyer,
        first["data"]["custom_id"],
        {"contact:phone": phone, "contact:name": "Asha", "contact:email": ""},
        source_interaction=driven,
    )
    ack = await submitted.wait_for_response()
    if ack["type"] == 4:  # validation error answered directly
        return ack["data"]
    return await submitted.wait_for_followup(timeout=10)


async def open_buy_form(stack: LocalStack, user_id: int, product: str, quantity: int) -> Any:
    driven = await stack.emulator.send_slash_command(
        user_id, "buy", {"product": product, "quantity": quantity}
    )
    first = await driven.wait_for_response()
    assert first["type"] == 9, first
    return driven


async def submit_buy_form(stack: LocalStack, user_id: int, form: Any) -> dict[str, Any]:
    submitted = await stack.emulator.submit_modal(
        user_id,
        form.modal["custom_id"],
        {"contact:phone": "+91 98765 43210", "contact:name": "", "contact:email": ""},
        source_interaction=form,
    )
    await submitted.wait_for_response()
    followup: dict[str, Any] = await submitted.wait_for_followup(timeout=10)
    return followup


async def placed_buy(stack: LocalStack) -> str:
    """A /buy order the checkout API accepted: `submitted`, waiting for staff."""
    emu = stack.emulator
    confirmation = await buy_confirmation(stack)
    pressed = await press(
        stack, emu.world.buyer_id, confirmation, button(confirmation, "order:confirm:")
    )
    result = await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=15)
    return embed_text(result).split("`")[1]


def dm_path(stack: LocalStack) -> str:
    world = stack.emulator.world
    guild_channels = "|".join(
        str(c) for c in (world.staff_channel_id, world.notice_channel_id, world.general_channel_id)
    )
    return rf"^/channels/(?!(?:{guild_channels})/)\d+/messages$"


# --- staff --------------------------------------------------------------------------------


async def link(stack: LocalStack, provider: str, remote_id: str, member_id: int) -> str:
    """Staff type /admin order link in the staff channel."""
    return await stack.staff_link_order(provider, remote_id, member_id)


async def submit_modal(stack: LocalStack, opener: Any, values: dict[str, str]) -> Any:
    modal = opener.modal
    assert modal is not None, opener.callbacks
    submitted = await stack.emulator.submit_modal(
        stack.emulator.world.staff_id, modal["custom_id"], values, source_interaction=opener
    )
    await submitted.wait_for_response()
    return submitted


async def staff_line(stack: LocalStack, text: str, timeout: float = 15) -> dict[str, Any]:  # noqa: ASYNC109
    emu = stack.emulator
    return await emu.wait_for_channel_message(
        emu.world.staff_channel_id, timeout=timeout, predicate=lambda m: text in m["content"]
    )
