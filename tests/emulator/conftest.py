"""Fixtures: an emulator, and a minimal real discord.py client redirected to it
(the client itself is in tests/emulator/minibot.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest

from emulator import Emulator, redirect_discord_py
from tests.emulator.minibot import TOKEN, MiniBot, start_bot


@pytest.fixture
def discord_urls() -> Any:
    """Restore discord.py's real URLs after a test redirected them."""
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@pytest.fixture
def needs_spec() -> None:
    """Tests of the contract check need Discord's spec (../shared/discord/openapi.json).
    A user's clone without it skips them; CI (CI=true) must have it, so there it fails."""
    from emulator.contract import default_spec_path

    if default_spec_path().exists():
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run the contract check, but {default_spec_path()} is missing")
    pytest.skip("Discord's OpenAPI spec is not available (no ../shared beside this clone)")


@pytest.fixture
async def raw_emu(discord_urls: Any) -> AsyncIterator[Emulator]:
    """An emulator; contract violations are the test's business."""
    async with Emulator(token=TOKEN) as emu:
        redirect_discord_py(emu.base_url)
        yield emu


@pytest.fixture
async def emu(raw_emu: Emulator) -> AsyncIterator[Emulator]:
    """An emulator that fails the test if the bot sent anything Discord would reject."""
    yield raw_emu
    raw_emu.assert_no_contract_violations()
    assert not raw_emu.unhandled, raw_emu.unhandled


@pytest.fixture
async def bot(emu: Emulator) -> AsyncIterator[MiniBot]:
    client, task = await start_bot(emu)
    try:
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)
