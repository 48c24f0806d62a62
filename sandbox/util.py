"""Small helpers every sandbox module uses: JSON in and out, value checks, credentials."""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeGuard

from aiohttp import web

JSON_CONTENT_TYPE = "application/json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json`` (no charset)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(body=body, status=status, headers=headers, content_type=JSON_CONTENT_TYPE)


def iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and whole seconds, as the provider docs show."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_int(value: Any) -> bool:
    """True for a JSON integer (``bool`` is not an integer here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def keys_equal(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented credential with the expected one."""
    if given is None:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


async def read_json(request: web.Request) -> Any:
    """Parse the request body as JSON; raise ValueError when it is not JSON."""
    raw = await request.read()
    if not raw:
        raise ValueError("empty body")
    return json.loads(raw)


@web.middleware
async def loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Requests for this server by its loopback address only (the playground's sandboxes).

    A DNS-rebinding page reaches 127.0.0.1 under its own host name: refused (421). A
    browser request from another site carries that site's Origin: refused (403). The bot's
    HTTP clients send ``Host: 127.0.0.1:<port>`` and no Origin."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if isinstance(sockname, tuple) and len(sockname) > 1 else None
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    if request.headers.get("Host") not in hosts:
        return web.Response(status=421, text="Only this computer's own address is answered.\n")
    origin = request.headers.get("Origin")
    if origin is not None and origin not in {f"http://{host}" for host in hosts}:
        return web.Response(status=403, text="Requests from other sites are refused.\n")
    return await handler(request)
