"""The /admin stats chart: `chart_plan` decides what is drawn (pure, tested on its data),
`render_chart` draws it with Pillow, imported only here and only when a chart is drawn.

The chart is drawn in English, with ASCII digits, whatever the staff language: its font
(DejaVu Sans) has no Devanagari or Bengali glyphs, Bengali digits included, so Hindi or
Bengali text would come out as empty boxes. The embed it is attached to (bot.staff_presenters
.stats_embed) is translated: Discord draws that text with the reader's own fonts."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.services.stats import IN_PROGRESS, OUTCOME_OF, OUTCOMES, Outcome, StatsFigures
from core.domain import Money
from core.i18n import SOURCE_LANGUAGE, speaking


@dataclass(frozen=True, slots=True)
class LegendEntry:
    name: str  # the buyer's word for the outcome
    colour: tuple[int, int, int]
    orders: int


@dataclass(frozen=True, slots=True)
class RevenuePanel:
    """One currency's revenue per day: currencies are never added up or share a scale."""

    currency: str
    per_day: tuple[int, ...]  # minor units, one per day of ChartPlan.days
    amounts: tuple[str, ...]  # the same as Money text ("" on a day without revenue)
    total: str
    ticks: tuple[tuple[int, str], ...]  # (minor units, Money text), 0 first


@dataclass(frozen=True, slots=True)
class ChartPlan:
    """Everything render_chart draws, worked out from the figures without drawing."""

    title: str
    days: tuple[str, ...]
    bars: tuple[tuple[tuple[LegendEntry, int], ...], ...]  # per day, bottom to top
    orders_per_day: tuple[int, ...]
    order_ticks: tuple[int, ...]  # 0 first, the last is the top of the scale
    legend: tuple[LegendEntry, ...]  # only the outcomes that occurred
    date_labels: dict[str, str]  # day -> text under it (lines split by "\n")
    revenue: tuple[RevenuePanel, ...]


def _nice(raw: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least `raw` (and >= 1)."""
    power = 1
    while True:
        for m in (1, 2, 5):
            if m * power >= raw:
                return m * power
        power *= 10


def _ticks(highest: int, count: int) -> tuple[int, ...]:
    step = _nice(max(highest, 1) / count)
    top = step * -(-max(highest, 1) // step)
    return tuple(range(0, top + 1, step))


def _date_labels(days: list[str], with_orders: set[str]) -> dict[str, str]:
    """A week or two: every day, with its weekday. Longer: every day that had orders,
    plus the first and the last, as the day of the month; the month goes on a second
    line under the first label and wherever the month changes."""
    labels: dict[str, str] = {}
    if len(days) <= 14:
        for day in days:
            d = datetime.strptime(day, "%Y-%m-%d")
            labels[day] = f"{d:%a}\n{d.day} {d:%b}"
        return labels
    month = ""
    for day in days:
        if day not in with_orders and day not in (days[0], days[-1]):
            continue
        d = datetime.strptime(day, "%Y-%m-%d")
        labels[day] = f"{d.day}" + (f"\n{d:%b}" if f"{d:%b}" != month else "")
        month = f"{d:%b}"
    return labels


def chart_plan(figures: StatsFigures) -> ChartPlan:
    """What the /admin stats chart shows: orders per day stacked by outcome, and under
    them each currency's revenue per day."""
    days = list(figures.per_day)
    totals: dict[Outcome, int] = {}
    bars = []
    for day in days:
        per_outcome: dict[Outcome, int] = {}
        for status, n in figures.per_day[day].items():
            if n:
                outcome = OUTCOME_OF.get(status, IN_PROGRESS)
                per_outcome[outcome] = per_outcome.get(outcome, 0) + n
        for outcome, n in per_outcome.items():
            totals[outcome] = totals.get(outcome, 0) + n
        bars.append(per_outcome)
    legend = {o: LegendEntry(o.name, o.colour, totals[o]) for o in OUTCOMES if totals.get(o)}
    orders_per_day = tuple(sum(b.values()) for b in bars)
    currencies = sorted(
        {c for amounts in figures.revenue_per_day.values() for c, m in amounts.items() if m}
    )
    panels = []
    for currency in currencies:
        per_day = tuple(figures.revenue_per_day.get(day, {}).get(currency, 0) for day in days)
        panels.append(
            RevenuePanel(
                currency=currency,
                per_day=per_day,
                amounts=tuple(Money(m, currency).format() if m else "" for m in per_day),
                total=Money(sum(per_day), currency).format(),
                ticks=tuple(
                    (t, Money(t, currency).format()) for t in _ticks(max(per_day), count=4)
                ),
            )
        )
    return ChartPlan(
        title=(f"Orders and revenue per day, {figures.first_day} to {figures.last_day} (UTC)"),
        days=tuple(days),
        bars=tuple(tuple((legend[o], b[o]) for o in OUTCOMES if b.get(o)) for b in bars),
        orders_per_day=orders_per_day,
        order_ticks=_ticks(max(orders_per_day, default=0), count=5),
        legend=tuple(legend.values()),
        date_labels=_date_labels(days, {d for d, n in zip(days, orders_per_day, strict=True) if n}),
        revenue=tuple(panels),
    )


_FONT_PATHS = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_MISSING_GLYPH = "\U0010fffd"  # a private-use character no font draws


def _font(size: int) -> Any:
    from PIL import ImageFont

    for path in _FONT_PATHS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def render_chart(figures: StatsFigures) -> bytes:
    """The chart chart_plan describes, as a PNG: orders per day stacked by outcome (with
    a legend of the outcomes that occurred), then one revenue panel per currency."""
    from PIL import Image, ImageDraw  # lazy: see the module docstring

    # English amounts and digits: see the module docstring.
    with speaking(SOURCE_LANGUAGE):
        plan = chart_plan(figures)
    font, small, bold = _font(13), _font(11), _font(15)

    def glyph(ch: str, f: Any) -> bytes:
        tile = Image.new("L", (40, 40))
        ImageDraw.Draw(tile).text((4, 4), ch, fill=255, font=f)
        return tile.tobytes()

    drawable: dict[tuple[str, int], bool] = {}

    def money(text: str, f: Any = small) -> str:
        # A currency symbol this machine's font can't draw is left out: the code stays.
        for ch in {c for c in text if unicodedata.category(c) == "Sc" and c != "$"}:
            key = (ch, id(f))
            if key not in drawable:
                drawable[key] = glyph(ch, f) != glyph(_MISSING_GLYPH, f)
            if not drawable[key]:
                text = text.replace(ch, "")
        return text

    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    tick_texts = [str(t) for t in plan.order_ticks] + [
        money(text) for panel in plan.revenue for _, text in panel.ticks
    ]
    left = 20 + int(max(measure.textlength(t, font=small) for t in tick_texts))
    legend_w = 30 + int(
        max(
            (measure.textlength(f"{e.name} ({e.orders})", font=font) for e in plan.legend),
            default=120,
        )
    )
    width = 1000
    plot_w = width - left - legend_w - 30
    orders_h, revenue_h, label_h, gap = 220, 110, 34, 34
    top = 44
    height = top + orders_h + label_h + len(plan.revenue) * (gap + revenue_h + label_h) + 16
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    dark, grey, grid = (30, 30, 30), (90, 90, 90), (232, 232, 232)
    slot = plot_w / max(len(plan.days), 1)
    bar = max(slot * 0.7, 1.0)

    def x_of(i: int) -> float:
        return left + i * slot + (slot - bar) / 2

    def date_row(y: float) -> None:
        for i, day in enumerate(plan.days):
            if day in plan.date_labels:
                draw.multiline_text(
                    (x_of(i) + bar / 2, y + 4),
                    plan.date_labels[day],
                    fill=grey,
                    font=small,
                    anchor="ma",
                    align="center",
                    spacing=2,
                )

    def axes(y0: float, h: float, ticks: list[tuple[float, str]]) -> None:
        for frac, text in ticks:
            y = y0 + h - h * frac
            draw.line((left, y, left + plot_w, y), fill=grid)
            draw.text((left - 6, y), text, fill=grey, font=small, anchor="rm")
        draw.line((left, y0, left, y0 + h), fill=dark)
        draw.line((left, y0 + h, left + plot_w, y0 + h), fill=dark)

    draw.text((left, 12), plan.title, fill=dark, font=bold)

    # Orders, stacked by outcome, with each day's count on top when there is room.
    y0 = top + 18
    h = orders_h - 18
    scale = plan.order_ticks[-1]
    total = sum(plan.orders_per_day)
    draw.text((left, top), f"Orders ({total})", fill=dark, font=font)
    axes(y0, h, [(t / scale, str(t)) for t in plan.order_ticks])
    for i, stack in enumerate(plan.bars):
        y: float = y0 + h
        for entry, n in stack:
            bh = h * n / scale
            draw.rectangle((x_of(i), y - bh, x_of(i) + bar, y), fill=entry.colour)
            y -= bh
        count = str(plan.orders_per_day[i])
        if stack and measure.textlength(count, font=small) <= slot:
            if y - 16 < y0 and i == 0:
                # The first day is the busiest: above its bar, the count would run into
                # "Orders (N)", so it goes inside, in white.
                draw.text(
                    (x_of(i) + bar / 2, y + 3), count, fill=(255, 255, 255), font=small, anchor="ma"
                )
            else:
                draw.text((x_of(i) + bar / 2, y - 2), count, fill=dark, font=small, anchor="md")
    date_row(y0 + h)
    lx, ly = left + plot_w + 30, y0
    if plan.legend:
        draw.text((lx, top), "Outcome (orders)", fill=dark, font=font)
    for entry in plan.legend:
        draw.rectangle((lx, ly + 2, lx + 12, ly + 14), fill=entry.colour)
        draw.text((lx + 18, ly), f"{entry.name} ({entry.orders})", fill=dark, font=font)
        ly += 22
    if not total:
        draw.text(
            (left + plot_w / 2, y0 + h / 2),
            "No orders in these days",
            fill=grey,
            font=font,
            anchor="mm",
        )

    # One panel per currency: its own scale, each day's amount over its bar when it fits
    # (otherwise the best day's), the period's total in the heading.
    y = y0 + h + label_h
    for panel in plan.revenue:
        y += gap
        draw.text(
            (left, y - 20),
            money(f"Revenue in {panel.currency}: {panel.total} (completed orders sold here)", font),
            fill=dark,
            font=font,
        )
        scale = panel.ticks[-1][0]
        axes(y, revenue_h, [(t / scale, money(text)) for t, text in panel.ticks])
        fits = all(measure.textlength(money(a), font=small) <= slot for a in panel.amounts)
        best = max(range(len(panel.per_day)), key=panel.per_day.__getitem__, default=0)
        for i, minor in enumerate(panel.per_day):
            if not minor:
                continue
            bh = revenue_h * minor / scale
            top_y = y + revenue_h - bh
            draw.rectangle((x_of(i), top_y, x_of(i) + bar, y + revenue_h), fill=(0, 128, 128))
            if fits or i == best:
                text = money(panel.amounts[i])
                half = measure.textlength(text, font=small) / 2
                centre = min(max(x_of(i) + bar / 2, left + half + 2), left + plot_w - half)
                if top_y - 16 < y:
                    # The best day reaches the top of its scale: its amount above the bar
                    # would run into the panel's heading, so it goes inside, in white.
                    draw.text(
                        (centre, top_y + 3), text, fill=(255, 255, 255), font=small, anchor="ma"
                    )
                else:
                    draw.text((centre, top_y - 2), text, fill=dark, font=small, anchor="md")
        date_row(y + revenue_h)
        y += revenue_h + label_h

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
