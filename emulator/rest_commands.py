"""REST routes for application commands: the bot's sync (global and guild scope), single
commands, and reading permission overrides (only an admin's OAuth2 token may write them)."""

from __future__ import annotations

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
        return json_response(self.emu.store_commands(scope, payload, replace=True))

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body: Body = request[BODY]
        stored = self.emu.store_commands(scope, [body.obj], replace=False)
        return json_response(stored[0], status=201)

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
