"""The payment webhook endpoint over real HTTP (issue 28): the Razorpay sandbox delivers
signed events to it. Five deliveries credit once; a forged or missing signature and an
oversized body are refused with nothing written and nothing of the body in the logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.payment_webhooks import MAX_BODY_BYTES, WebhookSecrets, build_webhook_app
from bot.payments.razorpay import build_razorpay
from bot.services.topups import TopupService
from core.crypto import DeliveryCipher
from core.domain import Money
from sandbox.razorpay import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_WEBHOOK_SECRET,
    RazorpayState,
    create_app,
)
from storage import wallet
from storage.database import open_database
from tests.support import serve_app

BUYER = 31


@dataclass
class Shop:
    service: TopupService
    razorpay: RazorpayState
    sandbox_url: str
    endpoint: str


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    state = RazorpayState()
    sandbox_runner, sandbox_url = await serve_app(create_app(state))
    db = await open_database(tmp_path / "shop.sqlite3")
    client = build_razorpay(sandbox_url, DEFAULT_KEY_ID, SecretStr(DEFAULT_KEY_SECRET), timeout=2.0)
    service = TopupService(
        db,
        {"razorpay": client},
        currencies={"INR": "razorpay"},
        cipher=DeliveryCipher(SecretStr(DeliveryCipher.generate_key())),
    )
    # Newest first: the shop rotated its secret, and the sandbox still signs with the old.
    secrets = WebhookSecrets(
        {"razorpay": [SecretStr("rotated-new"), SecretStr(DEFAULT_WEBHOOK_SECRET)]}
    )
    hook_runner, hook_url = await serve_app(build_webhook_app(service, secrets))
    state.webhook_url = f"{hook_url}/webhooks/razorpay"
    try:
        yield Shop(service, state, sandbox_url, state.webhook_url)
    finally:
        await hook_runner.cleanup()
        await client.aclose()
        await db.close()
        await sandbox_runner.cleanup()


async def all_applied(shop: Shop) -> None:
    """The endpoint answers before it applies: wait until every stored event is applied
    (re-reading the database; the bound only limits how long a failure takes)."""
    for _ in range(500):
        pending = await shop.service.db.fetch_all(
            "SELECT id FROM payment_events WHERE processed_at IS NULL"
        )
        if not pending:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"events never applied: {len(pending)}")


async def test_five_deliveries_credit_once(shop: Shop) -> None:
    topup = await shop.service.start(user_id=BUYER, guild_id=1, amount=Money(50_000, "INR"))
    assert topup.remote_id is not None
    async with httpx.AsyncClient() as http:
        paid = await http.post(
            f"{shop.sandbox_url}/_sandbox/payment_links/{topup.remote_id}/pay",
            json={"copies": 5},
        )
    assert paid.json()["deliveries"] == [200] * 5
    await all_applied(shop)
    assert await wallet.balance(shop.service.db, BUYER, "INR") == Money(50_000, "INR")
    assert len(await wallet.entries(shop.service.db, BUYER)) == 1
    events = await shop.service.db.fetch_all("SELECT processed_at FROM payment_events")
    assert len(events) == 1 and events[0][0] is not None


async def test_forged_and_missing_signatures_write_nothing_and_log_no_body(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    topup = await shop.service.start(user_id=BUYER, guild_id=1, amount=Money(50_000, "INR"))
    assert topup.remote_id is not None
    async with httpx.AsyncClient() as http:
        forged = await http.post(
            f"{shop.sandbox_url}/_sandbox/payment_links/{topup.remote_id}/pay",
            json={"signature": "wrong"},
        )
        assert forged.json()["deliveries"] == [401]
        event_id = forged.json()["event_id"]
        missing = await http.post(
            f"{shop.sandbox_url}/_sandbox/events/{event_id}/deliver", json={"signature": "missing"}
        )
        assert missing.json()["deliveries"] == [401]
    assert await wallet.balances(shop.service.db, BUYER) == []
    assert await shop.service.db.fetch_all("SELECT id FROM payment_events") == []
    logged = caplog.text
    assert "no signature header" in logged and "matches none of our webhook secrets" in logged
    assert "payer@example.com" not in logged and "+919876543210" not in logged
    # The same event, now signed properly (a late, genuine delivery), credits.
    async with httpx.AsyncClient() as http:
        late = await http.post(f"{shop.sandbox_url}/_sandbox/events/{event_id}/deliver")
    assert late.json()["deliveries"] == [200]
    await all_applied(shop)
    assert await wallet.balance(shop.service.db, BUYER, "INR") == Money(50_000, "INR")


async def test_an_oversized_or_unreadable_body_is_refused(shop: Shop) -> None:
    async with httpx.AsyncClient() as http:
        huge = await http.post(shop.endpoint, content=b"{" + b" " * MAX_BODY_BYTES + b"}")
        assert huge.status_code == 413
        unknown = await http.post(shop.endpoint.replace("razorpay", "paypal"), content=b"{}")
        assert unknown.status_code == 404
    assert await shop.service.db.fetch_all("SELECT id FROM payment_events") == []


async def test_a_body_arriving_in_pieces_is_read_whole(shop: Shop) -> None:
    """A delivery split over several TCP reads (chunked, with pauses) is verified on the
    whole body: reading only what was buffered would refuse a genuine event."""
    topup = await shop.service.start(user_id=BUYER, guild_id=1, amount=Money(7_000, "INR"))
    assert topup.remote_id is not None
    _, event_id = shop.razorpay.pay(topup.remote_id, None)
    body = shop.razorpay.events[event_id]
    signature = shop.razorpay.signature_for(body, "good")
    assert signature is not None

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]
            await asyncio.sleep(0.01)  # each piece its own read at the server

    async with httpx.AsyncClient() as http:
        answer = await http.post(
            shop.endpoint,
            content=pieces(),
            headers={"X-Razorpay-Signature": signature, "X-Razorpay-Event-Id": event_id},
        )

        async def too_much() -> AsyncIterator[bytes]:
            for _ in range(MAX_BODY_BYTES // 65_536 + 2):
                yield b" " * 65_536

        oversized = await http.post(shop.endpoint, content=too_much())
    assert answer.status_code == 200
    await all_applied(shop)
    assert await wallet.balance(shop.service.db, BUYER, "INR") == Money(7_000, "INR")
    assert oversized.status_code == 413


async def test_a_signed_event_that_cant_be_read_is_stored_answered_and_told_once(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    """Signed by Razorpay but not an event this bot reads (a shape it doesn't know): a
    4xx would only make Razorpay retry it for a day. It is stored, encrypted, answered
    200, staff are told once, and a redelivery is the same event."""
    body = b'{"event": "payment.captured", "payload": "PAYER-SECRET-9921"}'
    signature = shop.razorpay.signature_for(body, "good")
    assert signature is not None
    headers = {"X-Razorpay-Signature": signature, "X-Razorpay-Event-Id": "evt_Unknown001"}
    with caplog.at_level(logging.DEBUG):
        async with httpx.AsyncClient() as http:
            first = await http.post(shop.endpoint, content=body, headers=headers)
            again = await http.post(shop.endpoint, content=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    rows = await shop.service.db.fetch_all(
        "SELECT event_id, kind, processed_at, body_enc FROM payment_events"
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [("evt_Unknown001", "unreadable", None)]
    assert b"PAYER-SECRET" not in bytes(rows[0][3])
    alerts = await shop.service.db.fetch_all("SELECT kind FROM staff_alerts")
    assert [a[0] for a in alerts] == ["payment_event_unreadable"]
    assert "PAYER-SECRET" not in caplog.text
    # The stored-events job reads it again quietly, and gives up after a day.
    assert await shop.service.apply_pending_events() == 0
