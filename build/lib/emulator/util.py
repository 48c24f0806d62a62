"""Small shared helpers: Discord-shaped JSON responses and errors, snowflakes, timestamps."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

DISCORD_EPOCH_MS = 1_420_070_400_000
# The seeded world's ids are minted from this instant, so they never change between runs.
WORLD_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json``.

    discord.py only parses a body as JSON when the header is exactly that string;
    ``aiohttp.web.json_response`` appends ``; charset=utf-8`` and login then fails.
    """
    return web.Response(
        body=dumps(data), status=status, content_type="application/json", headers=headers
    )


class DiscordError(Exception):
    """An error answered in Discord's ``{"code", "message"}`` shape."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = dict(self.errors)
        return body

    def response(self) -> web.Response:
        return json_response(self.body(), status=self.status, headers=self.headers)


def unknown(kind: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {kind}")


class Snowflakes:
    """Mints snowflakes.

    ``deterministic=True`` counts up from a fixed instant (the seeded world); otherwise ids
    follow the wall clock (messages, interactions) while staying strictly increasing.
    """

    def __init__(self, *, deterministic: bool, worker: int = 1) -> None:
        self._deterministic = deterministic
        self._worker = worker
        self._last = ((WORLD_EPOCH_MS - DISCORD_EPOCH_MS) << 22) | (worker << 17)

    def next(self) -> int:
        if self._deterministic:
            self._last += 1
            return self._last
        now = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (self._worker << 17)
        self._last = max(now, self._last + 1)
        return self._last


def snowflake_time(snowflake: int) -> dt.datetime:
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def iso(when: dt.datetime | None = None) -> str:
    return (when or dt.datetime.now(tz=dt.UTC)).isoformat(timespec="microseconds")


def as_int(value: Any) -> int:
    """A snowflake given as int or str (or an object with ``id``) as an int."""
    if isinstance(value, Mapping):
        value = value["id"]
    if isinstance(value, bool):
        raise TypeError("a snowflake cannot be a bool")
    return int(value)
