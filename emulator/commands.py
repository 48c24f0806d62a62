"""Application commands: what the bot synced, who may run it, and what running it sends.

:class:`CommandRegistry` owns the registry the bot fills with ``PUT .../commands`` (global and
guild scopes, stable ids across re-syncs), the admins' permission overrides (Server Settings
→ Integrations, dispatched as APPLICATION_COMMAND_PERMISSIONS_UPDATE), and turning a command
a driven user types into the interaction's ``data``: the access check Discord's client does
(hidden commands, overrides, contexts) and each option checked and resolved.
"""

# The driver API takes ``timeout=`` like asyncio.wait_for; the names are part of the contract.
# ruff: noqa: ASYNC109

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from . import interactions as ix
from .base import ATTACHMENT_SIZE_LIMIT, EmulatorBase
from .command_permissions import CommandPermissions
from .interactions import OptionError
from .util import as_int
from .world import ADMINISTRATOR, DM


class CommandRegistry(EmulatorBase):
    """The synced application commands of :class:`emulator.server.Emulator`."""

    command_permissions: CommandPermissions
    _commands: dict[int | None, list[dict[str, Any]]]
    _command_ids: dict[tuple[int | None, int, str], int]

    def _init_commands(self) -> None:
        self.command_permissions = CommandPermissions(
            self.world.guild_id, self.world.application_id
        )
        self._commands = {}
        self._command_ids = {}

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Synced commands: global when ``guild_id`` is None."""
        return copy.deepcopy(self._commands.get(guild_id, []))

    def store_commands(
        self, guild_id: int | None, payload: Sequence[Mapping[str, Any]], *, replace: bool
    ) -> list[dict[str, Any]]:
        current = (
            {} if replace else {(c["type"], c["name"]): c for c in self._commands.get(guild_id, [])}
        )
        stored = []
        for raw in payload:
            cmd = copy.deepcopy(dict(raw))
            kind = int(cmd.get("type") or 1)
            key = (guild_id, kind, cmd["name"])
            cid = self._command_ids.get(key)
            if cid is None:
                cid = self._ids.next()
                self._command_ids[key] = cid
            cmd.update(
                {
                    "id": str(cid),
                    "application_id": str(self.world.application_id),
                    "version": str(self._ids.next()),
                    "type": kind,
                    # Discord takes an int here but answers with a string.
                    "default_member_permissions": (
                        None
                        if cmd.get("default_member_permissions") is None
                        else str(cmd["default_member_permissions"])
                    ),
                }
            )
            cmd.setdefault("description", "")
            cmd.setdefault("options", [])
            cmd.setdefault("nsfw", False)
            if cmd.get("contexts") is None:
                cmd["contexts"] = [0, 1, 2]
            if cmd.get("integration_types") is None:
                cmd["integration_types"] = [0]
            if guild_id is not None:
                cmd["guild_id"] = str(guild_id)
            current[(kind, cmd["name"])] = cmd
            stored.append(cmd)
        self._commands[guild_id] = list(current.values())
        self._notify()
        return copy.deepcopy(stored)

    async def set_command_permissions(
        self, command: str | int | None, permissions: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """What a server admin does in Server Settings → Integrations: override who may run
        ``command`` (a guild or global command's name or id; None for every command of the
        app). Each entry is ``{"id": role/user/channel id, "type": 1 role | 2 user |
        3 channel, "permission": bool}``. Replaces that command's overrides, checks them
        against the spec, and dispatches APPLICATION_COMMAND_PERMISSIONS_UPDATE as Discord
        does."""
        world = self.world
        if command is None:
            target = world.application_id
        elif isinstance(command, int) or str(command).isdigit():
            target = int(command)
        else:
            found = [
                c
                for scope in (world.guild_id, None)
                for c in self._commands.get(scope, [])
                if c["name"] == command
            ]
            if not found:
                raise LookupError(f"no synced command named {command!r}")
            target = int(found[0]["id"])
        entries = [
            {"id": str(e["id"]), "type": int(e["type"]), "permission": bool(e["permission"])}
            for e in permissions
        ]
        if self.validate_contract and self.contract.enabled:
            path = (
                f"/applications/{world.application_id}/guilds/{world.guild_id}"
                f"/commands/{target}/permissions"
            )
            violation, _ = self.contract.check("PUT", path, {"permissions": entries})
            if violation is not None:
                raise ValueError(f"Discord would refuse these overrides: {violation}")
        payload = self.command_permissions.set(target, entries)
        await self.gateway.dispatch("APPLICATION_COMMAND_PERMISSIONS_UPDATE", payload)
        self._notify()
        return payload

    def delete_command(self, guild_id: int | None, command_id: int) -> bool:
        before = self._commands.get(guild_id, [])
        after = [c for c in before if int(c["id"]) != command_id]
        self._commands[guild_id] = after
        self._notify()
        return len(after) != len(before)

    def _find_command(self, name: str, channel_id: int) -> dict[str, Any] | None:
        channel = self.world.channels[channel_id]
        scopes: list[int | None] = [None] if channel.guild_id is None else [channel.guild_id, None]
        for scope in scopes:
            for cmd in self._commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd
        return None

    async def wait_for_command(
        self,
        name: str,
        *,
        guild_id: int | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            for cmd in self._commands.get(guild_id, []):
                if cmd["name"] == name:
                    return copy.deepcopy(cmd)
            return None

        scope = "global" if guild_id is None else f"guild {guild_id}"
        return await self._wait(check, timeout, f"command /{name} to be synced ({scope})")

    # -- invoking a command ---------------------------------------------------------------

    async def _command_data(
        self,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | None,
        subcommand_path: str | Sequence[str] | None,
        channel_id: int,
        *,
        focused: str | None,
        timeout: float,
    ) -> dict[str, Any]:
        command = await self._wait(
            lambda: self._find_command(name, channel_id),
            timeout,
            f"command /{name} to be synced",
        )
        channel = self.world.channels[channel_id]
        context = 1 if channel.type == DM else 0
        if context not in (command.get("contexts") or [0, 1, 2]) or (
            context == 1 and command.get("dm_permission") is False
        ):
            raise OptionError(f"/{name} is not available in this context ({context})")
        if context == 0:
            self._check_command_access(command, user_id, channel_id)
        path = subcommand_path.split() if isinstance(subcommand_path, str) else subcommand_path
        chain, defs = ix.resolve_command_path(command, list(path or []))
        options = dict(options or {})
        known = {d["name"] for d in defs}
        unknown = set(options) - known
        if unknown:
            raise OptionError(f"/{name} has no option(s) {sorted(unknown)} (has {sorted(known)})")
        if focused is not None and focused not in known:
            raise OptionError(f"/{name} has no option {focused!r} to focus")
        resolved: dict[str, dict[str, Any]] = {}
        leaf: list[dict[str, Any]] = []
        for opt in defs:
            oname = opt["name"]
            if oname == focused:
                leaf.append(
                    {
                        "type": opt["type"],
                        "name": oname,
                        "value": str(options.get(oname, "")),
                        "focused": True,
                    }
                )
                continue
            if oname not in options:
                if opt.get("required") and focused is None:
                    raise OptionError(f"/{name} needs option {oname!r}")
                continue
            value = self._option_value(opt, options[oname], resolved, user_id, channel_id)
            leaf.append({"type": opt["type"], "name": oname, "value": value})
        data: dict[str, Any] = {
            "id": command["id"],
            "name": command["name"],
            "type": 1,
            "options": ix.nest_options(chain, leaf),
        }
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    def _check_command_access(
        self, command: Mapping[str, Any], user_id: int, channel_id: int
    ) -> None:
        """Discord's client hides a command the member may not run; the driver refuses it."""
        self._check_can_see(user_id, channel_id)
        name = command["name"]
        member = self.world.members[user_id]
        who, where = self.command_permissions.decide(
            int(command["id"]), user_id, member.roles, channel_id
        )
        if not where:
            raise PermissionError(
                f"/{name} is disabled in channel {channel_id} by a command permission override"
            )
        if who is False:
            raise PermissionError(f"/{name} is denied to user {user_id} by a permission override")
        required = command.get("default_member_permissions")
        if who is None and required not in (None, "", "0"):
            perms = self.world.base_permissions(user_id)
            if not perms & ADMINISTRATOR and perms & int(required) != int(required):
                raise PermissionError(
                    f"/{name} is hidden from user {user_id}: default_member_permissions={required}"
                )

    def _option_value(
        self,
        opt: Mapping[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        user_id: int,
        channel_id: int,
    ) -> Any:
        world = self.world
        kind = opt["type"]
        in_guild = world.channels[channel_id].guild_id is not None
        if kind in (ix.STRING, ix.INTEGER, ix.BOOLEAN, ix.NUMBER):
            ix.check_value(opt, value)
            return float(value) if kind == ix.NUMBER else value
        if kind == ix.ATTACHMENT:
            if isinstance(value, Mapping) and "filename" in value:
                filename = str(value["filename"])
                data = value.get("data", value.get("content", b""))
                content_type = str(value.get("content_type") or "application/octet-stream")
            elif isinstance(value, (tuple, list)) and len(value) == 2:
                filename, data = str(value[0]), value[1]
                content_type = "application/octet-stream"
            else:
                raise OptionError(
                    f"option {opt['name']!r} needs {{'filename', 'data'[, 'content_type']}} "
                    f"or (filename, bytes), got {value!r}"
                )
            if isinstance(data, str):
                data = data.encode()
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise OptionError(f"option {opt['name']!r}: file data must be bytes")
            if len(data) > ATTACHMENT_SIZE_LIMIT:
                raise OptionError(f"option {opt['name']!r}: larger than {ATTACHMENT_SIZE_LIMIT}")
            stored = self._store_file(filename, content_type, bytes(data))
            resolved.setdefault("attachments", {})[stored["id"]] = stored
            return stored["id"]
        target = as_int(value)
        if kind == ix.MENTIONABLE:
            kind = ix.USER if target in world.users else ix.ROLE
        if kind == ix.USER:
            if target not in world.users:
                raise OptionError(f"option {opt['name']!r}: unknown user {target}")
            resolved.setdefault("users", {})[str(target)] = world.user_payload(target)
            if in_guild and target in world.members:
                resolved.setdefault("members", {})[str(target)] = world.member_payload(
                    target, with_user=False, channel_id=channel_id
                )
        elif kind == ix.ROLE:
            if target not in world.roles:
                raise OptionError(f"option {opt['name']!r}: unknown role {target}")
            resolved.setdefault("roles", {})[str(target)] = world.roles[target].payload()
        elif kind == ix.CHANNEL:
            ch = world.channels.get(target)
            if ch is None or ch.guild_id is None:
                raise OptionError(f"option {opt['name']!r}: unknown channel {target}")
            if opt.get("channel_types") and ch.type not in opt["channel_types"]:
                raise OptionError(f"option {opt['name']!r}: channel type {ch.type} not allowed")
            entry = world.channel_payload(target)
            entry["permissions"] = str(world.channel_permissions(user_id, target))
            resolved.setdefault("channels", {})[str(target)] = entry
        else:
            raise OptionError(f"option {opt['name']!r}: unsupported option type {kind}")
        return str(target)
