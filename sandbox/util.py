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
