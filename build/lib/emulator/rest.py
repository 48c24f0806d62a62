"""REST routes under ``/api/v10``: what discord.py calls, answered in Discord's shapes."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, hdrs, web

from .contract import ContractViolation
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    CB_AUTOCOMPLETE_RESULT,
    CB_CHANNEL_MESSAGE,
    CB_DEFERRED_CHANNEL_MESSAGE,
    CB_DEFERRED_UPDATE_MESSAGE,
    CB_MODAL,
    CB_UPDATE_MESSAGE,
    EPHEMERAL,
    LOADING,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    DrivenInteraction,
)
from .util import DiscordError, json_response, unknown
from .world import DM, SEND_MESSAGES, VIEW_CHANNEL

if TYPE_CHECKING:
    from .server import Emulator, Fault

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
# Routes discord.py calls without the bot token (interaction tokens are the credential).
AUTH_EXEMPT = ("/interactions/", "/webhooks/", "/gateway", "/invites/")
MAX_CONTENT = 2000
# Flags a bot may set when creating a message: SUPPRESS_EMBEDS, EPHEMERAL,
# SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2.
CREATE_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12) | (1 << 15)
VALID_CALLBACKS = {
    APPLICATION_COMMAND: {CB_CHANNEL_MESSAGE, CB_DEFERRED_CHANNEL_MESSAGE, CB_MODAL},
    MESSAGE_COMPONENT: {
        CB_CHANNEL_MESSAGE,
        CB_DEFERRED_CHANNEL_MESSAGE,
        CB_DEFERRED_UPDATE_MESSAGE,
        CB_UPDATE_MESSAGE,
        CB_MODAL,
    },
    AUTOCOMPLETE: {CB_AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {
        CB_CHANNEL_MESSAGE,
        CB_DEFERRED_CHANNEL_MESSAGE,
        CB_DEFERRED_UPDATE_MESSAGE,
        CB_UPDATE_MESSAGE,
    },
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    query: str = ""


@dataclasses.dataclass(frozen=True)
class Upload:
    index: int
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclasses.dataclass
class Body:
    json: Any = None
    present: bool = False
    uploads: list[Upload] = dataclasses.field(default_factory=list)

    @property
    def obj(self) -> dict[str, Any]:
        return self.json if isinstance(self.json, dict) else {}


BODY = web.RequestKey("body", Body)

# What the request being handled made visible to users (message ids, and interaction ids whose
# callback opened a modal or posted a message). Discord's users can act on these only once
# the bot has the answer in hand, so the emulator releases them after the response is
# written (see ``Emulator.acknowledge``).
PENDING_ACK: contextvars.ContextVar[list[tuple[str, int]] | None] = contextvars.ContextVar(
    "pending_ack", default=None
)


def _form_error(field: str, code: str, message: str) -> dict[str, Any]:
    return {field: {"_errors": [{"code": code, "message": message}]}}


def _is_empty(payload: Mapping[str, Any], uploads: Sequence[Upload]) -> bool:
    return not (
        payload.get("content")
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("attachments")
        or payload.get("sticker_ids")
        or payload.get("poll")
        or uploads
    )


def _snowflake(request: web.Request, key: str, kind: str, code: int) -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise unknown(kind, code) from None


class RestApi:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    # -- plumbing -------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        pending: list[tuple[str, int]] = []
        token = PENDING_ACK.set(pending)
        try:
            response = await self._handle(request, handler)
            # Write the answer ourselves, so that what it created is released to users only
            # once the bytes are on their way to the bot; aiohttp's own finish is then a no-op.
            try:
                await response.prepare(request)
                await response.write_eof()
            except ConnectionError:
                pass  # the bot hung up; what was stored stays stored, as on Discord
        finally:
            PENDING_ACK.reset(token)
            self.emu.acknowledge(pending)
        return response

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        emu = self.emu
        method = request.method
        path = request.path[len(API_PREFIX) :]
        body = Body()
        response: web.StreamResponse
        fault: Fault | None = None
        try:
            if not path.startswith(AUTH_EXEMPT) and not self._authorized(request):
                raise DiscordError(401, 0, "401: Unauthorized")
            fault = emu.take_fault(method, path)
            if fault is not None and not fault.after_store:
                log.info("injected %s for %s %s", fault.status, method, path)
                response = json_response(fault.body, fault.status, fault.headers)
            else:
                body = await self._read_body(request, method, path)
                request[BODY] = body
                if body.present:
                    self._check_contract(method, path, body.json)
                response = await handler(request)
                if fault is not None:
                    # Discord did the work (the message is stored and visible), then the
                    # answer was lost on the way back: a 5xx, or no answer at all.
                    response = await self._fail_after_store(request, fault, response)
        except DiscordError as exc:
            self._note_rejection(path, exc, body)
            response = exc.response()
        self._ratelimit_headers(response, method, path)
        status = 0 if fault is not None and fault.drop else response.status
        emu.requests.append(RequestRecord(method, path, status, request.query_string))
        return response

    async def _fail_after_store(
        self, request: web.Request, fault: Fault, stored: web.StreamResponse
    ) -> web.StreamResponse:
        log.info(
            "stored %s %s (%s), then answering %s",
            request.method,
            request.path,
            stored.status,
            "nothing" if fault.drop else fault.status,
        )
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            # The bot sees the connection reset with no status, as after a timeout at a proxy.
            # Writing the answer below then fails quietly (the middleware ignores it).
            transport = request.transport
            if transport is not None:
                transport.abort()
        return json_response(fault.body, fault.status, fault.headers)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        return secrets.compare_digest(header, f"Bot {self.emu.token}")

    async def _read_body(self, request: web.Request, method: str, path: str) -> Body:
        if request.content_type.startswith("multipart/"):
            return await self._read_multipart(request)
        if request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            return Body(json=fields, present=bool(fields))
        raw = await request.read()
        if not raw:
            return Body()
        try:
            return Body(json=json.loads(raw), present=True)
        except ValueError:
            self.violation(method, path, "the body is not valid JSON", raw.decode(errors="replace"))
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    async def _read_multipart(self, request: web.Request) -> Body:
        reader = await request.multipart()
        payload: Any = None
        fields: dict[str, str] = {}
        uploads: list[Upload] = []
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            if name == "payload_json":
                text = await part.text()
                try:
                    payload = json.loads(text)
                except ValueError:
                    raise DiscordError(
                        400, 50109, "The request body contains invalid JSON."
                    ) from None
            elif part.filename is not None or name.startswith("files["):
                data = await part.read(decode=False)
                match = re.fullmatch(r"files\[(\d+)\]", name)
                index = int(match.group(1)) if match else len(uploads)
                uploads.append(
                    Upload(
                        index=index,
                        field=name,
                        filename=part.filename or f"file{index}",
                        content_type=part.headers.get(
                            hdrs.CONTENT_TYPE, "application/octet-stream"
                        ),
                        data=bytes(data),
                    )
                )
            else:
                fields[name] = await part.text()
        if payload is None and fields:
            payload = fields
        return Body(json=payload, present=payload is not None, uploads=uploads)

    def violation(self, method: str, path: str, message: str, body: Any = None) -> None:
        template = self.emu.contract.match(path) if self.emu.contract.enabled else None
        self.emu.record_violation(ContractViolation(method, path, template, message, body))

    def _check_contract(self, method: str, path: str, body: Any) -> None:
        emu = self.emu
        if not emu.validate_contract or not emu.contract.enabled:
            return
        violation, errors = emu.contract.check(method, path, body)
        if violation is not None:
            emu.record_violation(violation)
            raise DiscordError(400, 50035, "Invalid Form Body", errors=errors)

    def bad_body(
        self,
        request: web.Request,
        field: str,
        code: str,
        message: str,
        *,
        discord_code: int = 50035,
    ) -> DiscordError:
        """Record a body Discord would refuse as a contract violation; the error to raise."""
        path = request.path[len(API_PREFIX) :]
        body: Body = request.get(BODY, Body())
        self.violation(request.method, path, f"{field}: {message}", body.json)
        if discord_code == 50035:
            return DiscordError(
                400, 50035, "Invalid Form Body", errors=_form_error(field, code, message)
            )
        return DiscordError(400, discord_code, message)

    def _note_rejection(self, path: str, exc: DiscordError, body: Body) -> None:
        parts = path.split("/")
        driven: DrivenInteraction | None = None
        if path.startswith("/interactions/") and len(parts) > 2 and parts[2].isdigit():
            driven = self.emu.interactions.get(int(parts[2]))
        elif path.startswith("/webhooks/") and len(parts) > 3:
            driven = self.emu.interaction_by_token(parts[3])
        if driven is not None:
            driven.rejected.append(
                {"status": exc.status, "code": exc.code, "message": exc.message, "body": body.json}
            )
            self.emu._notify()

    def _ratelimit_headers(self, response: web.StreamResponse, method: str, path: str) -> None:
        if response.status == 429 or "X-RateLimit-Bucket" in response.headers:
            return
        template = self.emu.contract.match(path) if self.emu.contract.enabled else None
        template = template or re.sub(r"/\d{6,}", "/{id}", path)
        bucket = hashlib.sha256(f"{method} {template}".encode()).hexdigest()[:16]
        response.headers.update(
            {
                "X-RateLimit-Limit": "50",
                "X-RateLimit-Remaining": "49",
                "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
                "X-RateLimit-Reset-After": "1.000",
                "X-RateLimit-Bucket": bucket,
            }
        )

    async def unhandled(self, request: web.Request) -> web.StreamResponse:
        key = f"{request.method} {request.path}"
        log.warning("unhandled route: %s", key)
        self.emu.unhandled.append(key)
        self.emu._notify()
        return DiscordError(404, 0, "404: Not Found").response()

    def routes(self) -> list[tuple[str, str, Handler]]:
        cmds = "/applications/{app}/commands"
        gcmds = "/applications/{app}/guilds/{guild}/commands"
        hook = "/webhooks/{app}/{token}"
        return [
            ("GET", "/users/@me", self.get_me),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/users/{user}", self.get_user),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", cmds, self.list_commands),
            ("PUT", cmds, self.put_commands),
            ("POST", cmds, self.post_command),
            ("GET", cmds + "/{cmd}", self.get_command),
            ("PATCH", cmds + "/{cmd}", self.patch_command),
            ("DELETE", cmds + "/{cmd}", self.delete_command),
            ("GET", gcmds, self.list_commands),
            ("PUT", gcmds, self.put_commands),
            ("POST", gcmds, self.post_command),
            ("GET", gcmds + "/permissions", self.list_command_permissions),
            ("GET", gcmds + "/{cmd}/permissions", self.get_command_permissions),
            ("PUT", gcmds + "/{cmd}/permissions", self.put_command_permissions),
            ("GET", gcmds + "/{cmd}", self.get_command),
            ("PATCH", gcmds + "/{cmd}", self.patch_command),
            ("DELETE", gcmds + "/{cmd}", self.delete_command),
            ("POST", "/interactions/{iid}/{token}/callback", self.interaction_callback),
            ("POST", hook, self.execute_webhook),
            ("GET", hook + "/messages/{mid}", self.get_webhook_message),
            ("PATCH", hook + "/messages/{mid}", self.edit_webhook_message),
            ("DELETE", hook + "/messages/{mid}", self.delete_webhook_message),
            ("GET", "/channels/{cid}", self.get_channel),
            ("GET", "/channels/{cid}/messages", self.list_messages),
            ("POST", "/channels/{cid}/messages", self.create_message),
            ("GET", "/channels/{cid}/messages/{mid}", self.get_message),
            ("PATCH", "/channels/{cid}/messages/{mid}", self.edit_message),
            ("DELETE", "/channels/{cid}/messages/{mid}", self.delete_message),
            ("POST", "/channels/{cid}/typing", self.typing),
            ("GET", "/guilds/{guild}", self.get_guild),
            ("GET", "/guilds/{guild}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild}/roles", self.get_guild_roles),
            ("GET", "/guilds/{guild}/members", self.list_members),
            ("GET", "/guilds/{guild}/members/{user}", self.get_member),
            ("GET", "/invites/{code}", self.get_invite),
        ]

    # -- users, application, gateway ------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(self.emu.world.bot_user_payload())

    async def get_user(self, request: web.Request) -> web.Response:
        uid = _snowflake(request, "user", "User", 10013)
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

    # -- application commands -------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        world = self.emu.world
        app = _snowflake(request, "app", "Application", 10002)
        if app != world.application_id:
            raise DiscordError(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        if "guild" not in request.match_info:
            return None
        guild = _snowflake(request, "guild", "Guild", 10004)
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
        cid = _snowflake(request, "cmd", "application command", 10063)
        for cmd in self.emu.commands(scope):
            if int(cmd["id"]) == cid:
                return scope, cmd
        raise unknown("application command", 10063)

    async def list_command_permissions(self, request: web.Request) -> web.Response:
        self._command_scope(request)
        return json_response(self.emu.command_permissions.all())

    async def get_command_permissions(self, request: web.Request) -> web.Response:
        self._command_scope(request)
        cid = _snowflake(request, "cmd", "application command", 10063)
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

    # -- interactions ---------------------------------------------------------------------

    async def interaction_callback(self, request: web.Request) -> web.Response:
        emu = self.emu
        iid = _snowflake(request, "iid", "interaction", 10062)
        driven = emu.interactions.get(iid)
        token = request.match_info["token"]
        if driven is None or not secrets.compare_digest(driven.token, token):
            raise DiscordError(404, 10062, "Unknown interaction")
        if driven.callbacks:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        arrived = time.monotonic()
        elapsed = arrived - driven.dispatched_at
        if emu.ack_deadline is not None and elapsed > emu.ack_deadline:
            log.warning(
                "interaction %s acknowledged after %.2fs (deadline %.1fs): Unknown interaction",
                iid,
                elapsed,
                emu.ack_deadline,
            )
            raise DiscordError(404, 10062, "Unknown interaction")
        body: Body = request[BODY]
        payload = body.obj
        cb_type = payload.get("type")
        data: dict[str, Any] = payload.get("data") or {}
        if cb_type not in VALID_CALLBACKS.get(driven.type, set()) or (
            cb_type in (CB_DEFERRED_UPDATE_MESSAGE, CB_UPDATE_MESSAGE)
            and driven.source_message_id is None
        ):
            raise self.bad_body(
                request,
                "type",
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"callback type {cb_type} is not valid for interaction type {driven.type}",
            )
        meta: dict[str, Any] = {"id": str(driven.id), "type": driven.type}
        resource: dict[str, Any] | None = None
        channel_id = driven.channel_id
        assert channel_id is not None
        if cb_type == CB_CHANNEL_MESSAGE:
            if _is_empty(data, body.uploads):
                raise self.bad_body(
                    request,
                    "data",
                    "EMPTY_MESSAGE",
                    "Cannot send an empty message",
                    discord_code=50006,
                )
            flags = int(data.get("flags") or 0) & CREATE_FLAGS
            msg = emu.new_message(
                channel_id,
                data,
                body.uploads,
                flags=flags,
                msg_type=20 if driven.type == APPLICATION_COMMAND else 0,
                interaction=driven,
            )
            driven.original_message_id = int(msg["id"])
            resource = {"type": cb_type, "message": msg}
            await emu.publish_message(msg)
        elif cb_type == CB_DEFERRED_CHANNEL_MESSAGE:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            msg = emu.new_message(
                channel_id,
                {},
                flags=flags,
                msg_type=20 if driven.type == APPLICATION_COMMAND else 0,
                interaction=driven,
            )
            driven.original_message_id = int(msg["id"])
            resource = {"type": cb_type, "message": msg}
        elif cb_type == CB_DEFERRED_UPDATE_MESSAGE:
            driven.original_message_id = driven.source_message_id
        elif cb_type == CB_UPDATE_MESSAGE:
            assert driven.source_message_id is not None
            driven.original_message_id = driven.source_message_id
            msg = emu.edit_message(driven.source_message_id, data, body.uploads)
            resource = {"type": cb_type, "message": msg}
        if driven.original_message_id is not None:
            original = emu.message(driven.original_message_id) or {}
            flags = int(original.get("flags", 0))
            meta.update(
                {
                    "response_message_id": str(driven.original_message_id),
                    "response_message_loading": bool(flags & LOADING),
                    "response_message_ephemeral": bool(flags & EPHEMERAL),
                }
            )
        driven.first_callback_at = arrived
        driven.callbacks.append(payload)
        emu.hold_until_acknowledged("interaction", driven.id)
        emu._notify()
        log.debug("interaction %s answered with callback type %s", iid, cb_type)
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        answer: dict[str, Any] = {"interaction": meta}
        if resource is not None:
            answer["resource"] = resource
        return json_response(answer)

    def _webhook_interaction(self, request: web.Request) -> DrivenInteraction:
        app = request.match_info["app"]
        driven = self.emu.interaction_by_token(request.match_info["token"])
        if driven is None or app != str(self.emu.world.application_id):
            raise DiscordError(404, 10015, "Unknown Webhook")
        return driven

    def _webhook_message_id(self, request: web.Request, driven: DrivenInteraction) -> int:
        ref = request.match_info["mid"]
        if ref == "@original":
            if driven.original_message_id is None:
                raise unknown("Message", 10008)
            return driven.original_message_id
        try:
            mid = int(ref)
        except ValueError:
            raise unknown("Message", 10008) from None
        if not driven.owns_message(mid):
            raise unknown("Message", 10008)
        return mid

    async def execute_webhook(self, request: web.Request) -> web.Response:
        emu = self.emu
        driven = self._webhook_interaction(request)
        if not driven.callbacks:
            raise DiscordError(404, 10015, "Unknown Webhook")
        body: Body = request[BODY]
        payload = body.obj
        if _is_empty(payload, body.uploads):
            raise self.bad_body(
                request,
                "content",
                "EMPTY_MESSAGE",
                "Cannot send an empty message",
                discord_code=50006,
            )
        original_id = driven.original_message_id
        original = emu.message(original_id) if original_id is not None else None
        if (
            original is not None
            and original_id is not None
            and driven.response_type == CB_DEFERRED_CHANNEL_MESSAGE
            and not driven.followup_ids
            and int(original.get("flags", 0)) & LOADING
        ):
            # The first followup after a "thinking" defer fills the loading message,
            # keeping the ephemeral choice made when deferring.
            msg = emu.edit_message(original_id, payload, body.uploads)
            await emu.publish_message(msg)
        else:
            assert driven.channel_id is not None
            flags = int(payload.get("flags") or 0) & CREATE_FLAGS
            msg = emu.new_message(
                driven.channel_id, payload, body.uploads, flags=flags, interaction=driven
            )
            await emu.publish_message(msg)
        driven.followup_ids.append(int(msg["id"]))
        driven._followups.append(msg)
        emu._notify()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(msg)
        return web.Response(status=204)

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        driven = self._webhook_interaction(request)
        msg = self.emu.message(self._webhook_message_id(request, driven))
        if msg is None:
            raise unknown("Message", 10008)
        return json_response(msg)

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        driven = self._webhook_interaction(request)
        mid = self._webhook_message_id(request, driven)
        body: Body = request[BODY]
        return json_response(self.emu.edit_message(mid, body.obj, body.uploads))

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        driven = self._webhook_interaction(request)
        self.emu.delete_message(self._webhook_message_id(request, driven))
        return web.Response(status=204)

    # -- channels and messages ------------------------------------------------------------

    def _channel(self, request: web.Request) -> int:
        cid = _snowflake(request, "cid", "Channel", 10003)
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
        if "after" in request.query:
            messages = [m for m in messages if int(m["id"]) > int(request.query["after"])]
        limit = max(1, min(100, int(request.query.get("limit", "50"))))
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
        if _is_empty(payload, body.uploads):
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
        mid = _snowflake(request, "mid", "Message", 10008)
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

    # -- guild ----------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> int:
        gid = _snowflake(request, "guild", "Guild", 10004)
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
        uid = _snowflake(request, "user", "Member", 10007)
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
