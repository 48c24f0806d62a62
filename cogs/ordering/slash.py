"""/boost and /buy as Discord sees them, built from the catalog when the cog is made.

What Discord's client enforces comes from the catalog: /boost's `amount` spans the boost
products' quantities, and its `product` option exists only when there is a choice (then
it is required, a choice the buyer makes, never a silent default); /buy's `quantity`
spans the digital products'. discord.py reads an option's range from its annotation
(`app_commands.Range`) and its choices from `app_commands.choices`, so each command is
built here, in a function that has the catalog's bounds in scope.

No `from __future__ import annotations` here, on purpose: an option's annotation must be
evaluated where its function is defined, with those bounds. (discord.py never reads the
interaction's own annotation, so that one stays a string.)
"""

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.catalog import Product
from core.domain import OrderKind

if TYPE_CHECKING:
    from bot.app import OrderBot
    from cogs.ordering.commands import Ordering

SlashCommand = app_commands.Command[Any, ..., None]

# The range an option has when the catalog sells nothing of its kind.
NO_PRODUCTS_RANGE = (1, 1000)

BOOST_OPTIONS = {
    "invite": "An invite to the server to boost (discord.gg/… link or the code)",
    "amount": "How many boosts",
}
BUY_OPTIONS = {"product": "The product (start typing to search)", "quantity": "How many"}


def quantity_range(products: list[Product]) -> tuple[int, int]:
    """The range that spans every product's own (each is checked again on its own)."""
    if not products:
        return NO_PRODUCTS_RANGE
    return min(p.min_quantity for p in products), max(p.max_quantity for p in products)


def boost_command(cog: "Ordering") -> SlashCommand:
    boosts = cog.bot.catalog.enabled(OrderKind.BOOST)
    low, high = quantity_range(boosts)
    if len(boosts) <= 1:

        @app_commands.describe(**BOOST_OPTIONS)
        @app_commands.guild_only()
        async def boost(
            interaction: "discord.Interaction[OrderBot]",
            invite: app_commands.Range[str, 2, 200],
            amount: app_commands.Range[int, low, high],
        ) -> None:
            await cog.boost(interaction, invite, amount, None)

        return app_commands.Command(
            name="boost", description="Order boosts for a Discord server", callback=boost
        )

    @app_commands.describe(**BOOST_OPTIONS, product="Which boost (the shop sells more than one)")
    @app_commands.choices(
        product=[
            app_commands.Choice(
                name=f"{p.name} — {p.price_for(1).format()} each"[:100], value=p.key
            )
            for p in boosts[:25]
        ]
    )
    @app_commands.guild_only()
    async def boost_one_of(
        interaction: "discord.Interaction[OrderBot]",
        invite: app_commands.Range[str, 2, 200],
        amount: app_commands.Range[int, low, high],
        product: str,
    ) -> None:
        await cog.boost(interaction, invite, amount, product)

    return app_commands.Command(
        name="boost", description="Order boosts for a Discord server", callback=boost_one_of
    )


def buy_command(cog: "Ordering") -> SlashCommand:
    low, high = quantity_range(cog.bot.catalog.enabled(OrderKind.DIGITAL))

    @app_commands.describe(**BUY_OPTIONS)
    @app_commands.guild_only()
    async def buy(
        interaction: "discord.Interaction[OrderBot]",
        product: app_commands.Range[str, 1, 100],
        quantity: app_commands.Range[int, low, high] = 1,
    ) -> None:
        await cog.buy(interaction, product, quantity)

    command: SlashCommand = app_commands.Command(
        name="buy", description="Buy a digital product", callback=buy
    )

    @command.autocomplete("product")
    async def product_autocomplete(
        interaction: "discord.Interaction[OrderBot]", current: str
    ) -> list[app_commands.Choice[str]]:
        return await cog.buy_product_autocomplete(interaction, current)

    return command
