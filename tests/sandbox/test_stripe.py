"""The Stripe Checkout Sessions sandbox over real HTTP: Stripe's checks and answers, the
clock that expires sessions, payments by card and by bank debit, refunds and disputes,
and webhooks delivered with real signatures, duplicated, held, forged, missing and old."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.payments.signatures import SignatureProblem, SignatureRefused, verify_stripe
from sandbox.faults import MALFORMED_BODY
from sandbox.stripe import (
    DEFAULT_SECRET_KEY,
    DEFAULT_WEBHOOK_SECRET,
    StripeError,
    StripeState,
    create_app,
    parse_form,
)
from tests.sandbox.helpers import FakeClock
from tests.support import serve_app

AUTH = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
SESSIONS = "/v1/checkout/sessions"
NOW = 1_800_000_000.0
TOLERANCE = 300  # what Stripe's libraries allow a signature's timestamp
CURRENCY = "line_items[0][price_data][currency]"
AMOUNT = "line_items[0][price_data][unit_amount]"


def signature_problem(body: bytes, header: str | None, now: float) -> str | None:
    """Why a delivery is not Stripe's, checked the way its libraries check: None, or
    `missing`, `mismatch`, `stale`."""
    if header is None:
        return "missing"
    parts = dict(part.split("=", 1) for part in header.split(","))
    signed = parts["t"].encode() + b"." + body
    expected = hmac.new(DEFAULT_WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["v1"]):
        return "mismatch"
    return "stale" if now - int(parts["t"]) > TOLERANCE else None


@dataclass
class Stripe:
    """The sandbox, a client of its API (the key set, the base URL its own) and a webhook
    endpoint that keeps what arrived and what was wrong with its signature."""

    state: StripeState
    api: httpx.AsyncClient
    received: list[dict[str, Any]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [r["event"] for r in self.received]

    @property
    def clock(self) -> FakeClock:
        assert isinstance(self.state.wall_clock, FakeClock)
        return self.state.wall_clock

    async def create(
        self, changes: dict[str, str | None] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.api.post(SESSIONS, data=session_form(changes), headers=headers)

    async def fetch(self, session_id: str, **query: Any) -> Any:
        response = await self.api.get(f"{SESSIONS}/{session_id}", params=query)
        assert response.status_code == 200, response.text
        return response.json()

    async def listed(self, **query: Any) -> list[str]:
        response = await self.api.get(SESSIONS, params=query)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["data"]]

    async def control(self, path: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/_sandbox/{path}", json=body)

    async def paid(self, **pay: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        session = (await self.create()).json()
        made = await self.control(f"sessions/{session['id']}/pay", **pay)
        assert made.status_code == 200, made.text
        return session, made.json()


@pytest.fixture
async def stripe() -> AsyncIterator[Stripe]:
    clock = FakeClock(NOW)
    state = StripeState(wall_clock=clock)
    received: list[dict[str, Any]] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get("Stripe-Signature")
        problem = signature_problem(body, header, clock())
        received.append({"problem": problem, "header": header, "body": body})
        received[-1]["event"] = json.loads(body)
        return web.Response(status=400 if problem else 200)

    hook_app = web.Application()
    hook_app.router.add_post("/hook", webhook)
    hook_runner, hook_url = await serve_app(hook_app)
    runner, url = await serve_app(create_app(state))
    state.webhook_url = hook_url + "/hook"
    try:
        async with httpx.AsyncClient(base_url=url, headers=AUTH) as api:
            yield Stripe(state, api, received)
    finally:
        await runner.cleanup()
        await hook_runner.cleanup()


def session_form(changes: dict[str, str | None] | None = None) -> dict[str, str]:
    """A top-up's create parameters; a change to None leaves that one out."""
    form: dict[str, str | None] = {
        "mode": "payment",
        CURRENCY: "usd",
        AMOUNT: "500",
        "line_items[0][price_data][product_data][name]": "Wallet top-up",
        "line_items[0][quantity]": "1",
        "client_reference_id": "TOP-1",
        "metadata[topup_id]": "TOP-1",
        "success_url": "https://example.com/paid",
        "cancel_url": "https://example.com/cancelled",
        **(changes or {}),
    }
    return {key: value for key, value in form.items() if value is not None}


def test_bracket_notation_parses_into_objects_and_lists() -> None:
    parsed = parse_form(
        "line_items[0][price_data][currency]=usd&line_items[0][quantity]=1"
        "&metadata[0]=zero&expand[]=a&expand[]=b&plain=x%26y"
    )
    assert parsed == {
        "line_items": [{"price_data": {"currency": "usd"}, "quantity": "1"}],
        "metadata": {"0": "zero"},  # metadata keys may be digits: still an object
        "expand": ["a", "b"],
        "plain": "x&y",
    }
    for broken in ("a=1&a[b]=2", "a[b]=1&a=2", "a[1]=x", "a[b=1", "a[][b]=1", "[x]=1"):
        with pytest.raises(StripeError):
            parse_form(broken)


async def test_create_fetch_list_and_expire(stripe: Stripe) -> None:
    created = await stripe.create()
    assert created.status_code == 200, created.text
    session = created.json()
    assert session["id"].startswith("cs_test_")
    assert session["url"] == f"https://checkout.stripe.com/c/pay/{session['id']}"
    assert {k: session[k] for k in ("object", "status", "payment_status", "mode")} == {
        "object": "checkout.session",
        "status": "open",
        "payment_status": "unpaid",
        "mode": "payment",
    }
    assert (session["amount_total"], session["amount_subtotal"]) == (500, 500)
    assert (session["currency"], session["client_reference_id"]) == ("usd", "TOP-1")
    assert (session["created"], session["expires_at"]) == (int(NOW), int(NOW) + 24 * 3600)
    assert session["payment_intent"] is None and session["livemode"] is False
    assert session["metadata"] == {"topup_id": "TOP-1"}
    assert session["success_url"] == "https://example.com/paid"
    assert await stripe.fetch(session["id"]) == session

    stripe.clock.advance(10)
    newer = (await stripe.create({"client_reference_id": "TOP-2"})).json()
    listed = (await stripe.api.get(SESSIONS)).json()
    assert {k: listed[k] for k in ("object", "has_more", "url")} == {
        "object": "list",
        "has_more": False,
        "url": SESSIONS,
    }
    assert [s["id"] for s in listed["data"]] == [newer["id"], session["id"]]
    assert (await stripe.api.get(SESSIONS, params={"limit": 1})).json()["has_more"] is True
    assert await stripe.listed(limit=1) == [newer["id"]]
    assert await stripe.listed(limit=1, starting_after=newer["id"]) == [session["id"]]
    assert await stripe.listed(**{"created[gte]": int(NOW) + 5}) == [newer["id"]]
    assert await stripe.listed(**{"created[lt]": int(NOW) + 5}) == [session["id"]]
    too_many = await stripe.api.get(SESSIONS, params={"limit": 101})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "limit"

    expired = await stripe.api.post(f"{SESSIONS}/{session['id']}/expire")
    assert expired.status_code == 200
    assert expired.json()["status"] == "expired" and expired.json()["url"] is None
    again = await stripe.api.post(f"{SESSIONS}/{session['id']}/expire")
    assert again.status_code == 400
    assert again.json()["error"]["message"] == (
        'Only Checkout Sessions with a status in ["open"] can be expired.'
    )
    assert await stripe.listed(status="open") == [newer["id"]]
    unknown = await stripe.api.get(f"{SESSIONS}/cs_test_nope")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "type": "invalid_request_error",
        "message": "No such checkout.session: 'cs_test_nope'",
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "param": "session",
    }
    assert list(stripe.state.event_types.values()) == ["checkout.session.expired"]
    assert stripe.state.requests[-1].path == f"{SESSIONS}/cs_test_nope"


async def test_keys_by_bearer_or_basic_and_refusals_that_never_echo_the_key(
    stripe: Stripe,
) -> None:
    wrong = "sk_test_51ThisIsNotTheRightKeyAtAll9876"
    basic = base64.b64encode(f"{DEFAULT_SECRET_KEY}:".encode()).decode()
    assert (await stripe.create(headers={"Authorization": f"Basic {basic}"})).status_code == 200
    for authorization, prefix in [
        (f"Bearer {wrong}", "Invalid API Key provided: sk_test_*"),
        ("Basic " + base64.b64encode(f"{wrong}:".encode()).decode(), "Invalid API Key"),
        # A key as user with a password is not Stripe's Basic form: read as no key.
        ("Basic " + base64.b64encode(f"{DEFAULT_SECRET_KEY}:x".encode()).decode(), "You did"),
        ("", "You did not provide an API key."),
    ]:
        refused = await stripe.create(headers={"Authorization": authorization})
        assert refused.status_code == 401
        error = refused.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"].startswith(prefix)
        assert wrong[8:-4] not in refused.text and DEFAULT_SECRET_KEY[8:] not in refused.text
    assert len(stripe.state.sessions) == 1


@pytest.mark.parametrize(
    ("changes", "code", "param"),
    [
        ({AMOUNT: "49"}, "amount_too_small", AMOUNT),
        ({CURRENCY: "gbp", AMOUNT: "29"}, "amount_too_small", AMOUNT),
        ({CURRENCY: "huf", AMOUNT: "17499"}, "amount_too_small", AMOUNT),
        ({CURRENCY: "kwd", AMOUNT: "490"}, "amount_too_small", AMOUNT),
        ({CURRENCY: "kwd", AMOUNT: "1005"}, "invalid_amount", AMOUNT),
        ({AMOUNT: "5.00"}, "parameter_invalid_integer", AMOUNT),
        ({"expires_at": str(int(NOW) + 30 * 60 - 1)}, None, "expires_at"),
        ({"expires_at": str(int(NOW) + 24 * 3600 + 1)}, None, "expires_at"),
        ({"mode": None}, "parameter_missing", "mode"),
        ({CURRENCY: None}, "parameter_missing", CURRENCY),
        ({"line_items[0][quantity]": None}, "parameter_missing", "line_items[0][quantity]"),
        ({"client_reference_id": "x" * 201}, None, "client_reference_id"),
        ({"client_reference_id": ""}, "parameter_invalid_empty", "client_reference_id"),
        ({"surprise": "1"}, "parameter_unknown", "surprise"),
    ],
)
async def test_refusals(
    stripe: Stripe, changes: dict[str, str | None], code: str | None, param: str
) -> None:
    refused = await stripe.create(changes)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert (error.get("code"), error["param"]) == (code, param)
    assert stripe.state.sessions == {}


@pytest.mark.parametrize(
    "changes",
    [
        {AMOUNT: "50"},
        {CURRENCY: "GBP", AMOUNT: "30"},
        {CURRENCY: "kwd", AMOUNT: "500"},
        {CURRENCY: "jpy", AMOUNT: "50"},
        {"expires_at": str(int(NOW) + 30 * 60)},
        {"expires_at": str(int(NOW) + 24 * 3600)},
    ],
)
async def test_the_limits_themselves_are_taken(
    stripe: Stripe, changes: dict[str, str | None]
) -> None:
    created = await stripe.create(changes)
    assert created.status_code == 200, created.text
    assert created.json()["currency"] == (changes.get(CURRENCY) or "usd").lower()


async def test_a_json_body_is_not_stripe_s(stripe: Stripe) -> None:
    refused = await stripe.api.post(SESSIONS, json={"mode": "payment"})
    assert refused.status_code == 400
    assert "x-www-form-urlencoded" in refused.json()["error"]["message"]


async def test_idempotent_replay_and_a_key_reused_for_other_parameters(stripe: Stripe) -> None:
    key = {"Idempotency-Key": "topup-TOP-1"}
    first = await stripe.create(headers=key)
    replay = await stripe.create(headers=key)
    assert replay.status_code == 200 and replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    other = await stripe.create({AMOUNT: "600"}, key)
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert "topup-TOP-1" in other.json()["error"]["message"]
    # A refusal is not kept: the key is still free for the request done right.
    retry = {"Idempotency-Key": "topup-TOP-2"}
    assert (await stripe.create({"mode": None}, retry)).status_code == 400
    assert (await stripe.create(headers=retry)).status_code == 200
    assert len(stripe.state.sessions) == 2


async def test_expiry_by_the_clock_reads_expired_and_raises_one_event(stripe: Stripe) -> None:
    session = (await stripe.create({"expires_at": str(int(NOW) + 1800)})).json()
    stripe.clock.advance(1799)
    assert (await stripe.fetch(session["id"]))["status"] == "open"
    stripe.clock.advance(1)
    expired = await stripe.fetch(session["id"])
    assert expired["status"] == "expired" and expired["url"] is None
    assert (await stripe.fetch(session["id"]))["status"] == "expired"
    assert await stripe.listed(status="expired") == [session["id"]]
    [event] = (await stripe.api.get("/_sandbox/events")).json()
    assert event["type"] == "checkout.session.expired"
    # Held until asked for: the sandbox delivers nothing on its own.
    assert stripe.received == []
    sent = await stripe.control(f"events/{event['id']}/deliver")
    assert sent.json() == {"event_id": event["id"], "deliveries": [200]}
    assert stripe.events()[0]["data"]["object"] == expired


async def test_a_card_payment_completes_the_session(stripe: Stripe) -> None:
    session, made = await stripe.paid()
    assert made["deliveries"] == [200]
    assert made["payment_intent"].startswith("pi_") and made["charge"].startswith("ch_")
    plain = await stripe.fetch(session["id"])
    assert (plain["status"], plain["payment_status"], plain["url"]) == ("complete", "paid", None)
    assert plain["payment_intent"] == made["payment_intent"]
    expanded = await stripe.fetch(session["id"], **{"expand[]": "payment_intent"})
    assert expanded["payment_intent"] == {
        "id": made["payment_intent"],
        "object": "payment_intent",
        "amount": 500,
        "amount_received": 500,
        "created": int(NOW),
        "currency": "usd",
        "latest_charge": made["charge"],
        "livemode": False,
        "metadata": {},
        "status": "succeeded",
    }
    query = {"payment_intent": made["payment_intent"], "expand[]": "data.payment_intent"}
    [found] = (await stripe.api.get(SESSIONS, params=query)).json()["data"]
    assert found == expanded
    assert (await stripe.control(f"sessions/{session['id']}/pay")).status_code == 409
    [event] = stripe.events()
    assert event["type"] == "checkout.session.completed"
    assert (event["object"], event["api_version"]) == ("event", "2024-06-20")
    assert (event["livemode"], event["pending_webhooks"]) == (False, 1)
    assert event["request"] == {"id": None, "idempotency_key": None}
    assert event["data"]["object"] == plain


async def test_a_session_expired_mid_checkout_still_takes_the_payment(stripe: Stripe) -> None:
    session = (await stripe.create({"expires_at": str(int(NOW) + 1800)})).json()
    stripe.clock.advance(1800)
    await stripe.control(f"sessions/{session['id']}/pay")
    paid = await stripe.fetch(session["id"])
    assert (paid["status"], paid["payment_status"]) == ("complete", "paid")
    assert list(stripe.state.event_types.values()) == [
        "checkout.session.expired",
        "checkout.session.completed",
    ]
    assert [e["type"] for e in stripe.events()] == ["checkout.session.completed"]


@pytest.mark.parametrize(
    ("result", "payment_status", "intent_status"),
    [("succeeded", "paid", "succeeded"), ("failed", "unpaid", "requires_payment_method")],
)
async def test_a_bank_debit_settles_later(
    stripe: Stripe, result: str, payment_status: str, intent_status: str
) -> None:
    session, _ = await stripe.paid(**{"async": True})
    expand = {"expand[]": "payment_intent"}
    pending = await stripe.fetch(session["id"], **expand)
    assert (pending["status"], pending["payment_status"]) == ("complete", "unpaid")
    assert (pending["payment_intent"]["status"], pending["payment_intent"]["amount_received"]) == (
        "processing",
        0,
    )
    settle = f"sessions/{session['id']}/async"
    assert (await stripe.control(settle, result=result)).json()["deliveries"] == [200]
    after = await stripe.fetch(session["id"], **expand)
    assert after["payment_status"] == payment_status
    assert after["payment_intent"]["status"] == intent_status
    assert (await stripe.control(settle, result=result)).status_code == 409
    assert (await stripe.control(settle, result="maybe")).status_code == 400
    first, second = stripe.events()
    assert first["type"] == "checkout.session.completed"
    assert first["data"]["object"]["payment_status"] == "unpaid"
    assert second["type"] == f"checkout.session.async_payment_{result}"
    assert second["data"]["object"]["payment_status"] == payment_status


async def test_refunds_add_up_and_a_dispute_names_the_charge(stripe: Stripe) -> None:
    _, made = await stripe.paid()
    refund = f"payments/{made['payment_intent']}/refund"
    first = (await stripe.control(refund, amount=200)).json()
    second = (await stripe.control(refund)).json()  # what is left: 300
    assert first["refund"].startswith("re_") and second["deliveries"] == [200]
    assert (await stripe.control(refund, amount=1)).status_code == 409
    assert (await stripe.control("payments/pi_nope/refund")).status_code == 404
    dispute = (await stripe.control(f"payments/{made['payment_intent']}/dispute")).json()
    assert dispute["dispute"].startswith("dp_")
    partial, full, disputed = stripe.events()[1:]
    assert partial["type"] == full["type"] == "charge.refunded"
    charge = partial["data"]["object"]
    assert (charge["id"], charge["object"]) == (made["charge"], "charge")
    assert (charge["amount"], charge["amount_captured"], charge["currency"]) == (500, 500, "usd")
    assert (charge["amount_refunded"], charge["refunded"]) == (200, False)
    assert charge["payment_intent"] == made["payment_intent"]
    assert [r["amount"] for r in charge["refunds"]["data"]] == [200]
    charge = full["data"]["object"]
    assert (charge["amount_refunded"], charge["refunded"]) == (500, True)
    assert [r["id"] for r in charge["refunds"]["data"]] == [second["refund"], first["refund"]]
    assert charge["refunds"]["data"][1] == {
        "id": first["refund"],
        "object": "refund",
        "amount": 200,
        "charge": made["charge"],
        "created": int(NOW),
        "currency": "usd",
        "payment_intent": made["payment_intent"],
        "status": "succeeded",
    }
    assert disputed["type"] == "charge.dispute.created"
    assert disputed["data"]["object"] == {
        "id": dispute["dispute"],
        "object": "dispute",
        "amount": 500,
        "charge": made["charge"],
        "created": int(NOW),
        "currency": "usd",
        "livemode": False,
        "payment_intent": made["payment_intent"],
        "reason": "fraudulent",
        "status": "needs_response",
    }


async def test_signatures_good_wrong_missing_and_old(stripe: Stripe) -> None:
    _, made = await stripe.paid(signature="wrong")
    assert made["deliveries"] == [400]
    deliver = f"events/{made['event_id']}/deliver"
    for signature in ("missing", "old", "good"):
        sent = await stripe.control(deliver, signature=signature)
        assert sent.json()["deliveries"] == [200 if signature == "good" else 400]
    assert (await stripe.control(deliver, signature="sideways")).status_code == 400
    assert [r["problem"] for r in stripe.received] == ["mismatch", "missing", "stale", None]
    listed = (await stripe.api.get("/_sandbox/deliveries")).json()
    assert [d["signature"] for d in listed] == ["wrong", "missing", "old", "good"]
    assert [d["status"] for d in listed] == [400, 400, 400, 200]
    assert {(d["event_id"], d["type"], d["at"]) for d in listed} == {
        (made["event_id"], "checkout.session.completed", NOW)
    }
    old, good = stripe.received[2:]
    assert old["header"].startswith(f"t={int(NOW) - 600},v1=")
    assert good["header"].startswith(f"t={int(NOW)},v1=")
    # The bot's own verifier reads the sandbox's signatures as this test does.
    secrets = [SecretStr(DEFAULT_WEBHOOK_SECRET)]
    verify_stripe(good["body"], good["header"], secrets, now=NOW)
    with pytest.raises(SignatureRefused) as stale:
        verify_stripe(old["body"], old["header"], secrets, now=NOW)
    assert stale.value.problem is SignatureProblem.STALE


async def test_duplicate_held_and_unanswered_deliveries_send_the_same_bytes(
    stripe: Stripe,
) -> None:
    _, made = await stripe.paid(copies=3)
    assert made["deliveries"] == [200, 200, 200]
    held = await stripe.control(
        f"payments/{made['payment_intent']}/refund", amount=100, deliver=False
    )
    assert held.json()["deliveries"] == []
    late = await stripe.control(f"events/{held.json()['event_id']}/deliver")
    assert late.json()["deliveries"] == [200]
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    await stripe.api.put("/_sandbox/webhook", json={"url": f"http://127.0.0.1:{port}/"})
    gone = await stripe.control(f"events/{made['event_id']}/deliver")
    assert gone.json()["deliveries"] == [None]
    bodies = [r["body"] for r in stripe.received]
    assert bodies == [stripe.state.events[made["event_id"]]] * 3 + [
        stripe.state.events[held.json()["event_id"]]
    ]
    assert [d.status for d in stripe.state.deliveries] == [200, 200, 200, 200, None]


async def test_injected_faults_on_a_fetch(stripe: Stripe) -> None:
    session = (await stripe.create()).json()
    path = f"{SESSIONS}/{session['id']}"
    for fault in (
        {"kind": "server_error", "method": "GET", "path_prefix": path},
        {"kind": "rate_limit", "retry_after": 7, "path_prefix": path},
        {"kind": "malformed", "path_prefix": path},
    ):
        assert (await stripe.api.post("/_sandbox/faults", json=fault)).status_code == 201
    failed = await stripe.api.get(path)
    assert failed.status_code == 500 and failed.json()["error"]["type"] == "api_error"
    limited = await stripe.api.get(path)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.json()["error"]["code"] == "rate_limit"
    assert (await stripe.api.get(path)).content == MALFORMED_BODY
    assert (await stripe.fetch(session["id"]))["id"] == session["id"]
    assert stripe.state.faults == []
    assert [r.path for r in stripe.state.requests].count(path) == 4
