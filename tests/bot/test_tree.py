"""The global error handler's wording and its reference id for unexpected errors.

The interaction is a minimal stand-in: an unexpected error can't be provoked in the
real bot on purpose (every known failure path is handled), so this checks the handler
itself. The end-to-end tests cover the known errors through the emulator."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from discord import app_commands

from bot.errors import InvalidInput
from bot.tree import friendly_message, report_error


class _Response:
    def __init__(self, done: bool) -> None:
        self.done = done
        self.sent: list[tuple[str, bool]] = []

    def is_done(self) -> bool:
        return self.done

    async def send_message(self, content: str, *, ephemeral: bool) -> None:
        self.sent.append((content, ephemeral))


class _Followup:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bool]] = []

    async def send(self, content: str, *, ephemeral: bool) -> None:
        self.sent.append((content, ephemeral))


class _User:
    id = 42


class _Interaction:
    def __init__(self, done: bool) -> None:
        self.response = _Response(done)
        self.followup = _Followup()
        self.user = _User()
        self.command = None


def test_known_errors_have_friendly_text() -> None:
    assert friendly_message(InvalidInput("bad invite")) == "bad invite"
    wrapped = app_commands.CommandInvokeError.__new__(app_commands.CommandInvokeError)
    wrapped.__cause__ = InvalidInput("inner")
    assert friendly_message(wrapped) == "inner"
    assert "again in 12s" in (
        friendly_message(app_commands.CommandOnCooldown(app_commands.Cooldown(1, 60), 12.0)) or ""
    )
    assert friendly_message(RuntimeError("boom")) is None


@pytest.mark.parametrize("deferred", [False, True])
async def test_unexpected_error_is_logged_with_a_reference_shown_to_the_user(
    deferred: bool, caplog: pytest.LogCaptureFixture
) -> None:
    interaction: Any = _Interaction(done=deferred)
    caplog.set_level(logging.ERROR)
    await report_error(interaction, RuntimeError("database exploded"))
    sent = interaction.followup.sent if deferred else interaction.response.sent
    ((content, ephemeral),) = sent
    assert ephemeral
    reference = re.search(r"\*\*([0-9A-F]{8})\*\*", content)
    assert reference is not None
    assert "database exploded" not in content  # internals stay in the log
    assert reference.group(1) in caplog.text and "database exploded" in caplog.text
