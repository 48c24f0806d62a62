"""`StripeClient` against the Stripe Checkout sandbox over real HTTP (issue 28): sessions
made under an idempotency key, read with their payment intent, found and expired as
the contract says; Stripe's amount rules enforced before asking; events read into ours;
faults turned into our error taxonomy. What the sandbox received is asserted."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.payments.base import AmountRefused, EventUnreadable, LinkState
from bot.payments.stripe import StripeClient, build_stripe
from bot.providers.errors import (
    ProviderAuthError,
    ProviderProtocolError,
    ProviderRateLimited,
)
from bot.services.topups import TopupService
from core.crypto import DeliveryCipher
from core.domain import Money
from sandbox.common import Fault
from sandbox.stripe import DEFAULT_SECRET_KEY, StripeState, create_app
from storage import topups
from storage.database import open_database
from storage.topups import Topup, TopupState
from tests.support import serve_app


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[StripeState, str]]:
    state = StripeState(hang_seconds=4.0)
    runner, url = await serve_app(create_app(state))
    try:
        yield state, url
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(sandbox: tuple[StripeState, str]) -> AsyncIterator[StripeClient]:
    stripe = build_stripe(sandbox[1], SecretStr(DEFAULT_SECRET_KEY), timeout=1.5)
    stripe.retry_backoff = 0.01
    try:
        yield stripe
    finally:
        await stripe.aclose()


async def create(client: StripeClient, reference: str = "TOP-1", minor: int = 1250) -> str:
    link = await client.create_link(
        reference=reference,
        amount=Money(minor, "USD"),
        description="Store credit",
        expires_at=time.time() + 1800,
    )
    return link.remote_id


async def test_create_sends_the_contract_and_reads_the_session(
    sandbox: tuple[StripeState, str], client: StripeClient
) -> None:
    state, _ = sandbox
    link = await client.create_link(
        reference="TOP-ABC",
        amount=Money(1250, "USD"),
        description="Store credit TOP-ABC",
        expires_at=time.time() + 1800,
    )
    assert link.state is LinkState.OPEN and link.payments == ()
    assert link.asked == Money(1250, "USD") and link.reference == "TOP-ABC"
    assert link.url.startswith("https://checkout.stripe.com/") and link.remote_id.startswith("cs_")
    (sent,) = [r for r in state.requests if r.method == "POST"]
    assert sent.headers["authorization"] == f"Bearer {DEFAULT_SECRET_KEY}"
    assert sent.headers["idempotency-key"] == "orderbot-TOP-ABC"
    assert sent.headers["stripe-version"] == "2024-06-20"
    assert "line_items[0][price_data][unit_amount]=1250" in sent.text.replace("%5B", "[").replace(
        "%5D", "]"
    )
    assert "client_reference_id=TOP-ABC" in sent.text


async def test_a_create_whose_answer_was_lost_is_sent_again_and_makes_one_session(
    sandbox: tuple[StripeState, str], client: StripeClient
) -> None:
    state, _ = sandbox
    state.add_fault(Fault("hang", method="POST"))
    remote_id = await create(client)
    posts = [r for r in state.requests if r.method == "POST"]
    assert len(posts) == 2 and len(state.sessions) == 1  # the repeat was a replay
    assert remote_id in state.sessions


async def test_paid_async_failed_and_expired_sessions_read_as_ours(
    sandbox: tuple[StripeState, str], client: StripeClient
) -> None:
    state, _ = sandbox
    card = await create(client, "TOP-CARD")
    intent, _, _ = state.pay(card)
    paid = await client.fetch_link(card)
    assert paid.state is LinkState.PAID
    assert [(p.payment_id, p.paid) for p in paid.payments] == [(intent, Money(1250, "USD"))]
    debit = await create(client, "TOP-DEBIT")
    state.pay(debit, is_async=True)
    settling = await client.fetch_link(debit)
    assert settling.state is LinkState.SETTLING and settling.payments == ()  # asked later
    state.settle(debit, succeeded=False)
    assert (await client.fetch_link(debit)).state is LinkState.CANCELLED
    ended = await client.cancel_link(await create(client, "TOP-END"))
    assert ended.state is LinkState.EXPIRED


async def test_find_matches_our_reference_and_says_none_otherwise(client: StripeClient) -> None:
    remote_id = await create(client, "TOP-FIND")
    await create(client, "TOP-OTHER")
    found = await client.find_link("TOP-FIND")
    assert found is not None and found.remote_id == remote_id
    assert await client.find_link("TOP-NEVER") is None


async def test_stripes_amount_rules_are_enforced_before_asking(
    sandbox: tuple[StripeState, str], client: StripeClient
) -> None:
    state, _ = sandbox
    with pytest.raises(AmountRefused, match="smallest"):
        client.check_amount(Money(49, "USD"))
    with pytest.raises(AmountRefused, match="must end in 0"):
        client.check_amount(Money(1005, "BHD"))
    client.check_amount(Money(1010, "BHD"))
    client.check_amount(Money(50, "JPY"))
    assert state.requests == []
    # The sandbox holds Stripe to the same rules.
    link = await client.create_link(
        reference="TOP-BHD",
        amount=Money(1010, "BHD"),
        description="BHD",
        expires_at=time.time() + 1800,
    )
    assert link.asked == Money(1010, "BHD")


async def test_a_refused_key_and_faults_become_our_errors(
    sandbox: tuple[StripeState, str], client: StripeClient
) -> None:
    state, url = sandbox
    wrong = build_stripe(url, SecretStr("sk_test_not-the-key-at-all"), timeout=0.5)
    try:
        with pytest.raises(ProviderAuthError) as refused:
            await wrong.check_key()
        assert "not-the-key" not in str(refused.value)
    finally:
        await wrong.aclose()
    await client.check_key()
    remote_id = await create(client)
    state.add_fault(Fault("server_error", count=2, method="GET"))
    assert (await client.fetch_link(remote_id)).state is LinkState.OPEN  # retried
    state.add_fault(Fault("rate_limit", retry_after_header="inf", method="GET"))
    with pytest.raises(ProviderRateLimited):
        await client.fetch_link(remote_id)
    state.add_fault(Fault("malformed", method="GET"))
    with pytest.raises(ProviderProtocolError):
        await client.fetch_link(remote_id)
    with pytest.raises(ProviderProtocolError):
        await client.fetch_link("../v1/customers")


def event_body(state: StripeState, event_id: str) -> bytes:
    return state.events[event_id]


async def test_events_read_into_credits_endings_and_reversals(
    sandbox: tuple[StripeState, str], client: StripeClient
) -> None:
    state, _ = sandbox
    remote_id = await create(client, "TOP-EVT", 2000)
    intent, charge, completed = state.pay(remote_id)
    paid = client.parse_event(event_body(state, completed), {})
    assert paid.reference == "TOP-EVT" and paid.remote_id == remote_id
    assert [(p.payment_id, p.paid) for p in paid.payments] == [(intent, Money(2000, "USD"))]
    _, first = state.refund(intent, 500)
    second_refund, second = state.refund(intent, 700)
    refunded = client.parse_event(event_body(state, second), {})
    # Every refund the charge lists, each by its own id: a lost first event costs nothing.
    assert [(r.reference, r.taken.minor) for r in refunded.reversals] == [
        (second_refund, 700),
        (client.parse_event(event_body(state, first), {}).reversals[0].reference, 500),
    ]
    # Without the list (newer API versions): the total refunded so far, cumulative.
    bare = json.loads(event_body(state, second))
    del bare["data"]["object"]["refunds"]
    (whole,) = client.parse_event(json.dumps(bare).encode(), {}).reversals
    assert (whole.reference, whole.taken.minor, whole.cumulative) == (f"{charge}:1200", 1200, True)
    dispute_id, disputed = state.dispute(intent, 800)
    (taken,) = client.parse_event(event_body(state, disputed), {}).reversals
    assert (taken.reference, taken.what, taken.payment_id) == (dispute_id, "disputed", intent)
    expiring = await create(client, "TOP-EXP")
    expired = state.expire(expiring)
    assert expired is not None
    assert client.parse_event(event_body(state, expired), {}).ended is LinkState.EXPIRED
    for garbage in (b"not json", b'{"id": "evt_1"}', b'{"id": 1, "type": "x", "data": {}}'):
        with pytest.raises(EventUnreadable):
            client.parse_event(garbage, {})


async def test_a_link_reaching_stripe_seconds_late_still_meets_its_expiry_minimum(
    tmp_path: Path,
) -> None:
    """The service reckons the expiry before its request; Stripe reads it on arrival. A
    request that arrives 20 s later (Stripe's clock 20 s ahead here) is still accepted:
    the link is asked for 31 minutes, not the bare 30."""
    state = StripeState(wall_clock=lambda: time.time() + 20)
    runner, url = await serve_app(create_app(state))
    db = await open_database(tmp_path / "shop.sqlite3")
    stripe = build_stripe(url, SecretStr(DEFAULT_SECRET_KEY), timeout=2)
    service = TopupService(
        db,
        {"stripe": stripe},
        currencies={"USD": "stripe"},
        cipher=DeliveryCipher(SecretStr(DeliveryCipher.generate_key())),
    )
    try:
        topup = await service.start(user_id=1, guild_id=None, amount=Money(500, "USD"))
        assert topup.state is TopupState.OPEN and len(state.sessions) == 1
    finally:
        await stripe.aclose()
        await db.close()
        await runner.cleanup()


async def test_a_bank_debit_settling_for_days_is_checked_until_it_pays(tmp_path: Path) -> None:
    """No webhooks: a session paid by a bank debit is complete but unpaid for days (SEPA
    up to 14). Reconciliation keeps asking, hourly, well past a card link's day of
    grace, and credits it when it settles."""
    now = [time.time()]
    state = StripeState(wall_clock=lambda: now[0])
    runner, url = await serve_app(create_app(state))
    db = await open_database(tmp_path / "shop.sqlite3")
    stripe = build_stripe(url, SecretStr(DEFAULT_SECRET_KEY), timeout=2)
    service = TopupService(
        db,
        {"stripe": stripe},
        currencies={"USD": "stripe"},
        cipher=DeliveryCipher(SecretStr(DeliveryCipher.generate_key())),
        clock=lambda: now[0],
    )
    try:
        topup = await service.start(user_id=1, guild_id=None, amount=Money(900, "USD"))
        assert topup.remote_id is not None
        state.pay(topup.remote_id, is_async=True)
        now[0] += 60
        assert await service.reconcile_due_topups() == 1
        settling = await service_topup(service, topup.id)
        assert settling.state is TopupState.OPEN and settling.next_check_at is not None
        assert settling.next_check_at - now[0] >= 3600  # hourly while it settles
        now[0] += 5 * 24 * 3600  # five days on: still asked, not handed to staff
        assert await service.reconcile_due_topups() == 1
        assert (await service_topup(service, topup.id)).next_check_at is not None
        state.settle(topup.remote_id, succeeded=True)
        now[0] += 3601
        assert await service.reconcile_due_topups() == 1
        paid = await service_topup(service, topup.id)
        assert paid.state is TopupState.PAID and paid.paid == Money(900, "USD")
        assert await db.fetch_all("SELECT kind FROM staff_alerts") == []
    finally:
        await stripe.aclose()
        await db.close()
        await runner.cleanup()


async def service_topup(service: TopupService, topup_id: str) -> Topup:
    found = await topups.get(service.db, topup_id)
    assert found is not None
    return found
