"""Buyers look at their orders: /orders (paginated) and /order (detail and delivery).

Privacy is enforced in SQL: every lookup is by (order id, caller id), so another
member's order is indistinguishable from one that doesn't exist (bot.services.order_queries).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import OrderNotFoundError
from bot.presenters import delivery_payload, order_embed, order_line, shown_product, status_text
from cogs.pager import send_paged
from core.crypto import DecryptionError
from core.i18n import _, _n, number

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)

PAGE_SIZE = 5


async def orders_page(bot: OrderBot, user_id: int, page: int) -> tuple[discord.Embed, int]:
    queries = bot.order_queries
    total = await queries.count_buyer_orders(user_id)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    orders = await queries.buyer_orders(user_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    embed = discord.Embed(title=_("Your orders"), colour=discord.Colour.blurple())
    if not orders:
        embed.description = _("You have no orders yet. Try `/boost` or `/buy`.")
    else:
        embed.description = "\n".join(order_line(o) for o in orders)
    embed.set_footer(
        # Translators: "/order id:<id>" is a command as typed: keep it as it is
        text=_n(
            "Page {page} of {pages} · {count} order · /order id:<id> for details",
            "Page {page} of {pages} · {count} orders · /order id:<id> for details",
            total,
            page=number(page + 1),
            pages=number(pages),
        )
    )
    return embed, pages


class Orders(commands.Cog):
    def __init__(self, bot: OrderBot) -> None:
        self.bot = bot

    @app_commands.command(name="orders", description="Your orders, newest first")
    async def orders(self, interaction: discord.Interaction[OrderBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        user_id = interaction.user.id
        await send_paged(interaction, user_id, lambda page: orders_page(self.bot, user_id, page))

    @app_commands.command(
        name="order", description="One of your orders: status, timeline and delivery"
    )
    @app_commands.describe(id="The order id (start typing to pick one of yours)")
    async def order(
        self, interaction: discord.Interaction[OrderBot], id: app_commands.Range[str, 1, 40]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        order_id = id.strip().upper()
        queries = self.bot.order_queries
        order = await queries.buyer_order(order_id, interaction.user.id)
        if order is None or order.status.value == "draft":
            raise OrderNotFoundError(order_id)
        events = await queries.timeline(order.id)
        embed = order_embed(order, events, await queries.payments(order.id))
        try:
            delivery = order.delivery(self.bot.cipher) if order.has_delivery else None
        except DecryptionError:
            # The key it was stored under is gone: the order still shows; staff were told
            # when its DM went out.
            log.error(
                "order %s: its delivery can't be decrypted with the configured keys", order.id
            )
            await interaction.followup.send(
                _("Your delivery can't be shown right now; staff have been told."),
                embed=embed,
                ephemeral=True,
            )
            return
        if delivery is not None and not delivery.is_empty():
            # The owner (and only the owner: the lookup above is by caller id) sees it again.
            content, file = delivery_payload(order, delivery)
            if file is not None:
                await interaction.followup.send(content, embed=embed, file=file, ephemeral=True)
            else:
                await interaction.followup.send(content, embed=embed, ephemeral=True)
            return
        await interaction.followup.send(embed=embed, ephemeral=True)

    @order.autocomplete("id")
    async def order_id_autocomplete(
        self, interaction: discord.Interaction[OrderBot], current: str
    ) -> list[app_commands.Choice[str]]:
        mine = await self.bot.order_queries.search_buyer_orders(
            interaction.user.id, current[:40], limit=25
        )
        return [
            app_commands.Choice(
                name=f"{o.id} · {shown_product(o)} · {status_text(o)}"[:100], value=o.id
            )
            for o in mine
        ]


async def setup(bot: OrderBot) -> None:
    await bot.add_cog(Orders(bot))
