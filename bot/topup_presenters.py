"""What buyers see of online top-ups: the answer with the payment link, and the DMs a
top-up owes (its credit, a link that ended unpaid), with the closed-DM notice that
stands in for them and names no amount."""

from __future__ import annotations

import discord

from bot.presenters import notice_marker_line, notification_marker, shown_product, ts
from core.domain import Money, OrderStatus
from core.i18n import _, number
from core.kinds import NotificationKind
from storage.orders import OrderRecord
from storage.topups import Topup, TopupState


def link_embed(
    topup: Topup, *, shortfall_of: OrderRecord | None = None, needed: Money | None = None
) -> discord.Embed:
    """The private answer to /top-up (and the Top up buttons): what to pay, by when."""
    lines = [
        # Translators: "Pay {amount}" is the label of the button below this text
        _(
            "Press **Pay {amount}** to pay at the payment page ({provider}).",
            amount=topup.amount.format(),
            provider=topup.provider.capitalize(),
        ),
    ]
    if topup.expires_at is not None:
        # Translators: {when} is a relative time, "in 30 minutes"
        lines.append(_("The link expires {when}.", when=ts(topup.expires_at, "R")))
    lines.append(
        _(
            "Your store credit goes up as soon as the payment arrives, and I'll DM you your "
            "new balance. Nothing is charged if you don't pay."
        )
    )
    if shortfall_of is not None and needed is not None and needed != topup.amount:
        lines.append(
            _(
                "Order `{order_id}` still needs {needed}; {amount} is the smallest payment "
                "online, and the rest stays in your store credit. Press **Confirm** on it "
                "once the DM comes.",
                order_id=shortfall_of.id,
                needed=needed.format(),
                amount=topup.amount.format(),
            )
        )
    elif shortfall_of is not None:
        lines.append(
            _(
                "That is exactly what order `{order_id}` still needs: press **Confirm** "
                "on it once the DM comes.",
                order_id=shortfall_of.id,
            )
        )
    embed = discord.Embed(
        title=_("Top up {amount}", amount=topup.amount.format()),
        description="\n".join(lines),
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=_("Top-up {topup_id}", topup_id=topup.id))
    return embed


def pay_view(topup: Topup) -> discord.ui.View:
    """A link button: it opens the provider's page, and no interaction reaches the bot."""
    view = discord.ui.View(timeout=None)
    if topup.url:
        view.add_item(
            discord.ui.Button(
                # Translators: button label, at most 80 characters
                label=_("Pay {amount}", amount=topup.amount.format()),
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
    lines = [
        _(
            "**{amount}** from your online payment is in your store credit.",
            amount=credited.format(),
        )
    ]
    if credited != topup.amount:
        lines.append(
            _(
                "You were asked {amount}; what you paid was credited, and staff have been told.",
                amount=topup.amount.format(),
            )
        )
    lines.append(_("Your balance: **{balance}**.", balance=balance.format()))
    if draft is not None and draft.status is OrderStatus.DRAFT:
        if draft_expires_at:
            lines.append(
                # Translators: {when} is a relative time, "in 5 minutes"
                _(
                    "Your order `{order_id}` ({product} × {quantity}, {total}) is waiting. "
                    "**Confirm** goes through only while it is still open (it expires "
                    "{when}), the shop isn't paused, and your balance covers it.",
                    order_id=draft.id,
                    product=shown_product(draft),
                    quantity=number(draft.quantity),
                    total=draft.total.format(),
                    when=ts(draft_expires_at, "R"),
                )
            )
        else:
            lines.append(
                _(
                    "Your order `{order_id}` ({product} × {quantity}, {total}) is waiting. "
                    "**Confirm** goes through only while it is still open, the shop isn't "
                    "paused, and your balance covers it.",
                    order_id=draft.id,
                    product=shown_product(draft),
                    quantity=number(draft.quantity),
                    total=draft.total.format(),
                )
            )
    embed = discord.Embed(
        title=_("Store credit added"),
        description="\n".join(lines),
        colour=discord.Colour.green(),
    )
    embed.set_footer(text=notification_marker(topup.id, kind))
    return embed


def unpaid_embed(topup: Topup, kind: str) -> discord.Embed:
    if topup.state is TopupState.CANCELLED:
        description = _(
            "Your payment link for **{amount}** was cancelled at the payment provider before "
            "a payment arrived, so your store credit is unchanged. If you paid at the last "
            "moment, the payment is still credited when it comes through, and I'll DM you. "
            "Run `/top-up` for a new link.",
            amount=topup.amount.format(),
        )
    else:
        description = _(
            "Your payment link for **{amount}** expired before a payment arrived, so your "
            "store credit is unchanged. If you paid at the last moment, the payment is still "
            "credited when it comes through, and I'll DM you. Run `/top-up` for a new link.",
            amount=topup.amount.format(),
        )
    embed = discord.Embed(
        title=_("Top-up not paid"),
        description=description,
        colour=discord.Colour.light_grey(),
    )
    embed.set_footer(text=notification_marker(topup.id, kind))
    return embed


def topup_fallback_notice(user_id: int, topup_id: str, kind: str) -> str:
    """Posted in the notices channel when the buyer's DMs are closed. Anyone in the
    channel can read it: it names no amount, balance or top-up."""
    if NotificationKind.base_of(kind) is NotificationKind.CREDITED:
        text = _(
            "<@{user_id}> there's an update on your store credit, but I couldn't DM you. "
            "Allow direct messages from server members, or run `/wallet` to see it.",
            user_id=user_id,
        )
    else:
        text = _(
            "<@{user_id}> there's an update on a payment link of yours, but I couldn't DM "
            "you. Allow direct messages from server members, or run `/wallet` to see it.",
            user_id=user_id,
        )
    # The marker line stays outside the message: the notifier finds it as a line of its own.
    return f"{text}\n{notice_marker_line(topup_id, kind)}"
