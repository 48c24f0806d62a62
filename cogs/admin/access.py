"""Who may use /admin, and where.

`default_permissions` on the group only decides who *sees* /admin by default, and a server
admin can override it for any role or member (Server Settings → Integrations). So every
/admin group also enforces the real rule itself: the member has STAFF_ROLE_ID, and the
command runs in STAFF_CHANNEL_ID. discord.py runs only the *immediate* parent group's
`interaction_check`, so every subgroup is a `StaffGroup` too, and autocomplete (which runs
no checks at all) asks `staff_refusal` itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.tree import use_staff_language
from core.i18n import _

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)

# Who sees /admin before a server admin changes anything: members who can manage the
# server. The staff role is then granted access in Integrations (see the README).
DEFAULT_PERMISSIONS = discord.Permissions(manage_guild=True)


class StaffOnly(app_commands.CheckFailure):
    """Shown to the member as is (the tree's error handler uses str())."""


def staff_refusal(interaction: discord.Interaction[OrderBot]) -> str | None:
    """Why this member may not use /admin here, or None when they may."""
    settings = interaction.client.settings
    if interaction.guild_id != settings.guild_id:
        return _("The staff console works only in the shop's server.")
    roles = getattr(interaction.user, "roles", None) or []
    if settings.staff_role_id not in {role.id for role in roles}:
        return _("Only staff can use `/admin`.")
    if interaction.channel_id != settings.staff_channel_id:
        return _(
            "Use `/admin` in the staff channel, <#{channel_id}>.",
            channel_id=settings.staff_channel_id,
        )
    return None


def command_name(interaction: discord.Interaction[OrderBot]) -> str:
    command = interaction.command
    return f"/{command.qualified_name}" if command is not None else "an /admin component"


class StaffGroup(app_commands.Group):
    # discord.py declares it generic in the client (Interaction[ClientT]).
    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        reason = staff_refusal(interaction)
        if reason is None:
            return True
        log.warning(
            "refused %s for user %s in channel %s: %s",
            command_name(interaction),
            interaction.user.id,
            interaction.channel_id,
            reason,
        )
        raise StaffOnly(reason)


admin_group = StaffGroup(
    name="admin",
    description="Staff: run the shop",
    guild_only=True,
    default_permissions=DEFAULT_PERMISSIONS,
)

order_group = StaffGroup(name="order", description="Staff: one order")
shop_group = StaffGroup(name="shop", description="Staff: the whole shop")

# What a module of the console adds to /admin, as (parent group, command or subgroup)
# pairs: each module lists its own in `COMMANDS`, and cogs.admin's setup attaches them.
Additions = tuple[
    tuple[app_commands.Group, app_commands.Command[Any, ..., Any] | app_commands.Group], ...
]

# /admin's own subgroups (the commands under them come from the other modules).
SUBGROUPS: Additions = (
    (admin_group, order_group),
    (admin_group, shop_group),
)


async def check_component(interaction: discord.Interaction[OrderBot]) -> bool:
    """For buttons and modals of the staff console: the same rule, answered ephemerally.
    Like /admin itself (bot.tree), the staff console answers in the staff language."""
    use_staff_language()
    reason = staff_refusal(interaction)
    if reason is None:
        return True
    log.warning(
        "refused %s for user %s: %s", command_name(interaction), interaction.user.id, reason
    )
    await interaction.response.send_message(reason, ephemeral=True)
    return False
