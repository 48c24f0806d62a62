"""Buyers place orders: /boost and /buy, the contact modal, and Confirm / Cancel.

Thin: validation and submission live in bot.services.ordering. The buttons are
DynamicItems whose custom_id carries the order id, so a confirmation still works after a
restart, and the draft row in SQLite (not this process's memory) decides what a press
does — which is what makes a second press harmless.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import Product
from bot.contact import ContactProblem, mask_email, mask_phone, parse_contact
from bot.errors import InvalidInput, NotAllowed, UserFacingError
from bot.invites import HOW_TO, normalize_invite
from bot.services.ordering import (
    CONFIRMATION_TTL,
    ConfirmOutcome,
    ConfirmResult,
    PaymentPreview,
)
from bot.tree import report_error
from core.domain import Money, OrderKind, PaymentMode
from storage import orders as repo

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)

ORDER_ID_RE = r"ORD-[0-9A-Z]{10}"

RESULT_COLOURS = {
    ConfirmResult.SUBMITTED: discord.Colour.green(),
    ConfirmResult.RETRYING: discord.Colour.gold(),
    ConfirmResult.NEEDS_REVIEW: discord.Colour.gold(),
    ConfirmResult.FAILED: discord.Colour.red(),
    ConfirmResult.AWAITING_APPROVAL: discord.Colour.gold(),
    ConfirmResult.ALREADY: discord.Colour.light_grey(),
    ConfirmResult.EXPIRED: discord.Colour.light_grey(),
}


class OrderCooldowns:
    """ORDER_COOLDOWN_SECONDS between a buyer's orders, counted from an order actually
    started (a confirmation shown): a request refused before that, a typo in a quantity
    or a phone number, costs the buyer nothing."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._until: dict[int, float] = {}

    def check(self, user_id: int) -> None:
        left = self._until.get(user_id, 0.0) - time.monotonic()
        if left > 0:
            raise app_commands.CommandOnCooldown(app_commands.Cooldown(1, self.seconds), left)

    def charge(self, user_id: int) -> None:
        if self.seconds <= 0:
            return
        now = time.monotonic()
        if len(self._until) > 10_000:  # forget finished cooldowns, now and then
            self._until = {u: t for u, t in self._until.items() if t > now}
        self._until[user_id] = now + self.seconds


def buyer_refusal(interaction: discord.Interaction[Any]) -> None:
    """BUYER_ROLE_ID: only members with that role may order (commands and Confirm)."""
    bot: OrderBot = interaction.client
    role_id = bot.settings.buyer_role_id
    if role_id is None:
        return
    roles = getattr(interaction.user, "roles", None) or []
    if role_id not in {role.id for role in roles}:
        raise NotAllowed(
            f"Only members with the <@&{role_id}> role can order in this shop. Ask staff "
            "how to get it. Nothing was ordered."
        )


def payment_line(order: repo.OrderRecord, preview: PaymentPreview) -> str | None:
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
    parts = [mask_phone(contact["phone_number"])]
    if contact.get("name"):
        parts.append(contact["name"])
    if contact.get("email"):
        parts.append(mask_email(contact["email"]))
    return " · ".join(parts)


def confirmation_embed(
    order: repo.OrderRecord,
    preview: PaymentPreview,
    *,
    server_name: str | None = None,
    contact: dict[str, str] | None = None,
) -> discord.Embed:
    expires = int(order.created_at + CONFIRMATION_TTL)
    embed = discord.Embed(
        title="Confirm your order",
        description=f"Press **Confirm** to place it, or **Cancel**. This expires <t:{expires}:R>.",
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


def confirmation_view(order_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ConfirmButton(order_id))
    view.add_item(CancelButton(order_id))
    return view


class ConfirmButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"order:confirm:(?P<order_id>{ORDER_ID_RE})",
):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Confirm",
                style=discord.ButtonStyle.success,
                custom_id=f"order:confirm:{order_id}",
            )
        )
        self.order_id = order_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ConfirmButton:
        return cls(match["order_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: OrderBot = interaction.client
        outcome: ConfirmOutcome | None = None
        try:
            # Acknowledge first (Discord allows 3 s); the provider call may take longer.
            await interaction.response.defer()
            buyer_refusal(interaction)
            outcome = await bot.ordering.confirm(self.order_id, interaction.user.id)
            embed = discord.Embed(
                title="Order " + outcome.result.value.replace("_", " "),
                description=outcome.user_message,
                colour=RESULT_COLOURS[outcome.result],
            )
            if outcome.order is not None:
                embed.set_footer(text=f"Order {outcome.order.id}")
            if outcome.result is ConfirmResult.ALREADY:
                # Leave the message alone; a second press only gets a private note.
                await interaction.followup.send(outcome.user_message, ephemeral=True)
                return
            await interaction.edit_original_response(embed=embed, view=None)
        except Exception as exc:
            if outcome is None:
                await report_error(interaction, exc)
                return
            # The order went through confirm; only showing the result failed. "Try again"
            # would be wrong: a second order is the last thing the buyer needs.
            log.warning(
                "order %s: showing the confirm result failed (%s)",
                self.order_id,
                type(exc).__name__,
            )
            await report_error(
                interaction,
                UserFacingError(
                    f"Order `{self.order_id}` is recorded ({outcome.result.value.replace('_', ' ')})"
                    ", but this message couldn't be updated. Don't confirm it again: `/order` "
                    "shows where it is, and you'll get a DM with the result."
                ),
            )


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"order:cancel:(?P<order_id>{ORDER_ID_RE})",
):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel",
                style=discord.ButtonStyle.secondary,
                custom_id=f"order:cancel:{order_id}",
            )
        )
        self.order_id = order_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CancelButton:
        return cls(match["order_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: OrderBot = interaction.client
        try:
            await interaction.response.defer()
            if await bot.ordering.cancel_draft(self.order_id, interaction.user.id):
                embed = discord.Embed(
                    title="Order cancelled",
                    description="Nothing was ordered.",
                    colour=discord.Colour.light_grey(),
                )
                await interaction.edit_original_response(embed=embed, view=None)
                return
            order = await repo.get_order_for_user(bot.db, self.order_id, interaction.user.id)
            if order is None:
                raise NotAllowed(
                    "This order was already cancelled (or its confirmation expired): nothing "
                    "was ordered."
                )
            await interaction.followup.send(
                f"Order `{order.id}` is already **{order.status.label}**; it can't be cancelled here.",
                ephemeral=True,
            )
        except Exception as exc:
            await report_error(interaction, exc)


class ContactModal(discord.ui.Modal, title="Contact details"):
    """What the checkout API requires (a phone number), plus optional name and email."""

    phone: discord.ui.TextInput[ContactModal] = discord.ui.TextInput(
        label="Phone number",
        placeholder="98765 43210, or +44 7700 900123 from abroad",
        min_length=5,
        max_length=25,
        custom_id="contact:phone",
    )
    name: discord.ui.TextInput[ContactModal] = discord.ui.TextInput(
        label="Name (optional)", required=False, max_length=80, custom_id="contact:name"
    )
    email: discord.ui.TextInput[ContactModal] = discord.ui.TextInput(
        label="Email (optional)", required=False, max_length=120, custom_id="contact:email"
    )

    def __init__(
        self,
        product: Product,
        quantity: int,
        interaction_id: int,
        cooldowns: OrderCooldowns,
        typed: dict[str, str] | None = None,
    ) -> None:
        # discord.py keeps open modals by custom_id alone: with a fixed id, two buyers'
        # forms open at once would cross (one shown the other's product, one dropped).
        super().__init__(timeout=CONFIRMATION_TTL, custom_id=f"order:contact:{interaction_id}")
        self.product = product
        self.quantity = quantity
        self.cooldowns = cooldowns
        if typed:  # "Fix it": what they typed before, so only the wrong field is retyped
            self.phone.default = typed.get("phone") or None
            self.name.default = typed.get("name") or None
            self.email.default = typed.get("email") or None

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        bot: OrderBot = interaction.client
        try:
            try:
                contact = parse_contact(
                    self.phone.value,
                    self.name.value,
                    self.email.value,
                    region=bot.settings.default_phone_region,
                )
            except ContactProblem as problem:
                # Discord allows no form in answer to a form: a button opens it again.
                typed = {
                    "phone": self.phone.value,
                    "name": self.name.value,
                    "email": self.email.value,
                }
                await interaction.response.send_message(
                    f"{problem.user_message}\nPress **Fix it**: the form opens again with "
                    "everything you typed, so only that needs changing. Nothing was ordered.",
                    view=FixContactView(
                        self.product, self.quantity, typed, interaction.user.id, self.cooldowns
                    ),
                    ephemeral=True,
                )
                return
            # Checked again here: two forms open at once (a phone and a desktop), or a
            # Fix it pressed after an order was started, must not start a second order
            # inside the cooldown.
            self.cooldowns.check(interaction.user.id)
            await interaction.response.defer(ephemeral=True, thinking=True)
            draft = await bot.ordering.create_draft(
                product=self.product,
                quantity=self.quantity,
                user_id=interaction.user.id,
                buyer_name=interaction.user.display_name,
                guild_id=interaction.guild_id,
                interaction_key=str(interaction.id),
                contact=contact,
            )
            self.cooldowns.charge(interaction.user.id)
            preview = await bot.ordering.payment_preview(draft)
            await interaction.followup.send(
                embed=confirmation_embed(draft, preview, contact=contact),
                view=confirmation_view(draft.id),
                ephemeral=True,
            )
        except Exception as exc:
            await report_error(interaction, exc)

    async def on_error(  # type: ignore[override]  # Modal's signature differs from View's
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await report_error(interaction, error)


class FixContactView(discord.ui.View):
    """The **Fix it** button under a refused contact form: the form again, filled in."""

    def __init__(
        self,
        product: Product,
        quantity: int,
        typed: dict[str, str],
        owner_id: int,
        cooldowns: OrderCooldowns,
    ) -> None:
        super().__init__(timeout=CONFIRMATION_TTL)
        self.product = product
        self.quantity = quantity
        self.typed = typed
        self.owner_id = owner_id
        self.cooldowns = cooldowns
        # Unique per refused form (discord.py routes a press by custom_id and message).
        self.fix.custom_id = f"order:fixcontact:{owner_id}:{time.monotonic_ns()}"

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="Fix it", style=discord.ButtonStyle.primary)
    async def fix(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        self.cooldowns.check(interaction.user.id)
        await interaction.response.send_modal(
            ContactModal(self.product, self.quantity, interaction.id, self.cooldowns, self.typed)
        )

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_error(interaction, error)


# A contact form whose modal this process doesn't know (it was open longer than
# CONFIRMATION_TTL, or the bot restarted meanwhile) gets this answer instead of silence.
# discord.py drops such a submit without a word; a known form answers well within it.
ORPHAN_FORM_GRACE = 1.5
FORM_EXPIRED = (
    "This form has expired (it was open too long, or the bot restarted). Nothing was "
    "ordered: run `/buy` again."
)


class Ordering(commands.Cog):
    def __init__(self, bot: OrderBot) -> None:
        self.bot = bot
        self.cooldowns = OrderCooldowns(bot.settings.order_cooldown_seconds)

    async def cog_load(self) -> None:
        # What Discord's client enforces comes from the catalog: the amount's range
        # spans the boost products, and `product` exists only when there is a choice.
        # (The parameters are replaced, not edited: they are shared with the class.)
        boosts = self.bot.catalog.enabled(OrderKind.BOOST)
        params = self.boost._params
        if boosts:
            params["amount"] = dataclasses.replace(
                params["amount"],
                min_value=min(p.min_quantity for p in boosts),
                max_value=max(p.max_quantity for p in boosts),
            )
        if len(boosts) > 1:
            params["product"] = dataclasses.replace(
                params["product"],
                required=True,  # a choice the buyer makes, never a silent default
                choices=[
                    app_commands.Choice(
                        name=f"{p.name} — {p.price_for(1).format()} each"[:100], value=p.key
                    )
                    for p in boosts[:25]
                ],
            )
        else:
            del params["product"]
        digital = self.bot.catalog.enabled(OrderKind.DIGITAL)
        if digital:
            self.buy._params["quantity"] = dataclasses.replace(
                self.buy._params["quantity"],
                min_value=min(p.min_quantity for p in digital),
                max_value=max(p.max_quantity for p in digital),
            )

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        if interaction.type is discord.InteractionType.modal_submit:
            if not custom_id.startswith("order:contact:"):
                return
        elif interaction.type is discord.InteractionType.component:
            if not custom_id.startswith("order:fixcontact:"):
                return
        else:
            return
        # The same Interaction object goes to the form's (or button's) own handler, which
        # answers at once. Still unanswered after the grace: nobody is going to answer it.
        await asyncio.sleep(ORPHAN_FORM_GRACE)
        if interaction.response.is_done():
            return
        try:
            await interaction.response.send_message(FORM_EXPIRED, ephemeral=True)
        except discord.HTTPException as exc:
            log.info("could not answer an expired contact form (%s)", exc.status)

    @app_commands.command(name="boost", description="Order boosts for a Discord server")
    @app_commands.describe(
        invite="An invite to the server to boost (discord.gg/… link or the code)",
        amount="How many boosts",
        product="Which boost (the shop sells more than one)",
    )
    @app_commands.guild_only()
    async def boost(
        self,
        interaction: discord.Interaction[Any],
        invite: app_commands.Range[str, 2, 200],
        amount: app_commands.Range[int, 1, 1000],
        product: str | None = None,
    ) -> None:
        buyer_refusal(interaction)
        self.cooldowns.check(interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        service = self.bot.ordering
        code = normalize_invite(invite)
        chosen = service.boost_product(product)
        service.check_quantity(chosen, amount)
        await service.ensure_open()
        await service.check_can_buy(interaction.user.id, chosen, amount)
        try:
            resolved = await self.bot.fetch_invite(code, with_counts=False, with_expiration=False)
        except discord.NotFound:
            raise InvalidInput(f"The invite `{code}` is unknown or has expired. {HOW_TO}") from None
        server_name: str | None = getattr(resolved.guild, "name", None)
        if server_name is None:
            raise InvalidInput(f"The invite `{code}` doesn't lead to a server. {HOW_TO}")
        draft = await service.create_draft(
            product=chosen,
            quantity=amount,
            user_id=interaction.user.id,
            buyer_name=interaction.user.display_name,
            guild_id=interaction.guild_id,
            interaction_key=str(interaction.id),
            details={"invite_code": code, "server_name": server_name[:100]},
        )
        self.cooldowns.charge(interaction.user.id)
        await interaction.followup.send(
            embed=confirmation_embed(
                draft, await service.payment_preview(draft), server_name=server_name
            ),
            view=confirmation_view(draft.id),
            ephemeral=True,
        )

    @app_commands.command(name="buy", description="Buy a digital product")
    @app_commands.describe(product="The product (start typing to search)", quantity="How many")
    @app_commands.guild_only()
    async def buy(
        self,
        interaction: discord.Interaction[Any],
        product: app_commands.Range[str, 1, 100],
        quantity: app_commands.Range[int, 1, 1000] = 1,
    ) -> None:
        buyer_refusal(interaction)
        self.cooldowns.check(interaction.user.id)
        service = self.bot.ordering
        chosen = service.digital_product(product)
        service.check_quantity(chosen, quantity)
        if service.needs_contact(chosen):
            # A modal must be the first response, so it can't follow a defer. The only
            # I/O before it is local SQLite reads: the shop switch, the balance, limits.
            await service.ensure_open()
            await service.check_can_buy(interaction.user.id, chosen, quantity)
            await interaction.response.send_modal(
                ContactModal(chosen, quantity, interaction.id, self.cooldowns)
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        draft = await service.create_draft(
            product=chosen,
            quantity=quantity,
            user_id=interaction.user.id,
            buyer_name=interaction.user.display_name,
            guild_id=interaction.guild_id,
            interaction_key=str(interaction.id),
        )
        self.cooldowns.charge(interaction.user.id)
        await interaction.followup.send(
            embed=confirmation_embed(draft, await service.payment_preview(draft)),
            view=confirmation_view(draft.id),
            ephemeral=True,
        )

    @buy.autocomplete("product")
    async def buy_product_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{p.name} — {p.price_for(1).format()}"[:100], value=p.key)
            for p in self.bot.catalog.search(current, OrderKind.DIGITAL)
        ]


async def setup(bot: OrderBot) -> None:
    bot.add_dynamic_items(ConfirmButton, CancelButton)
    await bot.add_cog(Ordering(bot))


__all__ = ["CancelButton", "ConfirmButton", "ContactModal", "Ordering"]
