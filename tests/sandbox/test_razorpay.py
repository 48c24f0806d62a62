"""The Razorpay Payment Links sandbox over real HTTP (issue 28): the documented checks
and answers, and webhooks delivered with real signatures, duplicated, held, forged."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.payments.signatures import SignatureRefused, verify_razorpay
from sandbox.razorpay import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_WEBHOOK_SECRET,
    RazorpayState,
    create_app,
)
from tests.sandbox.helpers import FakeClock
from tests.support import serve_app

AUTH = "Basic " + base64.b64encode(f"{DEFAULT_KEY_ID}:{DEFAULT_KEY_SECRET}".encode()).decode()
NOW = 1_800_000_000.0


@dataclass
class Receiver:
    """A webhook endpoint: what arrived, and whether its signature verified."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def razorpay() -> AsyncIterator[tuple[RazorpayState, str, Receiver]]:
    clock = FakeClock(NOW)
    state = RazorpayState(wall_clock=clock)
    receiver = Receiver()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify_razorpay(
                body,
                request.headers.get("X-Razorpay-Signature"),
                [SecretStr(DEFAULT_WEBHOOK_SECRET)],
            )
            verified = True
        except SignatureRefused:
            verified = False
        receiver.received.append(
            {
                "event_id": request.headers.get("X-Razorpay-Event-Id"),
                "verified": verified,
                "body": json.loads(body),
            }
        )
        return web.Response(status=200 if verified else 401)

    hook_app = web.Application()
    hook_app.router.add_post("/hook", webhook)
    hook_runner, hook_url = await serve_app(hook_app)
    receiver.url = hook_url + "/hook"
    runner, url = await serve_app(create_app(state))
    state.webhook_url = receiver.url
    try:
        yield state, url, receiver
    finally:
        await runner.cleanup()
        await hook_runner.cleanup()


async def create_link(client: httpx.AsyncClient, url: str, **overrides: Any) -> httpx.Response:
    body = {"amount": 50_000, "currency": "INR", "reference_id": "TOP-1", **overrides}
    return await client.post(f"{url}/v1/payment_links", json=body, headers={"Authorization": AUTH})


async def test_create_fetch_and_cancel_a_link(
    razorpay: tuple[RazorpayState, str, Receiver],
) -> None:
    state, url, _ = razorpay
    async with httpx.AsyncClient() as client:
        created = await create_link(client, url, expire_by=int(NOW) + 3600)
        assert created.status_code == 200
        link = created.json()
        assert link["id"].startswith("plink_") and len(link["id"]) == 20
        assert link["status"] == "created" and link["payments"] is None
        assert link["amount"] == 50_000 and link["reference_id"] == "TOP-1"
        fetched = await client.get(
            f"{url}/v1/payment_links/{link['id']}", headers={"Authorization": AUTH}
        )
        assert fetched.json() == link
        cancelled = await client.post(
            f"{url}/v1/payment_links/{link['id']}/cancel", headers={"Authorization": AUTH}
        )
        assert cancelled.json()["status"] == "cancelled"
        again = await client.post(
            f"{url}/v1/payment_links/{link['id']}/cancel", headers={"Authorization": AUTH}
        )
        assert again.status_code == 400
        assert again.json()["error"]["description"] == "cannot cancel or expire an expired link"
    assert [r.path for r in state.requests][-1].endswith("/cancel")


@pytest.mark.parametrize(
    ("overrides", "description"),
    [
        ({"amount": 99}, "The amount must be at least INR 1.00"),
        ({"amount": "500"}, "The amount must be an integer."),
        ({"expire_by": int(NOW) + 600}, "timestamp must be atleast 15 minutes in future"),
        ({"reference_id": "x" * 41}, "The reference id may not be greater than 40 characters."),
        ({"surprise": 1}, "surprise is/are not required and should not be sent"),
    ],
)
async def test_documented_refusals(
    razorpay: tuple[RazorpayState, str, Receiver], overrides: dict[str, Any], description: str
) -> None:
    state, url, _ = razorpay
    async with httpx.AsyncClient() as client:
        refused = await create_link(client, url, **overrides)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert refused.json()["error"]["description"] == description
    assert state.links == {}


async def test_reference_ids_are_unique_and_bad_keys_and_ids_refused(
    razorpay: tuple[RazorpayState, str, Receiver],
) -> None:
    _, url, _ = razorpay
    async with httpx.AsyncClient() as client:
        assert (await create_link(client, url)).status_code == 200
        duplicate = await create_link(client, url)
        assert duplicate.status_code == 400
        assert "reference ID already attempted" in duplicate.json()["error"]["description"]
        bad_key = await client.post(
            f"{url}/v1/payment_links", json={"amount": 500}, auth=("rzp_test_x", "wrong")
        )
        assert bad_key.status_code == 401
        unknown = await client.get(
            f"{url}/v1/payment_links/plink_AAAAAAAAAAAAAA", headers={"Authorization": AUTH}
        )
        # Razorpay answers an unknown id with 400, not 404.
        assert unknown.status_code == 400
        assert unknown.json()["error"]["description"] == "The id provided does not exist"


async def test_payment_delivers_signed_duplicates_with_one_event_id(
    razorpay: tuple[RazorpayState, str, Receiver],
) -> None:
    _, url, receiver = razorpay
    async with httpx.AsyncClient() as client:
        link = (await create_link(client, url)).json()
        paid = await client.post(
            f"{url}/_sandbox/payment_links/{link['id']}/pay", json={"copies": 5}
        )
        assert paid.json()["deliveries"] == [200] * 5
        fetched = (
            await client.get(
                f"{url}/v1/payment_links/{link['id']}", headers={"Authorization": AUTH}
            )
        ).json()
    assert fetched["status"] == "paid" and fetched["amount_paid"] == 50_000
    assert fetched["payments"][0]["payment_id"] == paid.json()["payment_id"]
    assert len(receiver.received) == 5
    assert {r["event_id"] for r in receiver.received} == {paid.json()["event_id"]}
    assert all(r["verified"] for r in receiver.received)
    event = receiver.received[0]["body"]
    assert event["event"] == "payment_link.paid"
    assert event["payload"]["payment"]["entity"]["amount"] == 50_000
    assert event["payload"]["payment_link"]["entity"]["reference_id"] == "TOP-1"


async def test_forged_missing_held_and_late_deliveries(
    razorpay: tuple[RazorpayState, str, Receiver],
) -> None:
    state, url, receiver = razorpay
    async with httpx.AsyncClient() as client:
        link = (await create_link(client, url, accept_partial=True)).json()
        forged = await client.post(
            f"{url}/_sandbox/payment_links/{link['id']}/pay",
            json={"amount": 20_000, "signature": "wrong"},
        )
        assert forged.json()["deliveries"] == [401]
        missing = await client.post(
            f"{url}/_sandbox/events/{forged.json()['event_id']}/deliver",
            json={"signature": "missing"},
        )
        assert missing.json()["deliveries"] == [401]
        held = await client.post(
            f"{url}/_sandbox/payment_links/{link['id']}/pay", json={"deliver": False}
        )
        assert held.json()["deliveries"] == []
        late = await client.post(f"{url}/_sandbox/events/{held.json()['event_id']}/deliver")
        assert late.json()["deliveries"] == [200]
    assert [r["verified"] for r in receiver.received] == [False, False, True]
    assert receiver.received[0]["body"]["event"] == "payment_link.partially_paid"
    assert receiver.received[2]["body"]["event"] == "payment_link.paid"
    assert [d.signature for d in state.deliveries] == ["wrong", "missing", "good"]


async def test_expiry_by_time_and_by_control(
    razorpay: tuple[RazorpayState, str, Receiver],
) -> None:
    state, url, receiver = razorpay
    async with httpx.AsyncClient() as client:
        timed = (await create_link(client, url, expire_by=int(NOW) + 1000)).json()
        assert isinstance(state.wall_clock, FakeClock)
        state.wall_clock.advance(1000)
        fetched = await client.get(
            f"{url}/v1/payment_links/{timed['id']}", headers={"Authorization": AUTH}
        )
        assert fetched.json()["status"] == "expired" and fetched.json()["expired_at"] > 0
        other = (await create_link(client, url, reference_id="TOP-2")).json()
        expired = await client.post(f"{url}/_sandbox/payment_links/{other['id']}/expire")
        assert expired.json()["deliveries"] == [200]
    assert receiver.received[-1]["body"]["event"] == "payment_link.expired"


async def test_refund_event_names_the_payment(
    razorpay: tuple[RazorpayState, str, Receiver],
) -> None:
    _, url, receiver = razorpay
    async with httpx.AsyncClient() as client:
        link = (await create_link(client, url)).json()
        paid = (await client.post(f"{url}/_sandbox/payment_links/{link['id']}/pay")).json()
        refunded = await client.post(
            f"{url}/_sandbox/payments/{paid['payment_id']}/refund", json={"amount": 10_000}
        )
        assert refunded.json()["deliveries"] == [200]
    event = receiver.received[-1]["body"]
    assert event["event"] == "refund.processed"
    assert event["payload"]["refund"]["entity"]["payment_id"] == paid["payment_id"]
    assert event["payload"]["payment"]["entity"]["amount_refunded"] == 10_000
