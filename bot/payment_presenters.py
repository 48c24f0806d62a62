"""What staff see of online top-ups: /admin payments' list and one top-up's record."""

from __future__ import annotations

import discord

from bot.presenters import ts
from core.i18n import N_, _, _n, number
from storage.notifications import Notification
from storage.topups import Topup, TopupState

STATE_LABELS = {
    # Translators: a top-up's state
    TopupState.CREATING: N_("🕓 creating"),
    # Translators: a top-up's state (its payment link is open)
    TopupState.OPEN: N_("🟡 open"),
    # Translators: a top-up's state
    TopupState.PAID: N_("✅ paid"),
    # Translators: a top-up's state
    TopupState.EXPIRED: N_("⌛ expired"),
    # Translators: a top-up's state
    TopupState.CANCELLED: N_("✖️ cancelled"),
    # Translators: a top-up's state
    TopupState.FAILED: N_("⚠️ failed"),
}


def state_label(state: TopupState) -> str:
    return _(STATE_LABELS[state])


def state_text(topup: Topup) -> str:
    label = state_label(topup.state)
    if topup.state is TopupState.OPEN and topup.next_check_at is None:
        # Translators: {state} is a top-up's state, "🟡 open"
        return _("{state} (checks stopped: staff decide)", state=label)
    return label


def money_text(topup: Topup) -> str:
    """What was asked, paid and taken back: items joined with commas."""
    # Translators: an amount a buyer was asked to pay online
    parts = [_("asked {amount}", amount=topup.amount.format())]
    if topup.paid is not None:
        paid = _("paid **{amount}**", amount=topup.paid.format())
        if topup.paid != topup.amount:
            paid += " ⚠️"
        parts.append(paid)
    if topup.refunded_minor:
        parts.append(
            _n(
                "{count} minor unit taken back",
                "{count} minor units taken back",
                topup.refunded_minor,
            )
        )
    return ", ".join(parts)


def provider_text(topup: Topup) -> str:
    """The provider, and the link's and the payment's ids there."""
    if topup.remote_id and topup.payment_id:
        return _(
            "{provider} link `{link_id}`, payment `{payment_id}`",
            provider=topup.provider,
            link_id=topup.remote_id,
            payment_id=topup.payment_id,
        )
    if topup.remote_id:
        return _("{provider} link `{link_id}`", provider=topup.provider, link_id=topup.remote_id)
    if topup.payment_id:
        return _(
            "{provider}, payment `{payment_id}`",
            provider=topup.provider,
            payment_id=topup.payment_id,
        )
    return topup.provider


def topup_line(topup: Topup) -> str:
    return (
        f"`{topup.id}` · **{state_text(topup)}** · <@{topup.user_id}> · {money_text(topup)}"
        f" · {topup.provider} · {ts(topup.created_at, 'R')}"
    )


def state_counts(counts: dict[str, int]) -> str:
    if not counts:
        return _("no top-ups")
    return " · ".join(
        f"{state_label(TopupState(state))} {number(n)}"
        for state, n in sorted(counts.items(), key=lambda x: -x[1])
    )


def topup_embed(topup: Topup, dms: list[Notification]) -> discord.Embed:
    embed = discord.Embed(
        title=_("Top-up {topup_id}", topup_id=topup.id),
        description=f"**{state_text(topup)}** · <@{topup.user_id}>",
        colour=discord.Colour.blurple(),
    )
    # Translators: an embed field's name
    embed.add_field(name=_("Money"), value=money_text(topup), inline=False)
    embed.add_field(name=_("At the provider"), value=provider_text(topup), inline=False)
    # Translators: {when} is a date and time
    times = [_("made {when}", when=ts(topup.created_at, "f"))]
    if topup.expires_at:
        # Translators: {when} is a relative time, "in 30 minutes"
        times.append(_("link expires {when}", when=ts(topup.expires_at, "R")))
    if topup.state is TopupState.OPEN:
        times.append(
            # Translators: {when} is a relative time, "in 5 minutes"
            _("next check {when}", when=ts(topup.next_check_at, "R"))
            if topup.next_check_at
            else _("no more automatic checks")
        )
    times.append(_n("checked {count} time", "checked {count} times", topup.checks))
    # Translators: an embed field's name
    embed.add_field(name=_("When"), value=" · ".join(times), inline=False)
    if topup.draft_id:
        embed.add_field(name=_("For order"), value=f"`{topup.draft_id}`", inline=False)
    embed.add_field(
        name=_("DMs to the buyer"),
        value="\n".join(f"{n.kind}: {n.state.value}" for n in dms) or _("none owed"),
        inline=False,
    )
    # Translators: "Check now" is the label of a button under this embed
    embed.set_footer(text=_("Check now asks the provider and credits what it says was paid."))
    return embed
