"""/admin stats' figures on a seeded real SQLite file: every number checked by hand, and
the chart decoded. (The end-to-end test checks the same command through Discord.)"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from bot.services.stats import StatsService, render_chart
from core.crypto import DeliveryCipher
from core.domain import Money, OrderKind, OrderSource, OrderStatus
from storage import notifications as outbox
from storage import orders as repo
from storage.database import Database

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0


async def seed(
    db: Database,
    cipher: DeliveryCipher,
    n: int,
    *,
    provider: str,
    status: OrderStatus,
    days_ago: float,
    total: Money,
    took: float | None = None,
    source: OrderSource = OrderSource.PLACED,
) -> str:
    order_id = f"ORD-SEED{n:06d}"
    await repo.insert_order(
        db,
        repo.NewOrder(
            id=order_id,
            user_id=100 + n,
            guild_id=1,
            product_key="p",
            product_name="Product",
            provider=provider,
            kind=OrderKind.DIGITAL,
            quantity=1,
            unit_price=total,
            status=OrderStatus.SUBMITTED,
            source=source,
        ),
        cipher,
    )
    created = NOW - days_ago * DAY
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE orders SET created_at = ?, status = ? WHERE id = ?",
            (created, status.value, order_id),
        )
        if took is not None:
            await conn.execute(
                "INSERT INTO order_events (order_id, at, actor, kind, new_status)"
                " VALUES (?, ?, 'provider', 'status', 'completed')",
                (order_id, created + took),
            )
    return order_id


async def test_figures_match_the_seeded_orders(db: Database, cipher: DeliveryCipher) -> None:
    usd, inr = Money(1050, "USD"), Money(19900, "INR")
    seeds = [
        ("boost", OrderStatus.COMPLETED, 2, usd, 60.0, OrderSource.PLACED),
        ("boost", OrderStatus.FAILED, 2, usd, None, OrderSource.PLACED),
        ("boost", OrderStatus.COMPLETED, 1, Money(700, "USD"), 300.0, OrderSource.PLACED),
        ("checkout", OrderStatus.COMPLETED, 1, inr, 30.0, OrderSource.PLACED),
        ("digital_shop", OrderStatus.COMPLETED, 1, Money(0, "USD"), 10.0, OrderSource.LINKED),
        ("boost", OrderStatus.SUBMITTED, 0, usd, None, OrderSource.PLACED),
        ("boost", OrderStatus.REFUNDED, 0, usd, 20.0, OrderSource.PLACED),  # not revenue
        ("boost", OrderStatus.COMPLETED, 10, usd, 5.0, OrderSource.PLACED),  # outside 3 days
    ]
    ids = []
    for n, (provider, status, days_ago, total, took, source) in enumerate(seeds):
        ids.append(
            await seed(
                db,
                cipher,
                n,
                provider=provider,
                status=status,
                days_ago=days_ago,
                total=total,
                took=took,
                source=source,
            )
        )
    for order_id, state in zip(ids[:5], ["sent", "sent", "sent", "fallback", "sent"], strict=True):
        await outbox.owe_notification(db, order_id, "final", user_id=1)
        async with db.transaction() as conn:
            await conn.execute(
                "UPDATE notifications SET state = ?, created_at = ? WHERE order_id = ?",
                (state, NOW - DAY, order_id),
            )

    figures = await StatsService(db).collect(3, now=NOW)

    assert (figures.first_day, figures.last_day) == ("2026-11-28", "2026-11-30")
    assert figures.per_day == {
        "2026-11-28": {"completed": 1, "failed": 1},
        "2026-11-29": {"completed": 3},
        "2026-11-30": {"submitted": 1, "refunded": 1},
    }
    assert figures.totals == {"completed": 4, "failed": 1, "submitted": 1, "refunded": 1}
    assert figures.revenue == {"INR": 19900, "USD": 1750}  # linked and refunded excluded
    boost = figures.completion["boost"]
    assert (boost.median_seconds, boost.orders) == (180.0, 2)
    assert boost.p90_seconds == 276.0  # 60 + 0.9 * (300 - 60)
    assert figures.completion["checkout"].median_seconds == 30.0
    assert "digital_shop" not in figures.completion  # linked: its clock says nothing
    assert "refunded" not in str(figures.completion)  # only completed orders are timed
    assert (figures.dms, figures.dm_fallbacks, figures.fallback_rate) == (5, 1, 0.2)

    png = Image.open(io.BytesIO(render_chart(figures)))
    png.load()
    assert png.format == "PNG" and png.size == (900, 420)
    # The completed colour is drawn, and the empty scale still renders for an empty shop.
    assert (46, 160, 67) in {c for _, c in png.convert("RGB").getcolors(maxcolors=100000) or []}
    empty = await StatsService(db).collect(1, now=NOW + 30 * DAY)
    assert sum(sum(c.values()) for c in empty.per_day.values()) == 0
    Image.open(io.BytesIO(render_chart(empty))).load()


async def test_store_credit_figures_per_currency(db: Database) -> None:
    from storage import wallet

    def move(minor: int, currency: str, kind: wallet.EntryKind, key: str) -> wallet.Movement:
        return wallet.Movement(
            user_id=7, amount=Money(minor, currency), kind=kind, actor="1", idempotency_key=key
        )

    for movement in (
        move(5000, "USD", wallet.EntryKind.CREDIT, "c1"),
        move(2000, "USD", wallet.EntryKind.CREDIT, "c2"),
        move(-1050, "USD", wallet.EntryKind.ORDER_DEBIT, "d1"),
        move(-700, "USD", wallet.EntryKind.ORDER_DEBIT, "d2"),
        move(700, "USD", wallet.EntryKind.REFUND, "r2"),
        move(-100, "USD", wallet.EntryKind.ADJUSTMENT, "a1"),
        move(100000, "INR", wallet.EntryKind.CREDIT, "c3"),
    ):
        async with db.transaction() as conn:
            await wallet.post_in(conn, movement, now=NOW - DAY)
    figures = await StatsService(db).collect(3, now=NOW)
    assert figures.wallet == {
        "INR": {"credit": 100000},
        "USD": {"credit": 7000, "order_debit": 1750, "refund": 700, "adjustment": -100},
    }
    from bot.staff_presenters import stats_embed

    shown = {f.name: f.value for f in stats_embed(figures).fields}["Store credit"]
    assert shown is not None
    assert "USD: top-ups $70.00 USD, spent $17.50 USD, refunded $7.00 USD" in shown
    assert "INR: top-ups ₹1,000.00 INR" in shown
    assert (await StatsService(db).collect(1, now=NOW + 30 * DAY)).wallet == {}
