"""Issue 17 through Discord: a typo costs no cooldown, a bad phone number is fixed with
**Fix it** without retyping the rest, local numbers become E.164, products are found by
name, and several boost products each keep their own limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from demo.stack import LocalStack
from tests.e2e.helpers import EPHEMERAL, button, embed_text, requests_to

TWO_BOOSTS = """\
[[products]]
key = "boost-1m"
name = "Server Boost, 1 month"
provider = "boost"
kind = "boost"
unit_price = 350
currency = "USD"
min_quantity = 2
max_quantity = 30

[[products]]
key = "boost-3m"
name = "Server Boost, 3 months"
provider = "boost"
kind = "boost"
unit_price = 900
currency = "USD"
min_quantity = 1
max_quantity = 5

[[products]]
key = "streaming-1m"
name = "Streaming account, 1 month"
provider = "checkout"
kind = "digital"
unit_price = 19900
currency = "INR"
max_quantity = 5
"""


async def answer_of(driven: Any) -> dict[str, Any]:
    """The bot's first visible answer: an immediate message, a modal, or a followup."""
    first = await driven.wait_for_response()
    if first["type"] in (4, 9):
        return dict(first)
    return {"type": 4, "data": await driven.wait_for_followup(timeout=10)}


async def test_a_typo_costs_no_cooldown(tmp_path: Path) -> None:
    async with LocalStack(
        tmp_path / "s", env={"ORDER_COOLDOWN_SECONDS": "120"}, in_process=True, fast=True
    ) as stack:
        emu = stack.emulator
        buyer = emu.world.buyer_id
        # A quantity within what Discord allows (the range spans the products) but over
        # this product's own maximum: refused by the bot...
        typo = await answer_of(
            await emu.send_slash_command(buyer, "buy", {"product": "game-key", "quantity": 4})
        )
        assert "from 1 to 3; you asked for 4" in typo["data"]["content"], typo
        refused = await answer_of(
            await emu.send_slash_command(buyer, "buy", {"product": "streeming", "quantity": 1})
        )
        assert "no product `streeming`" in refused["data"]["content"]
        # ...and neither costs the cooldown: the next /buy gets its form at once.
        again = await answer_of(
            await emu.send_slash_command(buyer, "buy", {"product": "game-key", "quantity": 3})
        )
        assert again["type"] == 9, again
        bad_invite = await answer_of(
            await emu.send_slash_command(buyer, "boost", {"invite": "not an invite!!", "amount": 3})
        )
        assert "doesn't look like a Discord invite" in bad_invite["data"]["content"]
        ok = await answer_of(
            await emu.send_slash_command(buyer, "boost", {"invite": "shopdemo", "amount": 3})
        )
        assert "Confirm your order" in embed_text(ok["data"])
        # That one started an order: now the cooldown applies.
        slow = await answer_of(
            await emu.send_slash_command(buyer, "boost", {"invite": "shopdemo", "amount": 3})
        )
        assert "Slow down" in slow["data"]["content"]

        # Two forms open at once (a phone and a desktop): only one order starts.
        other = emu.world.buyer2_id
        forms = [
            await emu.send_slash_command(other, "buy", {"product": "game-key", "quantity": 1})
            for _ in range(2)
        ]
        answers = []
        for form in forms:
            opened = await form.wait_for_response()
            submitted = await emu.submit_modal(
                other,
                opened["data"]["custom_id"],
                {"contact:phone": "98765 43210", "contact:name": "", "contact:email": ""},
                source_interaction=form,
            )
            answers.append(await answer_of(submitted))
        assert "Confirm your order" in embed_text(answers[0]["data"])
        assert "Slow down" in answers[1]["data"]["content"], answers[1]


async def test_fix_it_reopens_the_form_with_what_was_typed(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    opened = await emu.send_slash_command(buyer, "buy", {"product": "Streaming Account, 1 month"})
    form = await opened.wait_for_response()
    assert form["type"] == 9  # found by its name, in any case
    typed = {
        "contact:phone": "98765 4321",  # a digit short
        "contact:name": "Asha Rao",
        "contact:email": "asha@example.com",
    }
    refused = await emu.submit_modal(
        buyer, form["data"]["custom_id"], typed, source_interaction=opened
    )
    note = (await refused.wait_for_response())["data"]
    assert "phone number doesn't look right" in note["content"] and note["flags"] & EPHEMERAL
    assert "Nothing was ordered" in note["content"]
    message = await refused.wait_for_original(timeout=5)
    fix = await emu.press_button(buyer, message, button(message, "order:fixcontact:"))
    again = await fix.wait_for_response()
    assert again["type"] == 9
    values = {
        c["custom_id"]: c.get("value")
        for row in again["data"]["components"]
        for c in row.get("components", [row.get("component", {})])
        if c.get("custom_id")
    }
    assert values == {
        "contact:phone": "98765 4321",
        "contact:name": "Asha Rao",
        "contact:email": "asha@example.com",
    }
    fixed = await emu.submit_modal(
        buyer,
        again["data"]["custom_id"],
        {"contact:phone": "98765 43210"},  # only the wrong field is changed
        source_interaction=fix,
    )
    await fixed.wait_for_response()
    confirmation = await fixed.wait_for_followup(timeout=10)
    shown = embed_text(confirmation)
    assert "+91 ••••• ••210" in shown and "Asha Rao" in shown and "a•••@example.com" in shown
    assert "9876543210" not in shown
    pressed = await emu.press_button(buyer, confirmation, button(confirmation, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "placed" in embed_text(m), timeout=10)
    (sent,) = requests_to(stack, "checkout")
    # A local number, stored and sent as E.164; the email as email-validator normalised it.
    assert sent.json["contact"] == {
        "phone_number": "+919876543210",
        "name": "Asha Rao",
        "email": "asha@example.com",
    }


async def test_two_boost_products_keep_their_own_limits(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(TWO_BOOSTS, encoding="utf-8")
    env = {"CATALOG_PATH": str(catalog), "ORDER_COOLDOWN_SECONDS": "120"}
    async with LocalStack(tmp_path / "s", env=env, in_process=True, fast=True) as stack:
        emu = stack.emulator
        buyer = emu.world.buyer_id
        (boost,) = [c for c in emu.commands(emu.world.guild_id) if c["name"] == "boost"]
        options = {o["name"]: o for o in boost["options"]}
        # Discord's client enforces the range that spans both products...
        assert (options["amount"]["min_value"], options["amount"]["max_value"]) == (1, 30)
        assert [c["value"] for c in options["product"]["choices"]] == ["boost-1m", "boost-3m"]
        # ...and the bot each product's own, without using up the cooldown.
        refused = await answer_of(
            await emu.send_slash_command(
                buyer, "boost", {"invite": "shopdemo", "amount": 10, "product": "boost-3m"}
            )
        )
        assert "from 1 to 5; you asked for 10" in refused["data"]["content"], refused
        ok = await answer_of(
            await emu.send_slash_command(
                buyer, "boost", {"invite": "shopdemo", "amount": 4, "product": "boost-3m"}
            )
        )
        shown = embed_text(ok["data"])
        assert "Server Boost, 3 months" in shown and "$36.00 USD" in shown
        assert requests_to(stack, "boost") == []
