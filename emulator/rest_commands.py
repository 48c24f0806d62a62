"""REST routes for application commands: the bot's sync (global and guild scope), single
commands, and reading permission overrides (only an admin's OAuth2 token may write them)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from .rest_base import BODY, Body, RestBase, path_snowflake
from .util import DiscordError, json_response, unknown


class CommandRoutes(RestBase):
    # -- application commands -------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        world = self.emu.world
        app = path_snowflake(request, "app", "Application", 10002)
        if app != world.application_id:
            raise DiscordError(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        if "guild" not in request.match_info:
            return None
        guild = path_snowflake(request, "guild", "Guild", 10004)
        if guild != world.guild_id:
            raise DiscordError(403, 50001, "Missing Access")
        return guild

    async def list_commands(self, request: web.Request) -> web.Response:
        return json_response(self.emu.commands(self._command_scope(request)))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body: Body = request[BODY]
        payload = body.json if isinstance(body.json, list) else []
        self._check_names(request, payload)
        return json_response(self.emu.store_commands(scope, payload, replace=True))

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body: Body = request[BODY]
        self._check_names(request, [body.obj])
        stored = self.emu.store_commands(scope, [body.obj], replace=False)
        return json_response(stored[0], status=201)

    def _check_names(self, request: web.Request, payload: list[Any]) -> None:
        """What the spec's schema can't say: command and option names (and their
        localizations) must match Discord's name rule (see `invalid_command_name`)."""
        for index, command in enumerate(payload):
            if not isinstance(command, dict):
                continue
            for field, name in named_fields(command, f"{index}"):
                problem = invalid_command_name(name, chat_input=command.get("type", 1) == 1)
                if problem:
                    raise self.bad_body(request, field, "APPLICATION_COMMAND_INVALID_NAME", problem)

    def _command(self, request: web.Request) -> tuple[int | None, dict[str, Any]]:
        scope = self._command_scope(request)
        cid = path_snowflake(request, "cmd", "application command", 10063)
        for cmd in self.emu.commands(scope):
            if int(cmd["id"]) == cid:
                return scope, cmd
        raise unknown("application command", 10063)

    async def list_command_permissions(self, request: web.Request) -> web.Response:
        self._command_scope(request)
        return json_response(self.emu.command_permissions.all())

    async def get_command_permissions(self, request: web.Request) -> web.Response:
        self._command_scope(request)
        cid = path_snowflake(request, "cmd", "application command", 10063)
        found = self.emu.command_permissions.get(cid)
        if found is None:
            raise DiscordError(404, 10066, "Unknown application command permissions")
        return json_response(found)

    async def put_command_permissions(self, request: web.Request) -> web.Response:
        # Only a server admin's OAuth2 bearer token may change overrides; a bot token never.
        raise DiscordError(403, 20001, "Bots cannot use this endpoint")

    async def get_command(self, request: web.Request) -> web.Response:
        return json_response(self._command(request)[1])

    async def patch_command(self, request: web.Request) -> web.Response:
        scope, cmd = self._command(request)
        body: Body = request[BODY]
        cmd.update(body.obj)
        return json_response(self.emu.store_commands(scope, [cmd], replace=False)[0])

    async def delete_command(self, request: web.Request) -> web.Response:
        scope, cmd = self._command(request)
        self.emu.delete_command(scope, int(cmd["id"]))
        return web.Response(status=204)


def _allowed_in_name(char: str) -> bool:
    """Discord's `^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`, one character:
    Devanagari and Thai are allowed whole (their vowel signs are marks, not letters)."""
    if char in "-_'":
        return True
    if unicodedata.category(char)[0] in "LN":
        return True
    code = ord(char)
    return 0x0900 <= code <= 0x097F or 0xA8E0 <= code <= 0xA8FF or 0x0E00 <= code <= 0x0E7F


def invalid_command_name(name: Any, *, chat_input: bool = True) -> str | None:
    """Why Discord would refuse `name` as a slash command's or option's name, or None.
    Slash-command names are also lowercase wherever a letter has a lowercase form."""
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return "Must be between 1 and 32 in length."
    if not chat_input:
        return None
    if not all(_allowed_in_name(c) for c in name):
        return "Command name is invalid"
    if name != name.lower():
        return "Command name is invalid: names are lowercase"
    return None


def named_fields(node: dict[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    """Every (field path, name) of a command and its options: the name itself and each
    of its `name_localizations`. Choices' names are free text, so they are left out."""
    yield f"{where}.name", node.get("name")
    for locale, localized in (node.get("name_localizations") or {}).items():
        yield f"{where}.name_localizations.{locale}", localized
    for index, option in enumerate(node.get("options") or []):
        if isinstance(option, dict):
            yield from named_fields(option, f"{where}.options.{index}")
