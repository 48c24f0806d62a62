"""The staff log posts each alert, and each digest, once, even when Discord stored the
message but the bot never got the answer.

A real discord.py client (the emulator's MiniBot) drives the real StaffLog over real
SQLite against the emulator. Every message carries a nonce derived from its alerts, and
a lost answer of any kind (a dropped connection, a timeout, a 5xx) is a channel outage:
the alerts wait `staff_channel_retry`, without using up an attempt, and the retry's
nonce makes Discord answer with the message it already has.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import discord
import pytest

from bot.services.staff_log import StaffLog
from core.kinds import Alert, AlertKind
from core.timings import Timings
from emulator import Emulator
from storage import staff_alerts
from storage.database import Database
from tests.emulator.minibot import MiniBot

RETRY = 10.0
GROUP = "unknown_status:boost"


class Clock:
    """The staff log's clock: the real time, moved on by the test instead of waiting."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def staff_log(db: Database, emu: Emulator, bot: MiniBot, clock: Clock) -> StaffLog:
    return StaffLog(
        db,
        bot,
        emu.world.staff_channel_id,
        clock=clock,
        timings=Timings(staff_channel_retry=RETRY),
    )


def staff_path(emu: Emulator) -> str:
    return rf"^/channels/{emu.world.staff_channel_id}/messages$"


def staff_messages(emu: Emulator) -> list[dict[str, Any]]:
    return emu.channel_messages(emu.world.staff_channel_id)


async def raise_unknown_status(db: Database, n: int) -> str:
    """An alert of GROUP (without an order row: the staff log needs none); returns a
    text only its own message contains."""
    mark = f"remote order R-{n:04d}"
    await staff_alerts.raise_alert(
        db,
        Alert(
            AlertKind.UNKNOWN_STATUS,
            f"❓ boost reports an unknown status for {mark}.",
            f"unknown_status:R-{n:04d}:ODD",
            group_key=GROUP,
        ),
    )
    return mark


async def unposted(db: Database) -> list[Any]:
    return list(
        await db.fetch_all(
            "SELECT id, attempts, next_attempt_at, claimed_until FROM staff_alerts"
            " WHERE posted_at IS NULL ORDER BY id"
        )
    )


async def test_a_digest_discord_stored_but_never_answered_is_posted_once(
    db: Database, emu: Emulator, staff_log: StaffLog, clock: Clock
) -> None:
    # A group's first alerts in the window are posted on their own...
    for n in range(3):
        await raise_unknown_status(db, n)
    assert await staff_log.post_pending() == 3
    # ...the rest become a digest. Discord stores it, then the connection drops.
    for n in (3, 4):
        await raise_unknown_status(db, n)
    fault = emu.inject_store_then_fail("POST", staff_path(emu), drop=True)

    assert await staff_log.post_pending() == 0
    assert fault.hits == 1
    assert len(staff_messages(emu)) == 4  # Discord has the digest; the bot doesn't know
    # Released, not left claimed: they wait for the channel, with no attempt used up.
    waiting = await unposted(db)
    assert [(r["attempts"], r["claimed_until"]) for r in waiting] == [(0, None)] * 2
    assert all(r["next_attempt_at"] >= clock() + RETRY - 1 for r in waiting)
    assert await staff_log.post_pending() == 0  # not before staff_channel_retry

    clock.ahead += RETRY + 0.1
    assert await staff_log.post_pending() == 1  # Discord answers with the stored digest

    digests = [m for m in staff_messages(emu) if m["content"].startswith("📣")]
    assert len(digests) == 1, [m["content"][:80] for m in digests]
    assert "2 more orders report a status we don't know" in digests[0]["content"]
    assert len(staff_messages(emu)) == 4
    assert await unposted(db) == []
    rows = await db.fetch_all(
        "SELECT id, digest_id, attempts FROM staff_alerts WHERE digest_id IS NOT NULL ORDER BY id"
    )
    assert [(r["digest_id"], r["attempts"]) for r in rows] == [(rows[0]["id"], 1)] * 2


async def _stored_then_raise(exc: Exception, bot: MiniBot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next message the bot sends is stored by Discord, then the bot gets `exc` instead
    of the answer, as a timeout or a reset connection would give it."""
    real = bot.http.send_message
    calls = 0

    async def send_message(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        stored = await real(*args, **kwargs)
        if calls == 1:
            raise exc
        return stored

    monkeypatch.setattr(bot.http, "send_message", send_message)


class _Answer:
    status = 503
    reason = "Service Unavailable"


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        aiohttp.ClientPayloadError("Response payload is not completed"),
        ConnectionResetError(104, "Connection reset by peer"),
        discord.DiscordServerError(_Answer(), "Service Unavailable"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_any_lost_answer_is_a_channel_outage_and_the_retry_posts_nothing_new(
    db: Database,
    emu: Emulator,
    bot: MiniBot,
    staff_log: StaffLog,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
) -> None:
    mark = await raise_unknown_status(db, 1)
    await _stored_then_raise(exc, bot, monkeypatch)

    assert await staff_log.post_pending() == 0
    [waiting] = await unposted(db)
    assert (waiting["attempts"], waiting["claimed_until"]) == (0, None)

    clock.ahead += RETRY + 0.1
    assert await staff_log.post_pending() == 1
    assert [mark in m["content"] for m in staff_messages(emu)] == [True]
    assert await unposted(db) == []
