"""How orders look to staff: the whole record with contact details and delivery masked.

The clear text is shown only by an explicit, audited Reveal (see StaffOrders.reveal), and
only ephemerally to the staff member who pressed it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import discord

from bot.presenters import STATUS_COLOUR, payment_text, price_text, status_text, ts
from bot.services.provider_status import ProviderReport
from bot.services.staff_orders import OrderDossier, Revealed
from bot.services.stats import StatsFigures
from core.domain import Delivery, Money, OrderStatus
from storage.orders import OrderEvent, OrderRecord
from storage.processes import ProcessRecord

MASK = "•"


def mask_phone_fixed_length(phone: str) -> str:
    """`+919876543210` → `+91 ••••• ••210`: enough to tell two buyers apart, no more.

    The mask has a fixed length (the number's length is not shown), and a short number
    shows only its last two digits and no country code."""
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) < 10:
        return f"+•• ••••• •••{digits[-2:]}" if len(digits) >= 6 else MASK * 4
    return f"+{digits[:2]} {MASK * 5} {MASK * 2}{digits[-3:]}"


def mask_email_and_domain(email: str) -> str:
    """`asha.rao@example.com` → `a•••@e•••.com`: the domain says as much as the name."""
    local, _, domain = email.partition("@")
    label, dot, tld = domain.rpartition(".")
    if not local or not label or not dot:
        return MASK * 4
    return f"{local[:1]}{MASK * 3}@{label[:1]}{MASK * 3}.{tld}"


def mask_name(name: str) -> str:
    return " ".join(f"{part[:1]}{MASK * 2}" for part in name.split() if part) or MASK * 3


def masked_contact(order: OrderRecord, contact: dict[str, str] | None) -> str:
    if not order.has_contact or contact is None:
        return "none"
    parts = []
    for key, value in contact.items():
        if key == "phone_number":
            parts.append(f"phone {mask_phone_fixed_length(value)}")
        elif key == "email":
            parts.append(f"email {mask_email_and_domain(value)}")
        elif key == "name":
            parts.append(f"name {mask_name(value)}")
        else:
            parts.append(f"{key} {MASK * 3}")
    return ", ".join(parts)


def masked_delivery(delivery: Delivery | None) -> str:
    if delivery is None or delivery.is_empty():
        return "none"
    return f"stored, hidden ({len(delivery.reveal())} characters)"


def staff_order_line(order: OrderRecord) -> str:
    who = f"<@{order.user_id}>" + (f" ({order.buyer_name})" if order.buyer_name else "")
    remote = (
        f" · {order.provider} `{order.remote_id}`" if order.remote_id else f" · {order.provider}"
    )
    return (
        f"`{order.id}` · **{status_text(order)}** · {who} · {order.quantity} × "
        f"{order.product_name}{remote} · {ts(order.created_at, 'R')}"
    )


def status_counts(counts: Counter[str]) -> str:
    if not counts:
        return "no orders"
    return " · ".join(
        f"{OrderStatus(status).label} {n}"
        for status, n in sorted(counts.items(), key=lambda x: -x[1])
    )


def _actor(actor: str) -> str:
    return f"<@{actor}>" if actor.isdigit() else actor


def _event_line(event: OrderEvent) -> str:
    what = event.kind
    if event.kind == "status" and event.new_status is not None:
        old = event.old_status.label if event.old_status else "?"
        what = f"{old} → **{event.new_status.label}**"
    raw = f" (provider: {event.raw_status})" if event.raw_status else ""
    detail = f" — {event.detail}" if event.detail else ""
    return f"{ts(event.at, 'd')} {ts(event.at, 'T')} {_actor(event.actor)}: {what}{raw}{detail}"


def staff_order_embed(dossier: OrderDossier, contact: str, delivery: str) -> discord.Embed:
    order = dossier.order
    embed = discord.Embed(
        title=f"Order {order.id}",
        colour=STATUS_COLOUR.get(order.status, discord.Colour.blurple()),
        timestamp=datetime.fromtimestamp(order.created_at, tz=UTC),
    )
    buyer = f"<@{order.user_id}>" + (f" ({order.buyer_name})" if order.buyer_name else "")
    embed.add_field(name="Buyer", value=buyer, inline=True)
    embed.add_field(name="Product", value=f"{order.quantity} × {order.product_name}", inline=True)
    embed.add_field(name="Price", value=price_text(order), inline=True)
    embed.add_field(
        name="Status",
        value=f"{status_text(order)} (provider: `{order.raw_status or '—'}`)",
        inline=True,
    )
    embed.add_field(
        name="Provider",
        value=f"{order.provider} `{order.remote_id or 'no remote id yet'}`"
        + (f"\ncharged {order.remote_price}" if order.remote_price else ""),
        inline=True,
    )
    embed.add_field(name="Source", value=order.source.value, inline=True)
    paid = payment_text(order, dossier.payments)
    if paid:
        embed.add_field(
            name="Payment",
            value=paid.replace("your store credit", "their store credit"),
            inline=True,
        )
    if order.status_message:
        embed.add_field(name="Status message", value=order.status_message[:1000], inline=False)
    embed.add_field(name="Contact", value=contact, inline=True)
    embed.add_field(name="Delivery", value=delivery, inline=True)
    lines = [_event_line(e) for e in dossier.events]
    timeline = "\n".join(lines[-12:])
    if len(lines) > 12:
        timeline = f"… {len(lines) - 12} earlier\n" + timeline
    embed.add_field(name="Timeline", value=timeline[-1024:] or "—", inline=False)
    notes = [
        f"{n.kind}: **{n.state}**"
        + (f" ({n.attempts} attempt(s))" if n.attempts else "")
        + (f" — {n.last_error[:80]}" if n.last_error else "")
        for n in dossier.notifications
    ]
    embed.add_field(name="Notifications", value="\n".join(notes)[:1024] or "none", inline=False)
    embed.set_footer(text="Contact and delivery are masked; Reveal shows them to you only.")
    return embed


def revealed_text(order: OrderRecord, revealed: Revealed) -> tuple[str, str | None]:
    """The clear text for the staff member (inline), or (summary, long text) for a file."""
    lines = [f"**Order `{order.id}` — revealed to you only (this is audited).**"]
    if revealed.contact:
        lines.append("Contact: " + ", ".join(f"{k}: `{v}`" for k, v in revealed.contact.items()))
    else:
        lines.append("Contact: none")
    text = revealed.delivery.reveal() if revealed.delivery else None
    if text is None:
        lines.append("Delivery: none")
        return "\n".join(lines), None
    if len(text) <= 1500 and "```" not in text:
        lines.append(f"Delivery:\n```\n{text}\n```")
        return "\n".join(lines), None
    lines.append("Delivery: attached (too long for a message).")
    return "\n".join(lines), text


CIRCUIT_TEXT = {"closed": "🟢 closed", "open": "🔴 open", "half_open": "🟡 probing"}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _key_line(report: ProviderReport) -> str:
    """What the provider last said about our key, and what that means for buyers."""
    health = report.health
    state = health.key_state if health else "unchecked"
    when = f" {ts(health.key_checked_at, 'R')}" if health and health.key_checked_at else ""
    if state == "refused":
        assert health is not None
        closed = " Its products are closed to buyers until it works." if report.can_create else ""
        again = (
            "it is asked again every few minutes"
            if report.key_checkable
            else "its API can't be asked without an order, so its products stay closed until the restart"
        )
        return (
            f"🔑 **credentials refused**{when} ({(health.key_detail or '')[:80]}).{closed} "
            f"Fix {report.key_setting} and restart; {again}."
        )
    if state == "accepted":
        return f"🔑 key accepted{when}"
    if not report.key_checkable:
        return "🔑 key not checked yet (its API has no read endpoint): the first order checks it"
    return "🔑 key not checked yet"


def providers_embed(reports: list[ProviderReport]) -> discord.Embed:
    embed = discord.Embed(title="Providers", colour=discord.Colour.blurple())
    for report in reports:
        if not report.configured:
            embed.add_field(
                name=report.name, value="not configured (no base URL or key)", inline=False
            )
            continue
        health = report.health
        lines = [
            f"circuit: {CIRCUIT_TEXT.get(report.circuit, report.circuit)}",
            f"open orders: **{report.open_orders}**"
            + ("" if report.can_poll else " (no status API: staff finish them)"),
            f"requests, last hour: {report.requests_last_hour}"
            + (f" ({report.failures_last_hour} failed)" if report.failures_last_hour else ""),
        ]
        lines.append(_key_line(report))
        if report.hold_seconds > 0:
            assert health is not None
            why = "circuit open" if report.circuit_open else "Retry-After"
            lines.append(f"⏳ held for {_duration(report.hold_seconds)} more ({why})")
        if health and health.last_success_at:
            lines.append(f"last success: {ts(health.last_success_at, 'R')}")
        elif report.can_poll:
            lines.append("last success: never")
        if health and health.last_error_at:
            lines.append(
                f"last error: {ts(health.last_error_at, 'R')} — {health.last_error_kind}: "
                f"{(health.last_error or '')[:120]}"
            )
        embed.add_field(name=report.name, value="\n".join(lines)[:1024], inline=False)
    embed.set_footer(
        text="From the database: the same whichever process polls, and after a restart."
    )
    return embed


def stats_embed(figures: StatsFigures) -> discord.Embed:
    embed = discord.Embed(
        title=f"Stats: {figures.first_day} to {figures.last_day} ({figures.days} days, UTC)",
        colour=discord.Colour.blurple(),
    )
    total = sum(figures.totals.values())
    embed.add_field(
        name=f"Orders ({total})",
        value=status_counts(Counter(figures.totals)) if total else "none",
        inline=False,
    )
    revenue = " · ".join(
        Money(minor, currency).format() for currency, minor in figures.revenue.items()
    )
    embed.add_field(
        name="Revenue (completed orders sold here)", value=revenue or "none", inline=False
    )
    money = "\n".join(
        f"{currency}: top-ups "
        f"{Money(kinds.get('credit', 0) + kinds.get('credit_online', 0), currency).format()} "
        f"(online {Money(kinds.get('credit_online', 0), currency).format()}, "
        f"staff {Money(kinds.get('credit', 0), currency).format()}), "
        f"spent {Money(kinds.get('order_debit', 0), currency).format()}, "
        f"refunded {Money(kinds.get('refund', 0), currency).format()}"
        + (
            f", adjustments {Money(kinds['adjustment'], currency).format()}"
            if kinds.get("adjustment")
            else ""
        )
        for currency, kinds in figures.wallet.items()
    )
    embed.add_field(name="Store credit", value=money or "no movements", inline=False)
    timings = "\n".join(
        f"{provider}: median {_duration(t.median_seconds)}, p90 {_duration(t.p90_seconds)} "
        f"({t.orders} order{'s' if t.orders != 1 else ''})"
        for provider, t in figures.completion.items()
    )
    embed.add_field(name="Time to complete", value=timings or "no completed orders", inline=False)
    rate = figures.fallback_rate
    embed.add_field(
        name="DMs",
        value=(
            f"{figures.dms} sent, {figures.dm_fallbacks} to the notices channel "
            f"(DMs closed): {rate:.0%} fallback"
            if rate is not None
            else "none sent"
        ),
        inline=False,
    )
    busiest = max(figures.per_day.items(), key=lambda kv: sum(kv[1].values()), default=None)
    if busiest and sum(busiest[1].values()):
        embed.set_footer(text=f"Busiest day: {busiest[0]} ({sum(busiest[1].values())} orders)")
    return embed


def workers_embed(records: list[ProcessRecord], *, now: float, stall_after: float) -> discord.Embed:
    """`/admin workers`: the shop's processes, alive first, with each job's last good run."""
    embed = discord.Embed(title="Processes", colour=discord.Colour.blurple())
    alive = [r for r in records if r.alive(now, stall_after)]
    embed.description = (
        f"**{len(alive)}** alive: "
        + (", ".join(sorted({r.role.value for r in alive})) or "none")
        + ". `all` is `run`; `gateway` is `run --no-workers`; `worker` does the background work."
    )
    for record in sorted(records, key=lambda r: (not r.alive(now, stall_after), -r.started_at))[
        :20
    ]:
        if record.alive(now, stall_after):
            state = f"🟢 alive · beat {_duration(now - record.heartbeat_at)} ago"
        elif record.stopped_at is not None:
            state = f"⚪ stopped cleanly {ts(record.stopped_at, 'R')}"
        else:
            state = (
                f"🔴 silent for {_duration(now - record.heartbeat_at)} and never stopped "
                "cleanly (killed, hung, or its machine is gone)"
            )
        lines = [state, f"started {ts(record.started_at, 'R')}"]
        if record.claims:
            lines.append(f"holds {record.claims} claim(s): orders it polls, DMs it sends")
        if record.jobs:
            jobs = sorted(record.jobs.items())
            lines.append(
                "last good runs: "
                + ", ".join(f"{job} {_duration(max(0.0, now - at))} ago" for job, at in jobs)
            )
        embed.add_field(name=record.name, value="\n".join(lines)[:1024], inline=False)
    embed.set_footer(text="From the database: every process records a heartbeat every few seconds.")
    return embed
