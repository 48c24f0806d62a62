"""How orders look to staff: the whole record with contact details and delivery masked.

The clear text is shown only by an explicit, audited Reveal (see StaffOrders.reveal), and
only ephemerally to the staff member who pressed it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import discord

from bot.presenters import (
    STATUS_COLOUR,
    payment_text,
    price_text,
    shown_status,
    status_text,
    ts,
)
from bot.services.provider_status import ProviderReport
from bot.services.staff_orders import OrderDossier, Revealed
from bot.services.stats import StatsFigures
from core.domain import Delivery, Money, OrderStatus
from core.i18n import N_, _, _n, native_digits, number
from storage.notifications import Notification
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
    local, _at, domain = email.partition("@")
    label, dot, tld = domain.rpartition(".")
    if not local or not label or not dot:
        return MASK * 4
    return f"{local[:1]}{MASK * 3}@{label[:1]}{MASK * 3}.{tld}"


def mask_name(name: str) -> str:
    return " ".join(f"{part[:1]}{MASK * 2}" for part in name.split() if part) or MASK * 3


def masked_contact(order: OrderRecord, contact: dict[str, str] | None) -> str:
    if not order.has_contact or contact is None:
        # Translators: no contact details / no delivery stored
        return _("none")
    parts = []
    for key, value in contact.items():
        if key == "phone_number":
            parts.append(_("phone {masked}", masked=mask_phone_fixed_length(value)))
        elif key == "email":
            parts.append(_("email {masked}", masked=mask_email_and_domain(value)))
        elif key == "name":
            parts.append(_("name {masked}", masked=mask_name(value)))
        else:
            parts.append(f"{key} {MASK * 3}")
    return ", ".join(parts)


def masked_delivery(delivery: Delivery | None) -> str:
    if delivery is None or delivery.is_empty():
        return _("none")
    return _n(
        "stored, hidden ({count} character)",
        "stored, hidden ({count} characters)",
        len(delivery.reveal()),
    )


def staff_order_line(order: OrderRecord) -> str:
    who = f"<@{order.user_id}>" + (f" ({order.buyer_name})" if order.buyer_name else "")
    remote = (
        f" · {order.provider} `{order.remote_id}`" if order.remote_id else f" · {order.provider}"
    )
    return (
        f"`{order.id}` · **{status_text(order)}** · {who} · {number(order.quantity)} × "
        f"{order.product_name}{remote} · {ts(order.created_at, 'R')}"
    )


def status_counts(counts: Counter[str]) -> str:
    if not counts:
        return _("no orders")
    return " · ".join(
        f"{OrderStatus(status).label} {number(n)}"
        for status, n in sorted(counts.items(), key=lambda x: -x[1])
    )


def _actor(actor: str) -> str:
    return f"<@{actor}>" if actor.isdigit() else actor


def _event_line(event: OrderEvent) -> str:
    what = event.kind
    if event.kind == "status" and event.new_status is not None:
        old = event.old_status.label if event.old_status else "?"
        what = f"{old} → **{event.new_status.label}**"
    raw = ""
    if event.raw_status:
        # Translators: what the provider called the status, after a timeline entry
        raw = " " + _("(provider: {raw_status})", raw_status=event.raw_status)
    detail = f" — {event.detail}" if event.detail else ""
    return f"{ts(event.at, 'd')} {ts(event.at, 'T')} {_actor(event.actor)}: {what}{raw}{detail}"


def staff_order_embed(dossier: OrderDossier, contact: str, delivery: str) -> discord.Embed:
    order = dossier.order
    embed = discord.Embed(
        title=_("Order {order_id}", order_id=order.id),
        colour=STATUS_COLOUR.get(order.status, discord.Colour.blurple()),
        timestamp=datetime.fromtimestamp(order.created_at, tz=UTC),
    )
    buyer = f"<@{order.user_id}>" + (f" ({order.buyer_name})" if order.buyer_name else "")
    # Translators: the field names of the staff's view of one order
    embed.add_field(name=_("Buyer"), value=buyer, inline=True)
    embed.add_field(
        name=_("Product"), value=f"{number(order.quantity)} × {order.product_name}", inline=True
    )
    embed.add_field(name=_("Price"), value=price_text(order), inline=True)
    embed.add_field(
        name=_("Status"),
        value=_(
            "{status} (provider: `{raw_status}`)",
            status=status_text(order),
            raw_status=order.raw_status or "—",
        ),
        inline=True,
    )
    remote = (
        f"{order.provider} `{order.remote_id}`"
        if order.remote_id
        else _("{provider} `no remote id yet`", provider=order.provider)
    )
    if order.remote_price:
        # Translators: what the provider charged the shop for the order
        remote += "\n" + _("charged {price}", price=order.remote_price)
    embed.add_field(name=_("Provider"), value=remote, inline=True)
    embed.add_field(name=_("Source"), value=order.source.value, inline=True)
    paid = payment_text(order, dossier.payments, for_staff=True)
    if paid:
        embed.add_field(name=_("Payment"), value=paid, inline=True)
    if order.status_message:
        embed.add_field(name=_("Status message"), value=shown_status(order)[:1000], inline=False)
    embed.add_field(name=_("Contact"), value=contact, inline=True)
    embed.add_field(name=_("Delivery"), value=delivery, inline=True)
    lines = [_event_line(e) for e in dossier.events]
    timeline = "\n".join(lines[-12:])
    if len(lines) > 12:
        timeline = _n("… {count} earlier", "… {count} earlier", len(lines) - 12) + "\n" + timeline
    embed.add_field(name=_("Timeline"), value=timeline[-1024:] or "—", inline=False)
    notes = [_notification_line(n) for n in dossier.notifications]
    embed.add_field(
        name=_("Notifications"), value="\n".join(notes)[:1024] or _("none"), inline=False
    )
    embed.set_footer(text=_("Contact and delivery are masked; Reveal shows them to you only."))
    return embed


def _notification_line(n: Notification) -> str:
    """A DM owed for the order: its kind and state, with its attempts and last error."""
    line = f"{n.kind}: **{n.state}**"
    if n.attempts:
        line += " " + _n("({count} attempt)", "({count} attempts)", n.attempts)
    if n.last_error:
        line += f" — {n.last_error[:80]}"
    return line


def revealed_text(order: OrderRecord, revealed: Revealed) -> tuple[str, str | None]:
    """The clear text for the staff member (inline), or (summary, long text) for a file."""
    lines = [
        _("**Order `{order_id}` — revealed to you only (this is audited).**", order_id=order.id)
    ]
    if revealed.contact:
        lines.append(
            _(
                "Contact: {contact}",
                contact=", ".join(f"{k}: `{v}`" for k, v in revealed.contact.items()),
            )
        )
    else:
        lines.append(_("Contact: none"))
    text = revealed.delivery.reveal() if revealed.delivery else None
    if text is None:
        lines.append(_("Delivery: none"))
        return "\n".join(lines), None
    if len(text) <= 1500 and "```" not in text:
        lines.append(_("Delivery:\n```\n{delivery}\n```", delivery=text))
        return "\n".join(lines), None
    lines.append(_("Delivery: attached (too long for a message)."))
    return "\n".join(lines), text


# Translators: a provider's circuit breaker (closed: requests go through; open: none are
# sent; probing: one is sent to see whether it recovered)
CIRCUIT_TEXT = {"closed": N_("🟢 closed"), "open": N_("🔴 open"), "half_open": N_("🟡 probing")}


def _duration(seconds: float) -> str:
    if seconds < 90:
        # Translators: a duration in seconds, abbreviated
        return _("{seconds}s", seconds=native_digits(f"{seconds:.0f}"))
    if seconds < 5400:
        # Translators: a duration in minutes, abbreviated
        return _("{minutes} min", minutes=native_digits(f"{seconds / 60:.0f}"))
    # Translators: a duration in hours, abbreviated
    return _("{hours} h", hours=native_digits(f"{seconds / 3600:.1f}"))


def _key_line(report: ProviderReport) -> str:
    """What the provider last said about our key, and what that means for buyers."""
    health = report.health
    state = health.key_state if health else "unchecked"
    when = ts(health.key_checked_at, "R") if health and health.key_checked_at else None
    if state == "refused":
        assert health is not None
        detail = (health.key_detail or "")[:80]
        if when:
            text = _("🔑 **credentials refused** {when} ({detail}).", when=when, detail=detail)
        else:
            text = _("🔑 **credentials refused** ({detail}).", detail=detail)
        if report.can_create:
            text += " " + _("Its products are closed to buyers until it works.")
        if report.key_checkable:
            fix = _(
                "Fix {setting} and restart; it is asked again every few minutes.",
                setting=report.key_setting,
            )
        else:
            fix = _(
                "Fix {setting} and restart; its API can't be asked without an order, so its "
                "products stay closed until the restart.",
                setting=report.key_setting,
            )
        return f"{text} {fix}"
    if state == "accepted":
        return _("🔑 key accepted {when}", when=when) if when else _("🔑 key accepted")
    if not report.key_checkable:
        return _("🔑 key not checked yet (its API has no read endpoint): the first order checks it")
    return _("🔑 key not checked yet")


def providers_embed(reports: list[ProviderReport]) -> discord.Embed:
    embed = discord.Embed(title=_("Providers"), colour=discord.Colour.blurple())
    for report in reports:
        if not report.configured:
            embed.add_field(
                name=report.name, value=_("not configured (no base URL or key)"), inline=False
            )
            continue
        health = report.health
        circuit = CIRCUIT_TEXT.get(report.circuit)
        lines = [
            _("circuit: {circuit}", circuit=_(circuit) if circuit else report.circuit),
            _("open orders: **{count}**", count=number(report.open_orders))
            if report.can_poll
            else _(
                "open orders: **{count}** (no status API: staff finish them)",
                count=number(report.open_orders),
            ),
            _(
                "requests, last hour: {count} ({failed} failed)",
                count=number(report.requests_last_hour),
                failed=number(report.failures_last_hour),
            )
            if report.failures_last_hour
            else _("requests, last hour: {count}", count=number(report.requests_last_hour)),
        ]
        lines.append(_key_line(report))
        if report.hold_seconds > 0:
            assert health is not None
            held = _duration(report.hold_seconds)
            if report.circuit_open:
                lines.append(_("⏳ held for {duration} more (circuit open)", duration=held))
            else:
                lines.append(_("⏳ held for {duration} more (Retry-After)", duration=held))
        if health and health.last_success_at:
            lines.append(_("last success: {when}", when=ts(health.last_success_at, "R")))
        elif report.can_poll:
            lines.append(_("last success: never"))
        if health and health.last_error_at:
            lines.append(
                _(
                    "last error: {when} — {kind}: {error}",
                    when=ts(health.last_error_at, "R"),
                    kind=health.last_error_kind,
                    error=(health.last_error or "")[:120],
                )
            )
        embed.add_field(name=report.name, value="\n".join(lines)[:1024], inline=False)
    embed.set_footer(
        text=_("From the database: the same whichever process polls, and after a restart.")
    )
    return embed


def stats_embed(figures: StatsFigures) -> discord.Embed:
    embed = discord.Embed(
        title=_n(
            "Stats: {first_day} to {last_day} ({count} day, UTC)",
            "Stats: {first_day} to {last_day} ({count} days, UTC)",
            figures.days,
            first_day=figures.first_day,
            last_day=figures.last_day,
        ),
        colour=discord.Colour.blurple(),
    )
    total = sum(figures.totals.values())
    embed.add_field(
        name=_("Orders ({count})", count=number(total)),
        # Translators: no orders / no revenue in the period
        value=status_counts(Counter(figures.totals)) if total else _("none"),
        inline=False,
    )
    revenue = " · ".join(
        Money(minor, currency).format() for currency, minor in figures.revenue.items()
    )
    embed.add_field(
        name=_("Revenue (completed orders sold here)"), value=revenue or _("none"), inline=False
    )
    money = "\n".join(_wallet_line(currency, kinds) for currency, kinds in figures.wallet.items())
    embed.add_field(name=_("Store credit"), value=money or _("no movements"), inline=False)
    timings = "\n".join(
        _n(
            "{provider}: median {median}, p90 {p90} ({count} order)",
            "{provider}: median {median}, p90 {p90} ({count} orders)",
            t.orders,
            provider=provider,
            median=_duration(t.median_seconds),
            p90=_duration(t.p90_seconds),
        )
        for provider, t in figures.completion.items()
    )
    embed.add_field(
        name=_("Time to complete"), value=timings or _("no completed orders"), inline=False
    )
    rate = figures.fallback_rate
    embed.add_field(
        name=_("DMs"),
        value=(
            _(
                "{sent} sent, {fallbacks} to the notices channel (DMs closed): {rate} fallback",
                sent=number(figures.dms),
                fallbacks=number(figures.dm_fallbacks),
                rate=native_digits(f"{rate:.0%}"),
            )
            if rate is not None
            else _("none sent")
        ),
        inline=False,
    )
    busiest = max(figures.per_day.items(), key=lambda kv: sum(kv[1].values()), default=None)
    if busiest and sum(busiest[1].values()):
        embed.set_footer(
            text=_n(
                "Busiest day: {day} ({count} order)",
                "Busiest day: {day} ({count} orders)",
                sum(busiest[1].values()),
                day=busiest[0],
            )
        )
    return embed


def _wallet_line(currency: str, kinds: dict[str, int]) -> str:
    """One currency's store-credit movements in the period."""

    def amount(minor: int) -> str:
        return Money(minor, currency).format()

    values = {
        "currency": currency,
        "topups": amount(kinds.get("credit", 0) + kinds.get("credit_online", 0)),
        "online": amount(kinds.get("credit_online", 0)),
        "staff": amount(kinds.get("credit", 0)),
        "spent": amount(kinds.get("order_debit", 0)),
        "refunded": amount(kinds.get("refund", 0)),
    }
    if kinds.get("adjustment"):
        return _(
            "{currency}: top-ups {topups} (online {online}, staff {staff}), spent {spent}, "
            "refunded {refunded}, adjustments {adjustments}",
            adjustments=amount(kinds["adjustment"]),
            **values,
        )
    return _(
        "{currency}: top-ups {topups} (online {online}, staff {staff}), spent {spent}, "
        "refunded {refunded}",
        **values,
    )


def workers_embed(records: list[ProcessRecord], *, now: float, stall_after: float) -> discord.Embed:
    """`/admin workers`: the shop's processes, alive first, with each job's last good run."""
    embed = discord.Embed(title=_("Processes"), colour=discord.Colour.blurple())
    alive = [r for r in records if r.alive(now, stall_after)]
    embed.description = _(
        "**{count}** alive: {roles}. `all` is `run`; `gateway` is `run --no-workers`; "
        "`worker` does the background work.",
        count=number(len(alive)),
        # Translators: no process is alive
        roles=", ".join(sorted({r.role.value for r in alive})) or _("none"),
    )
    for record in sorted(records, key=lambda r: (not r.alive(now, stall_after), -r.started_at))[
        :20
    ]:
        if record.alive(now, stall_after):
            state = _(
                "🟢 alive · beat {duration} ago", duration=_duration(now - record.heartbeat_at)
            )
        elif record.stopped_at is not None:
            state = _("⚪ stopped cleanly {when}", when=ts(record.stopped_at, "R"))
        else:
            state = _(
                "🔴 silent for {duration} and never stopped cleanly (killed, hung, or its "
                "machine is gone)",
                duration=_duration(now - record.heartbeat_at),
            )
        lines = [state, _("started {when}", when=ts(record.started_at, "R"))]
        if record.claims:
            lines.append(
                _n(
                    "holds {count} claim: orders it polls, DMs it sends",
                    "holds {count} claims: orders it polls, DMs it sends",
                    record.claims,
                )
            )
        if record.jobs:
            jobs = sorted(record.jobs.items())
            runs = ", ".join(
                # Translators: a job and how long ago it last ran well
                _("{job} {duration} ago", job=job, duration=_duration(max(0.0, now - at)))
                for job, at in jobs
            )
            lines.append(_("last good runs: {runs}", runs=runs))
        embed.add_field(name=record.name, value="\n".join(lines)[:1024], inline=False)
    embed.set_footer(
        text=_("From the database: every process records a heartbeat every few seconds.")
    )
    return embed
