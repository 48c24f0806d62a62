"""The figures behind /admin stats, and its chart.

The chart is drawn with Pillow, imported only when a chart is drawn: the bot's start and
memory don't pay for it (docs/benchmarks.md has the measured cost, and why not matplotlib).
It is drawn in a worker thread so the event loop keeps serving while it renders.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.domain import OrderStatus
from storage import stats
from storage.database import Database

# Stacking order and colours of the chart (and the legend), bottom to top.
CHART_STATUSES: tuple[tuple[OrderStatus, tuple[int, int, int]], ...] = (
    (OrderStatus.COMPLETED, (46, 160, 67)),
    (OrderStatus.PARTIALLY_COMPLETED, (154, 205, 50)),
    (OrderStatus.SUBMITTED, (52, 120, 246)),
    (OrderStatus.PROCESSING, (86, 180, 233)),
    (OrderStatus.SUBMITTING, (160, 160, 200)),
    (OrderStatus.AWAITING_APPROVAL, (200, 140, 220)),
    (OrderStatus.NEEDS_REVIEW, (240, 170, 30)),
    (OrderStatus.FAILED, (220, 50, 47)),
    (OrderStatus.REFUNDED, (150, 150, 150)),
    (OrderStatus.CANCELLED, (90, 90, 90)),
)
REVENUE_STATUSES = (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_COMPLETED)


@dataclass(frozen=True, slots=True)
class Timing:
    median_seconds: float
    p90_seconds: float
    orders: int


@dataclass(frozen=True, slots=True)
class StatsFigures:
    days: int
    first_day: str  # YYYY-MM-DD, UTC
    last_day: str
    per_day: dict[str, dict[str, int]]  # day -> status -> orders created that day
    revenue: dict[str, int]  # currency -> minor units, completed orders the shop sold
    # provider -> time from Confirm to completed, for orders placed here (a linked order's
    # clock would start when staff linked it, which says nothing about the provider)
    completion: dict[str, Timing]
    dms: int  # final and resend notifications that went out
    dm_fallbacks: int  # of which went to the notices channel (DMs closed)
    totals: dict[str, int] = field(default_factory=dict)
    # currency -> ledger kind -> minor units moved in the period (debits as spent: > 0)
    wallet: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def fallback_rate(self) -> float | None:
        return self.dm_fallbacks / self.dms if self.dms else None


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d")


def _p90(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


class StatsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def collect(self, days: int, *, now: float | None = None) -> StatsFigures:
        now = time.time() if now is None else now
        today = datetime.fromtimestamp(now, tz=UTC).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        start = today - timedelta(days=days - 1)
        since = start.timestamp()
        per_day: dict[str, dict[str, int]] = {
            (start + timedelta(days=i)).strftime("%Y-%m-%d"): {} for i in range(days)
        }
        totals: dict[str, int] = {}
        for day, status, n in await stats.orders_per_day(self.db, since=since):
            per_day.setdefault(day, {})[status] = n
            totals[status] = totals.get(status, 0) + n
        revenue = await stats.revenue(self.db, since=since, statuses=REVENUE_STATUSES)
        durations = await stats.completion_times(self.db, since=since)
        completion = {
            provider: Timing(statistics.median(values), _p90(values), len(values))
            for provider, values in sorted(durations.items())
        }
        dms, dm_fallbacks = await stats.dm_counts(self.db, since=since)
        wallet = await stats.wallet_flows(self.db, since=since)
        return StatsFigures(
            days=days,
            first_day=start.strftime("%Y-%m-%d"),
            last_day=today.strftime("%Y-%m-%d"),
            per_day=dict(sorted(per_day.items())),
            revenue=revenue,
            completion=completion,
            dms=dms,
            dm_fallbacks=dm_fallbacks,
            totals=totals,
            wallet=wallet,
        )

    async def chart(self, figures: StatsFigures) -> bytes:
        return await asyncio.to_thread(render_chart, figures)


def render_chart(figures: StatsFigures) -> bytes:
    """Orders per day, stacked by status, as a PNG."""
    from PIL import Image, ImageDraw, ImageFont  # lazy: see the module docstring

    days = list(figures.per_day)
    width, height = 900, 420
    left, right, top, bottom = 56, 190, 40, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    highest = max((sum(c.values()) for c in figures.per_day.values()), default=0)
    scale_max = max(highest, 1)
    step = max(1, -(-scale_max // 5))
    scale_max = step * -(-scale_max // step)

    draw.text(
        (left, 12),
        f"Orders per day by status, {figures.first_day} to {figures.last_day} (UTC)",
        fill=(0, 0, 0),
        font=font,
    )
    for tick in range(0, scale_max + 1, step):
        y = top + plot_h - plot_h * tick / scale_max
        draw.line((left, y, left + plot_w, y), fill=(230, 230, 230))
        draw.text((left - 8, y), str(tick), fill=(60, 60, 60), font=font, anchor="rm")
    draw.line((left, top, left, top + plot_h), fill=(0, 0, 0))
    draw.line((left, top + plot_h, left + plot_w, top + plot_h), fill=(0, 0, 0))

    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    label_every = max(1, round(len(days) / 10))
    for i, day in enumerate(days):
        x0 = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        counts = figures.per_day[day]
        for status, colour in CHART_STATUSES:
            n = counts.get(status.value, 0)
            if not n:
                continue
            h = plot_h * n / scale_max
            draw.rectangle((x0, y - h, x0 + bar, y), fill=colour)
            y -= h
        if i % label_every == 0:
            draw.text(
                (x0 + bar / 2, top + plot_h + 6), day[5:], fill=(60, 60, 60), font=font, anchor="ma"
            )
    legend_x, legend_y = left + plot_w + 20, top
    for status, colour in CHART_STATUSES:
        total = figures.totals.get(status.value, 0)
        draw.rectangle((legend_x, legend_y, legend_x + 12, legend_y + 12), fill=colour)
        draw.text((legend_x + 18, legend_y), f"{status.label} ({total})", fill=(0, 0, 0), font=font)
        legend_y += 20
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
