"""REST routes for the seeded world: the bot user, users, the application, the gateway URL,
the guild with its channels, roles and members, and invites. All read-only."""

from __future__ import annotations

import hashlib

from aiohttp import web

from .rest_base import RestBase, path_snowflake
from .util import json_response, unknown


class WorldRoutes(RestBase):
    # -- users, application, gateway ------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(self.emu.world.bot_user_payload())

    async def get_user(self, request: web.Request) -> web.Response:
        uid = path_snowflake(request, "user", "User", 10013)
        if uid not in self.emu.world.users:
            raise unknown("User", 10013)
        return json_response(self.emu.world.user_payload(uid))

    async def get_application(self, request: web.Request) -> web.Response:
        world = self.emu.world
        return json_response(
            {
                "id": str(world.application_id),
                "name": "OrderBot",
                "icon": None,
                "description": "A Discord front-end for ordering (emulated).",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": hashlib.sha256(str(world.application_id).encode()).hexdigest(),
                "flags": self.emu.app_flags,
                "owner": world.user_payload(world.owner_id),
                "team": None,
                "bot": world.user_payload(world.bot_user_id),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": 1,
                "tags": [],
                "integration_types_config": {"0": {}},
                "flags_new": str(self.emu.app_flags),
                "role_connections_verification_url": None,
                "approximate_user_install_count": 0,
                "approximate_user_authorization_count": 0,
                "explicit_content_filter": 0,
                "eligible_oauth2_scopes": ["bot", "applications.commands"],
            }
        )

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.emu.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.emu.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    # -- guild ----------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> int:
        gid = path_snowflake(request, "guild", "Guild", 10004)
        if gid != self.emu.world.guild_id:
            raise unknown("Guild", 10004)
        return gid

    async def get_guild(self, request: web.Request) -> web.Response:
        self._guild(request)
        with_counts = request.query.get("with_counts", "").lower() in ("1", "true")
        return json_response(self.emu.world.guild_rest_payload(with_counts=with_counts))

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        world = self.emu.world
        return json_response([world.channel_payload(c) for c in world.guild_channel_ids()])

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_response(self.emu.world.role_payloads())

    async def list_members(self, request: web.Request) -> web.Response:
        self._guild(request)
        world = self.emu.world
        after = int(request.query.get("after", "0"))
        limit = max(1, min(1000, int(request.query.get("limit", "1"))))
        ids = sorted(uid for uid in world.members if uid > after)[:limit]
        return json_response([world.member_payload(uid) for uid in ids])

    async def get_member(self, request: web.Request) -> web.Response:
        self._guild(request)
        uid = path_snowflake(request, "user", "Member", 10007)
        if uid not in self.emu.world.members:
            raise unknown("Member", 10007)
        return json_response(self.emu.world.member_payload(uid))

    async def get_invite(self, request: web.Request) -> web.Response:
        invite = self.emu.invites.get(request.match_info["code"])
        if invite is None:
            raise unknown("Invite", 10006)
        data = dict(invite)
        if request.query.get("with_counts", "").lower() not in ("1", "true"):
            data.pop("approximate_member_count", None)
            data.pop("approximate_presence_count", None)
        return json_response(data)
