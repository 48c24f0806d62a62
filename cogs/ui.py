"""The bases every view and form of the bot shares: friendly errors, and the hand-off
from discord.py's client-generic hooks to methods typed with this bot.

discord.py declares `on_submit`, `on_error` and `interaction_check` generic in the client
(`Interaction[ClientT]`), so an override can't narrow them to `Interaction[OrderBot]`.
These bases override them once and hand on to typed methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.tree import report_error, use_member_language

if TYPE_CHECKING:
    from bot.app import OrderBot


class BotModal(discord.ui.Modal):
    """A form whose errors reach the member as one friendly line. A subclass implements
    `submitted`. Its custom_id must be unique to the interaction that opened it."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        # A form's submit runs in its own task: the member's language is set here.
        await use_member_language(interaction)
        return True

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        await self.submitted(interaction)

    async def on_error(  # type: ignore[override]  # Modal's signature differs from View's
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await report_error(interaction, error)

    async def submitted(self, interaction: discord.Interaction[OrderBot]) -> None:
        raise NotImplementedError


class OwnedView(discord.ui.View):
    """A private view only the member it was shown to (`owner_id`) can press."""

    def __init__(self, owner_id: int, *, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        # Each press runs in its own task: the member's language is set here.
        await use_member_language(interaction)
        return interaction.user.id == self.owner_id

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_error(interaction, error)
