"""The Ordering cog: /boost and /buy (their options come from the catalog: see
cogs.ordering.slash), and the answer to a contact form this process no longer knows."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput
from bot.invites import HOW_TO, normalize_invite
from bot.tree import use_member_language
from cogs.ordering.buttons import confirmation_view
from cogs.ordering.checks import OrderCooldowns, buyer_refusal
from cogs.ordering.contact_form import (
    FIX_PREFIX,
    FORM_EXPIRED,
    FORM_PREFIX,
    ORPHAN_FORM_GRACE,
    ContactModal,
)
from cogs.ordering.embeds import confirmation_embed, is_short
from cogs.ordering.slash import boost_command, buy_command
from core.domain import OrderKind
from core.i18n import _

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)


class Ordering(commands.Cog):
    def __init__(self, bot: OrderBot) -> None:
        self.bot = bot
        self.cooldowns = OrderCooldowns(bot.settings.order_cooldown_seconds)
        self.slash_commands = (boost_command(self), buy_command(self))

    async def cog_load(self) -> None:
        for command in self.slash_commands:
            self.bot.tree.add_command(command)

    async def cog_unload(self) -> None:
        for command in self.slash_commands:
            self.bot.tree.remove_command(command.name)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[OrderBot]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        if interaction.type is discord.InteractionType.modal_submit:
            if not custom_id.startswith(FORM_PREFIX):
                return
        elif interaction.type is discord.InteractionType.component:
            if not custom_id.startswith(FIX_PREFIX):
                return
        else:
            return
        # The same Interaction object goes to the form's (or button's) own handler, which
        # answers at once. Still unanswered after the grace: nobody is going to answer it.
        await asyncio.sleep(ORPHAN_FORM_GRACE)
        if interaction.response.is_done():
            return
        try:
            await use_member_language(interaction)
            await interaction.response.send_message(_(FORM_EXPIRED), ephemeral=True)
        except discord.HTTPException as exc:
            log.info("could not answer an expired contact form (%s)", exc.status)

    async def boost(
        self,
        interaction: discord.Interaction[OrderBot],
        invite: str,
        amount: int,
        product: str | None,
    ) -> None:
        """/boost invite amount [product]."""
        buyer_refusal(interaction)
        self.cooldowns.check(interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        service = self.bot.ordering
        code = normalize_invite(invite)
        chosen = service.boost_product(product)
        service.check_quantity(chosen, amount)
        await service.ensure_open(chosen)
        await service.check_can_buy(interaction.user.id, chosen, amount)
        try:
            resolved = await self.bot.fetch_invite(code, with_counts=False, with_expiration=False)
        except discord.NotFound:
            raise InvalidInput(
                # Translators: {how_to} is a sentence on how to paste an invite
                _(
                    "The invite `{code}` is unknown or has expired. {how_to}",
                    code=code,
                    how_to=_(HOW_TO),
                )
            ) from None
        server_name: str | None = getattr(resolved.guild, "name", None)
        if server_name is None:
            raise InvalidInput(
                # Translators: {how_to} is a sentence on how to paste an invite
                _(
                    "The invite `{code}` doesn't lead to a server. {how_to}",
                    code=code,
                    how_to=_(HOW_TO),
                )
            )
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
        preview = await service.payment_preview(draft)
        await interaction.followup.send(
            embed=confirmation_embed(draft, preview, server_name=server_name),
            view=confirmation_view(draft.id, short=is_short(draft, preview)),
            ephemeral=True,
        )

    async def buy(
        self, interaction: discord.Interaction[OrderBot], product: str, quantity: int
    ) -> None:
        """/buy product [quantity]."""
        buyer_refusal(interaction)
        self.cooldowns.check(interaction.user.id)
        service = self.bot.ordering
        chosen = service.digital_product(product)
        service.check_quantity(chosen, quantity)
        if service.needs_contact(chosen):
            # A modal must be the first response, so it can't follow a defer. The only
            # I/O before it is local SQLite reads: the shop switch, the balance, limits.
            await service.ensure_open(chosen)
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
        preview = await service.payment_preview(draft)
        await interaction.followup.send(
            embed=confirmation_embed(draft, preview),
            view=confirmation_view(draft.id, short=is_short(draft, preview)),
            ephemeral=True,
        )

    async def buy_product_autocomplete(
        self, interaction: discord.Interaction[OrderBot], current: str
    ) -> list[app_commands.Choice[str]]:
        closed = await self.bot.ordering.closed_providers()
        choices: list[app_commands.Choice[str]] = []
        for p in self.bot.catalog.search(current, OrderKind.DIGITAL):
            if p.provider in closed:
                # Translators: a product offered as /buy is typed (at most 100 characters)
                name = _("{product} — not available right now", product=p.display_name())
            else:
                name = f"{p.display_name()} — {p.price_for(1).format()}"
            choices.append(app_commands.Choice(name=name[:100], value=p.key))
        return choices
