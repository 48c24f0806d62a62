"""Every /admin command goes through the staff check, including ones added later.

discord.py runs only the immediate parent group's interaction_check, so a command attached
to a plain Group under /admin would skip the check. This walks the real tree."""

from __future__ import annotations

from discord import app_commands

import cogs.admin  # noqa: F401 - attaches every /admin command
from cogs.admin.access import DEFAULT_PERMISSIONS, StaffGroup, admin_group


def walk(group: app_commands.Group) -> list[app_commands.Command | app_commands.Group]:
    found: list[app_commands.Command | app_commands.Group] = []
    for child in group.commands:
        found.append(child)
        if isinstance(child, app_commands.Group):
            found.extend(walk(child))
    return found


def test_every_admin_command_has_a_staff_group_parent() -> None:
    commands = walk(admin_group)
    names = {c.qualified_name for c in commands}
    assert {
        "admin orders",
        "admin order view",
        "admin order retry",
        "admin order set-status",
        "admin order deliver",
        "admin order resend",
        "admin order link",
        "admin shop pause",
        "admin shop resume",
        "admin providers",
        "admin stats",
    } <= names
    for command in commands:
        assert isinstance(command.parent, StaffGroup), command.qualified_name
        if isinstance(command, app_commands.Group):
            assert isinstance(command, StaffGroup), command.qualified_name


def test_admin_is_guild_only_and_hidden_by_default() -> None:
    assert admin_group.guild_only
    assert admin_group.default_permissions == DEFAULT_PERMISSIONS
    # Only server managers see it until the owner grants the staff role (see the README).
    assert DEFAULT_PERMISSIONS.value == 1 << 5
