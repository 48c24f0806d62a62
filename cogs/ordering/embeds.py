"""What the buyer sees before and after Confirm: the confirmation embed, and the titles
and colours of Confirm's answers."""

from __future__ import annotations

import discord

from bot.contact import mask_email_keep_domain, mask_phone_keep_format
from bot.presenters import shown_product, ts
from bot.services.order_queries import OrderRecord
from bot.services.ordering import CONFIRMATION_TTL, ConfirmResult, PaymentPreview
from core.domain import Money, PaymentMode
from core.i18n import N_, _, number

RESULT_COLOURS = {
    ConfirmResult.SUBMITTED: discord.Colour.green(),
    ConfirmResult.RETRYING: discord.Colour.gold(),
    ConfirmResult.NEEDS_REVIEW: discord.Colour.gold(),
    ConfirmResult.FAILED: discord.Colour.red(),
    ConfirmResult.AWAITING_APPROVAL: discord.Colour.gold(),
    ConfirmResult.ALREADY: discord.Colour.light_grey(),
    ConfirmResult.EXPIRED: discord.Colour.light_grey(),
}

# The title of the embed that replaces the confirmation once Confirm has answered.
RESULT_TITLES = {
    ConfirmResult.SUBMITTED: N_("Order submitted"),
    ConfirmResult.RETRYING: N_("Order retrying"),
    ConfirmResult.NEEDS_REVIEW: N_("Order needs review"),
    ConfirmResult.FAILED: N_("Order failed"),
    ConfirmResult.AWAITING_APPROVAL: N_("Order awaiting approval"),
    ConfirmResult.ALREADY: N_("Order already"),
    ConfirmResult.EXPIRED: N_("Order expired"),
}

# What Confirm did, in a sentence about the order ("is recorded (submitted)").
RESULT_LABELS = {
    # Translators: what Confirm did with an order: "Order X is recorded (submitted)"
    ConfirmResult.SUBMITTED: N_("submitted"),
    # Translators: what Confirm did with an order: "Order X is recorded (retrying)"
    ConfirmResult.RETRYING: N_("retrying"),
    # Translators: what Confirm did with an order: "Order X is recorded (needs review)"
    ConfirmResult.NEEDS_REVIEW: N_("needs review"),
    # Translators: what Confirm did with an order: "Order X is recorded (failed)"
    ConfirmResult.FAILED: N_("failed"),
    # Translators: what Confirm did with an order: "Order X is recorded (awaiting approval)"
    ConfirmResult.AWAITING_APPROVAL: N_("awaiting approval"),
    # Translators: what Confirm did: "Order X is recorded (already)": confirmed before
    ConfirmResult.ALREADY: N_("already"),
    # Translators: what Confirm did with an order: "Order X is recorded (expired)"
    ConfirmResult.EXPIRED: N_("expired"),
}


def is_short(order: OrderRecord, preview: PaymentPreview) -> bool:
    """A wallet order the balance doesn't cover yet (shown only when the shop takes
    payment online: otherwise the order was refused before its draft)."""
    return (
        preview.mode is PaymentMode.WALLET
        and preview.balance is not None
        and preview.balance.minor < order.total.minor
    )


def payment_line(order: OrderRecord, preview: PaymentPreview) -> str | None:
    if is_short(order, preview):
        assert preview.balance is not None
        short = Money(order.total.minor - preview.balance.minor, order.total.currency)
        # Translators: "Top up" and "Confirm" are the labels of buttons below this text
        return _(
            "From your store credit: {balance}, **{short} short**. "
            "Press **Top up** to pay the difference online, then **Confirm**",
            balance=preview.balance.format(),
            short=short.format(),
        )
    if preview.mode is PaymentMode.WALLET and preview.balance is not None:
        after = Money(preview.balance.minor - order.total.minor, order.total.currency)
        # Translators: "Confirm" is the label of a button below this text
        return _(
            "From your store credit: {balance} → **{after}** after Confirm",
            balance=preview.balance.format(),
            after=after.format(),
        )
    if preview.mode is PaymentMode.APPROVAL:
        return _(
            "Staff check your payment after you confirm; nothing is sent before they approve it"
        )
    return None


def contact_line(contact: dict[str, str]) -> str:
    """What the buyer typed, masked: they recognise it; a shoulder-surfer doesn't."""
    parts = [mask_phone_keep_format(contact["phone_number"])]
    if contact.get("name"):
        parts.append(contact["name"])
    if contact.get("email"):
        parts.append(mask_email_keep_domain(contact["email"]))
    return " · ".join(parts)


def confirmation_embed(
    order: OrderRecord,
    preview: PaymentPreview,
    *,
    server_name: str | None = None,
    contact: dict[str, str] | None = None,
) -> discord.Embed:
    expires = int(order.created_at + CONFIRMATION_TTL)
    embed = discord.Embed(
        title=_("Confirm your order"),
        # Translators: "Confirm" and "Cancel" are the labels of buttons below this text;
        # {when} is a relative time, "in 15 minutes"
        description=_(
            "Press **Confirm** to place it, or **Cancel**. This expires {when}.",
            when=ts(expires, "R"),
        ),
        colour=discord.Colour.blurple(),
    )
    # Translators: an embed field's name (what was ordered)
    embed.add_field(name=_("Product"), value=shown_product(order), inline=True)
    # Translators: an embed field's name (how many were ordered)
    embed.add_field(name=_("Quantity"), value=number(order.quantity), inline=True)
    embed.add_field(
        # Translators: an embed field's name
        name=_("Price"),
        value=(
            f"{number(order.quantity)} × {order.unit_price.format()} = **{order.total.format()}**"
        ),
        inline=False,
    )
    paying = payment_line(order, preview)
    if paying:
        # Translators: an embed field's name (how the order is paid)
        embed.add_field(name=_("Payment"), value=paying, inline=False)
    if contact:
        # Translators: an embed field's name (the buyer's phone, name and email)
        embed.add_field(name=_("Contact"), value=contact_line(contact), inline=False)
    if server_name:
        invite = order.details.get("invite_code", "")
        # Translators: an embed field's name (the Discord server boosted)
        embed.add_field(name=_("Server"), value=f"{server_name} (`{invite}`)", inline=False)
    embed.set_footer(text=_("Order {order_id}", order_id=order.id))
    return embed
