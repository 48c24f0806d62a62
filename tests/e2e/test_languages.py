"""Issue 29 end to end: a member whose Discord is in Hindi, and one who chose Bengali with
/language (Discord has none), go through the shop, each in their language, with money
formatted for it; staff read their alerts in the staff language.

What the bot should say is looked up in the same catalog the bot uses, in the member's
language: each check also asserts the text is not the English, so a message that
bypassed the catalog (or a missing translation) fails here."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.presenters import notice_marker_line
from core import i18n
from core.i18n import _
from core.money import Money
from demo.stack import LocalStack
from tests.e2e.helpers import EPHEMERAL, button, embed_text, wait_for_row
from tests.e2e.journeys import press, submit_modal

SCRIPT = {"hi": re.compile(r"[\u0900-\u097f]"), "bn": re.compile(r"[\u0980-\u09ff]")}
DELIVERY = "LOGIN: asha@example.com / Pa55-ৎ-123"

pytestmark = pytest.mark.stack(env={"PAYMENT_MODE": "wallet"})


def said(language: str, message: str, /, **values: Any) -> str:
    """`message` in `language`, asserting the catalog has it translated."""
    with i18n.speaking(language):
        text = _(message, **values)
    assert text != _(message, **values) or language == "en", f"{message!r} untranslated"
    return text


def money(language: str, amount: Money) -> str:
    return amount.format(language)


def written_in(language: str, text: str) -> bool:
    return bool(SCRIPT[language].search(text))


async def follow_up(driven: Any) -> dict[str, Any]:
    first = await driven.wait_for_response()
    if first["type"] == 4:
        return dict(first["data"])
    return dict(await driven.wait_for_followup(timeout=15))


async def member_reading(stack: LocalStack, language: str) -> int:
    """A new member: Hindi through their Discord client's language; Bengali chosen with
    /language (the reply is already in Bengali)."""
    emu = stack.emulator
    if language == "hi":
        return emu.add_member("priya", locale="hi")
    member = emu.add_member("anika")
    reply = await follow_up(await emu.send_slash_command(member, "language", {"language": "bn"}))
    assert reply["flags"] & EPHEMERAL
    assert i18n.language_name("bn") in reply["content"] and written_in("bn", reply["content"])
    await wait_for_row(
        stack,
        "SELECT language FROM member_languages WHERE user_id = ?",
        (member,),
        lambda r: r["language"] == "bn",
    )
    return member


@pytest.mark.stack(env={"STAFF_LANGUAGE": "en"})
async def test_a_member_whose_discord_is_in_hindi_reads_the_shop_in_hindi(
    stack: LocalStack,
) -> None:
    """Staff read English meanwhile: nothing of the buyer's language reaches them."""
    await walk_the_shop(stack, "hi", staff="en")


@pytest.mark.stack(env={"STAFF_LANGUAGE": "bn"})
async def test_a_member_who_chose_bengali_reads_the_shop_in_bengali(stack: LocalStack) -> None:
    """Staff read Bengali too (STAFF_LANGUAGE=bn)."""
    await walk_the_shop(stack, "bn", staff="bn")


def order_id_in(text: str) -> str:
    found = re.search(r"ORD-[0-9A-Z]{10}", text)
    assert found is not None, text
    return found.group(0)


def staff_wrote(staff: str, language: str, text: str) -> bool:
    """`text` is in the staff language: its script, or (English staff) not the buyer's."""
    return written_in(staff, text) if staff != "en" else not written_in(language, text)


async def walk_the_shop(stack: LocalStack, language: str, *, staff: str) -> None:
    """The journeys a buyer reading `language` takes, and what staff (reading `staff`)
    read meanwhile."""
    emu = stack.emulator
    world = emu.world
    member = await member_reading(stack, language)

    # Staff credit the member; the member's DM and /wallet show it in their language.
    for amount in ("150000 INR", "20 USD"):
        _driven, answer = await stack.admin(
            "wallet credit", {"member": member, "amount": amount, "note": "UPI"}
        )
        assert staff_wrote(staff, language, answer["content"]), answer
    wallet = await follow_up(await emu.send_slash_command(member, "wallet", {}))
    text = embed_text(wallet) + (wallet.get("content") or "")
    lakh = money(language, Money(15_000_000, "INR"))
    assert lakh in text, text
    assert lakh.startswith("₹1,50,000.00") if language == "hi" else "১,৫০,০০০.০০" in lakh
    assert written_in(language, text)

    # /boost: the confirmation, its price and its buttons.
    driven = await emu.send_slash_command(member, "boost", {"invite": "shopdemo", "amount": 4})
    confirmation = await follow_up(driven)
    shown = embed_text(confirmation)
    assert money(language, Money(1400, "USD")) in shown
    assert said(language, "Confirm your order") in shown
    labels = [c["label"] for row in confirmation["components"] for c in row["components"]]
    assert said(language, "Confirm") in labels and "Confirm" not in labels
    pressed = await press(stack, member, confirmation, button(confirmation, "order:confirm:"))
    placed = await pressed.wait_for_original(
        lambda m: said(language, "Order submitted") in embed_text(m), timeout=15
    )
    boost_id = order_id_in(embed_text(placed))

    # The staff alert about it is in the staff language, with the amount formatted for it.
    alert = await emu.wait_for_channel_message(
        world.staff_channel_id, timeout=15, predicate=lambda m: boost_id in m["content"]
    )
    assert staff_wrote(staff, language, alert["content"]) and "🛒" in alert["content"]
    assert money(staff, Money(1400, "USD")) in alert["content"]

    # /buy: the form, and its error, in the member's language.
    driven = await emu.send_slash_command(member, "buy", {"product": "streaming-1m", "quantity": 1})
    form = await driven.wait_for_response()
    assert form["type"] == 9
    assert written_in(language, form["data"]["title"])
    bad = await emu.submit_modal(
        member,
        form["data"]["custom_id"],
        {"contact:phone": "123456789", "contact:name": "", "contact:email": ""},
        source_interaction=driven,
    )
    refusal = await follow_up(bad)
    assert written_in(language, refusal.get("content") or embed_text(refusal)), refusal
    buy_id = await buy(stack, member, language)

    # Staff deliver it; the completion DM is in the member's language, the delivery exact.
    await deliver(stack, buy_id)
    dm = await emu.wait_for_dm(member, timeout=30, predicate=lambda m: buy_id in embed_text(m))
    assert DELIVERY in (dm.get("content") or "")
    assert written_in(language, embed_text(dm))
    # What staff's action stored for the buyer is worded for them too.
    assert said(language, "Delivered by staff") in embed_text(dm)

    # DMs closed: the notice in the notices channel is in the member's language too.
    emu.set_dms_closed(member, True)
    # (An order they placed: its DMs are in their choice, else the language they ordered in.)
    linked = await buy(stack, member, language)
    await deliver(stack, linked)
    notice = await emu.wait_for_channel_message(
        world.notice_channel_id,
        timeout=30,
        predicate=lambda m: notice_marker_line(linked, "final") in m["content"],
    )
    assert f"<@{member}>" in notice["content"] and written_in(language, notice["content"])
    assert DELIVERY not in notice["content"]

    # /orders: the list, its counts in the language's digits.
    listing = await follow_up(await emu.send_slash_command(member, "orders", {}))
    shown = embed_text(listing)
    assert buy_id in shown and boost_id in shown and written_in(language, shown)
    if language == "bn":
        assert "৩" in shown  # three orders, counted in Bengali digits


async def buy(stack: LocalStack, member: int, language: str) -> str:
    """/buy one streaming account, fill the form, Confirm; the order id once placed."""
    emu = stack.emulator
    driven = await emu.send_slash_command(member, "buy", {"product": "streaming-1m", "quantity": 1})
    form = await driven.wait_for_response()
    good = await emu.submit_modal(
        member,
        form["data"]["custom_id"],
        {"contact:phone": "+91 98765 43210", "contact:name": "", "contact:email": ""},
        source_interaction=driven,
    )
    confirmation = await follow_up(good)
    assert money(language, Money(19900, "INR")) in embed_text(confirmation)
    pressed = await press(stack, member, confirmation, button(confirmation, "order:confirm:"))
    placed = await pressed.wait_for_original(
        lambda m: said(language, "Order submitted") in embed_text(m), timeout=15
    )
    return order_id_in(embed_text(placed))


async def deliver(stack: LocalStack, order_id: str) -> None:
    opener, _form = await stack.admin("order deliver", {"order_id": order_id})
    await submit_modal(stack, opener, {"deliver:text": DELIVERY})
