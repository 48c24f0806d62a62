"""What the playground page draws, built from the emulator's world as one member sees it.

Messages are Discord's own message objects (the page renders them as Discord does), with
what a client would know added: whether it is ephemeral, whether the bot is still
"thinking", and attachment addresses the page can fetch. A member sees a channel only if
Discord would let them, and an ephemeral message only if it is theirs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import interactions as ix
from ..world import DM, VIEW_CHANNEL

if TYPE_CHECKING:
    from ..server import Emulator

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2


def discord_language(locale: str) -> str:
    """The key of a command's localizations for a client language (``en-US`` has none)."""
    return locale


def localized(obj: Mapping[str, Any], field: str, locale: str) -> str:
    names = obj.get(f"{field}_localizations") or {}
    return str(names.get(discord_language(locale)) or obj.get(field) or "")


def display_name(emu: Emulator, user_id: int) -> str:
    user = emu.world.users.get(user_id)
    if user is None:
        return "unknown-user"
    return str(user.global_name or user.username)


def directory(emu: Emulator) -> dict[str, Any]:
    """Names for the ids a message mentions: users, roles, channels."""
    world = emu.world
    return {
        "users": {
            str(uid): {"name": display_name(emu, uid), "bot": user.bot}
            for uid, user in world.users.items()
        },
        "roles": {
            str(rid): {"name": role.name, "color": role.color} for rid, role in world.roles.items()
        },
        "channels": {
            str(cid): {"name": ch.name or "", "dm": ch.type == DM}
            for cid, ch in world.channels.items()
            if ch.type != DM
        },
    }


def can_see(emu: Emulator, user_id: int, channel_id: int) -> bool:
    channel = emu.world.channels.get(channel_id)
    if channel is None:
        return False
    if channel.type == DM:
        return channel.recipient_id == user_id
    return bool(emu.world.channel_permissions(user_id, channel_id) & VIEW_CHANNEL)


def visible_messages(emu: Emulator, viewer: int, channel_id: int) -> list[dict[str, Any]]:
    """The channel as ``viewer``'s client shows it, oldest first."""
    out: list[dict[str, Any]] = []
    for mid in emu._channel_messages.get(channel_id, []):
        msg = emu._messages.get(mid)
        if msg is None or ("message", mid) in emu._unacknowledged:
            continue
        owner = emu._visible_to.get(mid)
        if owner is not None and owner != viewer:
            continue
        shown = copy.deepcopy(msg)
        flags = int(shown.get("flags") or 0)
        shown["ephemeral"] = bool(flags & ix.EPHEMERAL)
        shown["loading"] = bool(flags & ix.LOADING)
        used = used_command(emu, shown.get("interaction_metadata"))
        if used:
            shown["used_command"] = used
        for attachment in shown.get("attachments") or []:
            attachment["url"] = (
                f"api/attachments/{attachment['id']}/{quote(str(attachment['filename']), safe='')}"
            )
            attachment.pop("proxy_url", None)
        out.append(shown)
    return out


def used_command(emu: Emulator, metadata: Mapping[str, Any] | None) -> str:
    """``/admin order view`` for a reply to a slash command (or to the form it opened),
    as Discord shows above the reply, in the member's language."""
    while metadata:
        driven = emu.interactions.get(int(metadata.get("id", 0)))
        if driven is not None and driven.type == ix.APPLICATION_COMMAND:
            data = driven.payload.get("data") or {}
            locale = str(driven.payload.get("locale") or "en-US")
            command = _command_named(emu, str(data.get("name")))
            words = [localized(command, "name", locale) if command else str(data.get("name"))]
            options = data.get("options") or []
            definitions = (command or {}).get("options") or []
            while options and options[0].get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
                sub = options[0]
                found = next((d for d in definitions if d["name"] == sub["name"]), None)
                words.append(localized(found, "name", locale) if found else str(sub["name"]))
                definitions = (found or {}).get("options") or []
                options = sub.get("options") or []
            return "/" + " ".join(words)
        metadata = metadata.get("triggering_interaction_metadata")
    return ""


def _command_named(emu: Emulator, name: str) -> Mapping[str, Any] | None:
    for commands in emu._commands.values():
        for command in commands:
            if command["name"] == name and command.get("type", 1) == 1:
                return command
    return None


def message_counts(emu: Emulator, viewer: int, channel_ids: Sequence[int]) -> dict[str, int]:
    """How many messages ``viewer`` sees in each channel: the page marks unread ones."""
    return {str(cid): len(visible_messages(emu, viewer, cid)) for cid in channel_ids}


def _option(opt: Mapping[str, Any], locale: str) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "name": opt["name"],
        "label": localized(opt, "name", locale),
        "description": localized(opt, "description", locale),
        "type": opt["type"],
        "required": bool(opt.get("required")),
        "autocomplete": bool(opt.get("autocomplete")),
    }
    for key in ("min_value", "max_value", "min_length", "max_length", "channel_types"):
        if opt.get(key) is not None:
            shown[key] = opt[key]
    if opt.get("choices"):
        shown["choices"] = [
            {"name": localized(c, "name", locale), "value": c["value"]} for c in opt["choices"]
        ]
    return shown


def _entries(
    command: Mapping[str, Any], locale: str
) -> list[tuple[list[str], list[str], str, Sequence[Mapping[str, Any]]]]:
    """Every path a member can run: (names, localized names, description, options)."""
    top = command.get("options") or []
    subs = [o for o in top if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if not subs:
        return [([], [], localized(command, "description", locale), top)]
    found: list[tuple[list[str], list[str], str, Sequence[Mapping[str, Any]]]] = []
    for sub in subs:
        label = localized(sub, "name", locale)
        if sub["type"] == SUB_COMMAND:
            found.append(
                (
                    [sub["name"]],
                    [label],
                    localized(sub, "description", locale),
                    sub.get("options") or [],
                )
            )
            continue
        for leaf in sub.get("options") or []:
            found.append(
                (
                    [sub["name"], leaf["name"]],
                    [label, localized(leaf, "name", locale)],
                    localized(leaf, "description", locale),
                    leaf.get("options") or [],
                )
            )
    return found


def visible_commands(emu: Emulator, viewer: int, channel_id: int) -> list[dict[str, Any]]:
    """The slash commands ``viewer``'s client offers in the channel, in their language."""
    world = emu.world
    channel = world.channels[channel_id]
    in_dm = channel.type == DM
    scopes: list[int | None] = [None] if in_dm else [channel.guild_id, None]
    locale = world.users[viewer].locale
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for scope in scopes:
        for command in emu._commands.get(scope, []):
            if command.get("type", 1) != 1 or command["name"] in seen:
                continue
            context = 1 if in_dm else 0
            if context not in (command.get("contexts") or [0, 1, 2]):
                continue
            if in_dm and command.get("dm_permission") is False:
                continue
            if not in_dm:
                try:
                    emu._check_command_access(command, viewer, channel_id)
                except PermissionError:
                    continue
            seen.add(command["name"])
            label = localized(command, "name", locale)
            for path, labels, description, options in _entries(command, locale):
                out.append(
                    {
                        "name": command["name"],
                        "path": path,
                        "label": " ".join([label, *labels]),
                        "description": description,
                        "options": [_option(o, locale) for o in options],
                    }
                )
    out.sort(key=lambda entry: entry["label"])
    return out


def find_entry(emu: Emulator, name: str, path: Sequence[str]) -> Sequence[Mapping[str, Any]] | None:
    """The option definitions of ``/name path`` (any scope), for typing the page's values."""
    for commands in emu._commands.values():
        for command in commands:
            if command["name"] != name or command.get("type", 1) != 1:
                continue
            for names, _labels, _description, options in _entries(command, "en-US"):
                if names == list(path):
                    return options
    return None
