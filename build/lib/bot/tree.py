"""The command tree with the one global error handler.

Known errors (our `UserFacingError`s, failed checks, cooldowns) become a friendly
ephemeral message. Anything else is logged with a short reference id that is also shown
to the user, so staff can find the traceback from a screenshot.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.errors import UserFacingError

log = logging.getLogger(__name__)


def friendly_message(error: BaseException) -> str | None:
    """The user-facing text for a known error, or None for an unexpected one."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        error = error.__cause__ or error
    if isinstance(error, UserFacingError):
        return error.user_message
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: you can do that again in {error.retry_after:.0f}s."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only inside the shop's server."
    if isinstance(error, app_commands.MissingRole | app_commands.MissingAnyRole):
        return "You don't have the role needed for this command."
    if isinstance(error, app_commands.MissingPermissions):
        return "You don't have permission to use this command."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You can't use this command here."
    return None


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Tell the user what went wrong, ephemerally, whether or not we already deferred."""
    message = friendly_message(error)
    if message is None:
        reference = secrets.token_hex(4).upper()
        command = interaction.command.qualified_name if interaction.command else "component"
        original = getattr(error, "original", None) or error.__cause__ or error
        log.error(
            "unexpected error in %s (ref %s, user %s)",
            command,
            reference,
            interaction.user.id,
            exc_info=original,
        )
        message = f"Something went wrong on our side. Please try again; if it keeps happening, tell staff the reference **{reference}**."
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException as exc:
        # The interaction may have expired (10062) or been answered elsewhere (40060).
        log.warning("could not report an error to user %s: %s", interaction.user.id, exc)


class OrderTree(app_commands.CommandTree[Any]):
    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError, /
    ) -> None:
        await report_error(interaction, error)
