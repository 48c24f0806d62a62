"""The emulator: an aiohttp app on 127.0.0.1 serving Discord's REST API and gateway.

State is in memory. Tests drive users (slash commands, buttons, modals, autocomplete)
through the async methods of :class:`Emulator`; another process can drive it through
``/_emulator/...`` (``control.py``).

This module owns the :class:`Emulator` class itself: its constructor, the aiohttp app
(``build_app``), ``start``/``stop`` and ``async with``, the seeded world's extras (members
added later, closed DMs, invites) and gateway control. Its methods come from the parts it
is built from, one module each:

* ``base.py`` — change notification and waiting, acknowledgement, contract violations,
  stored files;
* ``faults.py`` — injected errors, rate limits, store-then-fail (:class:`Fault`);
* ``commands.py`` — the application command registry and invoking a command;
* ``messages.py`` — channel messages, DMs, attachments, ``wait_for_dm``;
* ``driver.py`` — the driven users: ``send_slash_command``, ``press_button``, ...

The REST routes are in ``rest.py`` (and ``rest_*.py``), the gateway in ``gateway.py``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from .base import ATTACHMENT_SIZE_LIMIT, StoredFile
from .contract import ContractChecker
from .control import control_routes
from .driver import DM_APP_PERMISSIONS, UserDriver
from .faults import Fault, FaultInjection
from .gateway import Gateway
from .messages import MessagePredicate
from .rest import RequestRecord, RestApi
from .util import Snowflakes
from .web.app import Persona, PlaygroundWeb
from .web.panels import ProviderPanel
from .world import INTENT_GUILD_MEMBERS, World

__all__ = [
    "APP_FLAGS",
    "ATTACHMENT_SIZE_LIMIT",
    "DEFAULT_TOKEN",
    "DM_APP_PERMISSIONS",
    "Emulator",
    "Fault",
    "MessagePredicate",
    "StoredFile",
]

log = logging.getLogger(__name__)


def discord_shaped_token(application_id: int, secret: str | None = None) -> str:
    """A token shaped like Discord's: the bot's id in unpadded base64, a timestamp part and
    an HMAC part, dot-separated. Clients read the id from the first part (hikari refuses a
    token it can't split). The rest is a fixed stand-in, not a secret, unless ``secret``
    is given (the playground's emulator takes a random one: its API is reachable only by
    the bot it started)."""
    first = base64.urlsafe_b64encode(str(application_id).encode()).decode().rstrip("=")
    return f"{first}.GEmu1a.{secret or 'emulatorEMULATORemulatorEMULATORemula'}"


def random_token() -> str:
    """A Discord-shaped token for the seeded world's application, with a random secret."""
    return discord_shaped_token(Snowflakes(deterministic=True).next(), secrets.token_urlsafe(27))


# The seeded world's application (its first deterministic id).
DEFAULT_TOKEN = discord_shaped_token(Snowflakes(deterministic=True).next())
# GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE
APP_FLAGS = (1 << 15) | (1 << 19) | (1 << 23)


class Emulator(UserDriver, FaultInjection):
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
        self.reaction_time = reaction_time
        self.app_flags = APP_FLAGS
        self.world = World(guild_name=guild_name)
        self.contract = ContractChecker(openapi_spec)
        self.validate_contract = validate_contract
        self.gateway = Gateway(self, heartbeat_interval_ms=heartbeat_interval_ms)
        self.rest = RestApi(self)

        self.contract_violations = []
        self.unhandled = []
        self.requests: list[RequestRecord] = []
        self.invites: dict[str, dict[str, Any]] = {}
        self.files = {}
        self._ids = Snowflakes(deterministic=False)
        self._unacknowledged = set()
        self._acknowledged_at = {}
        self._changed = None
        self.changes = 0
        # The playground's web front (``serve_playground``), when this emulator serves one.
        self.web: PlaygroundWeb | None = None
        self._runner: web.AppRunner | None = None
        self._tasks = set()
        self.base_url = ""
        self._init_faults()
        self._init_commands()
        self._init_messages()
        self._init_driver()

        self.add_invite("shopdemo", "Demo Server", member_count=42)
        self.add_invite("emulated", guild_name, guild_id=self.world.guild_id)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    def serve_playground(
        self,
        *,
        personas: Sequence[Persona],
        channels: Sequence[int],
        panels: Sequence[ProviderPanel] = (),
    ) -> PlaygroundWeb:
        """Serve the playground page (``emulator/web``) beside the API, from the next
        ``start``. Every request to this emulator is then checked for our Host and Origin
        (``emulator/web/guard.py``): a page on another site can't drive it."""
        self.web = PlaygroundWeb(self, personas=personas, channels=channels, panels=panels)
        return self.web

    def build_app(self) -> web.Application:
        middlewares = [self.rest.middleware]
        if self.web is not None:
            middlewares.insert(0, self.web.guard.middleware)
        app = web.Application(middlewares=middlewares, client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        if self.web is not None:
            for method, path, handler in self.web.routes():
                app.router.add_route(method, path, handler)
        if self.web is None:
            # The driver for scripts in another process. Not with the playground's page:
            # it has no token, and the page is how a person drives the emulator there.
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
        if self.web is not None:
            self.web.guard.bind(port)
        log.info(
            "Discord emulator listening on %s (%.2fs)", self.base_url, time.perf_counter() - started
        )

    async def stop(self) -> None:
        if self.web is not None:
            self.web.close()
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

    # -- world ----------------------------------------------------------------------------

    def add_member(
        self,
        username: str,
        *,
        roles: Sequence[int] = (),
        global_name: str | None = None,
        locale: str = "en-US",
    ) -> int:
        """Add a guild member (`locale`: their Discord client's language); returns the user
        id. Dispatches GUILD_MEMBER_ADD when running."""
        uid = self.world.add_member(
            username, roles=tuple(roles), global_name=global_name, locale=locale
        )
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
                "nsfw": False,
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

    # -- gateway control ------------------------------------------------------------------

    async def disconnect_bot(self, code: int = 4000) -> int:
        """Close the bot's gateway socket(s); a resumable code makes discord.py RESUME."""
        return await self.gateway.close_connections(code=code, message="emulated disconnect")

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py reconnects and RESUMEs."""
        await self.gateway.send_reconnect()
