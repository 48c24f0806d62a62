"""What staff see of online top-ups: /admin payments' list and one top-up's record."""

from __future__ import annotations

import discord

from bot.presenters import ts
from storage.notifications import Notification
from storage.topups import Topup, TopupState

STATE_LABELS = {
    TopupState.CREATING: "🕓 creating",
    TopupState.OPEN: "🟡 open",
    TopupState.PAID: "✅ paid",
    TopupState.EXPIRED: "⌛ expired",
    TopupState.CANCELLED: "✖️ cancelled",
    TopupState.FAILED: "⚠️ failed",
}


def state_text(topup: Topup) -> str:
    label = STATE_LABELS[topup.state]
    if topup.state is TopupState.OPEN and topup.next_check_at is None:
        return f"{label} (checks stopped: staff decide)"
    return label


def money_text(topup: Topup) -> str:
    text = f"asked {topup.amount.format()}"
    if topup.paid is not None:
        text += f", paid **{topup.paid.format()}**"
        if topup.paid != topup.amount:
            text += " ⚠️"
    if topup.refunded_minor:
        text += f", {topup.refunded_minor} minor units taken back"
    return text


def topup_line(topup: Topup) -> str:
    return (
        f"`{topup.id}` · **{state_text(topup)}** · <@{topup.user_id}> · {money_text(topup)}"
        f" · {topup.provider} · {ts(topup.created_at, 'R')}"
    )


def state_counts(counts: dict[str, int]) -> str:
    if not counts:
        return "no top-ups"
    return " · ".join(
        f"{STATE_LABELS[TopupState(state)]} {n}"
        for state, n in sorted(counts.items(), key=lambda x: -x[1])
    )


def topup_embed(topup: Topup, dms: list[Notification]) -> discord.Embed:
    embed = discord.Embed(
        title=f"Top-up {topup.id}",
        description=f"**{state_text(topup)}** · <@{topup.user_id}>",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="Money", value=money_text(topup), inline=False)
    at = f"{topup.provider} link `{topup.remote_id}`" if topup.remote_id else topup.provider
    if topup.payment_id:
        at += f", payment `{topup.payment_id}`"
    embed.add_field(name="At the provider", value=at, inline=False)
    times = [f"made {ts(topup.created_at, 'f')}"]
    if topup.expires_at:
        times.append(f"link expires {ts(topup.expires_at, 'R')}")
    if topup.state is TopupState.OPEN:
        times.append(
            f"next check {ts(topup.next_check_at, 'R')}"
            if topup.next_check_at
            else "no more automatic checks"
        )
    times.append(f"checked {topup.checks} time(s)")
    embed.add_field(name="When", value=" · ".join(times), inline=False)
    if topup.draft_id:
        embed.add_field(name="For order", value=f"`{topup.draft_id}`", inline=False)
    embed.add_field(
        name="DMs to the buyer",
        value="\n".join(f"{n.kind}: {n.state.value}" for n in dms) or "none owed",
        inline=False,
    )
    embed.set_footer(text="Check now asks the provider and credits what it says was paid.")
    return embed
