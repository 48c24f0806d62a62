"""Every /admin command goes through the staff check, including ones added later.

discord.py runs only the immediate parent group's interaction_check, so a command attached
to a plain Group under /admin would skip the check. This walks the real tree."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from cogs.admin import AdminSetupError, admin_commands, shop
from cogs.admin.access import DEFAULT_PERMISSIONS, StaffGroup

admin_group = admin_commands()  # /admin with every command attached, as setup adds it


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


def test_admin_is_put_together_explicitly_and_refuses_what_is_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Again: nothing changes (a reload of the extension, another bot in the process).
    before = [c.qualified_name for c in walk(admin_group)]
    assert [c.qualified_name for c in walk(admin_commands())] == before

    @app_commands.command(name="forgotten", description="Defined, never listed")
    async def forgotten(interaction: discord.Interaction) -> None:
        raise AssertionError("never run")

    forgotten.module = shop.__name__  # as if defined in cogs/admin/shop.py
    monkeypatch.setattr(shop, "forgotten", forgotten, raising=False)
    with pytest.raises(AdminSetupError, match="forgotten"):
        admin_commands()
    monkeypatch.delattr(shop, "forgotten")
    monkeypatch.delattr(shop, "COMMANDS")
    with pytest.raises(AdminSetupError, match="has no COMMANDS"):
        admin_commands()
