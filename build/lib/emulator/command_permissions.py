"""Application command permission overrides: what a server admin sets in
Server Settings → Integrations → the bot, and how Discord decides who may run a command.

``default_member_permissions`` on a command is only the default. An admin can allow or deny
a command for roles, members and channels, either for one command (command level) or for
every command of the app (app level, keyed by the application id). Discord decides:

- **who**: a member override wins; else the member's role overrides (any allow wins over a
  deny); else the @everyone override (role id = guild id); command level before app level;
  with no override at any level, ``default_member_permissions`` decides.
- **where**: a channel override for this channel, else the "all channels" override
  (id = guild id - 1); command level before app level; no override means allowed.

Both must allow. The members with ADMINISTRATOR (and the owner) are not exempt from explicit
overrides here; they are only exempt from ``default_member_permissions``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

ROLE, USER, CHANNEL = 1, 2, 3


class CommandPermissions:
    """Overrides for the one emulated guild, keyed by command id (or the application id)."""

    def __init__(self, guild_id: int, application_id: int) -> None:
        self.guild_id = guild_id
        self.application_id = application_id
        self._by_target: dict[int, list[dict[str, Any]]] = {}

    def set(self, target_id: int, permissions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Replace the overrides of one command (or of the app); returns Discord's object."""
        entries = []
        for entry in permissions:
            kind = int(entry["type"])
            if kind not in (ROLE, USER, CHANNEL):
                raise ValueError(f"permission type must be 1, 2 or 3, not {kind}")
            entries.append(
                {"id": str(int(entry["id"])), "type": kind, "permission": bool(entry["permission"])}
            )
        if entries:
            self._by_target[target_id] = entries
        else:
            self._by_target.pop(target_id, None)
        return self.payload(target_id)

    def get(self, target_id: int) -> dict[str, Any] | None:
        return self.payload(target_id) if target_id in self._by_target else None

    def all(self) -> list[dict[str, Any]]:
        return [self.payload(t) for t in self._by_target]

    def payload(self, target_id: int) -> dict[str, Any]:
        """A GuildApplicationCommandPermissions object, as REST and the gateway send it."""
        return {
            "id": str(target_id),
            "application_id": str(self.application_id),
            "guild_id": str(self.guild_id),
            "permissions": copy.deepcopy(self._by_target.get(target_id, [])),
        }

    def _who(
        self, entries: list[dict[str, Any]], user_id: int, roles: Sequence[int]
    ) -> bool | None:
        for e in entries:
            if e["type"] == USER and int(e["id"]) == user_id:
                return bool(e["permission"])
        matched = [e["permission"] for e in entries if e["type"] == ROLE and int(e["id"]) in roles]
        if matched:
            return any(matched)
        for e in entries:
            if e["type"] == ROLE and int(e["id"]) == self.guild_id:
                return bool(e["permission"])
        return None

    def _where(self, entries: list[dict[str, Any]], channel_id: int) -> bool | None:
        for wanted in (channel_id, self.guild_id - 1):
            for e in entries:
                if e["type"] == CHANNEL and int(e["id"]) == wanted:
                    return bool(e["permission"])
        return None

    def decide(
        self, command_id: int, user_id: int, roles: Sequence[int], channel_id: int
    ) -> tuple[bool | None, bool]:
        """(who, where): ``who`` is None when no override applies (the default decides)."""
        levels = [self._by_target.get(command_id, []), self._by_target.get(self.application_id, [])]
        who: bool | None = None
        for entries in levels:
            who = self._who(entries, user_id, roles)
            if who is not None:
                break
        where = True
        for entries in levels:
            decided = self._where(entries, channel_id)
            if decided is not None:
                where = decided
                break
        return who, where
