"""The emulator: an aiohttp app on 127.0.0.1 serving Discord's REST API and gateway.

State is in memory. Tests drive users (slash commands, buttons, modals, autocomplete)
through the async methods here; another process can drive it through ``/_emulator/...``.
"""

# The driver API takes ``timeout=`` like asyncio.wait_for; the names are part of the contract.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from . import interactions as ix
from .command_permissions import CommandPermissions
from .contract import ContractChecker, ContractViolation
from .control import control_routes
from .gateway import Gateway
from .interactions import DrivenInteraction, OptionError, iter_components
from .rest import PENDING_ACK, RequestRecord, RestApi, Upload
from .util import DiscordError, Snowflakes, as_int, iso, snowflake_time
from .world import (
    ADMINISTRATOR,
    ATTACH_FILES,
    DM,
    EMBED_LINKS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    World,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TOKEN = "emulator-token"  # noqa: S105 - a local stand-in, not a secret
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
DM_APP_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
)
# GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE
APP_FLAGS = (1 << 15) | (1 << 19) | (1 << 23)

MessagePredicate = Callable[[dict[str, Any]], bool]


@dataclasses.dataclass
class Fault:
    """An injected failure: the next ``remaining`` matching requests get this answer."""

    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    remaining: int
    hits: int = 0
    #: Do the work first (store the message...), then answer with this fault instead.
    after_store: bool = False
    #: With ``after_store``: close the connection instead of answering.
    drop: bool = False
    #: With ``after_store``: wait this long before answering (or dropping).
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and self.method in ("*", method)
            and self.pattern.search(path) is not None
        )


@dataclasses.dataclass(frozen=True)
class StoredFile:
    id: int
    filename: str
    content_type: str
    data: bytes


class Emulator:
    """A local Discord (REST + gateway) the unmodified discord.py client connects to."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        *,
        openapi_spec: str | Path | None = None,
        validate_contract: bool = True,
        heartbeat_interval_ms: int = 41_250,
        ack_deadline: float | None = 3.0,
        reaction_time: float = 0.05,
        guild_name: str = "Emulated Shop",
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.ack_deadline = ack_deadline
        #: How long after the bot got a message a driven user can click it at the earliest.
        self.reaction_time = reaction_time
        self.app_flags = APP_FLAGS
        self.world = World(guild_name=guild_name)
        self.contract = ContractChecker(openapi_spec)
        self.validate_contract = validate_contract
        self.gateway = Gateway(self, heartbeat_interval_ms=heartbeat_interval_ms)
        self.rest = RestApi(self)

        self.contract_violations: list[ContractViolation] = []
        self.unhandled: list[str] = []
        self.requests: list[RequestRecord] = []
        self.rejected_dms: list[dict[str, Any]] = []
        self.interactions: dict[int, DrivenInteraction] = {}
        self.invites: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.files: dict[int, StoredFile] = {}
        # Modal-opening interaction id -> its MODAL_SUBMITs. Discord closes a modal once a
        # submit is acknowledged; an unanswered submit leaves it open with an error.
        self._modal_submits: dict[int, list[DrivenInteraction]] = {}
        self.command_permissions = CommandPermissions(
            self.world.guild_id, self.world.application_id
        )
        #: How long Discord remembers a message nonce for ``enforce_nonce``.
        self.nonce_window = 300.0
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}

        self._ids = Snowflakes(deterministic=False)
        self._by_token: dict[str, DrivenInteraction] = {}
        self._messages: dict[int, dict[str, Any]] = {}
        self._channel_messages: dict[int, list[int]] = {}
        self._visible_to: dict[int, int] = {}  # ephemeral message id -> the only user who sees it
        self._commands: dict[int | None, list[dict[str, Any]]] = {}
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        self._seen: dict[tuple[str, int], set[int]] = {}
        # Messages and interaction answers whose HTTP response is not yet written: no user can
        # see them yet, so no user can click them (see ``acknowledge``).
        self._unacknowledged: set[tuple[str, int]] = set()
        self._acknowledged_at: dict[tuple[str, int], float] = {}
        self._changed: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.base_url = ""

        self.add_invite("shopdemo", "Demo Server", member_count=42)
        self.add_invite("emulated", guild_name, guild_id=self.world.guild_id)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self.rest.middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        for method, path, handler in control_routes(self):
            app.router.add_route(method, path, handler)
        for method, path, handler in self.rest.routes():
            app.router.add_route(method, "/api/v10" + path, handler)
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest.unhandled)
        app.router.add_route("*", "/{tail:.*}", self.rest.unhandled)
        return app

    async def start(self) -> None:
        started = time.perf_counter()
        self._changed = asyncio.Event()
        if self.validate_contract:
            self.contract.load()
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self.base_url = f"http://{host}:{port}"
        log.info(
            "Discord emulator listening on %s (%.2fs)", self.base_url, time.perf_counter() - started
        )

    async def stop(self) -> None:
        await self.gateway.close_connections(code=1001, message="emulator shutting down")
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- change notification and waiting --------------------------------------------------

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def diagnostics(self) -> str:
        parts = []
        if self.contract_violations:
            parts.append(f"contract violations: {[str(v) for v in self.contract_violations[-5:]]}")
        if self.unhandled:
            parts.append(f"unhandled routes: {self.unhandled[-5:]}")
        if not self.gateway.connected_sessions():
            parts.append("no bot is connected to the gateway")
        return "; ".join(parts)

    async def _wait(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                extra = self.diagnostics()
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what}"
                    + (f" ({extra})" if extra else "")
                )
            if self._changed is None:
                self._changed = asyncio.Event()
            event = self._changed
            # Re-check at least every 50 ms: a predicate may look at state outside the
            # emulator (the bot's cache), which does not notify.
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))
            except TimeoutError:
                pass

    async def wait_for_bot(self, timeout: float = 10.0) -> None:
        """Until a bot session is identified and connected to the gateway."""
        await self._wait(
            lambda: True if self.gateway.connected_sessions() else None,
            timeout,
            "a bot to connect to the gateway",
        )

    # -- acknowledgement ------------------------------------------------------------------

    def hold_until_acknowledged(self, kind: str, ident: int) -> None:
        """Hide what the current request created from users until its response is written.

        On Discord a user sees a message (or a modal) only after it exists, and the bot has
        its answer well before a human can click. Here the driver runs in the same event loop
        as the REST handler, so without this a test could click a component before the bot
        has read the response that registers its view, and the click would be dropped.
        """
        pending = PENDING_ACK.get()
        if pending is not None:
            pending.append((kind, ident))
            self._unacknowledged.add((kind, ident))

    def acknowledge(self, items: Sequence[tuple[str, int]]) -> None:
        now = time.monotonic()
        for item in items:
            self._unacknowledged.discard(item)
            self._acknowledged_at[item] = now
        # Only the last moments matter (see _wait_acknowledged); keep the map small.
        stale = [k for k, t in self._acknowledged_at.items() if now - t > 1.0]
        for key in stale:
            del self._acknowledged_at[key]
        if items:
            self._notify()

    async def _wait_acknowledged(self, kind: str, ident: int, timeout: float) -> None:
        key = (kind, ident)
        if key in self._unacknowledged:
            await self._wait(
                lambda: True if key not in self._unacknowledged else None,
                timeout,
                f"the bot to receive the response that created {kind} {ident}",
            )
        # The response is written; give the bot's loop a moment to read it, as a human's
        # reaction time always does on Discord.
        acked = self._acknowledged_at.get(key)
        if acked is not None:
            wait = acked + self.reaction_time - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

    # -- world ----------------------------------------------------------------------------

    def add_member(
        self,
        username: str,
        *,
        roles: Sequence[int] = (),
        global_name: str | None = None,
    ) -> int:
        """Add a guild member; returns the user id. Dispatches GUILD_MEMBER_ADD when running."""
        uid = self.world.add_member(username, roles=tuple(roles), global_name=global_name)
        if self.gateway.sessions:
            payload = self.world.member_payload(uid)
            payload["guild_id"] = str(self.world.guild_id)
            self._spawn(
                self.gateway.dispatch("GUILD_MEMBER_ADD", payload, intent=INTENT_GUILD_MEMBERS)
            )
        return uid

    def set_dms_closed(self, user_id: int, closed: bool = True) -> None:
        self.world.users[user_id].dms_closed = closed

    def add_invite(
        self,
        code: str,
        guild_name: str,
        *,
        guild_id: int | None = None,
        member_count: int = 100,
        presence_count: int | None = None,
        channel_name: str = "general",
        expires_at: str | None = None,
    ) -> dict[str, Any]:
        gid = guild_id if guild_id is not None else self._ids.next()
        invite = {
            "type": 0,
            "code": code,
            "guild": {
                "id": str(gid),
                "name": guild_name,
                "splash": None,
                "banner": None,
                "description": None,
                "icon": None,
                "features": [],
                "verification_level": 1,
                "vanity_url_code": None,
                "nsfw_level": 0,
                "premium_subscription_count": 0,
            },
            "guild_id": str(gid),
            "channel": {"id": str(self._ids.next()), "name": channel_name, "type": 0},
            "approximate_member_count": member_count,
            "approximate_presence_count": (
                presence_count if presence_count is not None else max(1, member_count // 3)
            ),
            "expires_at": expires_at,
            "flags": 0,
        }
        self.invites[code] = invite
        return copy.deepcopy(invite)

    def remove_invite(self, code: str) -> None:
        self.invites.pop(code, None)

    # -- fault injection ------------------------------------------------------------------

    def inject_rate_limit(
        self,
        method: str,
        path_regex: str,
        retry_after: float,
        count: int = 1,
        global_: bool = False,
    ) -> Fault:
        """Answer the next ``count`` matching requests with 429 (path is relative to /api/v10)."""
        reset = time.time() + retry_after
        headers = {
            "Retry-After": str(max(1, round(retry_after + 0.499))),
            "X-RateLimit-Limit": "1",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "emulated-429",
            "X-RateLimit-Scope": "global" if global_ else "user",
            # discord.py treats a 429 without Via as a Cloudflare ban and raises at once.
            "Via": "1.1 google",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
        }
        fault = Fault(method.upper(), re.compile(path_regex), 429, body, headers, count)
        self.faults.append(fault)
        return fault

    def inject_error(
        self,
        method: str,
        path_regex: str,
        status: int,
        code: int = 0,
        message: str | None = None,
        count: int = 1,
    ) -> Fault:
        """Answer the next ``count`` matching requests with ``status`` and ``{code, message}``."""
        body = {"code": code, "message": message or f"{status}: Emulated failure"}
        fault = Fault(method.upper(), re.compile(path_regex), status, body, {}, count)
        self.faults.append(fault)
        return fault

    def inject_store_then_fail(
        self,
        method: str,
        path_regex: str,
        status: int = 502,
        *,
        count: int = 1,
        drop: bool = False,
        delay: float = 0.0,
    ) -> Fault:
        """The next ``count`` matching requests succeed on Discord's side (a message is stored,
        visible and dispatched) but the bot gets ``status`` back, or with ``drop=True`` a reset
        connection and no answer at all, after ``delay`` seconds.

        This is the fault behind duplicate DMs: discord.py re-sends on 500, 502, 504 and 524.
        """
        body = {"message": f"{status}: Emulated failure after the request was processed", "code": 0}
        fault = Fault(
            method.upper(),
            re.compile(path_regex),
            status,
            body,
            {},
            count,
            after_store=True,
            drop=drop,
            delay=delay,
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.remaining -= 1
                fault.hits += 1
                return fault
        return None

    # -- contract -------------------------------------------------------------------------

    def record_violation(self, violation: ContractViolation) -> None:
        self.contract_violations.append(violation)
        log.error("contract violation: %s", violation)
        self._notify()

    def assert_no_contract_violations(self) -> None:
        if self.contract_violations:
            lines = "\n".join(f"  {v}" for v in self.contract_violations)
            raise AssertionError(f"the bot sent requests Discord would reject:\n{lines}")

    # -- commands -------------------------------------------------------------------------

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

    # -- messages -------------------------------------------------------------------------

    def message(self, message_id: int) -> dict[str, Any] | None:
        msg = self._messages.get(message_id)
        return copy.deepcopy(msg) if msg is not None else None

    def has_message(self, message_id: int) -> bool:
        return message_id in self._messages

    def channel_messages(
        self, channel_id: int, *, include_ephemeral: bool = False
    ) -> list[dict[str, Any]]:
        """Messages in a channel, oldest first (ephemeral ones only on request)."""
        out = []
        for mid in self._channel_messages.get(channel_id, []):
            msg = self._messages.get(mid)
            if msg is None:
                continue
            if not include_ephemeral and msg.get("flags", 0) & ix.EPHEMERAL:
                continue
            out.append(copy.deepcopy(msg))
        return out

    def dms(self, user_id: int) -> list[dict[str, Any]]:
        """Messages the bot sent to ``user_id`` by DM, oldest first."""
        cid = self.world.dm_channel_by_user.get(user_id)
        return [] if cid is None else self.channel_messages(cid)

    def message_for_nonce(self, author_id: int, nonce: Any) -> dict[str, Any] | None:
        """The message ``author_id`` created in the last ``nonce_window`` seconds with this
        nonce (Discord checks a nonce per author, in any channel)."""
        seen = self._nonces.get((author_id, str(nonce)))
        if seen is None or time.monotonic() - seen[1] > self.nonce_window:
            return None
        return self.message(seen[0])

    def remember_nonce(self, author_id: int, nonce: Any, message_id: int) -> None:
        now = time.monotonic()
        if len(self._nonces) > 10_000:
            self._nonces = {
                k: v for k, v in self._nonces.items() if now - v[1] <= self.nonce_window
            }
        self._nonces[(author_id, str(nonce))] = (message_id, now)

    def attachment_bytes(self, attachment: int | str | Mapping[str, Any]) -> bytes:
        return self.files[as_int(attachment)].data

    async def _wait_unseen(
        self,
        kind: str,
        key: int,
        source: Callable[[], list[dict[str, Any]]],
        predicate: MessagePredicate | None,
        timeout: float,
        what: str,
    ) -> dict[str, Any]:
        seen = self._seen.setdefault((kind, key), set())

        def check() -> dict[str, Any] | None:
            for msg in source():
                mid = int(msg["id"])
                if mid in seen:
                    continue
                if predicate is None or predicate(msg):
                    return msg
            return None

        msg = await self._wait(check, timeout, what)
        seen.add(int(msg["id"]))
        return msg

    async def wait_for_dm(
        self,
        user_id: int,
        timeout: float = 5.0,
        predicate: MessagePredicate | None = None,
    ) -> dict[str, Any]:
        """The earliest DM to ``user_id`` matching ``predicate`` not yet returned by this method."""
        return await self._wait_unseen(
            "dm", user_id, lambda: self.dms(user_id), predicate, timeout, f"a DM to {user_id}"
        )

    async def wait_for_channel_message(
        self,
        channel_id: int,
        timeout: float = 5.0,
        predicate: MessagePredicate | None = None,
    ) -> dict[str, Any]:
        """The earliest message in the channel matching ``predicate`` not yet returned here."""
        return await self._wait_unseen(
            "channel",
            channel_id,
            lambda: self.channel_messages(channel_id),
            predicate,
            timeout,
            f"a message in channel {channel_id}",
        )

    def _store_file(self, filename: str, content_type: str, data: bytes) -> dict[str, Any]:
        aid = self._ids.next()
        self.files[aid] = StoredFile(aid, filename, content_type, data)
        url = f"{self.base_url}/_emulator/attachments/{aid}/{filename}"
        return {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    def _attachments(
        self,
        body: Mapping[str, Any],
        uploads: Sequence[Upload],
        existing: Sequence[Mapping[str, Any]] = (),
    ) -> list[dict[str, Any]] | None:
        """The message's attachments after this request, or None when unchanged."""
        by_index = {u.index: u for u in uploads}
        if "attachments" not in body or body.get("attachments") is None:
            if not uploads:
                return None
            kept = [dict(a) for a in existing]
            return kept + [self._store_file(u.filename, u.content_type, u.data) for u in uploads]
        out: list[dict[str, Any]] = []
        old = {str(a["id"]): a for a in existing}
        for entry in body["attachments"]:
            ref = str(entry.get("id"))
            if ref in old:
                out.append(dict(old[ref]))
                continue
            upload = by_index.get(int(ref)) if ref.isdigit() and len(ref) < 4 else None
            if upload is None:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    errors={
                        "attachments": {
                            "_errors": [
                                {
                                    "code": "ATTACHMENT_NOT_FOUND",
                                    "message": f"Unknown attachment {ref}",
                                }
                            ]
                        }
                    },
                )
            stored = self._store_file(
                entry.get("filename") or upload.filename, upload.content_type, upload.data
            )
            if entry.get("description"):
                stored["description"] = entry["description"]
            out.append(stored)
        return out

    def _components(self, components: Any) -> list[dict[str, Any]]:
        """Echo components as Discord does: every component gets a numeric ``id``."""
        comps = copy.deepcopy(list(components or []))
        used = {c.get("id") for c in iter_components(comps) if isinstance(c.get("id"), int)}
        counter = 0
        for comp in iter_components(comps):
            if not isinstance(comp, dict) or isinstance(comp.get("id"), int):
                continue
            counter += 1
            while counter in used:
                counter += 1
            comp["id"] = counter
        return comps

    def new_message(
        self,
        channel_id: int,
        body: Mapping[str, Any],
        uploads: Sequence[Upload] = (),
        *,
        flags: int = 0,
        msg_type: int = 0,
        interaction: DrivenInteraction | None = None,
        author_id: int | None = None,
    ) -> dict[str, Any]:
        """Store a message (by the bot, unless ``author_id`` names a member who wrote it)."""
        mid = self._ids.next()
        embeds = [dict(e, type=e.get("type", "rich")) for e in body.get("embeds") or []]
        msg: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "type": msg_type,
            "author": self.world.user_payload(author_id or self.world.bot_user_id),
            "content": body.get("content") or "",
            "timestamp": iso(snowflake_time(mid)),
            "edited_timestamp": None,
            "tts": bool(body.get("tts") or False),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._attachments(body, uploads) or [],
            "embeds": embeds,
            "components": self._components(body.get("components")),
            "pinned": False,
            "flags": flags,
        }
        if body.get("poll"):
            msg["poll"] = copy.deepcopy(body["poll"])
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if interaction is not None:
            msg["webhook_id"] = str(self.world.application_id)
            msg["application_id"] = str(self.world.application_id)
            msg["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.world.user_payload(interaction.user_id),
                "authorizing_integration_owners": interaction.payload.get(
                    "authorizing_integration_owners", {}
                ),
            }
            if flags & ix.EPHEMERAL:
                self._visible_to[mid] = interaction.user_id
        self._messages[mid] = msg
        self.hold_until_acknowledged("message", mid)
        self._channel_messages.setdefault(channel_id, []).append(mid)
        channel = self.world.channels.get(channel_id)
        if channel is not None:
            channel.last_message_id = mid
        self._notify()
        return copy.deepcopy(msg)

    def edit_message(
        self,
        message_id: int,
        body: Mapping[str, Any],
        uploads: Sequence[Upload] = (),
    ) -> dict[str, Any]:
        msg = self._messages.get(message_id)
        if msg is None:
            raise DiscordError(404, 10008, "Unknown Message")
        if "content" in body:
            msg["content"] = body["content"] or ""
        if "embeds" in body:
            msg["embeds"] = [dict(e, type=e.get("type", "rich")) for e in body["embeds"] or []]
        if "components" in body:
            msg["components"] = self._components(body["components"])
        if body.get("poll"):
            msg["poll"] = copy.deepcopy(body["poll"])
        attachments = self._attachments(body, uploads, msg.get("attachments", []))
        if attachments is not None:
            msg["attachments"] = attachments
        flags = int(msg.get("flags", 0)) & ~ix.LOADING
        if body.get("flags") is not None:
            # Only SUPPRESS_EMBEDS (and components v2) can change on edit.
            changeable = (1 << 2) | (1 << 15)
            flags = (flags & ~changeable) | (int(body["flags"]) & changeable)
        msg["flags"] = flags
        msg["edited_timestamp"] = iso()
        self._notify()
        return copy.deepcopy(msg)

    def delete_message(self, message_id: int) -> None:
        msg = self._messages.pop(message_id, None)
        if msg is None:
            raise DiscordError(404, 10008, "Unknown Message")
        ids = self._channel_messages.get(int(msg["channel_id"]), [])
        if message_id in ids:
            ids.remove(message_id)
        self._notify()

    async def publish_message(self, msg: Mapping[str, Any]) -> None:
        """MESSAGE_CREATE for a non-ephemeral message, as Discord echoes the bot's own messages."""
        if msg.get("flags", 0) & ix.EPHEMERAL:
            return
        channel = self.world.channels.get(int(msg["channel_id"]))
        if channel is None:
            return
        event = copy.deepcopy(dict(msg))
        if channel.guild_id is not None:
            event["guild_id"] = str(channel.guild_id)
            event["member"] = self.world.member_payload(self.world.bot_user_id, with_user=False)
            intent = INTENT_GUILD_MESSAGES
        else:
            intent = INTENT_DIRECT_MESSAGES
        await self.gateway.dispatch("MESSAGE_CREATE", event, intent=intent)

    # -- interactions: plumbing -----------------------------------------------------------

    def interaction(self, interaction_id: int) -> DrivenInteraction:
        return self.interactions[interaction_id]

    def interaction_by_token(self, token: str) -> DrivenInteraction | None:
        return self._by_token.get(token)

    async def dispatch_interaction(
        self, payload: dict[str, Any], *, bot_timeout: float = 10.0
    ) -> DrivenInteraction:
        """Send a prepared INTERACTION_CREATE payload and start recording the answers."""
        await self.wait_for_bot(bot_timeout)
        driven = DrivenInteraction(self, payload)
        self.interactions[driven.id] = driven
        self._by_token[driven.token] = driven
        await self._deliver(driven)
        return driven

    async def redeliver(self, interaction: DrivenInteraction) -> None:
        """Send the exact same INTERACTION_CREATE (same id and token) again."""
        await self._deliver(interaction)

    async def _deliver(self, driven: DrivenInteraction) -> None:
        driven.dispatched_at = time.monotonic()
        driven.dispatch_count += 1
        delivered = await self.gateway.dispatch("INTERACTION_CREATE", copy.deepcopy(driven.payload))
        if not delivered:
            log.warning("interaction %s was buffered: no bot is connected", driven.id)
        self._notify()

    def _interaction_payload(
        self,
        itype: int,
        user_id: int,
        channel_id: int,
        data: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        world = self.world
        if user_id not in world.users:
            raise ValueError(f"unknown user {user_id}")
        channel = world.channels.get(channel_id)
        if channel is None:
            raise ValueError(f"unknown channel {channel_id}")
        iid = self._ids.next()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(world.application_id),
            "type": itype,
            "token": "emu." + secrets.token_urlsafe(32),
            "version": 1,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "locale": "en-US",
            "channel_id": str(channel_id),
            "data": data,
        }
        if channel.guild_id is not None:
            if user_id not in world.members:
                raise ValueError(f"user {user_id} is not a member of the guild")
            channel_payload = world.channel_payload(channel_id)
            channel_payload["permissions"] = str(world.channel_permissions(user_id, channel_id))
            payload.update(
                {
                    "guild_id": str(channel.guild_id),
                    "guild": {"id": str(channel.guild_id), "locale": "en-US", "features": []},
                    "guild_locale": "en-US",
                    "member": world.member_payload(user_id, channel_id=channel_id),
                    "channel": channel_payload,
                    "app_permissions": str(
                        world.channel_permissions(world.bot_user_id, channel_id)
                    ),
                    "context": 0,
                    "authorizing_integration_owners": {"0": str(channel.guild_id)},
                }
            )
        else:
            if channel.recipient_id != user_id:
                raise ValueError(f"channel {channel_id} is not {user_id}'s DM with the bot")
            payload.update(
                {
                    "user": world.user_payload(user_id),
                    "channel": world.channel_payload(channel_id),
                    "app_permissions": str(DM_APP_PERMISSIONS),
                    "context": 1,
                    "authorizing_integration_owners": {"0": "0"},
                }
            )
        if message is not None:
            payload["message"] = message
        return payload

    def _context_channel(self, user_id: int, channel_id: int | None, dm: bool) -> int:
        if dm:
            return self.world.dm_channel_for(user_id).id
        return channel_id if channel_id is not None else self.world.general_channel_id

    # -- interactions: driving users ------------------------------------------------------

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

    def _check_can_see(self, user_id: int, channel_id: int) -> None:
        """Nobody can type in, or click in, a guild channel they can't see."""
        channel = self.world.channels[channel_id]
        if channel.guild_id is None:
            return
        if not self.world.channel_permissions(user_id, channel_id) & VIEW_CHANNEL:
            raise PermissionError(f"user {user_id} cannot see channel {channel_id}")

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

    async def send_slash_command(
        self,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | None = None,
        subcommand_path: str | Sequence[str] | None = None,
        channel_id: int | None = None,
        *,
        dm: bool = False,
        timeout: float = 5.0,
    ) -> DrivenInteraction:
        """A user runs ``/name [subcommand path] options...`` (type 2 interaction).

        ``channel_id`` defaults to the general channel; ``dm=True`` runs it in the user's DM
        with the bot. Waits up to ``timeout`` for the command to be synced.
        """
        cid = self._context_channel(user_id, channel_id, dm)
        data = await self._command_data(
            user_id, name, options, subcommand_path, cid, focused=None, timeout=timeout
        )
        payload = self._interaction_payload(ix.APPLICATION_COMMAND, user_id, cid, data)
        return await self.dispatch_interaction(payload)

    async def send_autocomplete(
        self,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | None,
        focused: str,
        subcommand_path: str | Sequence[str] | None = None,
        channel_id: int | None = None,
        *,
        dm: bool = False,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """A user types into option ``focused``; returns the choices the bot answered."""
        cid = self._context_channel(user_id, channel_id, dm)
        data = await self._command_data(
            user_id, name, options, subcommand_path, cid, focused=focused, timeout=timeout
        )
        payload = self._interaction_payload(ix.AUTOCOMPLETE, user_id, cid, data)
        driven = await self.dispatch_interaction(payload)
        await driven.wait_for_response(timeout)
        choices = driven.choices
        if choices is None:
            raise AssertionError(
                f"the bot answered autocomplete with callback type {driven.response_type}"
            )
        return choices

    def _resolve_message(self, message: int | str | Mapping[str, Any]) -> dict[str, Any]:
        mid = as_int(message)
        msg = self._messages.get(mid)
        if msg is None:
            raise LookupError(f"message {mid} does not exist (deleted, or never sent)")
        return copy.deepcopy(msg)

    async def _component_interaction(
        self,
        user_id: int,
        message: int | str | Mapping[str, Any],
        custom_id: str,
        component_types: Sequence[int],
        values: Sequence[str] | None,
    ) -> DrivenInteraction:
        mid = as_int(message)
        await self._wait_acknowledged("message", mid, 5.0)
        msg = self._resolve_message(mid)
        owner = self._visible_to.get(mid)
        if owner is not None and owner != user_id:
            raise PermissionError(f"message {mid} is ephemeral: only user {owner} can see it")
        self._check_can_see(user_id, int(msg["channel_id"]))
        found = None
        for comp in iter_components(msg.get("components")):
            if comp.get("custom_id") == custom_id:
                found = comp
                break
        if found is None:
            ids = [
                c["custom_id"] for c in iter_components(msg.get("components")) if "custom_id" in c
            ]
            raise LookupError(f"message {mid} has no component {custom_id!r} (has {ids})")
        if found["type"] not in component_types:
            raise ValueError(f"component {custom_id!r} has type {found['type']}")
        if found.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": found["type"]}
        if isinstance(found.get("id"), int):
            data["id"] = found["id"]
        if values is not None:
            values = [str(v) for v in values]
            lo, hi = found.get("min_values", 1), found.get("max_values", 1)
            if not lo <= len(values) <= hi:
                raise ValueError(f"select {custom_id!r} takes {lo}..{hi} values")
            if found["type"] == 3:
                allowed = [o["value"] for o in found.get("options", [])]
                bad = [v for v in values if v not in allowed]
                if bad:
                    raise ValueError(f"select {custom_id!r} has no option(s) {bad}")
            data["values"] = values
        channel_id = int(msg["channel_id"])
        payload = self._interaction_payload(
            ix.MESSAGE_COMPONENT, user_id, channel_id, data, message=msg
        )
        return await self.dispatch_interaction(payload)

    async def press_button(
        self, user_id: int, message: int | str | Mapping[str, Any], custom_id: str
    ) -> DrivenInteraction:
        """A user clicks the button ``custom_id`` on ``message`` (a message dict or id)."""
        return await self._component_interaction(user_id, message, custom_id, (2,), None)

    async def select_menu(
        self,
        user_id: int,
        message: int | str | Mapping[str, Any],
        custom_id: str,
        values: Sequence[str],
    ) -> DrivenInteraction:
        """A user picks ``values`` in the select menu ``custom_id`` on ``message``."""
        return await self._component_interaction(
            user_id, message, custom_id, ix.SELECT_TYPES, values
        )

    def _modal_components(
        self, components: Sequence[Mapping[str, Any]], values: Mapping[str, Any], used: set[str]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        counter = [0]

        def next_id(comp: Mapping[str, Any]) -> int:
            if isinstance(comp.get("id"), int):
                return int(comp["id"])
            counter[0] += 1
            return 1000 + counter[0]

        def echo(comp: Mapping[str, Any]) -> dict[str, Any]:
            kind = comp["type"]
            if kind == 1:
                return {
                    "type": 1,
                    "id": next_id(comp),
                    "components": [echo(c) for c in comp.get("components", [])],
                }
            if kind == 18:
                return {"type": 18, "id": next_id(comp), "component": echo(comp["component"])}
            if kind in (10, 12, 13, 14):  # text display, media, file, separator: no value
                return {"type": kind, "id": next_id(comp)}
            custom_id = comp.get("custom_id")
            entry: dict[str, Any] = {"type": kind, "id": next_id(comp), "custom_id": custom_id}
            given = custom_id in values
            if given:
                used.add(str(custom_id))
            if kind == 4:
                value = values.get(str(custom_id), comp.get("value") or "")
                if not isinstance(value, str):
                    raise ValueError(f"text input {custom_id!r} needs a str")
                if comp.get("required", True) and not value:
                    raise ValueError(f"text input {custom_id!r} is required")
                if len(value) > int(comp.get("max_length") or 4000):
                    raise ValueError(f"text input {custom_id!r} is longer than max_length")
                if len(value) < int(comp.get("min_length") or 0) and value:
                    raise ValueError(f"text input {custom_id!r} is shorter than min_length")
                entry["value"] = value
            elif (
                kind in ix.SELECT_TYPES
                or kind == 19
                or isinstance(values.get(str(custom_id)), list)
            ):
                entry["values"] = [str(v) for v in values.get(str(custom_id), [])]
            else:
                entry["value"] = values.get(str(custom_id))
            return entry

        for comp in components:
            out.append(echo(comp))
        return out

    async def submit_modal(
        self,
        user_id: int,
        custom_id: str,
        values: Mapping[str, Any],
        source_interaction: DrivenInteraction | None = None,
    ) -> DrivenInteraction:
        """A user fills the modal ``custom_id`` the bot opened and submits it (type 5).

        ``values`` maps each input's custom_id to its text (a list of strings for selects).
        The submitted components echo the structure the bot sent (action rows or labels).
        Without ``source_interaction``, the latest modal with that custom_id shown to
        ``user_id`` is used.
        """
        source = source_interaction
        if source is None:
            for candidate in reversed(list(self.interactions.values())):
                modal = candidate.modal
                if (
                    candidate.user_id == user_id
                    and modal
                    and modal.get("custom_id") == custom_id
                    and self._modal_open(candidate)
                ):
                    source = candidate
                    break
        if source is None or source.modal is None:
            raise LookupError(f"the bot never opened a modal {custom_id!r} for user {user_id}")
        if not self._modal_open(source):
            raise LookupError(f"modal {custom_id!r} was already submitted: Discord closed it")
        if source.user_id != user_id:
            raise PermissionError(
                f"modal {custom_id!r} was shown to {source.user_id}, not {user_id}"
            )
        await self._wait_acknowledged("interaction", source.id, 5.0)
        modal = source.modal
        if modal.get("custom_id") != custom_id:
            raise LookupError(f"interaction {source.id} opened modal {modal.get('custom_id')!r}")
        used: set[str] = set()
        components = self._modal_components(modal.get("components", []), values, used)
        unused = set(values) - used
        if unused:
            raise ValueError(f"modal {custom_id!r} has no input(s) {sorted(unused)}")
        data = {"custom_id": custom_id, "components": components}
        message = None
        if source.source_message_id is not None and source.source_message_id in self._messages:
            message = copy.deepcopy(self._messages[source.source_message_id])
        assert source.channel_id is not None
        payload = self._interaction_payload(
            ix.MODAL_SUBMIT, user_id, source.channel_id, data, message=message
        )
        driven = await self.dispatch_interaction(payload)
        self._modal_submits.setdefault(source.id, []).append(driven)
        return driven

    def _modal_open(self, source: DrivenInteraction) -> bool:
        return not any(s.acknowledged for s in self._modal_submits.get(source.id, []))

    # -- gateway control ------------------------------------------------------------------

    async def disconnect_bot(self, code: int = 4000) -> int:
        """Close the bot's gateway socket(s); a resumable code makes discord.py RESUME."""
        return await self.gateway.close_connections(code=code, message="emulated disconnect")

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py reconnects and RESUMEs."""
        await self.gateway.send_reconnect()
