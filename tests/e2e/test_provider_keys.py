"""Issue 25: a provider key that is wrong is found before a buyer pays, through Discord and
the sandboxes.

* `check-config --online` names the provider whose key is refused (exit 2), and the
  sandboxes' request logs show only endpoints their contracts document;
* at `run`, a refused key is a warning, `/admin providers` says "credentials refused",
  and that provider's products are closed to buyers (nothing is sent or charged) until
  the key works again, which the bot notices by itself;
* a key revoked while the shop runs closes the products at the first refusal."""

from __future__ import annotations

from typing import Any

import pytest

from bot.providers.models import NIL_UUID
from demo.stack import LocalStack
from tests.e2e.helpers import (
    assert_only_its_own_lines,
    button,
    db_rows,
    embed_field,
    embed_text,
    problem_lines,
    requests_to,
    run_bot,
    wait_for_log,
    wait_for_row,
)
from tests.e2e.journeys import buy_confirmation, place_boost, press, staff_line
from tests.support import PROVIDERS, only_documented_requests

WRONG = "sk-live-WRONG-5b0e"


async def boost_answer(stack: LocalStack, user_id: int) -> dict[str, Any]:
    driven = await stack.emulator.send_slash_command(
        user_id, "boost", {"invite": "shopdemo", "amount": 3}
    )
    await driven.wait_for_response()
    return dict(await driven.wait_for_followup(timeout=10))


@pytest.mark.subprocess
async def test_check_config_names_the_provider_whose_key_is_refused(parts: LocalStack) -> None:
    status, output = await run_bot(
        parts, ["check-config", "--online"], {"BOOST_API_KEY": WRONG, "CHECKOUT_API_KEY": WRONG}
    )
    assert status == 2, output
    (line,) = problem_lines(output)
    assert "boost refused BOOST_API_KEY (HTTP 401" in line, output
    assert "closed to buyers" in line
    # What was and wasn't checked, one line each; the checkout API can't be asked.
    assert "digital_shop: DIGITAL_SHOP_API_KEY accepted." in output
    assert "namefi: NAMEFI_API_TOKEN accepted." in output
    assert "checkout: CHECKOUT_API_KEY not checked: its API has no endpoint" in output
    assert WRONG not in output and "Traceback" not in output
    assert_only_its_own_lines(output)
    # One documented read each, for an order that can't exist; never a POST, never `GET /`.
    for name in PROVIDERS:
        sent = only_documented_requests(parts.sandbox, name)
        assert sent == ([] if name == "checkout" else [("GET", sent[0][1])]), (name, sent)
    assert parts.sandbox.state("boost").requests[0].path == f"/order/{NIL_UUID}"

    status, output = await run_bot(parts, ["check-config", "--online"], {})
    assert status == 0, output
    assert "no provider refused its key" in output


@pytest.mark.stack(env={"BOOST_API_KEY": WRONG})
async def test_a_refused_key_closes_its_products_until_it_works(stack: LocalStack) -> None:
    world = stack.emulator.world
    boost = stack.sandbox.state("boost")
    await wait_for_log(stack, "start-up check: boost refused BOOST_API_KEY")
    await staff_line(stack, "boost refused our API key")

    refused = await boost_answer(stack, world.buyer_id)
    assert "can't be ordered right now" in refused["content"], refused
    assert "Nothing was ordered or charged" in refused["content"]
    assert requests_to(stack, "boost") == []  # no POST: nothing was sent
    assert db_rows(stack, "SELECT id FROM orders") == []  # not even a draft

    # The start-up check records each provider's answer in turn: the digital shop's may
    # land just after boost's refusal was logged.
    await wait_for_row(
        stack,
        "SELECT key_state FROM provider_health WHERE provider = 'digital_shop'",
        (),
        lambda r: r["key_state"] == "accepted",
    )
    _, shown = await stack.admin("providers")
    text = embed_field(shown, "boost")
    assert "credentials refused" in text and "closed to buyers" in text, text
    assert "BOOST_API_KEY" in text
    assert "key accepted" in embed_field(shown, "digital_shop")
    assert "first order checks it" in embed_field(shown, "checkout")

    # The provider takes the key after all (reinstated on its side): the bot asks again
    # by itself, reopens the products and says so.
    boost.api_key = WRONG
    reopened = await staff_line(stack, "boost accepts our API key again", timeout=30)
    assert "Server Boost" in reopened["content"]
    await place_boost(stack, world.buyer_id)
    assert len(requests_to(stack, "boost")) == 1
    only_documented_requests(stack.sandbox, "boost")


async def test_a_key_revoked_while_running_closes_products_at_the_first_refusal(
    stack: LocalStack,
) -> None:
    world = stack.emulator.world
    boost = stack.sandbox.state("boost")
    shown = await boost_answer(stack, world.buyer_id)
    boost.api_key = "rotated-on-the-providers-side"

    pressed = await press(stack, world.buyer_id, shown, button(shown, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "failed" in embed_text(m).lower(), timeout=15)
    await staff_line(stack, "boost refused our API key")
    # The next buyer is told before anything is written or sent.
    again = await boost_answer(stack, world.buyer2_id)
    assert "can't be ordered right now" in again["content"], again
    assert len(requests_to(stack, "boost")) == 1  # the one refused create
    (row,) = db_rows(stack, "SELECT status FROM orders")
    assert row["status"] == "failed"


async def test_a_refused_checkout_key_closes_buy_and_autocomplete_says_so(
    stack: LocalStack,
) -> None:
    world = stack.emulator.world
    checkout = stack.sandbox.state("checkout")
    shown = await buy_confirmation(stack)
    checkout.api_key = "rotated-on-the-providers-side"
    pressed = await press(stack, world.buyer_id, shown, button(shown, "order:confirm:"))
    await pressed.wait_for_original(lambda m: "failed" in embed_text(m).lower(), timeout=15)
    alert = await staff_line(stack, "checkout refused our API key")
    # Its API can't be asked again without an order: no promise of a re-check.
    assert "until the restart" in alert["content"]

    choices = await stack.emulator.send_autocomplete(
        world.buyer2_id, "buy", {"product": "Stre"}, "product"
    )
    assert [c["name"] for c in choices] == ["Streaming account, 1 month — not available right now"]
    driven = await stack.emulator.send_slash_command(
        world.buyer2_id, "buy", {"product": "streaming-1m", "quantity": 1}
    )
    refused = await driven.wait_for_response()
    assert refused["type"] == 4  # no contact form for an order that can't be placed
    assert "can't be ordered right now" in refused["data"]["content"]
    assert len(requests_to(stack, "checkout")) == 1  # the one refused create
