"""/language: the member chooses the language the shop writes to them in.

Discord sends its own language with every interaction, and Hindi readers get Hindi from
it. Discord has no Bengali, so Bengali readers choose it here; the choice also wins over
Discord's language, and is what later DMs (a delivery, a refund) are written in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core import i18n
from core.i18n import _

if TYPE_CHECKING:
    from bot.app import OrderBot

AUTOMATIC = "auto"

# Each language under its own name, so a reader finds theirs whatever Discord shows.
CHOICES = [
    app_commands.Choice(name="English", value="en"),
    app_commands.Choice(name="हिन्दी (Hindi)", value="hi"),
    app_commands.Choice(name="বাংলা (Bengali)", value="bn"),
    app_commands.Choice(name="Discord's language", value=AUTOMATIC),
]


class Language(commands.Cog):
    def __init__(self, bot: OrderBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="language", description="Choose the language the shop writes to you in"
    )
    @app_commands.describe(language="Leave empty to see which language you get now")
    @app_commands.choices(language=CHOICES)
    @app_commands.guild_only()
    async def language(
        self,
        interaction: discord.Interaction[OrderBot],
        language: app_commands.Choice[str] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        languages = self.bot.languages
        if language is None:
            chosen = await languages.choice(interaction.user.id)
            now = i18n.current()
            if chosen is not None:
                text = _(
                    "You read the shop in **{language}**, as you chose. `/language` changes it.",
                    language=i18n.language_name(now),
                )
            elif i18n.language_from_discord(str(interaction.locale)) == now:
                text = _(
                    "You read the shop in **{language}**, from your Discord language."
                    " `/language` lets you choose: English, हिन्दी or বাংলা.",
                    language=i18n.language_name(now),
                )
            else:
                text = _(
                    "You read the shop in **{language}**, the shop's language (it doesn't"
                    " have your Discord language). `/language` lets you choose: English,"
                    " हिन्दी or বাংলা.",
                    language=i18n.language_name(now),
                )
            await interaction.followup.send(text, ephemeral=True)
            return
        choice = None if language.value == AUTOMATIC else language.value
        await languages.choose(interaction.user.id, choice)
        new = i18n.resolve(choice, str(interaction.locale) if interaction.locale else None)
        with i18n.speaking(new):
            if choice is None:
                text = _(
                    "Done: the shop follows your Discord language again (**{language}** now)."
                    " Your DMs use the language you ordered in.",
                    language=i18n.language_name(new),
                )
            else:
                text = _(
                    "Done: the shop writes to you in **{language}** from now on: replies,"
                    " DMs and amounts.",
                    language=i18n.language_name(new),
                )
            await interaction.followup.send(text, ephemeral=True)


async def setup(bot: OrderBot) -> None:
    await bot.add_cog(Language(bot))
