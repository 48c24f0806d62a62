"""/admin stats' figures on a seeded real SQLite file: every number checked by hand, and
the chart decoded. (The end-to-end test checks the same command through Discord.)"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from bot.crypto import DeliveryCipher
from bot.domain import Money, OrderKind, OrderSource, OrderStatus
from bot.services.stats import StatsService, render_chart
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
