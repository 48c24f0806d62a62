"""Issue 28, the running bot: with Razorpay configured, `run` serves the payment webhook
endpoint where PAYMENT_WEBHOOK_LISTEN says and reconciles on its schedule; a port it
can't listen on stops it with one line. (The buyer's journey through Discord comes with
the `/top-up` command.)"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from demo.stack import LocalStack
from sandbox.razorpay import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_WEBHOOK_SECRET,
    RazorpayState,
    create_app,
)
from sandbox.razorpay_state import razorpay_id
from tests.e2e.helpers import closed_port, db_rows, problem_lines, run_bot
from tests.support import serve_app

pytestmark = pytest.mark.subprocess


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def razorpay() -> AsyncIterator[tuple[RazorpayState, str]]:
    state = RazorpayState()
    runner, url = await serve_app(create_app(state))
    try:
        yield state, url
    finally:
        await runner.cleanup()


def payments_env(url: str, port: int) -> dict[str, str]:
    return {
        "RAZORPAY_KEY_ID": DEFAULT_KEY_ID,
        "RAZORPAY_KEY_SECRET": DEFAULT_KEY_SECRET,
        "RAZORPAY_API_BASE_URL": url,
        "RAZORPAY_WEBHOOK_SECRETS": f"a-newer-secret,{DEFAULT_WEBHOOK_SECRET}",
        "PAYMENT_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
    }


async def test_the_bot_serves_signed_webhooks_and_refuses_forged_ones(
    parts: LocalStack, razorpay: tuple[RazorpayState, str]
) -> None:
    state, url = razorpay
    port = free_port()
    parts.extra_env.update(payments_env(url, port))
    await parts.start_bot()
    await parts.let_staff_see_admin()
    # An event of another integration on the same Razorpay account: signed, stored, 200.
    link = state.create_link({"amount": 500, "reference_id": "not-ours"})
    _, event_id = state.pay(link["id"], None)
    state.webhook_url = f"http://127.0.0.1:{port}/webhooks/razorpay"
    assert await state.deliver(event_id, signature="wrong") == [401]
    assert await state.deliver(event_id, signature="missing") == [401]
    assert db_rows(parts, "SELECT event_id FROM payment_events", ()) == []
    assert await state.deliver(event_id, copies=3) == [200, 200, 200]
    stored = db_rows(parts, "SELECT event_id, topup_id, body_enc FROM payment_events", ())
    assert [(r[0], r[1]) for r in stored] == [(event_id, None)]
    assert b"payer@example.com" not in bytes(stored[0][2])
    async with httpx.AsyncClient() as http:
        oversized = await http.post(
            state.webhook_url,
            content=json.dumps({"pad": "x" * 300_000}),
            headers={"X-Razorpay-Event-Id": razorpay_id("evt_")},
        )
    assert oversized.status_code == 413
    log = parts.bot_log()
    assert "payment webhooks served on 127.0.0.1" in log
    assert "matches none of our webhook secrets" in log and "no signature header" in log
    assert "payer@example.com" not in log and DEFAULT_WEBHOOK_SECRET not in log


async def test_a_webhook_port_in_use_stops_run_with_one_line(
    parts: LocalStack, razorpay: tuple[RazorpayState, str]
) -> None:
    _, url = razorpay
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, output = await run_bot(parts, ["run"], payments_env(url, port))
    assert status == 2, output
    (line,) = problem_lines(output)
    assert f"can't listen on 127.0.0.1:{port}" in line and "PAYMENT_WEBHOOK_LISTEN" in line
    assert "Traceback" not in output


@pytest.mark.one_python
async def test_check_config_online_checks_the_payment_keys_without_changing_anything(
    parts: LocalStack, razorpay: tuple[RazorpayState, str]
) -> None:
    state, url = razorpay
    env = {
        "RAZORPAY_KEY_ID": DEFAULT_KEY_ID,
        "RAZORPAY_KEY_SECRET": DEFAULT_KEY_SECRET,
        "RAZORPAY_API_BASE_URL": url,
    }
    status, output = await run_bot(parts, ["check-config", "--online"], env)
    assert status == 0, output
    assert (
        "razorpay: RAZORPAY_KEY_ID / RAZORPAY_KEY_SECRET accepted; payments are heard of by "
        "reconciliation only (no PAYMENT_WEBHOOK_LISTEN: no public URL needed)." in output
    )
    assert [r.method for r in state.requests] == ["GET"] and state.links == {}

    wrong = {**env, "RAZORPAY_KEY_SECRET": "not-the-secret-at-all"}
    status, output = await run_bot(parts, ["check-config", "--online"], wrong)
    assert status == 2, output
    (line,) = problem_lines(output)
    assert "razorpay: RAZORPAY_KEY_ID / RAZORPAY_KEY_SECRET refused" in line
    assert "not-the-secret-at-all" not in output and "Traceback" not in output

    unreachable = {**env, "RAZORPAY_API_BASE_URL": f"http://127.0.0.1:{closed_port()}"}
    status, output = await run_bot(parts, ["check-config", "--online"], unreachable)
    assert status == 0, output
    assert "WARNING: razorpay: RAZORPAY_KEY_ID / RAZORPAY_KEY_SECRET not checked" in output
