"""What every REST route module shares: the parsed request and the helpers handlers use.

The parsed body (:class:`Body`, stored on the request under ``BODY``) with its file uploads
(:class:`Upload`), the request log entry (:class:`RequestRecord`), ``PENDING_ACK`` (what the
request being handled made visible to users), path and body checks, and :class:`RestBase`,
the base of every route mixin: the emulator handle and contract-violation reporting.
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .contract import ContractViolation
from .interactions import EPHEMERAL
from .util import DiscordError, unknown

if TYPE_CHECKING:
    from .server import Emulator

API_PREFIX = "/api/v10"
MAX_CONTENT = 2000
# Flags a bot may set when creating a message: SUPPRESS_EMBEDS, EPHEMERAL,
# SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2.
CREATE_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12) | (1 << 15)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    query: str = ""
    at: float = 0.0  # when the request arrived (UNIX time): rate checks count these


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


def form_error(field: str, code: str, message: str) -> dict[str, Any]:
    return {field: {"_errors": [{"code": code, "message": message}]}}


def is_empty_message(payload: Mapping[str, Any], uploads: Sequence[Upload]) -> bool:
    return not (
        payload.get("content")
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("attachments")
        or payload.get("sticker_ids")
        or payload.get("poll")
        or uploads
    )


def path_snowflake(request: web.Request, key: str, kind: str, code: int) -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise unknown(kind, code) from None


class RestBase:
    """The emulator a route mixin serves, and how it reports a body Discord would refuse."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def violation(self, method: str, path: str, message: str, body: Any = None) -> None:
        template = self.emu.contract.match(path) if self.emu.contract.enabled else None
        self.emu.record_violation(ContractViolation(method, path, template, message, body))

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
                400, 50035, "Invalid Form Body", errors=form_error(field, code, message)
            )
        return DiscordError(400, discord_code, message)
