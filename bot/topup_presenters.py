"""What buyers see of online top-ups: the answer with the payment link, and the DMs a
top-up owes (its credit, a link that ended unpaid), with the closed-DM notice that
stands in for them and names no amount."""

from __future__ import annotations

import discord

from bot.presenters import notice_marker_line, notification_marker, ts
from core.domain import Money, OrderStatus
from core.kinds import NotificationKind
from storage.orders import OrderRecord
from storage.topups import Topup, TopupState


def link_embed(
    topup: Topup, *, shortfall_of: OrderRecord | None = None, needed: Money | None = None
) -> discord.Embed:
    """The private answer to /top-up (and the Top up buttons): what to pay, by when."""
    lines = [
        f"Press **Pay {topup.amount.format()}** to pay at the payment page "
        f"({topup.provider.capitalize()}).",
    ]
    if topup.expires_at is not None:
        lines.append(f"The link expires {ts(topup.expires_at, 'R')}.")
    lines.append(
        "Your store credit goes up as soon as the payment arrives, and I'll DM you your "
        "new balance. Nothing is charged if you don't pay."
    )
    if shortfall_of is not None and needed is not None and needed != topup.amount:
        lines.append(
            f"Order `{shortfall_of.id}` still needs {needed.format()}; "
            f"{topup.amount.format()} is the smallest payment online, and the rest stays in "
            "your store credit. Press **Confirm** on it once the DM comes."
        )
    elif shortfall_of is not None:
        lines.append(
            f"That is exactly what order `{shortfall_of.id}` still needs: press **Confirm** "
            "on it once the DM comes."
        )
    embed = discord.Embed(
        title=f"Top up {topup.amount.format()}",
        description="\n".join(lines),
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=f"Top-up {topup.id}")
    return embed


def pay_view(topup: Topup) -> discord.ui.View:
    """A link button: it opens the provider's page, and no interaction reaches the bot."""
    view = discord.ui.View(timeout=None)
    if topup.url:
        view.add_item(
            discord.ui.Button(
                label=f"Pay {topup.amount.format()}",
                style=discord.ButtonStyle.link,
                url=topup.url,
            )
        )
    return view


def credited_embed(
    topup: Topup,
    kind: str,
    *,
    credited: Money,
    balance: Money,
    draft: OrderRecord | None,
    draft_expires_at: float | None,
) -> discord.Embed:
    lines = [f"**{credited.format()}** from your online payment is in your store credit."]
    if credited != topup.amount:
        lines.append(
            f"You were asked {topup.amount.format()}; what you paid was credited, and staff "
            "have been told."
        )
    lines.append(f"Your balance: **{balance.format()}**.")
    if draft is not None and draft.status is OrderStatus.DRAFT:
        until = f" (it expires {ts(draft_expires_at, 'R')})" if draft_expires_at else ""
        lines.append(
            f"Your order `{draft.id}` ({draft.product_name} × {draft.quantity}, "
            f"{draft.total.format()}) is waiting. **Confirm** goes through only while it is "
            f"still open{until}, the shop isn't paused, and your balance covers it."
        )
    embed = discord.Embed(
        title="Store credit added",
        description="\n".join(lines),
        colour=discord.Colour.green(),
    )
    embed.set_footer(text=notification_marker(topup.id, kind))
    return embed


def unpaid_embed(topup: Topup, kind: str) -> discord.Embed:
    how = (
        "was cancelled at the payment provider"
        if topup.state is TopupState.CANCELLED
        else "expired"
    )
    embed = discord.Embed(
        title="Top-up not paid",
        description=(
            f"Your payment link for **{topup.amount.format()}** {how} before a payment "
            "arrived, so your store credit is unchanged. If you paid at the last moment, "
            "the payment is still credited when it comes through, and I'll DM you. Run "
            "`/top-up` for a new link."
        ),
        colour=discord.Colour.light_grey(),
    )
    embed.set_footer(text=notification_marker(topup.id, kind))
    return embed


def topup_fallback_notice(user_id: int, topup_id: str, kind: str) -> str:
    """Posted in the notices channel when the buyer's DMs are closed. Anyone in the
    channel can read it: it names no amount, balance or top-up."""
    what = (
        "your store credit"
        if NotificationKind.base_of(kind) is NotificationKind.CREDITED
        else "a payment link of yours"
    )
    return (
        f"<@{user_id}> there's an update on {what}, but I couldn't DM you. Allow direct "
        "messages from server members, or run `/wallet` to see it.\n"
        f"{notice_marker_line(topup_id, kind)}"
    )
