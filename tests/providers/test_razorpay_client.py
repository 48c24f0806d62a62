"""`RazorpayClient` against the Razorpay sandbox over real HTTP (issue 28): links made,
read and cancelled as the contract says, and a provider's faults turned into our error
taxonomy, never a traceback. What the sandbox received is asserted, not assumed."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.payments.base import LinkState
from bot.payments.razorpay import RazorpayClient, build_razorpay
from bot.providers.errors import (
    ProviderAuthError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
    SubmissionAmbiguous,
)
from core.domain import Money
from sandbox.common import Fault
from sandbox.razorpay import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, RazorpayState, create_app
from tests.support import serve_app

NOW = 1_800_000_000.0


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[RazorpayState, str]]:
    state = RazorpayState(wall_clock=lambda: NOW)
    state.hang_seconds = 4.0
    runner, url = await serve_app(create_app(state))
    try:
        yield state, url
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(sandbox: tuple[RazorpayState, str]) -> AsyncIterator[RazorpayClient]:
    # 1.5 s: ample for a local answer on a loaded CI machine (0.5 s flaked with three
    # Pythons' suites side by side), still well under the sandbox's 4 s hang.
    razorpay = build_razorpay(
        sandbox[1], DEFAULT_KEY_ID, SecretStr(DEFAULT_KEY_SECRET), timeout=1.5
    )
    razorpay.retry_backoff = 0.01
    try:
        yield razorpay
    finally:
        await razorpay.aclose()


async def test_create_sends_the_contract_and_reads_the_link(
    sandbox: tuple[RazorpayState, str], client: RazorpayClient
) -> None:
    state, _ = sandbox
    link = await client.create_link(
        reference="TOP-1", amount=Money(50_000, "INR"), description="Top-up", expires_at=NOW + 3600
    )
    assert link.state is LinkState.OPEN and link.payments == ()
    assert link.asked == Money(50_000, "INR") and link.reference == "TOP-1"
    assert link.url.startswith("https://rzp.io/") and link.expires_at == NOW + 3600
    sent = state.requests[-1]
    assert sent.method == "POST" and sent.path == "/v1/payment_links"
    token = base64.b64encode(f"{DEFAULT_KEY_ID}:{DEFAULT_KEY_SECRET}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {token}"
    assert sent.json == {
        "amount": 50_000,
        "currency": "INR",
        "accept_partial": False,
        "reference_id": "TOP-1",
        "description": "Top-up",
        "expire_by": int(NOW + 3600),
        "notify": {"sms": False, "email": False},
        "reminder_enable": False,
    }


async def test_fetch_sees_the_captured_payment_and_find_by_reference(
    sandbox: tuple[RazorpayState, str], client: RazorpayClient
) -> None:
    state, _ = sandbox
    link = await client.create_link(
        reference="TOP-7", amount=Money(50_000, "INR"), description="x", expires_at=NOW + 3600
    )
    payment_id, _ = state.pay(link.remote_id, 49_000)
    fetched = await client.fetch_link(link.remote_id)
    assert fetched.state is LinkState.PAID
    assert [(p.payment_id, p.paid) for p in fetched.payments] == [
        (payment_id, Money(49_000, "INR"))
    ]
    found = await client.find_link("TOP-7")
    assert found is not None and found.remote_id == link.remote_id
    assert await client.find_link("TOP-404") is None


async def test_cancel_and_the_refusal_of_a_second_cancel(client: RazorpayClient) -> None:
    link = await client.create_link(
        reference="TOP-1", amount=Money(500, "INR"), description="x", expires_at=NOW + 3600
    )
    assert (await client.cancel_link(link.remote_id)).state is LinkState.CANCELLED
    with pytest.raises(ProviderRejected) as refused:
        await client.cancel_link(link.remote_id)
    assert refused.value.user_message == "the link has ended already"


async def test_a_lost_create_answer_is_ambiguous_and_the_link_is_found(
    sandbox: tuple[RazorpayState, str], client: RazorpayClient
) -> None:
    state, _ = sandbox
    state.add_fault(Fault("hang", method="POST"))
    with pytest.raises(SubmissionAmbiguous):
        await client.create_link(
            reference="TOP-9", amount=Money(500, "INR"), description="x", expires_at=NOW + 3600
        )
    # The provider made it: one POST, and the link is found under our reference.
    assert [r.method for r in state.requests] == ["POST"]
    found = await client.find_link("TOP-9")
    assert found is not None and found.state is LinkState.OPEN
    with pytest.raises(ProviderRejected) as again:
        await client.create_link(
            reference="TOP-9", amount=Money(500, "INR"), description="x", expires_at=NOW + 3600
        )
    assert again.value.user_message == "a link with this reference exists already"


async def test_faults_become_the_taxonomy(
    sandbox: tuple[RazorpayState, str], client: RazorpayClient
) -> None:
    state, url = sandbox
    link = await client.create_link(
        reference="TOP-1", amount=Money(500, "INR"), description="x", expires_at=NOW + 3600
    )
    # Two 5xx then an answer: a GET is retried, and the third try reads the link.
    state.add_fault(Fault("server_error", count=2, method="GET"))
    assert (await client.fetch_link(link.remote_id)).state is LinkState.OPEN
    assert [r.method for r in state.requests].count("GET") == 3
    state.add_fault(Fault("rate_limit", retry_after_header="inf", method="GET"))
    with pytest.raises(ProviderRateLimited) as limited:
        await client.fetch_link(link.remote_id)
    assert limited.value.retry_after == 600.0
    state.add_fault(Fault("malformed", method="GET"))
    with pytest.raises(ProviderProtocolError):
        await client.fetch_link(link.remote_id)
    state.add_fault(Fault("raw", method="GET", body='{"status": "paid"}'))
    with pytest.raises(ProviderProtocolError) as mismatch:
        await client.fetch_link(link.remote_id)
    assert "fields" in mismatch.value.message
    with pytest.raises(ProviderRejected) as unknown:
        await client.fetch_link("plink_AAAAAAAAAAAAAA")
    assert unknown.value.user_message == "no such payment link"
    wrong_key = build_razorpay(url, DEFAULT_KEY_ID, SecretStr("not-the-secret"), timeout=0.5)
    try:
        with pytest.raises(ProviderAuthError) as refused:
            await wrong_key.check_key()
        assert "not-the-secret" not in str(refused.value)
    finally:
        await wrong_key.aclose()
    await client.check_key()


async def test_a_refused_amount_says_why(client: RazorpayClient) -> None:
    with pytest.raises(ProviderRejected) as refused:
        await client.create_link(
            reference="TOP-1", amount=Money(99, "INR"), description="x", expires_at=NOW + 3600
        )
    assert refused.value.status_code == 400
    assert "amount" in refused.value.message
