"""The top-up service against the Razorpay sandbox over real HTTP and a real SQLite file
(issue 28): a link per top-up, found again after a lost answer, and reconciliation
crediting what was paid exactly once, or ending an unpaid link with nothing credited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.payments.base import EventUnreadable
from bot.payments.razorpay import build_razorpay
from bot.services.topups import TopupRefused, TopupService
from core.crypto import DeliveryCipher
from core.domain import Money
from sandbox.common import Fault
from sandbox.razorpay import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, RazorpayState, create_app
from storage import payment_events, topups, wallet
from storage.database import Database, open_database
from storage.topups import TopupState
from tests.support import serve_app

BUYER = 21


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[tuple[TopupService, RazorpayState, Clock]]:
    clock = Clock()
    state = RazorpayState(wall_clock=clock)
    state.hang_seconds = 2.0
    runner, url = await serve_app(create_app(state))
    db: Database = await open_database(tmp_path / "shop.sqlite3")
    client = build_razorpay(url, DEFAULT_KEY_ID, SecretStr(DEFAULT_KEY_SECRET), timeout=0.5)
    client.retry_backoff = 0.01
    service = TopupService(
        db,
        {"razorpay": client},
        currencies={"INR": "razorpay"},
        cipher=DeliveryCipher(SecretStr(DeliveryCipher.generate_key())),
        clock=clock,
    )
    try:
        yield service, state, clock
    finally:
        await client.aclose()
        await db.close()
        await runner.cleanup()


async def test_a_paid_link_is_credited_once_by_reconciliation(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, clock = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(50_000, "INR"))
    assert topup.state is TopupState.OPEN and topup.url and topup.remote_id
    link = state.links[topup.remote_id]
    assert link["reference_id"] == topup.id and link["amount"] == 50_000
    # Nothing is due before the first check.
    assert await service.reconcile_due_topups() == 0
    state.pay(topup.remote_id, None)
    clock.now += 30
    assert await service.reconcile_due_topups() == 1
    assert await wallet.balance(service.db, BUYER, "INR") == Money(50_000, "INR")
    # Paid: never due again, and a staff "Check now" credits nothing more.
    clock.now += 3600
    assert await service.reconcile_due_topups() == 0
    paid = await topups.get(service.db, topup.id)
    assert paid is not None and paid.state is TopupState.PAID
    await service.check(paid)
    assert await wallet.ledger_sum(service.db, BUYER, "INR") == Money(50_000, "INR")
    assert len(await wallet.entries(service.db, BUYER)) == 1


async def test_an_unpaid_link_is_checked_again_and_an_expired_one_ends_with_nothing(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, _, clock = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(10_000, "INR"))
    assert topup.remote_id is not None
    clock.now += 30
    assert await service.reconcile_due_topups() == 1
    checked = await topups.get(service.db, topup.id)
    assert checked is not None and checked.state is TopupState.OPEN and checked.checks == 1
    # The link's 30 minutes pass: the provider says expired.
    clock.now += 31 * 60
    assert await service.reconcile_due_topups() == 1
    ended = await topups.get(service.db, topup.id)
    assert ended is not None and ended.state is TopupState.EXPIRED
    assert await wallet.balances(service.db, BUYER) == []
    # One late check, a quarter of an hour on: still nothing paid, so no more checks.
    assert await service.reconcile_due_topups() == 0
    clock.now += 16 * 60
    assert await service.reconcile_due_topups() == 1
    final = await topups.get(service.db, topup.id)
    assert final is not None and final.state is TopupState.EXPIRED and final.next_check_at is None
    clock.now += 3600
    assert await service.reconcile_due_topups() == 0


async def test_a_payment_captured_after_the_expiry_is_credited_by_the_late_check(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    """No webhooks: the payer was mid-checkout when the link expired, and the payment is
    captured minutes later. The late check finds it."""
    service, state, clock = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(12_000, "INR"))
    assert topup.remote_id is not None
    clock.now += 31 * 60
    assert await service.reconcile_due_topups() == 1
    expired = await topups.get(service.db, topup.id)
    assert expired is not None and expired.state is TopupState.EXPIRED
    state.pay(topup.remote_id, None)  # captured after the expiry
    clock.now += 16 * 60
    assert await service.reconcile_due_topups() == 1
    assert await wallet.balance(service.db, BUYER, "INR") == Money(12_000, "INR")
    paid = await topups.get(service.db, topup.id)
    assert paid is not None and paid.state is TopupState.PAID and paid.next_check_at is None


async def test_a_lost_create_answer_finds_the_link_instead_of_making_two(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, _ = shop
    state.add_fault(Fault("hang", method="POST"))
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(10_000, "INR"))
    assert topup.state is TopupState.OPEN
    assert len(state.links) == 1 and topup.remote_id in state.links


async def test_a_provider_down_refuses_with_one_line_and_charges_nothing(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, _ = shop
    state.add_fault(Fault("server_error", method="POST"))
    with pytest.raises(TopupRefused) as refused:
        await service.start(user_id=BUYER, guild_id=1, amount=Money(10_000, "INR"))
    assert "nothing was charged" in refused.value.user_message
    assert state.links == {}
    rows = await service.db.fetch_all("SELECT state FROM topups")
    assert [r[0] for r in rows] == ["failed"]


async def test_a_currency_without_a_provider_is_refused(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, _ = shop
    with pytest.raises(TopupRefused) as refused:
        await service.start(user_id=BUYER, guild_id=1, amount=Money(500, "USD"))
    assert "USD" in refused.value.user_message
    assert state.requests == []


def delivered(state: RazorpayState, event_id: str) -> tuple[bytes, dict[str, str]]:
    """An event exactly as the sandbox signs and sends it (body and headers)."""
    return state.events[event_id], {"X-Razorpay-Event-Id": event_id}


async def deliver_event(service: TopupService, state: RazorpayState, event_id: str) -> bool:
    body, headers = delivered(state, event_id)
    event = service.clients["razorpay"].parse_event(body, headers)
    return await service.receive_event("razorpay", event, body)


async def test_a_webhook_five_times_and_the_poll_credit_once(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, clock = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(50_000, "INR"))
    assert topup.remote_id is not None
    _, event_id = state.pay(topup.remote_id, None)
    body, headers = delivered(state, event_id)
    client = service.clients["razorpay"]
    event = client.parse_event(body, headers)
    results = [await service.receive_event("razorpay", event, body) for _ in range(5)]
    assert results == [True, False, False, False, False]
    clock.now += 30
    await service.reconcile_due_topups()  # not due any more: paid
    await service.check(topup)  # staff's Check now, with the record read before the credit
    assert await wallet.balance(service.db, BUYER, "INR") == Money(50_000, "INR")
    assert len(await wallet.entries(service.db, BUYER)) == 1
    rows = await service.db.fetch_all("SELECT processed_at, body_enc FROM payment_events")
    assert len(rows) == 1 and rows[0][0] is not None
    assert b"payer@example.com" not in bytes(rows[0][1])  # the body is kept encrypted


async def test_an_event_stored_but_not_applied_is_applied_after_a_restart(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, clock = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(20_000, "INR"))
    assert topup.remote_id is not None
    _, event_id = state.pay(topup.remote_id, None)
    body, _ = delivered(state, event_id)
    # What the endpoint stores before its 2xx; the process dies before applying it.
    await payment_events.record_event(
        service.db,
        provider="razorpay",
        event_id=event_id,
        kind="payment_link.paid",
        topup_id=topup.id,
        body_enc=service.cipher.encrypt_text(body.decode()),
        now=clock.now,
    )
    assert await service.apply_pending_events() == 0  # too fresh: the receiver may be on it
    clock.now += 10
    assert await service.apply_pending_events() == 1
    assert await service.apply_pending_events() == 0
    assert await wallet.balance(service.db, BUYER, "INR") == Money(20_000, "INR")


async def test_expired_event_ends_the_top_up_and_a_late_payment_still_credits(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, _ = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(20_000, "INR"))
    assert topup.remote_id is not None
    expired_id = state.expire(topup.remote_id)
    assert expired_id is not None
    await deliver_event(service, state, expired_id)
    ended = await topups.get(service.db, topup.id)
    assert ended is not None and ended.state is TopupState.EXPIRED
    assert await wallet.balances(service.db, BUYER) == []
    # The payer was mid-checkout: the money arrives after all, and is the buyer's.
    _, paid_id = state.pay(topup.remote_id, None)
    await deliver_event(service, state, paid_id)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(20_000, "INR")


async def test_a_refund_at_the_provider_takes_the_credit_back_once(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, _ = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(20_000, "INR"))
    assert topup.remote_id is not None
    client = service.clients["razorpay"]
    payment_id, paid_id = state.pay(topup.remote_id, None)
    await deliver_event(service, state, paid_id)
    refund_id = state.refund(payment_id, 5_000)
    body, headers = delivered(state, refund_id)
    event = client.parse_event(body, headers)
    assert event.reversal is not None and event.reversal.taken == Money(5_000, "INR")
    await service.receive_event("razorpay", event, body)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(15_000, "INR")
    kinds = [r[0] for r in await service.db.fetch_all("SELECT kind FROM staff_alerts")]
    assert kinds == ["topup_reversed"]


def test_unreadable_events_are_refused_by_name(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    client = shop[0].clients["razorpay"]
    with pytest.raises(EventUnreadable):
        client.parse_event(b'{"event": "payment_link.paid"}', {"X-Razorpay-Event-Id": "evt_1"})
    with pytest.raises(EventUnreadable):
        client.parse_event(b"\xff\xfe not json", {"X-Razorpay-Event-Id": "evt_1"})
    with pytest.raises(EventUnreadable):
        client.parse_event(b'{"event": "x", "payload": {}}', {})


async def test_a_refund_reported_before_its_payment_waits_for_the_credit(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    """The paid webhook failed and is being retried when staff refund part of it: the
    refund event comes first. It must wait for the credit, not be lost."""
    service, state, clock = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(20_000, "INR"))
    assert topup.remote_id is not None
    payment_id, paid_id = state.pay(topup.remote_id, None)
    refund_id = state.refund(payment_id, 5_000)
    assert await deliver_event(service, state, refund_id)
    pending = await service.db.fetch_all("SELECT id FROM payment_events WHERE processed_at IS NULL")
    assert len(pending) == 1  # stored, waiting
    clock.now += 10
    assert await service.apply_pending_events() == 0  # still nothing to take back from
    await deliver_event(service, state, paid_id)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(20_000, "INR")
    clock.now += 10
    assert await service.apply_pending_events() == 1
    assert await wallet.balance(service.db, BUYER, "INR") == Money(15_000, "INR")
    assert await wallet.ledger_sum(service.db, BUYER, "INR") == Money(15_000, "INR")


async def test_a_link_paid_then_refunded_before_any_check_is_handed_to_staff(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, clock = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(20_000, "INR"))
    assert topup.remote_id is not None
    state.pay(topup.remote_id, None)
    # Razorpay lists captured payments only: a refunded one is no longer "captured".
    for payment in state.links[topup.remote_id]["payments"]:
        payment["status"] = "refunded"
    clock.now += 30
    assert await service.reconcile_due_topups() == 1
    clock.now += 3600
    assert await service.reconcile_due_topups() == 0  # not asked about again
    kinds = [r[0] for r in await service.db.fetch_all("SELECT kind FROM staff_alerts")]
    assert kinds == ["topup_unresolved"]
    assert await wallet.balances(service.db, BUYER) == []


async def test_checks_that_keep_failing_end_a_day_after_the_expiry(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, clock = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(20_000, "INR"))
    assert topup.remote_id is not None and topup.expires_at is not None
    state.add_fault(Fault("server_error", count=-1, method="GET"))
    clock.now += 30
    assert await service.reconcile_due_topups() == 1
    found = await topups.get(service.db, topup.id)
    assert found is not None and found.next_check_at is not None  # asked again later
    clock.now = topup.expires_at + 25 * 3600
    assert await service.reconcile_due_topups() == 1
    assert await service.reconcile_due_topups() == 0
    ended = await topups.get(service.db, topup.id)
    assert ended is not None and ended.next_check_at is None and ended.state is TopupState.OPEN
    message = await service.db.fetch_one("SELECT message FROM staff_alerts")
    assert message is not None and "checking it keeps failing" in message[0]


async def paid_topup(
    service: TopupService, state: RazorpayState, minor: int
) -> tuple[topups.Topup, str]:
    """A top-up paid and credited through its webhook: (the top-up, the payment id)."""
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(minor, "INR"))
    assert topup.remote_id is not None
    payment_id, paid_id = state.pay(topup.remote_id, None)
    await deliver_event(service, state, paid_id)
    return topup, payment_id


async def test_a_failed_refund_gives_back_what_its_creation_took(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, _ = shop
    _, payment_id = await paid_topup(service, state, 20_000)
    created, failed = state.refund_steps(payment_id, 8_000, fails=True)
    await deliver_event(service, state, created)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(12_000, "INR")
    await deliver_event(service, state, failed)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(20_000, "INR")
    # Delivered again under a new event id (a replay): nothing more comes back.
    replay = state.new_event("refund.failed", json.loads(state.events[failed])["payload"])
    await deliver_event(service, state, replay)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(20_000, "INR")
    assert await wallet.ledger_sum(service.db, BUYER, "INR") == Money(20_000, "INR")
    kinds = [r[0] for r in await service.db.fetch_all("SELECT kind FROM staff_alerts")]
    assert kinds == ["topup_reversed", "topup_reversed"]  # taken, then given back


async def test_a_failed_refund_seen_before_its_creation_takes_nothing(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, _ = shop
    _, payment_id = await paid_topup(service, state, 20_000)
    created, failed = state.refund_steps(payment_id, 8_000, fails=True)
    await deliver_event(service, state, failed)  # out of order
    await deliver_event(service, state, created)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(20_000, "INR")
    assert len(await wallet.entries(service.db, BUYER)) == 1  # the credit only


async def test_created_then_processed_take_a_refund_once(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    service, state, _ = shop
    _, payment_id = await paid_topup(service, state, 20_000)
    created, processed = state.refund_steps(payment_id, 8_000)
    await deliver_event(service, state, created)
    await deliver_event(service, state, processed)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(12_000, "INR")


async def test_a_refund_of_a_links_second_payment_finds_its_top_up(
    shop: tuple[TopupService, RazorpayState, Clock],
) -> None:
    """A link paid twice credits both payments (with a mismatch alert); a refund of the
    second one is taken back from the same buyer, not left waiting for ever."""
    service, state, _ = shop
    topup = await service.start(user_id=BUYER, guild_id=1, amount=Money(10_000, "INR"))
    assert topup.remote_id is not None
    _, first = state.pay(topup.remote_id, None)
    second_payment, second = state.pay(topup.remote_id, 10_000)
    assert await deliver_event(service, state, first)
    assert await deliver_event(service, state, second)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(20_000, "INR")
    refunded = state.refund(second_payment, 10_000)
    assert await deliver_event(service, state, refunded)
    assert await wallet.balance(service.db, BUYER, "INR") == Money(10_000, "INR")
    assert await payment_events.pending_events(service.db, older_than=float("inf")) == []
