"""The figures behind /admin stats (the chart that draws them: bot.services.stats_chart).

The chart is drawn with Pillow, imported only when a chart is drawn: the bot's start and
memory don't pay for it (docs/benchmarks.md has the measured cost, and why not matplotlib).
It is drawn in a worker thread so the event loop keeps serving while it renders.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.domain import OrderStatus
from storage import stats
from storage.database import Database


# The outcomes the chart shows, bottom to top, in the words a buyer would use: the states
# an order passes through on its way (submitting, submitted, processing) are one
# "in progress". Only the outcomes that occurred get a legend entry. In English: the chart
# is drawn in English (its font has no Devanagari or Bengali; see stats_chart).
@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    colour: tuple[int, int, int]
    statuses: frozenset[OrderStatus]


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("completed", (46, 160, 67), frozenset({OrderStatus.COMPLETED})),
    Outcome("partly completed", (154, 205, 50), frozenset({OrderStatus.PARTIALLY_COMPLETED})),
    Outcome(
        "in progress",
        (52, 120, 246),
        frozenset({OrderStatus.SUBMITTING, OrderStatus.SUBMITTED, OrderStatus.PROCESSING}),
    ),
    Outcome("waiting for approval", (200, 140, 220), frozenset({OrderStatus.AWAITING_APPROVAL})),
    Outcome("being checked by staff", (240, 170, 30), frozenset({OrderStatus.NEEDS_REVIEW})),
    Outcome("failed", (220, 50, 47), frozenset({OrderStatus.FAILED})),
    Outcome("refunded", (150, 150, 150), frozenset({OrderStatus.REFUNDED})),
    Outcome("cancelled", (90, 90, 90), frozenset({OrderStatus.CANCELLED})),
)
OUTCOME_OF: dict[str, Outcome] = {
    status.value: outcome for outcome in OUTCOMES for status in outcome.statuses
}
IN_PROGRESS = OUTCOMES[2]
# Each status with its outcome's colour, bottom to top (bench/chart_library.py draws the
# same chart with matplotlib from this).
CHART_STATUSES: tuple[tuple[OrderStatus, tuple[int, int, int]], ...] = tuple(
    (status, outcome.colour)
    for outcome in OUTCOMES
    for status in sorted(outcome.statuses, key=list(OrderStatus).index)
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
    # day -> currency -> minor units: `revenue` by the day the orders were created
    revenue_per_day: dict[str, dict[str, int]] = field(default_factory=dict)

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
        revenue: dict[str, int] = {}
        revenue_per_day: dict[str, dict[str, int]] = {}
        for day, currency, minor in await stats.revenue_per_day(
            self.db, since=since, statuses=REVENUE_STATUSES
        ):
            revenue_per_day.setdefault(day, {})[currency] = minor
            revenue[currency] = revenue.get(currency, 0) + minor
        revenue = dict(sorted(revenue.items()))
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
            revenue_per_day=revenue_per_day,
        )

    async def chart(self, figures: StatsFigures) -> bytes:
        from bot.services.stats_chart import render_chart

        return await asyncio.to_thread(render_chart, figures)
