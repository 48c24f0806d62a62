"""/wallet: a member's store credit and its history. Thin: bot.services.wallet."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.presenters import wallet_embed
from bot.services.wallet import LEDGER_PAGE
from cogs.pager import send_paged
from cogs.topup_ui import WalletTopupButton
from core.i18n import _

if TYPE_CHECKING:
    from bot.app import OrderBot


async def wallet_page(
    bot: OrderBot, user_id: int, page: int, title: str
) -> tuple[discord.Embed, int]:
    # One read of the asked page; only a page past the end (the ledger can't shrink, so
    # only a stale pager asks) is read again as the last page.
    statement = await bot.wallet.statement(user_id, page=max(page, 0))
    pages = max(1, -(-statement.total_entries // LEDGER_PAGE))
    if max(page, 0) > pages - 1:
        page = pages - 1
        statement = await bot.wallet.statement(user_id, page=page)
    page = max(page, 0)
    embed = wallet_embed(
        title,
        statement.balances,
        statement.entries,
        page=page,
        pages=pages,
        total=statement.total_entries,
    )
    return embed, pages


class Wallet(commands.Cog):
    def __init__(self, bot: OrderBot) -> None:
        self.bot = bot

    @app_commands.command(name="wallet", description="Your store credit and its history")
    async def wallet(self, interaction: discord.Interaction[OrderBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        user_id = interaction.user.id
        await send_paged(
            interaction,
            user_id,
            # Translators: the title of /wallet's answer
            lambda page: wallet_page(self.bot, user_id, page, _("Your store credit")),
            # Online top-ups configured: pay for more credit from here.
            extra=[WalletTopupButton()] if self.bot.topups is not None else [],
        )


async def setup(bot: OrderBot) -> None:
    await bot.add_cog(Wallet(bot))
