"""Issue 12: nothing a provider answers to a create can strand, double or lose an order.

Real SQLite, real sandbox providers over HTTP. Each test names the fault class it pins;
each fails on the code before issue 12 (the order stayed `submitting`, an exception
reached the buyer, an answer was dropped, or a re-send differed from the first send)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.catalog import Catalog, load_catalog
from bot.errors import InvalidInput, UserFacingError
from bot.providers.boost import BoostClient
from bot.providers.registry import ProviderRegistry
from bot.services.ordering import ConfirmResult, OrderingService
from core.crypto import DeliveryCipher
from core.domain import OrderStatus
from core.timings import Timings
from sandbox.common import Fault, FaultKind
from sandbox.runner import SandboxCluster
from storage import notifications as outbox
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database
from tests.payments import FREE_POLICY
from tests.support import REPO_ROOT, make_adapter

BUYER = 111
PHONE = {"phone_number": "+919876543210", "name": "Asha"}
# What a buyer must never be told once the provider may hold the order.
TRY_AGAIN = ("try again", "please retry")


@pytest.fixture
async def service(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry
) -> AsyncIterator[OrderingService]:
    yield OrderingService(
        db, cipher, load_catalog(REPO_ROOT / "catalog.toml"), adapters, policy=FREE_POLICY
    )


def posts(cluster: SandboxCluster, name: str) -> list[Any]:
    return [r for r in cluster.state(name).requests if r.method == "POST"]


async def boost_draft(service: OrderingService, key: str = "b-1") -> repo.OrderRecord:
    return await service.create_draft(
        product=service.boost_product(),
        quantity=4,
        user_id=BUYER,
        guild_id=1,
        interaction_key=key,
        details={"invite_code": "shopdemo"},
    )


async def checkout_draft(service: OrderingService, key: str = "c-1") -> repo.OrderRecord:
    return await service.create_draft(
        product=service.digital_product("streaming-1m"),
        quantity=1,
        user_id=BUYER,
        guild_id=1,
        interaction_key=key,
        contact=PHONE,
    )


async def order(db: Database, order_id: str) -> repo.OrderRecord:
    found = await repo.get_order(db, order_id)
    assert found is not None
    return found


async def alert_kinds(db: Database) -> list[str]:
    return [a.kind for a in await staff_alerts.unposted_alerts(db)]


def assert_not_told_to_retry(message: str) -> None:
    assert not any(phrase in message.lower() for phrase in TRY_AGAIN), message


# --- 1. once a request may have left, every exception means "outcome unknown" ---------

BROKEN_REPLIES: dict[str, dict[str, Any]] = {
    # httpx.DecodingError: the headers promise gzip, the bytes aren't.
    "undecodable": {"kind": "raw", "body": "{not gzip", "headers": {"Content-Encoding": "gzip"}},
    # json.loads refuses integers over 4,300 digits (ValueError, not JSONDecodeError).
    "huge_integer": {"kind": "raw", "body": '{"status": true, "data": {"id": ' + "9" * 5000 + "}}"},
    "truncated": {"kind": "malformed"},
}


@pytest.mark.parametrize("reply", sorted(BROKEN_REPLIES))
async def test_boost_reply_that_cant_be_read_goes_to_staff_never_resent(
    service: OrderingService, cluster: SandboxCluster, db: Database, reply: str
) -> None:
    cluster.state("boost").add_fault(Fault.from_dict({**BROKEN_REPLIES[reply], "method": "POST"}))
    draft = await boost_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.NEEDS_REVIEW
    assert_not_told_to_retry(outcome.user_message)
    assert (await order(db, draft.id)).status is OrderStatus.NEEDS_REVIEW
    assert await alert_kinds(db) == ["needs_review"]
    # The provider made the order; the bot never sends a second one on its own.
    assert len(cluster.state("boost").orders) == 1
    await service.recovery.recover_submitting(at_startup=True)
    assert len(posts(cluster, "boost")) == 1


@pytest.mark.parametrize("reply", sorted(BROKEN_REPLIES))
async def test_checkout_reply_that_cant_be_read_is_resent_with_the_same_request(
    service: OrderingService, cluster: SandboxCluster, db: Database, reply: str
) -> None:
    cluster.state("checkout").add_fault(
        Fault.from_dict({**BROKEN_REPLIES[reply], "method": "POST"})
    )
    draft = await checkout_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.RETRYING
    assert_not_told_to_retry(outcome.user_message)
    stored = await order(db, draft.id)
    assert stored.status is OrderStatus.SUBMITTING and stored.next_poll_at is not None
    service.clock = lambda: stored.next_poll_at + 1  # type: ignore[operator]
    assert await service.recovery.recover_submitting(at_startup=False) == 1
    assert (await order(db, draft.id)).status is OrderStatus.SUBMITTED
    first, second = posts(cluster, "checkout")
    assert first.text == second.text  # byte for byte
    assert list(cluster.state("checkout").orders) == [draft.id]


async def test_malformed_retry_after_on_a_create_is_a_plain_429(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    cluster.state("boost").add_fault(
        Fault("rate_limit", retry_after_header="soon-ish, maybe", method="POST")
    )
    draft = await boost_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    # A 429 means the provider did nothing: the order failed cleanly, and new orders
    # wait out the default hold (30 s) instead of crashing or waiting forever.
    assert outcome.result is ConfirmResult.FAILED and "busy" in outcome.user_message
    assert (await order(db, draft.id)).status is OrderStatus.FAILED


class BuggyBoostClient(BoostClient):
    """A real boost adapter with a bug in reading the answer: the request really goes
    out, then an exception outside the provider-error taxonomy is raised."""

    def _to_order(self, payload: Any) -> Any:
        if isinstance(payload, dict) and payload.get("data", {}).get("id"):
            raise KeyError("inviteCode")
        return super()._to_order(payload)


async def test_an_unexpected_exception_after_sending_is_outcome_unknown(
    db: Database, cipher: DeliveryCipher, cluster: SandboxCluster
) -> None:
    real = make_adapter(cluster, "boost")
    buggy = BuggyBoostClient(real._client, real._secret)
    providers = ProviderRegistry({"boost": buggy})
    try:
        service = OrderingService(
            db, cipher, load_catalog(REPO_ROOT / "catalog.toml"), providers, policy=FREE_POLICY
        )
        draft = await boost_draft(service)
        outcome = await service.confirm(draft.id, BUYER)  # must not raise
        assert outcome.result is ConfirmResult.NEEDS_REVIEW
        assert_not_told_to_retry(outcome.user_message)
        stored = await order(db, draft.id)
        assert stored.status is OrderStatus.NEEDS_REVIEW
        assert await alert_kinds(db) == ["needs_review"]
        assert len(cluster.state("boost").orders) == 1
    finally:
        await providers.aclose()


@pytest.mark.parametrize(
    ("raw", "status"),
    [("PARTIAL", OrderStatus.PARTIALLY_COMPLETED), ("REFUNDED", OrderStatus.REFUNDED)],
)
async def test_a_final_status_in_the_create_answer_is_recorded_not_dropped(
    service: OrderingService, cluster: SandboxCluster, db: Database, raw: str, status: OrderStatus
) -> None:
    cluster.state("boost").set_default_timeline([{"after": 0, "status": raw}])
    draft = await boost_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.SUBMITTED
    stored = await order(db, draft.id)
    (remote,) = cluster.state("boost").orders
    assert stored.status is status and stored.remote_id == remote and stored.raw_status == raw
    # The buyer is owed their DM, and staff hear about the bad ending.
    assert [n.kind for n in await outbox.list_notifications(db, draft.id)] == ["final"]
    assert "provider_outcome" in await alert_kinds(db)
    # Later recovery finds nothing stuck, and never claims "the bot stopped while sending".
    service.clock = lambda: time.time() + 3600
    assert await service.recovery.recover_submitting(at_startup=False) == 0


async def test_an_answer_recorded_but_not_acted_on_keeps_the_providers_id(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    # The provider's answer was stored, then the process died before the status moved.
    draft = await boost_draft(service)
    await repo.transition_order(
        db, draft.id, repo.StatusChange(OrderStatus.SUBMITTING, actor="x"), cipher
    )
    await repo.record_provider_answer(
        db,
        draft.id,
        remote_id="7f0c2a4e-1111-2222-3333-444455556666",
        raw_status="PENDING",
        detail="boost answered",
        expect=OrderStatus.SUBMITTING,
    )
    assert await service.recovery.recover_submitting(at_startup=True) == 1
    stored = await order(db, draft.id)
    assert stored.status is OrderStatus.NEEDS_REVIEW
    assert stored.remote_id == "7f0c2a4e-1111-2222-3333-444455556666"
    (alert,) = await staff_alerts.unposted_alerts(db)
    assert "7f0c2a4e-1111-2222-3333-444455556666" in alert.message
    assert "stopped while sending" not in alert.message


async def test_a_checkout_order_left_submitting_without_a_retry_time_is_resent(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    # An error broke off recording the first send (no re-send was scheduled). The
    # running bot re-sends it once it is clearly not in flight, without waiting for a
    # restart.
    draft = await checkout_draft(service)
    await repo.transition_order(
        db, draft.id, repo.StatusChange(OrderStatus.SUBMITTING, actor="x"), cipher
    )
    assert await service.recovery.recover_submitting(at_startup=False) == 0  # may be in flight
    service.clock = lambda: time.time() + 600
    assert await service.recovery.recover_submitting(at_startup=False) == 1
    assert (await order(db, draft.id)).status is OrderStatus.SUBMITTED
    assert list(cluster.state("checkout").orders) == [draft.id]


async def test_a_contact_that_no_longer_decrypts_orders_nothing_and_tells_staff(
    db: Database, cluster: SandboxCluster, adapters: ProviderRegistry, cipher: DeliveryCipher
) -> None:
    catalog = load_catalog(REPO_ROOT / "catalog.toml")
    before = OrderingService(db, cipher, catalog, adapters, policy=FREE_POLICY)
    draft = await checkout_draft(before)
    # The operator replaced the key instead of rotating it.
    other = DeliveryCipher(SecretStr(Fernet.generate_key().decode()))
    after = OrderingService(db, other, catalog, adapters, policy=FREE_POLICY)
    with pytest.raises(UserFacingError, match="nothing was ordered"):
        await after.confirm(draft.id, BUYER)
    assert posts(cluster, "checkout") == []
    assert await repo.get_order(db, draft.id) is None  # the draft can't be used again
    assert await alert_kinds(db) == ["undecryptable"]


async def test_a_frozen_request_that_no_longer_decrypts_goes_to_staff(
    db: Database, cluster: SandboxCluster, adapters: ProviderRegistry, cipher: DeliveryCipher
) -> None:
    catalog = load_catalog(REPO_ROOT / "catalog.toml")
    service = OrderingService(db, cipher, catalog, adapters, policy=FREE_POLICY)
    # Three 500s: the adapter's own quick retries are used up, a later re-send is due.
    cluster.state("checkout").add_fault(Fault("server_error", count=3, method="POST"))
    draft = await checkout_draft(service)
    assert (await service.confirm(draft.id, BUYER)).result is ConfirmResult.RETRYING
    due = (await order(db, draft.id)).next_poll_at
    assert due is not None
    other = DeliveryCipher(SecretStr(Fernet.generate_key().decode()))
    restarted = OrderingService(
        db, other, catalog, adapters, clock=lambda: due + 1, policy=FREE_POLICY
    )
    assert await restarted.recovery.recover_submitting(at_startup=False) == 1
    assert (await order(db, draft.id)).status is OrderStatus.NEEDS_REVIEW
    assert len(posts(cluster, "checkout")) == 3  # the unreadable request is never re-sent
    assert "needs_review" in await alert_kinds(db)


async def test_a_request_the_provider_would_refuse_is_refused_at_confirm(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    draft = await service.create_draft(
        product=service.boost_product(),
        quantity=4,
        user_id=BUYER,
        guild_id=1,
        interaction_key="bad-invite",
        details={"invite_code": "no spaces allowed"},
    )
    with pytest.raises(InvalidInput, match="Nothing was ordered"):
        await service.confirm(draft.id, BUYER)
    assert posts(cluster, "boost") == []
    assert await repo.get_order(db, draft.id) is None


# --- 3. the checkout re-send is exactly the first send ---------------------------------


async def test_a_resend_after_a_catalog_edit_and_restart_is_the_first_send(
    db: Database, cluster: SandboxCluster, adapters: ProviderRegistry, cipher: DeliveryCipher
) -> None:
    catalog = load_catalog(REPO_ROOT / "catalog.toml")
    service = OrderingService(db, cipher, catalog, adapters, policy=FREE_POLICY)
    # The provider stores the order and answers 502, three times (the adapter's quick
    # retries): a later re-send is scheduled.
    cluster.state("checkout").add_fault(
        Fault("raw", status=502, body="Bad Gateway", count=3, method="POST")
    )
    draft = await checkout_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.RETRYING
    # The owner edits the product (type and name) and restarts the bot.
    edited = Catalog(
        p.model_copy(update={"options": {"type": "physical_goods"}, "name": "Renamed"})
        if p.key == "streaming-1m"
        else p
        for p in catalog.all()
    )
    due = (await order(db, draft.id)).next_poll_at
    assert due is not None
    restarted = OrderingService(
        db, cipher, edited, adapters, clock=lambda: due + 1, policy=FREE_POLICY
    )
    assert await restarted.recovery.recover_submitting(at_startup=True) == 1
    sent = posts(cluster, "checkout")
    assert len(sent) == 4 and {r.text for r in sent} == {sent[0].text}
    assert (await order(db, draft.id)).status is OrderStatus.SUBMITTED
    assert list(cluster.state("checkout").orders) == [draft.id]


async def test_a_409_on_a_checkout_send_is_needs_review_not_failed(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    cluster.state("checkout").add_fault(Fault("conflict", method="POST"))
    draft = await checkout_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.NEEDS_REVIEW
    assert_not_told_to_retry(outcome.user_message)
    stored = await order(db, draft.id)
    assert stored.status is OrderStatus.NEEDS_REVIEW and stored.remote_id == draft.id
    assert await alert_kinds(db) == ["needs_review"]
    await service.recovery.recover_submitting(at_startup=True)
    assert len(posts(cluster, "checkout")) == 1


async def test_a_checkout_answer_under_another_id_is_never_resent(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    cluster.state("checkout").add_fault(Fault("wrong_id", id_value="THEIR-OWN-ID", method="POST"))
    draft = await checkout_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.NEEDS_REVIEW
    stored = await order(db, draft.id)
    # Named for staff, but not kept as this order's id: it may be another order's.
    assert stored.status is OrderStatus.NEEDS_REVIEW and stored.remote_id is None
    (alert,) = await staff_alerts.unposted_alerts(db)
    assert "THEIR-OWN-ID" in alert.message and draft.id in alert.message
    await service.recovery.recover_submitting(at_startup=True)
    assert len(posts(cluster, "checkout")) == 1


@pytest.mark.parametrize("bad_id", ["../../admin", "a?b=1", "x" * 500, ""])
async def test_a_boost_id_unfit_for_a_path_is_never_stored_or_requested(
    service: OrderingService, cluster: SandboxCluster, db: Database, bad_id: str
) -> None:
    cluster.state("boost").add_fault(Fault("wrong_id", id_value=bad_id, method="POST"))
    draft = await boost_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.NEEDS_REVIEW
    stored = await order(db, draft.id)
    assert stored.status is OrderStatus.NEEDS_REVIEW and stored.remote_id is None
    assert [r.method for r in cluster.state("boost").requests] == ["POST"]


# --- found by attacking the first version (a review of issue 12) ------------------------


def refuse_status_changes(db_file: Path, new_status: str | None = None) -> None:
    """SQLite itself refuses to move an order out of `submitting` (to `new_status`, or
    anywhere): a full disk, a broken file, a bug."""
    when = f"NEW.status = '{new_status}'" if new_status else "NEW.status != 'submitting'"
    with sqlite3.connect(db_file) as raw:
        raw.execute(
            "CREATE TRIGGER refuse_moves BEFORE UPDATE OF status ON orders"
            f" WHEN OLD.status = 'submitting' AND {when}"
            " BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )


async def test_the_providers_id_is_kept_before_the_status_change_that_fails(
    service: OrderingService, cluster: SandboxCluster, db: Database, tmp_path: Path
) -> None:
    refuse_status_changes(tmp_path / "orders.sqlite3", "submitted")
    draft = await boost_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.NEEDS_REVIEW
    assert_not_told_to_retry(outcome.user_message)
    stored = await order(db, draft.id)
    (remote,) = cluster.state("boost").orders
    assert stored.status is OrderStatus.NEEDS_REVIEW and stored.remote_id == remote


async def test_resends_stay_bounded_when_no_outcome_can_be_recorded(
    db: Database,
    cipher: DeliveryCipher,
    cluster: SandboxCluster,
    adapters: ProviderRegistry,
    tmp_path: Path,
) -> None:
    now = [time.time()]
    service = OrderingService(
        db,
        cipher,
        load_catalog(REPO_ROOT / "catalog.toml"),
        adapters,
        clock=lambda: now[0],
        timings=Timings(resubmit_delays=(1.0, 1.0)),
        policy=FREE_POLICY,
    )
    draft = await checkout_draft(service)
    refuse_status_changes(tmp_path / "orders.sqlite3")
    outcome = await service.confirm(draft.id, BUYER)  # sent; nothing can be recorded
    assert outcome.result is ConfirmResult.NEEDS_REVIEW
    assert_not_told_to_retry(outcome.user_message)
    for _ in range(10):
        now[0] += 600
        await service.recovery.recover_submitting(at_startup=False)
    # The first send and one re-send per configured wait, then none: never a loop.
    assert len(posts(cluster, "checkout")) == 3
    assert (await order(db, draft.id)).status is OrderStatus.SUBMITTING  # the disk refuses


async def test_an_answer_under_another_orders_id_goes_to_staff(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    first = await boost_draft(service, key="first")
    await service.confirm(first.id, BUYER)
    taken = (await order(db, first.id)).remote_id
    assert taken is not None
    cluster.state("boost").add_fault(Fault("wrong_id", id_value=taken, method="POST"))
    second = await boost_draft(service, key="second")
    outcome = await service.confirm(second.id, BUYER)
    assert outcome.result is ConfirmResult.NEEDS_REVIEW
    stored = await order(db, second.id)
    assert stored.status is OrderStatus.NEEDS_REVIEW and stored.remote_id is None
    alert = next(a for a in await staff_alerts.unposted_alerts(db) if a.kind == "needs_review")
    assert taken in alert.message and first.id in alert.message


@pytest.mark.parametrize("refusal", ["auth", "rejected"])
async def test_a_refusal_after_an_earlier_try_may_have_landed_is_not_nothing_ordered(
    service: OrderingService, cluster: SandboxCluster, db: Database, refusal: FaultKind
) -> None:
    # The first try is stored and answered 500; the adapter's own retry is refused.
    state = cluster.state("checkout")
    state.add_fault(Fault("raw", status=500, body="oops", method="POST"))
    state.add_fault(Fault(refusal, method="POST"))
    draft = await checkout_draft(service)
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.NEEDS_REVIEW
    assert_not_told_to_retry(outcome.user_message)
    assert list(state.orders) == [draft.id]


async def test_a_refused_resend_is_not_nothing_ordered(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    state = cluster.state("checkout")
    state.add_fault(Fault("raw", status=502, body="Bad Gateway", count=3, method="POST"))
    draft = await checkout_draft(service)
    assert (await service.confirm(draft.id, BUYER)).result is ConfirmResult.RETRYING
    state.add_fault(Fault("rejected", method="POST"))
    due = (await order(db, draft.id)).next_poll_at
    service.clock = lambda: due + 1  # type: ignore[operator]
    await service.recovery.recover_submitting(at_startup=False)
    stored = await order(db, draft.id)
    assert stored.status is OrderStatus.NEEDS_REVIEW  # not failed: the provider holds it
    assert list(state.orders) == [draft.id]
    assert "review" in [n.kind for n in await outbox.list_notifications(db, draft.id)]


async def test_a_409_on_a_resend_is_needs_review(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    state = cluster.state("checkout")
    state.add_fault(Fault("raw", status=502, body="Bad Gateway", count=3, method="POST"))
    draft = await checkout_draft(service)
    assert (await service.confirm(draft.id, BUYER)).result is ConfirmResult.RETRYING
    state.add_fault(Fault("conflict", method="POST"))
    due = (await order(db, draft.id)).next_poll_at
    service.clock = lambda: due + 1  # type: ignore[operator]
    await service.recovery.recover_submitting(at_startup=False)
    assert (await order(db, draft.id)).status is OrderStatus.NEEDS_REVIEW


async def test_an_endless_retry_after_on_a_create_is_clamped_and_reported(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    cluster.state("checkout").add_fault(
        Fault("rate_limit", retry_after_header="inf", method="POST")
    )
    draft = await checkout_draft(service)
    assert (await service.confirm(draft.id, BUYER)).result is ConfirmResult.RETRYING
    stored = await order(db, draft.id)
    assert stored.next_poll_at is not None
    assert 590 <= stored.next_poll_at - time.time() <= 610  # re-sent after 10 min, not never
    (alert,) = [a for a in await staff_alerts.unposted_alerts(db) if a.kind == "provider_hold"]
    assert "inf" in alert.message and "600s" in alert.message


async def test_startup_recovery_keeps_scheduled_resends_and_holds(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    state = cluster.state("checkout")
    state.add_fault(Fault("server_error", count=3, method="POST"))
    scheduled = await checkout_draft(service, key="scheduled")
    assert (await service.confirm(scheduled.id, BUYER)).result is ConfirmResult.RETRYING
    # A restart right away: the scheduled re-send keeps its time.
    assert await service.recovery.recover_submitting(at_startup=True) == 0
    assert len(posts(cluster, "checkout")) == 3
    # A crash leftover while the provider holds us off (Retry-After) waits too.
    leftover = await checkout_draft(service, key="leftover")
    await repo.transition_order(
        db, leftover.id, repo.StatusChange(OrderStatus.SUBMITTING, actor="x"), cipher
    )
    from storage import provider_health

    await provider_health.set_hold(db, "checkout", time.time() + 300)
    assert await service.recovery.recover_submitting(at_startup=True) == 0
    assert len(posts(cluster, "checkout")) == 3


async def test_one_providers_slow_resends_dont_delay_anothers_recovery(
    db: Database, cipher: DeliveryCipher, cluster: SandboxCluster
) -> None:
    slow = ProviderRegistry(
        {
            "checkout": make_adapter(cluster, "checkout", timeout=1.0),
            "boost": make_adapter(cluster, "boost"),
        }
    )
    try:
        service = OrderingService(
            db, cipher, load_catalog(REPO_ROOT / "catalog.toml"), slow, policy=FREE_POLICY
        )
        leftovers = [await checkout_draft(service, key=f"c{i}") for i in range(3)]
        boost = await boost_draft(service)
        for draft in [*leftovers, boost]:
            await repo.transition_order(
                db, draft.id, repo.StatusChange(OrderStatus.SUBMITTING, actor="x"), cipher
            )
        cluster.state("checkout").hang_seconds = 5
        cluster.state("checkout").add_fault(Fault("hang", count=-1, method="POST"))
        recovery = asyncio.create_task(service.recovery.recover_submitting(at_startup=True))
        started = time.monotonic()
        while (await order(db, boost.id)).status is not OrderStatus.NEEDS_REVIEW:
            assert time.monotonic() - started < 2, "the boost leftover waited for checkout"
            await asyncio.sleep(0.05)
        assert not recovery.done()  # the checkout re-sends are still hanging
        recovery.cancel()
        await asyncio.gather(recovery, return_exceptions=True)
    finally:
        await slow.aclose()


async def test_a_poll_429_holds_new_submissions_too(
    service: OrderingService,
    cluster: SandboxCluster,
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
) -> None:
    from bot.errors import ProviderBusy
    from bot.services.poller import Poller

    placed = await boost_draft(service, key="placed")
    await service.confirm(placed.id, BUYER)
    cluster.state("boost").add_fault(Fault("rate_limit", retry_after=120, method="GET"))
    poller = Poller(db, cipher, adapters, clock=lambda: time.time() + 5)
    await poller.poll_provider("boost")  # the first poll of the order: 429
    waiting = await boost_draft(service, key="waiting")
    with pytest.raises(ProviderBusy):
        await service.confirm(waiting.id, BUYER)
    assert len(posts(cluster, "boost")) == 1
    assert (await order(db, waiting.id)).status is OrderStatus.DRAFT
