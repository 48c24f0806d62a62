"""REST routes for DMs and channel messages: opening a DM, reading a channel, creating
(permissions, closed DMs, ``enforce_nonce``), reading, editing and deleting messages."""

from __future__ import annotations

import logging

from aiohttp import web

from .interactions import EPHEMERAL
from .rest_base import (
    BODY,
    CREATE_FLAGS,
    MAX_CONTENT,
    Body,
    RestBase,
    is_empty_message,
    path_snowflake,
)
from .util import DiscordError, json_response, unknown
from .world import DM, SEND_MESSAGES, VIEW_CHANNEL

log = logging.getLogger(__name__)


class MessageRoutes(RestBase):
    # -- channels and messages ------------------------------------------------------------

    def _channel(self, request: web.Request) -> int:
        cid = path_snowflake(request, "cid", "Channel", 10003)
        if cid not in self.emu.world.channels:
            raise unknown("Channel", 10003)
        return cid

    async def create_dm(self, request: web.Request) -> web.Response:
        world = self.emu.world
        body: Body = request[BODY]
        recipient = body.obj.get("recipient_id")
        try:
            uid = int(recipient)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            uid = -1
        if uid not in world.users or uid == world.bot_user_id:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        channel = world.dm_channel_for(uid)
        return json_response(world.channel_payload(channel.id))

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.emu.world.channel_payload(self._channel(request)))

    async def list_messages(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        messages = list(reversed(self.emu.channel_messages(cid)))  # newest first
        if "before" in request.query:
            messages = [m for m in messages if int(m["id"]) < int(request.query["before"])]
        limit = max(1, min(100, int(request.query.get("limit", "50"))))
        if "after" in request.query:
            # As Discord: the `limit` messages right after the id (the oldest of those
            # after it), still newest first. discord.py pages on from the newest of them.
            after = int(request.query["after"])
            oldest_first = sorted(
                (m for m in messages if int(m["id"]) > after), key=lambda m: int(m["id"])
            )
            return json_response(list(reversed(oldest_first[:limit])))
        return json_response(messages[:limit])

    def _check_can_send(self, cid: int) -> None:
        world = self.emu.world
        channel = world.channels[cid]
        if channel.type == DM:
            assert channel.recipient_id is not None
            if world.users[channel.recipient_id].dms_closed:
                raise DiscordError(403, 50007, "Cannot send messages to this user")
            return
        perms = world.channel_permissions(world.bot_user_id, cid)
        if not perms & VIEW_CHANNEL:
            raise DiscordError(403, 50001, "Missing Access")
        if not perms & SEND_MESSAGES:
            raise DiscordError(403, 50013, "Missing Permissions")

    async def create_message(self, request: web.Request) -> web.Response:
        emu = self.emu
        cid = self._channel(request)
        body: Body = request[BODY]
        payload = body.obj
        try:
            self._check_can_send(cid)
        except DiscordError as exc:
            channel = emu.world.channels[cid]
            if exc.code == 50007 and channel.recipient_id is not None:
                emu.rejected_dms.append({"user_id": channel.recipient_id, "body": payload})
                log.info("DM to %s refused: DMs closed", channel.recipient_id)
            raise
        if is_empty_message(payload, body.uploads):
            raise self.bad_body(
                request,
                "content",
                "EMPTY_MESSAGE",
                "Cannot send an empty message",
                discord_code=50006,
            )
        content = payload.get("content")
        if isinstance(content, str) and len(content) > MAX_CONTENT:
            raise self.bad_body(
                request,
                "content",
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_CONTENT} or fewer in length.",
            )
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            # Discord answers a repeated nonce (same author, within a few minutes) with the
            # message it already created, and creates nothing. The author is the bot.
            earlier = emu.message_for_nonce(emu.world.bot_user_id, nonce)
            if earlier is not None:
                log.info(
                    "nonce %r repeated in channel %s: answering message %s",
                    nonce,
                    cid,
                    earlier["id"],
                )
                return json_response(earlier)
        flags = int(payload.get("flags") or 0) & CREATE_FLAGS & ~EPHEMERAL
        msg = emu.new_message(cid, payload, body.uploads, flags=flags)
        if nonce is not None:
            emu.remember_nonce(emu.world.bot_user_id, nonce, int(msg["id"]))
        await emu.publish_message(msg)
        return json_response(msg)

    def _channel_message(self, request: web.Request) -> tuple[int, int]:
        cid = self._channel(request)
        mid = path_snowflake(request, "mid", "Message", 10008)
        msg = self.emu.message(mid)
        if msg is None or int(msg["channel_id"]) != cid or msg.get("flags", 0) & EPHEMERAL:
            raise unknown("Message", 10008)
        return cid, mid

    async def get_message(self, request: web.Request) -> web.Response:
        _, mid = self._channel_message(request)
        return json_response(self.emu.message(mid))

    async def edit_message(self, request: web.Request) -> web.Response:
        _, mid = self._channel_message(request)
        body: Body = request[BODY]
        return json_response(self.emu.edit_message(mid, body.obj, body.uploads))

    async def delete_message(self, request: web.Request) -> web.Response:
        _, mid = self._channel_message(request)
        self.emu.delete_message(mid)
        return web.Response(status=204)

    async def typing(self, request: web.Request) -> web.Response:
        self._channel(request)
        return web.Response(status=204)
