"""The ordering service against real SQLite and the real sandbox providers.

The end-to-end tests drive the same paths through Discord; these pin the exactly-once
rules and crash recovery directly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.catalog import load_catalog
from bot.errors import InvalidInput, NotAllowed, ProviderBusy, ShopPaused
from bot.providers.registry import ProviderRegistry
from bot.services.ordering import ConfirmResult, OrderingService
from bot.services.shop import ShopService
from bot.services.submission import create_request
from core.crypto import DeliveryCipher
from core.domain import OrderStatus
from sandbox.common import Fault
from sandbox.runner import SandboxCluster
from storage import audit, staff_alerts
from storage import orders as repo
from storage.database import Database
from storage.postgres import PostgresDatabase
from tests.bot.helpers import BUYER, boost_draft, posts
from tests.payments import FREE_POLICY
from tests.support import REPO_ROOT

OTHER = 222
STAFF = 999
PHONE = {"phone_number": "+919876543210", "name": "Asha"}


@pytest.fixture
async def service(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry
) -> AsyncIterator[OrderingService]:
    catalog = load_catalog(REPO_ROOT / "catalog.toml")
    yield OrderingService(db, cipher, catalog, adapters, policy=FREE_POLICY)


async def test_boost_confirm_submits_once_and_logs_to_staff(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    draft = await boost_draft(service)
    assert draft.status is OrderStatus.DRAFT
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.SUBMITTED
    assert outcome.order is not None and outcome.order.status is OrderStatus.SUBMITTED
    assert outcome.order.remote_id in cluster.state("boost").orders
    assert outcome.order.next_poll_at is not None
    (sent,) = posts(cluster, "boost")
    assert sent.json == {"inviteCode": "shopdemo", "amount": "4"}  # type: ignore[attr-defined]
    alerts = await staff_alerts.unposted_alerts(db)
    assert [a.kind for a in alerts] == ["new_order"]
    assert draft.id in alerts[0].message and "$14.00 USD" in alerts[0].message
    timeline = [(e.kind, e.new_status) for e in await repo.list_events(db, draft.id)]
    assert timeline == [
        ("created", OrderStatus.DRAFT),
        ("status", OrderStatus.SUBMITTING),
        ("send", None),  # written before each send: re-sends are counted and bounded
        ("answer", None),  # the provider's id, kept before anything else is done
        ("status", OrderStatus.SUBMITTED),
    ]


async def test_double_confirm_and_redelivery_create_nothing_new(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    draft = await boost_draft(service, key="same-interaction")
    again = await boost_draft(service, key="same-interaction")  # redelivered interaction
    assert again.id == draft.id
    first, second = await asyncio.gather(
        service.confirm(draft.id, BUYER), service.confirm(draft.id, BUYER)
    )
    results = sorted([first.result, second.result])
    assert results == sorted([ConfirmResult.SUBMITTED, ConfirmResult.ALREADY])
    third = await service.confirm(draft.id, BUYER)
    assert third.result is ConfirmResult.ALREADY
    assert len(posts(cluster, "boost")) == 1
    rows = await db.fetch_all("SELECT id FROM orders")
    assert [r[0] for r in rows] == [draft.id]


async def test_only_the_buyer_can_confirm(
    service: OrderingService, cluster: SandboxCluster
) -> None:
    draft = await boost_draft(service)
    with pytest.raises(NotAllowed):
        await service.confirm(draft.id, OTHER)
    assert posts(cluster, "boost") == []


async def test_expired_confirmation_orders_nothing(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    draft = await boost_draft(service)
    service.clock = lambda: draft.created_at + 3600
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.EXPIRED
    assert posts(cluster, "boost") == []
    assert await repo.get_order(db, draft.id) is None


async def test_bad_input_creates_no_row(service: OrderingService, db: Database) -> None:
    with pytest.raises(InvalidInput) as too_many:
        await boost_draft(service, amount=999)
    assert "from 2 to 30" in too_many.value.user_message
    with pytest.raises(InvalidInput):
        service.digital_product("no-such-thing")
    with pytest.raises(InvalidInput):
        service.digital_product("vpn-12m")  # disabled
    assert await db.fetch_all("SELECT id FROM orders") == []


async def test_paused_shop_refuses_drafts_and_confirms(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    shop = ShopService(db)
    draft = await boost_draft(service)
    assert await shop.pause(STAFF, "stocktaking until 6pm")
    with pytest.raises(ShopPaused, match="stocktaking until 6pm"):
        await boost_draft(service, key="another")
    with pytest.raises(ShopPaused):
        await service.confirm(draft.id, BUYER)
    assert posts(cluster, "boost") == []
    assert await shop.resume(STAFF)
    assert not await shop.resume(STAFF)  # already open: said so, nothing else
    assert (await service.confirm(draft.id, BUYER)).result is ConfirmResult.SUBMITTED
    actions = [(e.actor_id, e.action, e.detail) for e in reversed(await audit.recent(db))]
    assert actions == [
        (STAFF, "shop.pause", "stocktaking until 6pm"),
        (STAFF, "shop.resume", None),
        (STAFF, "shop.resume", None),
    ]


async def test_boost_timeout_becomes_needs_review_never_resent(
    db: Database, cipher: DeliveryCipher, cluster: SandboxCluster
) -> None:
    from tests.support import make_adapter

    slow = ProviderRegistry({"boost": make_adapter(cluster, "boost", timeout=0.3)})
    try:
        service = OrderingService(
            db, cipher, load_catalog(REPO_ROOT / "catalog.toml"), slow, policy=FREE_POLICY
        )
        cluster.state("boost").add_fault(Fault("hang", method="POST"))
        draft = await boost_draft(service)
        outcome = await service.confirm(draft.id, BUYER)
        assert outcome.result is ConfirmResult.NEEDS_REVIEW
        assert "checking" in outcome.user_message.lower()
        assert (await repo.get_order(db, draft.id)).status is OrderStatus.NEEDS_REVIEW  # type: ignore[union-attr]
        alerts = await staff_alerts.unposted_alerts(db)
        assert [a.kind for a in alerts] == ["needs_review"]
        # Recovery never re-sends it.
        await service.recovery.recover_submitting(at_startup=True)
        await service.recovery.recover_submitting(at_startup=False)
        assert len(posts(cluster, "boost")) == 1
    finally:
        await slow.aclose()


async def test_checkout_sends_our_id_and_contact(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    product = service.digital_product("streaming-1m")
    draft = await service.create_draft(
        product=product, quantity=2, user_id=BUYER, guild_id=1, interaction_key="m-1", contact=PHONE
    )
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.SUBMITTED
    (sent,) = posts(cluster, "checkout")
    body = sent.json  # type: ignore[attr-defined]
    assert body["id"] == draft.id
    assert body["contact"] == PHONE
    assert body["total_amount"] == 39800 and body["items"][0]["amount"] == 19900
    stored = await repo.get_order(db, draft.id)
    assert stored is not None and stored.remote_id == draft.id
    assert stored.next_poll_at is None  # checkout can't be polled: staff deliver


async def test_checkout_422_is_failed_with_reason(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    cluster.state("checkout").add_fault(Fault("rejected", method="POST"))
    product = service.digital_product("streaming-1m")
    draft = await service.create_draft(
        product=product, quantity=1, user_id=BUYER, guild_id=1, interaction_key="m-2", contact=PHONE
    )
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.FAILED
    assert "phone_number" in outcome.user_message
    stored = await repo.get_order(db, draft.id)
    assert stored is not None and stored.status is OrderStatus.FAILED
    assert stored.status_message and "phone_number" in stored.status_message
    assert [a.kind for a in await staff_alerts.unposted_alerts(db)] == ["order_failed"]


async def test_crash_recovery_checkout_resubmits_same_id(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    product = service.digital_product("streaming-1m")
    draft = await service.create_draft(
        product=product, quantity=1, user_id=BUYER, guild_id=1, interaction_key="m-3", contact=PHONE
    )
    # The provider got it, then the bot died before recording the answer.
    cluster.state("checkout").add_fault(Fault("hang", method="POST"))
    await repo.transition_order(
        db, draft.id, repo.StatusChange(OrderStatus.SUBMITTING, actor="system"), cipher
    )
    import httpx

    async with httpx.AsyncClient(base_url=cluster.base_url("checkout"), timeout=0.2) as raw:
        request = create_request(await repo.get_order(db, draft.id), service.catalog, cipher)  # type: ignore[arg-type]
        body = {
            "id": request.order_id,
            "type": "digital_goods",
            "contact": dict(request.contact or {}),
            "items": [
                {"name": request.product_name, "amount": 19900, "quantity": 1, "sale_amount": 19900}
            ],
            "currency": "INR",
            "subtotal": 19900,
            "total_amount": 19900,
        }
        with pytest.raises(httpx.TimeoutException):
            await raw.post(
                "/orders", json=body, headers={"Authorization": cluster.api_key("checkout")}
            )
    assert list(cluster.state("checkout").orders) == [draft.id]
    # Restart: recovery re-sends with the same id; still one order at the provider.
    handled = await service.recovery.recover_submitting(at_startup=True)
    assert handled == 1
    stored = await repo.get_order(db, draft.id)
    assert stored is not None and stored.status is OrderStatus.SUBMITTED
    assert list(cluster.state("checkout").orders) == [draft.id]
    assert len(posts(cluster, "checkout")) == 2


async def test_crash_recovery_boost_goes_to_review(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    draft = await boost_draft(service)
    await repo.transition_order(
        db, draft.id, repo.StatusChange(OrderStatus.SUBMITTING, actor="system"), cipher
    )
    assert await service.recovery.recover_submitting(at_startup=True) == 1
    stored = await repo.get_order(db, draft.id)
    assert stored is not None and stored.status is OrderStatus.NEEDS_REVIEW
    assert posts(cluster, "boost") == []
    assert [a.kind for a in await staff_alerts.unposted_alerts(db)] == ["needs_review"]


@pytest.mark.postgres
async def test_a_starting_process_leaves_an_order_another_process_is_sending(
    postgres_db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
) -> None:
    """PostgreSQL: another process may be sending an order right now, so a starting
    process takes a `submitting` order only once it is clearly abandoned (as the running
    path does), never at once as it may on SQLite."""
    catalog = load_catalog(REPO_ROOT / "catalog.toml")
    service = OrderingService(postgres_db, cipher, catalog, adapters, policy=FREE_POLICY)
    draft = await boost_draft(service)
    await repo.transition_order(
        postgres_db, draft.id, repo.StatusChange(OrderStatus.SUBMITTING, actor="system"), cipher
    )
    assert await service.recovery.recover_submitting(at_startup=True) == 0
    stored = await repo.get_order(postgres_db, draft.id)
    assert stored is not None and stored.status is OrderStatus.SUBMITTING
    # The process sending it died: once it is `stuck_submitting_after` old, it is taken.
    later = stored.updated_at + service.submitter.timings.stuck_submitting_after + 1
    service.clock = lambda: later
    assert await service.recovery.recover_submitting(at_startup=True) == 1
    stored = await repo.get_order(postgres_db, draft.id)
    assert stored is not None and stored.status is OrderStatus.NEEDS_REVIEW
    assert posts(cluster, "boost") == []  # never re-sent blindly


@pytest.mark.postgres
async def test_two_processes_recovering_at_once_act_on_an_abandoned_order_once(
    postgres_db: PostgresDatabase,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
) -> None:
    """Workers find the same abandoned orders: each is claimed by one of them, which
    re-sends it (checkout, idempotent) or hands it to staff (boost), once."""
    other = await PostgresDatabase.connect(postgres_db.url, schema=postgres_db.schema)
    try:
        catalog = load_catalog(REPO_ROOT / "catalog.toml")
        services = [
            OrderingService(db, cipher, catalog, adapters, policy=FREE_POLICY)
            for db in (postgres_db, other)
        ]
        abandoned = []
        for n in range(3):
            draft = await boost_draft(services[0], key=f"abandoned-{n}")
            await repo.transition_order(
                postgres_db,
                draft.id,
                repo.StatusChange(OrderStatus.SUBMITTING, actor="system"),
                cipher,
            )
            abandoned.append(draft.id)
        stored = await repo.get_order(postgres_db, abandoned[-1])
        assert stored is not None
        later = stored.updated_at + services[0].submitter.timings.stuck_submitting_after + 1
        for service in services:
            service.clock = lambda: later
        handled = await asyncio.gather(
            *(s.recovery.recover_submitting(at_startup=False) for s in services * 2)
        )
        assert sum(handled) == 3, handled
        alerts = await staff_alerts.unposted_alerts(postgres_db)
        reviewed = [str(a.order_id) for a in alerts if a.kind == "needs_review"]
        assert sorted(reviewed) == sorted(abandoned)
        for order_id in abandoned:
            order = await repo.get_order(postgres_db, order_id)
            assert order is not None and order.status is OrderStatus.NEEDS_REVIEW
            row = await postgres_db.fetch_one(
                "SELECT poll_lease_until FROM orders WHERE id = ?", (order_id,)
            )
            assert row is not None and row[0] is None  # the claim was given back
        assert posts(cluster, "boost") == []
    finally:
        await other.close()


async def test_checkout_unavailable_keeps_retrying_with_same_id(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    cluster.state("checkout").add_fault(Fault("server_error", count=3, method="POST"))
    product = service.digital_product("streaming-1m")
    draft = await service.create_draft(
        product=product, quantity=1, user_id=BUYER, guild_id=1, interaction_key="m-4", contact=PHONE
    )
    outcome = await service.confirm(draft.id, BUYER)
    assert outcome.result is ConfirmResult.RETRYING
    stored = await repo.get_order(db, draft.id)
    assert stored is not None and stored.status is OrderStatus.SUBMITTING
    assert stored.next_poll_at is not None
    service.clock = lambda: stored.next_poll_at + 1  # type: ignore[operator]
    assert await service.recovery.recover_submitting(at_startup=False) == 1
    assert (await repo.get_order(db, draft.id)).status is OrderStatus.SUBMITTED  # type: ignore[union-attr]
    assert list(cluster.state("checkout").orders) == [draft.id]


async def test_link_external_order_checks_the_id_and_the_provider(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    remote = cluster.state("digital_shop").create_order(productName="Game key")
    with pytest.raises(InvalidInput):
        await service.link_external_order(
            staff_id=STAFF, member_id=BUYER, guild_id=1, provider="digital_shop", remote_id="short"
        )
    with pytest.raises(InvalidInput):
        await service.link_external_order(
            staff_id=STAFF,
            member_id=BUYER,
            guild_id=1,
            provider="digital_shop",
            remote_id="ZZZZZZZZZZZZ",
        )
    with pytest.raises(InvalidInput):
        await service.link_external_order(
            staff_id=STAFF, member_id=BUYER, guild_id=1, provider="boost", remote_id=remote
        )
    order = await service.link_external_order(
        staff_id=STAFF, member_id=BUYER, guild_id=1, provider="digital_shop", remote_id=remote
    )
    assert order.user_id == BUYER and order.remote_id == remote
    assert order.product_name == "Game key" and order.next_poll_at is not None
    events = await repo.list_events(db, order.id)
    assert {e.actor for e in events} == {str(STAFF)}
    with pytest.raises(InvalidInput):
        await service.link_external_order(
            staff_id=STAFF, member_id=OTHER, guild_id=1, provider="digital_shop", remote_id=remote
        )


async def test_abandoned_boost_submission_goes_to_staff_not_resent(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    draft = await boost_draft(service)
    await repo.transition_order(
        db, draft.id, repo.StatusChange(OrderStatus.SUBMITTING, actor="system"), cipher
    )
    # Moments later it may still be in flight: left alone.
    assert await service.recovery.recover_submitting(at_startup=False) == 0
    # Minutes later, nothing in this process is sending it: staff are told.
    stuck_at = time.time() + 600
    service.clock = lambda: stuck_at
    assert await service.recovery.recover_submitting(at_startup=False) == 1
    stored = await repo.get_order(db, draft.id)
    assert stored is not None and stored.status is OrderStatus.NEEDS_REVIEW
    assert posts(cluster, "boost") == []


async def test_a_pause_committed_just_before_confirm_wins(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    # The pause is checked again inside the transaction that claims the order for sending,
    # so a pause that lands between ensure_open() and that transaction still wins.
    draft = await boost_draft(service)
    await ShopService(db).pause(STAFF, "now")
    with pytest.raises(repo.ShopClosed):
        await repo.transition_order(
            db,
            draft.id,
            repo.StatusChange(
                OrderStatus.SUBMITTING, actor="x", expect=OrderStatus.DRAFT, require_shop_open=True
            ),
            cipher,
        )
    current = await repo.get_order(db, draft.id)
    assert current is not None and current.status is OrderStatus.DRAFT
    assert posts(cluster, "boost") == []


async def test_a_create_429_holds_the_next_confirm_without_sending(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    cluster.state("boost").add_fault(Fault("rate_limit", method="POST", retry_after=30))
    first = await boost_draft(service, key="first")
    busy = await service.confirm(first.id, BUYER)
    assert busy.result is ConfirmResult.FAILED and "busy" in busy.user_message
    # Another buyer confirms a moment later: nothing is sent, and their draft stays.
    second = await boost_draft(service, key="second")
    with pytest.raises(ProviderBusy, match="about 30 seconds"):
        await service.confirm(second.id, BUYER)
    assert len(posts(cluster, "boost")) == 1
    still = await repo.get_order(db, second.id)
    assert still is not None and still.status is OrderStatus.DRAFT
    # Once the hold is over, Confirm sends it.
    service.clock = lambda: time.time() + 31
    assert (await service.confirm(second.id, BUYER)).result is ConfirmResult.SUBMITTED
