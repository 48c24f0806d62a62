"""/top-up: a buyer pays online for store credit. Thin: cogs.topup_ui and
bot.services.topups."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs.topup_ui import WalletTopupButton, read_amount, send_link

if TYPE_CHECKING:
    from bot.app import OrderBot


class Topups(commands.Cog):
    def __init__(self, bot: OrderBot) -> None:
        self.bot = bot

    @app_commands.command(name="top-up", description="Add store credit by paying online")
    @app_commands.describe(
        amount="How much, e.g. 500 or 12.50",
        currency="The currency, when the shop takes more than one (e.g. INR)",
    )
    async def top_up(
        self,
        interaction: discord.Interaction[OrderBot],
        amount: app_commands.Range[str, 1, 20],
        currency: app_commands.Range[str, 3, 3] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_link(interaction, read_amount(self.bot, amount, currency))

    @top_up.autocomplete("currency")
    async def currency_autocomplete(
        self, interaction: discord.Interaction[OrderBot], current: str
    ) -> list[app_commands.Choice[str]]:
        if self.bot.topups is None:
            return []
        taken = sorted(c for c in self.bot.topups.service.currencies if c != "*")
        return [
            app_commands.Choice(name=c, value=c) for c in taken if c.startswith(current.upper())
        ]


async def setup(bot: OrderBot) -> None:
    bot.add_dynamic_items(WalletTopupButton)
    await bot.add_cog(Topups(bot))
