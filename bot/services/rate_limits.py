"""Rate limits that hold across every process of a shop (issue 27).

`SharedRateLimit` is used like aiolimiter's `AsyncLimiter` (`async with limit:`), but
its slots are reserved in the database (storage/rate_limits.py), so three workers
polling one provider send at the provider's rate together, not three times it. On
SQLite, where one process does everything, the in-process limiter stays.

`limit_discord_requests` puts the bot's own REST requests to Discord under one such
limit. Interaction responses and their follow-ups are left out: Discord doesn't count
them against the global limit, and they must answer within 3 seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol

import discord

from storage import rate_limits
from storage.database import Database

JITTER_MARGIN = 1.1


class RateLimit(Protocol):
    """What `async with` needs: aiolimiter's AsyncLimiter, or SharedRateLimit."""

    async def __aenter__(self) -> None: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


async def _leave(
    self: object,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> None:
    """Leaving a limit releases nothing: a slot, once taken, is spent."""
    return None


class SharedRateLimit:
    def __init__(
        self,
        db: Database,
        name: str,
        rate_per_second: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.name = name
        # 10% slower than the rate: requests sent 1/rate apart can arrive closer
        # together (one delayed on the way, the next not), and a provider counts arrivals.
        self.interval = JITTER_MARGIN / rate_per_second
        self.clock = clock
        self.waited = 0.0  # seconds spent waiting for slots (a test proves it paced)

    async def __aenter__(self) -> None:
        now = self.clock()
        send_at = await rate_limits.reserve(self.db, self.name, interval=self.interval, now=now)
        delay = send_at - self.clock()
        if delay > 0:
            self.waited += delay
            await asyncio.sleep(delay)

    __aexit__ = _leave


class Unpaced:
    """No limit here: the requests are paced elsewhere (by the adapter itself)."""

    async def __aenter__(self) -> None:
        return None

    __aexit__ = _leave


def share_provider_rates(db: Database, providers: Iterable[Any], rate_per_second: float) -> None:
    """On a shared database, every request to a provider (polls, orders, key checks, from
    any process) takes a slot of that provider's one shared limit."""
    for adapter in providers:
        adapter.rate_limit = SharedRateLimit(db, f"provider:{adapter.name}", rate_per_second)


def exempt_from_global_limit(path: str) -> bool:
    """Interaction callbacks and webhook follow-ups: not under Discord's global limit."""
    return path.startswith(("/interactions/", "/webhooks/"))


def limit_discord_requests(http: discord.http.HTTPClient, limit: RateLimit) -> None:
    """Every REST request the client makes waits for a slot of `limit` first (except
    interaction responses)."""
    original = http.request

    async def request(route: discord.http.Route, **kwargs: Any) -> Any:
        if exempt_from_global_limit(route.path):
            return await original(route, **kwargs)
        async with limit:
            return await original(route, **kwargs)

    http.request = request  # type: ignore[method-assign]
