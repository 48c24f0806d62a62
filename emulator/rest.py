"""REST routes under ``/api/v10``: what discord.py calls, answered in Discord's shapes.

This module owns the plumbing every request goes through (:class:`RestApi`'s middleware:
the bot token check, injected faults, reading JSON and multipart bodies, the OpenAPI
contract check, rate-limit headers, the request log, releasing what a response created
once it is written) and the route table. The handlers are mixins, one module per
resource: ``rest_world.py`` (users, application, gateway URL, guild, members, invites),
``rest_commands.py`` (application commands), ``rest_interactions.py`` (interaction
callbacks and webhook followups) and ``rest_messages.py`` (DMs, channel messages).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, hdrs, web

from .interactions import DrivenInteraction
from .rest_base import (
    API_PREFIX,
    BODY,
    CREATE_FLAGS,
    MAX_CONTENT,
    PENDING_ACK,
    Body,
    Handler,
    RequestRecord,
    Upload,
)
from .rest_commands import CommandRoutes
from .rest_interactions import VALID_CALLBACKS, InteractionRoutes
from .rest_messages import MessageRoutes
from .rest_world import WorldRoutes
from .util import DiscordError, json_response

if TYPE_CHECKING:
    from .faults import Fault

__all__ = [
    "API_PREFIX",
    "AUTH_EXEMPT",
    "BODY",
    "CREATE_FLAGS",
    "MAX_CONTENT",
    "PENDING_ACK",
    "VALID_CALLBACKS",
    "Body",
    "Handler",
    "RequestRecord",
    "RestApi",
    "Upload",
]

log = logging.getLogger(__name__)

# Routes discord.py calls without the bot token (interaction tokens are the credential).
AUTH_EXEMPT = ("/interactions/", "/webhooks/", "/gateway", "/invites/")


class RestApi(WorldRoutes, CommandRoutes, InteractionRoutes, MessageRoutes):
    """Every route under ``/api/v10``, behind one middleware."""

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
        arrived = time.time()
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
        if fault is None:
            # Our own answer, success or error (an injected fault's is the test's choice).
            self._check_response(method, path, response)
        self._ratelimit_headers(response, method, path)
        status = 0 if fault is not None and fault.drop else response.status
        emu.requests.append(RequestRecord(method, path, status, request.query_string, arrived))
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

    def _check_contract(self, method: str, path: str, body: Any) -> None:
        emu = self.emu
        if not emu.validate_contract or not emu.contract.enabled:
            return
        violation, errors = emu.contract.check(method, path, body)
        if violation is not None:
            emu.record_violation(violation)
            raise DiscordError(400, 50035, "Invalid Form Body", errors=errors)

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

    def _check_response(self, method: str, path: str, response: web.StreamResponse) -> None:
        """Our own answer, checked against the spec like the bot's requests: a violation
        is recorded (and fails the test) as a request's would be."""
        contract = self.emu.contract
        if not contract.enabled or not isinstance(response, web.Response):
            return
        answer: Any = None
        if response.content_type == "application/json" and response.body:
            try:
                answer = json.loads(bytes(response.body))  # type: ignore[arg-type]
            except ValueError:
                answer = None
        violation = contract.check_response(method, path, response.status, answer)
        if violation is not None:
            self.emu.record_violation(violation)

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
