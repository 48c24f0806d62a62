"""/admin stats' figures on a seeded real SQLite file: every number checked by hand, and
the chart decoded. (The end-to-end test checks the same command through Discord.)"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from bot.services.stats import StatsService
from bot.services.stats_chart import chart_plan, render_chart
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

    assert figures.revenue_per_day == {
        "2026-11-28": {"USD": 1050},
        "2026-11-29": {"INR": 19900, "USD": 700},
    }
    png = Image.open(io.BytesIO(render_chart(figures)))
    png.load()
    # 1000 wide; the orders panel, then one revenue panel per currency (INR, USD).
    assert png.format == "PNG" and png.size[0] == 1000 and 500 < png.size[1] < 800
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
        move(100000, "INR", wallet.EntryKind.CREDIT, "staff:3"),
        move(50000, "INR", wallet.EntryKind.CREDIT, "topup:razorpay:pay_1"),
        move(25000, "INR", wallet.EntryKind.CREDIT, "topup:razorpay:pay_2"),
    ):
        async with db.transaction() as conn:
            await wallet.post_in(conn, movement, now=NOW - DAY)
    figures = await StatsService(db).collect(3, now=NOW)
    assert figures.wallet == {
        "INR": {"credit": 100000, "credit_online": 75000},
        "USD": {"credit": 7000, "order_debit": 1750, "refund": 700, "adjustment": -100},
    }
    from bot.staff_presenters import stats_embed

    shown = {f.name: f.value for f in stats_embed(figures).fields}["Store credit"]
    assert shown is not None
    assert (
        "USD: top-ups $70.00 USD (online $0.00 USD, staff $70.00 USD), spent $17.50 USD, "
        "refunded $7.00 USD" in shown
    )
    assert "INR: top-ups ₹1,750.00 INR (online ₹750.00 INR, staff ₹1,000.00 INR)" in shown
    assert (await StatsService(db).collect(1, now=NOW + 30 * DAY)).wallet == {}


async def test_chart_plan_shows_what_an_owner_asks(db: Database, cipher: DeliveryCipher) -> None:
    """What the chart draws, from the figures: revenue per currency per day, only the
    outcomes that occurred (in a buyer's words), a date under every day with orders."""
    seeds = [
        (OrderStatus.COMPLETED, 6, Money(1050, "USD")),
        (OrderStatus.COMPLETED, 6, Money(19900, "INR")),
        (OrderStatus.PARTIALLY_COMPLETED, 4, Money(700, "USD")),
        (OrderStatus.SUBMITTING, 4, Money(700, "USD")),
        (OrderStatus.PROCESSING, 1, Money(700, "USD")),
        (OrderStatus.FAILED, 1, Money(700, "USD")),
        (OrderStatus.COMPLETED, 0, Money(49900, "INR")),
        (OrderStatus.CANCELLED, 0, Money(700, "USD")),
        (OrderStatus.COMPLETED, 25, Money(2500, "USD")),  # only on the 30-day view
    ]
    for n, (status, days_ago, total) in enumerate(seeds):
        await seed(db, cipher, n, provider="boost", status=status, days_ago=days_ago, total=total)

    plan = chart_plan(await StatsService(db).collect(7, now=NOW))

    assert plan.days[0] == "2026-11-24" and plan.days[-1] == "2026-11-30"
    assert [(e.name, e.orders) for e in plan.legend] == [
        ("completed", 3),
        ("partly completed", 1),
        ("in progress", 2),  # submitting and processing: nobody says "submitting"
        ("failed", 1),
        ("cancelled", 1),
    ]
    assert "(0)" not in str([(e.name, e.orders) for e in plan.legend])
    by_day = dict(zip(plan.days, plan.bars, strict=True))
    assert [(e.name, n) for e, n in by_day["2026-11-26"]] == [
        ("partly completed", 1),
        ("in progress", 1),
    ]
    assert [p.currency for p in plan.revenue] == ["INR", "USD"]
    inr, usd = plan.revenue
    assert dict(zip(plan.days, inr.per_day, strict=True)) == {
        "2026-11-24": 19900,
        "2026-11-25": 0,
        "2026-11-26": 0,
        "2026-11-27": 0,
        "2026-11-28": 0,
        "2026-11-29": 0,
        "2026-11-30": 49900,
    }
    assert usd.per_day == (1050, 0, 700, 0, 0, 0, 0)  # partly completed counts; failed not
    assert (inr.amounts[0], inr.total) == ("₹199.00 INR", "₹698.00 INR")
    assert (usd.amounts[2], usd.total) == ("$7.00 USD", "$17.50 USD")
    assert usd.ticks[0] == (0, "$0.00 USD") and usd.ticks[-1][0] >= 1050
    # A week: every day labelled, with its weekday.
    assert plan.date_labels["2026-11-24"] == "Tue\n24 Nov"
    assert set(plan.date_labels) == set(plan.days)

    month = chart_plan(await StatsService(db).collect(30, now=NOW))
    with_orders = {d for d, n in zip(month.days, month.orders_per_day, strict=True) if n}
    assert with_orders == {
        "2026-11-05",
        "2026-11-24",
        "2026-11-26",
        "2026-11-29",
        "2026-11-30",
    }
    # Every day with orders is labelled (and the first and last for bearings), not others.
    assert set(month.date_labels) == with_orders | {"2026-11-01"}
    assert month.date_labels["2026-11-01"] == "1\nNov"  # the month once, then day numbers
    assert month.date_labels["2026-11-24"] == "24"
    assert (month.legend[0].name, month.legend[0].orders) == ("completed", 4)
    assert month.revenue[1].total == "$42.50 USD"


async def test_chart_is_a_png_of_sensible_size(db: Database, cipher: DeliveryCipher) -> None:
    for n, days_ago in enumerate((0, 1, 1, 3, 9, 20)):
        await seed(
            db,
            cipher,
            n,
            provider="boost",
            status=OrderStatus.COMPLETED,
            days_ago=days_ago,
            total=Money(1050 * (n + 1), "USD" if n % 2 else "INR"),
        )
    for days in (7, 30):
        data = render_chart(await StatsService(db).collect(days, now=NOW))
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and 5_000 < len(data) < 500_000
        png = Image.open(io.BytesIO(data))
        png.load()
        assert png.size[0] == 1000 and 500 < png.size[1] < 800
        colours = {c for _, c in png.convert("RGB").getcolors(maxcolors=100000) or []}
        assert (46, 160, 67) in colours and (0, 128, 128) in colours  # orders, revenue
