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
from core import i18n
from core.i18n import _

log = logging.getLogger(__name__)

STAFF_COMMAND = "admin"


async def use_member_language(interaction: discord.Interaction[Any]) -> str:
    """Write to this member in their language for the rest of this interaction's task:
    their /language choice, else Discord's locale if the shop has it, else the shop's
    default. Every entry point calls this (the tree's check, every view's and form's
    check) before it writes a word."""
    locale = str(interaction.locale) if interaction.locale else None
    try:
        language = await interaction.client.languages.for_interaction(interaction.user.id, locale)
    except Exception:
        # The choice can't be read (the database is busy or gone): Discord's language
        # still answers the member, and whatever failed is reported in that language.
        log.warning("language choice of user %s unreadable", interaction.user.id, exc_info=True)
        language = i18n.resolve(None, locale)
    i18n.use(language)
    return language


def use_staff_language() -> str:
    """The staff console answers in the shop's staff language."""
    language = i18n.staff_language()
    i18n.use(language)
    return language


def friendly_message(error: BaseException) -> str | None:
    """The user-facing text for a known error, or None for an unexpected one."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        error = error.__cause__ or error
    if isinstance(error, UserFacingError):
        return error.user_message
    if isinstance(error, app_commands.CommandOnCooldown):
        return _(
            "Slow down a little: you can do that again in {seconds}s.",
            seconds=i18n.number(round(error.retry_after)),
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return _("This command works only inside the shop's server.")
    if isinstance(error, app_commands.MissingRole | app_commands.MissingAnyRole):
        return _("You don't have the role needed for this command.")
    if isinstance(error, app_commands.MissingPermissions):
        return _("You don't have permission to use this command.")
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or _("You can't use this command here.")
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
        message = _(
            "Something went wrong on our side. Please try again; if it keeps happening,"
            " tell staff the reference **{reference}**.",
            reference=reference,
        )
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException as exc:
        # The interaction may have expired (10062) or been answered elsewhere (40060).
        log.warning("could not report an error to user %s: %s", interaction.user.id, exc)


class OrderTree(app_commands.CommandTree[Any]):
    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        # Runs in the task of the command (or autocomplete) it guards: the language set
        # here is the one its replies are written in.
        command = interaction.command
        root = command.root_parent or command if isinstance(command, app_commands.Command) else None
        if root is not None and root.name == STAFF_COMMAND:
            use_staff_language()
        else:
            await use_member_language(interaction)
        return True

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError, /
    ) -> None:
        await report_error(interaction, error)
