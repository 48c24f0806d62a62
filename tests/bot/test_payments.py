"""Paying for orders (issue 15), on real SQLite files and the real sandbox providers.

The rule under test (storage.payments): a wallet order is debited in the transaction
that claims it, has its payment back once it ends without goods, and is paid again when
staff retry it; limits are checked in that same transaction; approval orders are sent
only by staff. The e2e tests drive the same paths through Discord."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.catalog import load_catalog
from bot.errors import NotAllowed, NotEnoughCredit
from bot.providers.registry import ProviderRegistry
from bot.services.ordering import ConfirmResult, OrderingService, ShopPolicy
from bot.services.staff_orders import StaffOrderError
from bot.services.staff_review import StaffReview
from bot.services.wallet import WalletError, WalletService
from core.crypto import DeliveryCipher
from core.domain import Money, OrderKind, OrderStatus, PaymentMode
from sandbox.common import Fault
from sandbox.runner import SandboxCluster
from storage import notifications as outbox
from storage import orders as repo
from storage import payments, provider_health, wallet
from storage.database import Database, open_database
from storage.postgres import PostgresDatabase
from tests.support import REPO_ROOT

BUYER = 111
STAFF = 999
PRICE = 350 * 2  # two boosts at $3.50


def service_with(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry, policy: ShopPolicy
) -> OrderingService:
    return OrderingService(
        db, cipher, load_catalog(REPO_ROOT / "catalog.toml"), adapters, policy=policy
    )


@pytest.fixture
async def service(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry
) -> AsyncIterator[OrderingService]:
    yield service_with(db, cipher, adapters, ShopPolicy())


async def credit(db: Database, minor: int, key: str, user: int = BUYER) -> None:
    await WalletService(db).adjust(
        staff_id=STAFF,
        member_id=user,
        amount=Money(minor, "USD"),
        note="paid",
        interaction_id=hash(key) & 0xFFFFFFFF,
    )


async def draft(service: OrderingService, key: str, user: int = BUYER) -> repo.OrderRecord:
    return await service.create_draft(
        product=service.boost_product(),
        quantity=2,
        user_id=user,
        guild_id=1,
        interaction_key=key,
        details={"invite_code": "shopdemo"},
    )


def posts(cluster: SandboxCluster) -> int:
    return sum(1 for r in cluster.state("boost").requests if r.method == "POST")


async def test_confirm_debits_once_in_the_claim(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    await credit(db, 1000, "c1")
    order = await draft(service, "d1")
    assert order.payment is PaymentMode.WALLET
    outcome = await service.confirm(order.id, BUYER)
    assert outcome.result is ConfirmResult.SUBMITTED
    again = await service.confirm(order.id, BUYER)  # a second press
    assert again.result is ConfirmResult.ALREADY
    entries = await wallet.order_entries(db, order.id)
    assert [(e.kind, e.amount.minor, e.idempotency_key) for e in entries] == [
        (wallet.EntryKind.ORDER_DEBIT, -PRICE, f"{order.id}:debit")
    ]
    assert (await wallet.balance(db, BUYER, "USD")).minor == 300
    assert posts(cluster) == 1


async def test_a_short_balance_at_confirm_writes_and_sends_nothing(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    await credit(db, PRICE, "c1")
    order = await draft(service, "d1")
    await WalletService(db).adjust(
        staff_id=STAFF, member_id=BUYER, amount=Money(-1, "USD"), note="fix", interaction_id=7
    )
    with pytest.raises(NotEnoughCredit) as refused:
        await service.confirm(order.id, BUYER)
    assert "$6.99 USD" in refused.value.user_message and "$7.00 USD" in refused.value.user_message
    current = await repo.get_order(db, order.id)
    assert current is not None and current.status is OrderStatus.DRAFT  # kept for a retry
    assert await wallet.order_entries(db, order.id) == []
    assert posts(cluster) == 0
    # Topped up: the same draft confirms.
    await credit(db, 1, "c2")
    assert (await service.confirm(order.id, BUYER)).result is ConfirmResult.SUBMITTED


async def test_fifty_confirms_at_once_with_a_balance_for_ten(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    await credit(db, 10 * PRICE, "c1")
    drafts = [await draft(service, f"d{i}") for i in range(50)]
    results = await asyncio.gather(
        *(service.confirm(d.id, BUYER) for d in drafts), return_exceptions=True
    )
    submitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, NotEnoughCredit)]
    assert len(submitted) == 10 and len(refused) == 40, results
    assert all(r.result is ConfirmResult.SUBMITTED for r in submitted)
    rows = await db.fetch_all(
        "SELECT COUNT(*) AS n FROM ledger WHERE user_id = ? AND kind = 'order_debit'", (BUYER,)
    )
    assert rows[0]["n"] == 10
    assert posts(cluster) == 10
    assert (await wallet.balance(db, BUYER, "USD")).minor == 0
    assert await wallet.ledger_sum(db, BUYER, "USD") == Money(0, "USD")


@pytest.mark.postgres
async def test_fifty_confirms_through_two_pools_on_postgres_with_a_balance_for_ten(
    postgres_db: PostgresDatabase,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
) -> None:
    """The Confirm claim and its debit on PostgreSQL, from two pools (what two processes
    would use): 50 presses at once, a balance for 10. Ten orders reach the provider, each
    paid once; forty are refused with nothing written or sent."""
    other = await PostgresDatabase.connect(postgres_db.url, schema=postgres_db.schema)
    try:
        services = [service_with(db, cipher, adapters, ShopPolicy()) for db in (postgres_db, other)]
        await credit(postgres_db, 10 * PRICE, "c1")
        drafts = [await draft(services[0], f"d{i}") for i in range(50)]
        results = await asyncio.gather(
            *(services[i % 2].confirm(d.id, BUYER) for i, d in enumerate(drafts)),
            return_exceptions=True,
        )
    finally:
        await other.close()
    submitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, NotEnoughCredit)]
    assert len(submitted) == 10 and len(refused) == 40, results
    assert all(r.result is ConfirmResult.SUBMITTED for r in submitted)
    rows = await postgres_db.fetch_all(
        "SELECT COUNT(*) AS n FROM ledger WHERE user_id = ? AND kind = 'order_debit'", (BUYER,)
    )
    assert rows[0]["n"] == 10
    assert posts(cluster) == 10
    assert (await wallet.balance(postgres_db, BUYER, "USD")).minor == 0
    assert await wallet.ledger_sum(postgres_db, BUYER, "USD") == Money(0, "USD")


async def test_a_failed_order_is_refunded_once_and_a_retry_pays_again(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    await credit(db, 1000, "c1")
    cluster.state("boost").add_fault(Fault("rejected", method="POST"))
    order = await draft(service, "d1")
    outcome = await service.confirm(order.id, BUYER)
    assert outcome.result is ConfirmResult.FAILED
    assert "$7.00 USD went back to your store credit" in outcome.user_message
    kinds = [(e.kind, e.amount.minor) for e in await wallet.order_entries(db, order.id)]
    assert kinds == [(wallet.EntryKind.ORDER_DEBIT, -PRICE), (wallet.EntryKind.REFUND, PRICE)]
    assert (await wallet.balance(db, BUYER, "USD")).minor == 1000
    # The buyer's outcome DM is owed in the same transaction as the refund.
    assert [n.kind for n in await outbox.list_notifications(db, order.id)] == ["final"]

    staff = StaffReview(db, cipher, service)
    await WalletService(db).adjust(
        staff_id=STAFF, member_id=BUYER, amount=Money(-500, "USD"), note="x", interaction_id=8
    )
    with pytest.raises(StaffOrderError) as refused:
        await staff.retry_failed(order.id, STAFF)
    assert (
        "$5.00 USD" in refused.value.user_message
        and "Nothing was sent" in refused.value.user_message
    )
    assert posts(cluster) == 1  # only the refused first try
    await credit(db, 500, "c2")
    retried = await staff.retry_failed(order.id, STAFF)
    assert retried.result is ConfirmResult.SUBMITTED
    keys = [e.idempotency_key for e in await wallet.order_entries(db, order.id)]
    assert keys == [f"{order.id}:debit", f"{order.id}:refund", f"{order.id}:debit:2"]
    assert (await wallet.balance(db, BUYER, "USD")).minor == 300


async def test_staff_refunds_never_exceed_what_was_paid(
    service: OrderingService, db: Database
) -> None:
    await credit(db, 1000, "c1")
    order = await draft(service, "d1")
    await service.confirm(order.id, BUYER)
    staff_wallet = WalletService(db)
    with pytest.raises(WalletError, match="submitted"):  # live: it keeps its payment
        await staff_wallet.refund_order(
            staff_id=STAFF, order_id=order.id, amount=Money(100, "USD"), interaction_id=9
        )
    await repo.transition_order(
        db,
        order.id,
        repo.StatusChange(OrderStatus.PARTIALLY_COMPLETED, actor="provider"),
        service.cipher,
    )
    with pytest.raises(WalletError):
        await staff_wallet.refund_order(
            staff_id=STAFF, order_id=order.id, amount=Money(701, "USD"), interaction_id=1
        )
    part = await staff_wallet.refund_order(
        staff_id=STAFF, order_id=order.id, amount=Money(200, "USD"), interaction_id=2
    )
    same = await staff_wallet.refund_order(
        staff_id=STAFF, order_id=order.id, amount=Money(200, "USD"), interaction_id=2
    )
    assert not part.repeated and same.repeated  # Discord delivered the interaction twice
    rest = await staff_wallet.refund_order(
        staff_id=STAFF, order_id=order.id, amount=None, interaction_id=3
    )
    assert rest.amount == Money(500, "USD")
    with pytest.raises(WalletError):
        await staff_wallet.refund_order(
            staff_id=STAFF, order_id=order.id, amount=None, interaction_id=4
        )
    # A refund of the whole order afterwards finds nothing left to give back.
    await repo.transition_order(
        db, order.id, repo.StatusChange(OrderStatus.REFUNDED, actor="provider"), service.cipher
    )
    assert (await wallet.balance(db, BUYER, "USD")).minor == 1000
    assert [n.kind for n in await outbox.list_notifications(db, order.id)] == [
        "refund",
        "refund-2",
    ]


async def test_approval_orders_wait_for_one_staff_decision(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry, cluster: SandboxCluster
) -> None:
    service = service_with(db, cipher, adapters, ShopPolicy(default_payment=PaymentMode.APPROVAL))
    staff = StaffReview(db, cipher, service)
    order = await draft(service, "d1")  # no credit needed: staff check the payment
    outcome = await service.confirm(order.id, BUYER)
    assert outcome.result is ConfirmResult.AWAITING_APPROVAL
    assert posts(cluster) == 0
    alerts = await db.fetch_all("SELECT kind FROM staff_alerts WHERE order_id = ?", (order.id,))
    assert [a["kind"] for a in alerts] == ["approval"]
    # Two staff members press Approve at once: one send.
    results = await asyncio.gather(
        staff.approve(order.id, STAFF), staff.approve(order.id, STAFF + 1), return_exceptions=True
    )
    assert sum(isinstance(r, StaffOrderError) for r in results) == 1
    assert posts(cluster) == 1
    assert await wallet.order_entries(db, order.id) == []

    other = await draft(service, "d2")
    await service.confirm(other.id, BUYER)
    rejected = await staff.reject(other.id, STAFF, "no payment found")
    assert rejected.status is OrderStatus.CANCELLED
    assert "no payment found" in (rejected.status_message or "")
    assert posts(cluster) == 1
    with pytest.raises(StaffOrderError):
        await staff.approve(other.id, STAFF)


async def test_limits_count_orders_awaiting_approval_and_are_checked_at_confirm(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry
) -> None:
    policy = ShopPolicy(
        default_payment=PaymentMode.APPROVAL,
        limits=payments.BuyerLimits(max_open_orders=1),
    )
    service = service_with(db, cipher, adapters, policy)
    first, second = await draft(service, "d1"), await draft(service, "d2")
    await service.confirm(first.id, BUYER)  # awaiting approval: open
    with pytest.raises(NotAllowed) as refused:
        await service.confirm(second.id, BUYER)
    assert "1 open order" in refused.value.user_message
    with pytest.raises(NotAllowed):  # and at the command, before a draft exists
        await draft(service, "d3")


async def test_the_daily_spend_resets_at_midnight_utc(db: Database) -> None:
    midnight = 1_796_083_200.0  # 2026-12-01 00:00 UTC
    limits = payments.BuyerLimits(daily_spend={"USD": 1000})
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO orders (id, user_id, product_key, product_name, provider, kind,"
            " quantity, unit_price_minor, total_minor, currency, status, created_at,"
            " updated_at, payment, confirmed_at) VALUES ('ORD-AAAAAAAAAA', ?, 'p', 'P',"
            " 'boost', 'boost', 1, 900, 900, 'USD', 'submitted', ?, ?, 'free', ?)",
            (BUYER, midnight - 60, midnight - 60, midnight - 60),
        )
    order = Money(200, "USD")
    async with db.reading() as conn:
        with pytest.raises(payments.LimitReached) as hit:
            await payments.check_limits_in(
                conn, user_id=BUYER, order_id="new", total=order, limits=limits, now=midnight - 1
            )
        assert (
            f"<t:{int(midnight)}:R>" in hit.value.message
            and "$1.00 USD is left" in hit.value.message
        )
        await payments.check_limits_in(
            conn, user_id=BUYER, order_id="new", total=order, limits=limits, now=midnight
        )


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), st.integers(1, 3_000)),
        st.tuples(st.just("order"), st.integers(1, 2_000)),
        st.tuples(st.just("fail"), st.integers(0, 30)),
        st.tuples(st.just("retry"), st.integers(0, 30)),
        st.tuples(st.just("staff_refund"), st.integers(0, 30)),
        st.tuples(st.just("partial"), st.integers(0, 30)),
        st.tuples(st.just("adjust"), st.integers(-2_000, 2_000).filter(bool)),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=OPERATIONS)
def test_the_ledger_always_explains_the_balance_and_every_order(
    operations: list[tuple[str, int]],
) -> None:
    """Random credits, orders (Confirm), failures (automatic refunds), staff retries,
    staff refunds and adjustments: the balance is always the ledger sum and never
    negative; a live order has paid at most its total, an ended one nothing."""
    cipher = DeliveryCipher(SecretStr(DeliveryCipher.generate_key()))

    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            db = await open_database(Path(tmp) / "p.sqlite3")
            staff_wallet = WalletService(db)
            try:
                orders: list[str] = []
                for step, (op, value) in enumerate(operations):
                    try:
                        await apply(db, cipher, staff_wallet, orders, step, op, value)
                    except (wallet.InsufficientBalance, WalletError):
                        pass
                    balance = await wallet.balance(db, BUYER, "USD")
                    assert balance.minor >= 0
                    assert balance == await wallet.ledger_sum(db, BUYER, "USD")
                    for order_id in orders:
                        order = await repo.get_order(db, order_id)
                        assert order is not None
                        async with db.reading() as conn:
                            paid = await payments.net_paid_in(conn, order_id)
                        assert 0 <= paid <= order.total.minor
                        if order.status in payments.REFUNDING:
                            assert paid == 0
                        elif order.status is not OrderStatus.PARTIALLY_COMPLETED:
                            # Live (or a draft whose Confirm was refused): paid in full, or
                            # not at all; never sent with part of its price.
                            assert paid in (0, order.total.minor)
                            if order.status is not OrderStatus.DRAFT:
                                assert paid == order.total.minor
            finally:
                await db.close()

    asyncio.run(run())


async def apply(
    db: Database,
    cipher: DeliveryCipher,
    staff_wallet: WalletService,
    orders: list[str],
    step: int,
    op: str,
    value: int,
) -> None:
    if op == "credit":
        await credit(db, value, f"c{step}")
    elif op == "adjust":
        await staff_wallet.adjust(
            staff_id=STAFF,
            member_id=BUYER,
            amount=Money(value, "USD"),
            note="adjust",
            interaction_id=10_000 + step,
        )
    elif op == "order":
        order = await repo.insert_order(
            db,
            repo.NewOrder(
                id=f"ORD-{step:010d}",
                user_id=BUYER,
                guild_id=1,
                product_key="p",
                product_name="P",
                provider="boost",
                kind=OrderKind.BOOST,
                quantity=1,
                unit_price=Money(value, "USD"),
                status=OrderStatus.DRAFT,
                payment=PaymentMode.WALLET,
            ),
            cipher,
        )
        await move(db, cipher, order.id, OrderStatus.SUBMITTING, OrderStatus.DRAFT)
        orders.append(order.id)
    elif orders and op == "partial":
        await move(db, cipher, orders[value % len(orders)], OrderStatus.PARTIALLY_COMPLETED)
    elif orders and op == "fail":
        await move(db, cipher, orders[value % len(orders)], OrderStatus.FAILED)
    elif orders and op == "retry":
        await move(db, cipher, orders[value % len(orders)], OrderStatus.SUBMITTING)
    elif orders and op == "staff_refund":
        await staff_wallet.refund_order(
            staff_id=STAFF,
            order_id=orders[value % len(orders)],
            amount=Money(1 + value, "USD"),
            interaction_id=20_000 + step,
        )


async def move(
    db: Database,
    cipher: DeliveryCipher,
    order_id: str,
    status: OrderStatus,
    expect: OrderStatus | None = None,
) -> None:
    try:
        await repo.transition_order(
            db, order_id, repo.StatusChange(status, actor="test", expect=expect), cipher
        )
    except (repo.StaleStatus, ValueError):
        pass  # an illegal move (e.g. retry of a live order) changes nothing


async def test_a_product_can_override_the_shops_payment_mode(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry, cluster: SandboxCluster
) -> None:
    from bot.catalog import parse_catalog

    boost = {
        "key": "boost-approved",
        "name": "Boost (staff approve)",
        "provider": "boost",
        "kind": "boost",
        "unit_price": 350,
        "currency": "USD",
        "max_quantity": 10,
        "payment": "approval",
    }
    catalog = parse_catalog({"products": [boost]})
    service = OrderingService(db, cipher, catalog, adapters, policy=ShopPolicy())
    order = await draft(service, "d1")  # no credit: the product's own mode asks none
    assert order.payment is PaymentMode.APPROVAL
    assert (await service.confirm(order.id, BUYER)).result is ConfirmResult.AWAITING_APPROVAL
    assert posts(cluster) == 0
    with pytest.raises(Exception, match="payment"):
        parse_catalog({"products": [{**boost, "payment": "later"}]})


async def test_a_staff_credit_delivered_twice_credits_once(db: Database) -> None:
    staff_wallet = WalletService(db)
    first = await staff_wallet.adjust(
        staff_id=STAFF, member_id=BUYER, amount=Money(500, "USD"), note="UPI", interaction_id=42
    )
    again = await staff_wallet.adjust(
        staff_id=STAFF, member_id=BUYER, amount=Money(500, "USD"), note="UPI", interaction_id=42
    )
    assert (first.repeated, again.repeated) == (False, True)
    assert (await wallet.balance(db, BUYER, "USD")).minor == 500
    audited = await db.fetch_all("SELECT action, target FROM audit_log")
    assert [(a["action"], a["target"]) for a in audited] == [("wallet.credit", str(BUYER))]
    lines = await db.fetch_all("SELECT message FROM staff_alerts WHERE kind = 'staff_action'")
    assert len(lines) == 1 and "$5.00 USD" in lines[0]["message"]
    with pytest.raises(WalletError):  # a debit never takes a balance below zero
        await staff_wallet.adjust(
            staff_id=STAFF, member_id=BUYER, amount=Money(-501, "USD"), note="x", interaction_id=43
        )


# --- from the review that attacked the money claims -------------------------------------


async def test_a_live_order_being_resent_cant_be_refunded_into_an_unpaid_send(
    service: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    await WalletService(db).adjust(
        staff_id=STAFF, member_id=BUYER, amount=Money(19900, "INR"), note="p", interaction_id=1
    )
    cluster.state("checkout").add_fault(Fault("server_error", method="POST", count=-1))
    order = await service.create_draft(
        product=service.digital_product("streaming-1m"),
        quantity=1,
        user_id=BUYER,
        guild_id=1,
        interaction_key="c1",
        contact={"phone_number": "+919876543210"},
    )
    assert (await service.confirm(order.id, BUYER)).result is ConfirmResult.RETRYING
    with pytest.raises(WalletError, match="submitting"):
        await WalletService(db).refund_order(
            staff_id=STAFF, order_id=order.id, amount=None, interaction_id=2
        )
    cluster.state("checkout").clear_faults()
    stored = await repo.get_order(db, order.id)
    assert stored is not None and stored.next_poll_at is not None
    due = stored.next_poll_at + 1
    service.clock = lambda: due
    await service.recovery.recover_submitting(at_startup=False)
    sent = await repo.get_order(db, order.id)
    assert sent is not None and sent.status is OrderStatus.SUBMITTED
    async with db.reading() as conn:
        assert await payments.net_paid_in(conn, order.id) == sent.total.minor


async def test_a_draft_from_before_payments_is_never_sent_unpaid(
    service: OrderingService, cluster: SandboxCluster, db: Database, cipher: DeliveryCipher
) -> None:
    product = service.boost_product()
    order = await repo.insert_order(
        db,
        repo.NewOrder(
            id="ORD-0000000001",
            user_id=BUYER,
            guild_id=1,
            product_key=product.key,
            product_name=product.name,
            provider=product.provider,
            kind=OrderKind.BOOST,
            quantity=2,
            unit_price=product.price_for(1),
            status=OrderStatus.DRAFT,
            idempotency_key="draft:old",
            details={"invite_code": "shopdemo"},
            payment=None,
        ),
        cipher,
    )
    with pytest.raises(NotAllowed):
        await service.confirm(order.id, BUYER)
    assert posts(cluster) == 0 and await repo.get_order(db, order.id) is None


async def test_staff_sends_honour_a_providers_retry_after_hold(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry, cluster: SandboxCluster
) -> None:
    service = service_with(db, cipher, adapters, ShopPolicy(default_payment=PaymentMode.APPROVAL))
    order = await draft(service, "d1")
    await service.confirm(order.id, BUYER)
    await provider_health.set_hold(db, "boost", time.time() + 600)
    with pytest.raises(StaffOrderError, match="asked us to wait"):
        await StaffReview(db, cipher, service).approve(order.id, STAFF)
    assert posts(cluster) == 0
    current = await repo.get_order(db, order.id)
    assert current is not None and current.status is OrderStatus.AWAITING_APPROVAL
