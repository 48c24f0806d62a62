"""What the buyer sees before and after Confirm: the confirmation embed and the colours
of Confirm's answers."""

from __future__ import annotations

import discord

from bot.contact import mask_email_keep_domain, mask_phone_keep_format
from bot.presenters import ts
from bot.services.order_queries import OrderRecord
from bot.services.ordering import CONFIRMATION_TTL, ConfirmResult, PaymentPreview
from core.domain import Money, PaymentMode

RESULT_COLOURS = {
    ConfirmResult.SUBMITTED: discord.Colour.green(),
    ConfirmResult.RETRYING: discord.Colour.gold(),
    ConfirmResult.NEEDS_REVIEW: discord.Colour.gold(),
    ConfirmResult.FAILED: discord.Colour.red(),
    ConfirmResult.AWAITING_APPROVAL: discord.Colour.gold(),
    ConfirmResult.ALREADY: discord.Colour.light_grey(),
    ConfirmResult.EXPIRED: discord.Colour.light_grey(),
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
        return (
            f"From your store credit: {preview.balance.format()}, **{short.format()} short**. "
            f"Press **Top up** to pay the difference online, then **Confirm**"
        )
    if preview.mode is PaymentMode.WALLET and preview.balance is not None:
        after = Money(preview.balance.minor - order.total.minor, order.total.currency)
        return (
            f"From your store credit: {preview.balance.format()} → **{after.format()}** "
            "after Confirm"
        )
    if preview.mode is PaymentMode.APPROVAL:
        return "Staff check your payment after you confirm; nothing is sent before they approve it"
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
        title="Confirm your order",
        description=f"Press **Confirm** to place it, or **Cancel**. This expires {ts(expires, 'R')}.",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="Product", value=order.product_name, inline=True)
    embed.add_field(name="Quantity", value=str(order.quantity), inline=True)
    embed.add_field(
        name="Price",
        value=f"{order.quantity} × {order.unit_price.format()} = **{order.total.format()}**",
        inline=False,
    )
    paying = payment_line(order, preview)
    if paying:
        embed.add_field(name="Payment", value=paying, inline=False)
    if contact:
        embed.add_field(name="Contact", value=contact_line(contact), inline=False)
    if server_name:
        invite = order.details.get("invite_code", "")
        embed.add_field(name="Server", value=f"{server_name} (`{invite}`)", inline=False)
    embed.set_footer(text=f"Order {order.id}")
    return embed
