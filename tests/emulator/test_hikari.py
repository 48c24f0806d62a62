"""Issue 30: a second, independent client. Stock hikari (2.7, default gateway options:
zlib-stream compression, binary JSON frames) against the emulator, with no patches to its
internals: READY and GUILD_CREATE, heartbeats, a RESUME after a forced disconnect, guild
command sync, every kind of interaction answer, and the channel's history.

Every request hikari sent and every response the emulator answered is checked against
Discord's spec (the `emu` fixture fails the test on a violation). hikari is a test
dependency on the newest Python only (pyproject.toml), hence `one_python`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from emulator import Emulator

try:
    import hikari
except ImportError:  # pragma: no cover - pyproject installs it on 3.13 only
    if sys.version_info[:2] == (3, 13) and os.environ.get("ORDERBOT_TEST_ONE_PYTHON") == "1":
        raise  # where it must run (CI's newest Python), a missing hikari is a failure
    pytest.skip("hikari is a test dependency on Python 3.13 only", allow_module_level=True)

pytestmark = pytest.mark.one_python

EPHEMERAL = 64


class HikariShop:
    """A small hikari bot: each command or press answered one way a shop bot answers."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.bot = hikari.GatewayBot(
            emu.token, rest_url=f"{emu.base_url}/api/v10", banner=None, logs=None
        )
        self.started = asyncio.Event()
        self.resumed = asyncio.Event()
        self.errors: list[BaseException] = []
        self.bot.subscribe(hikari.StartedEvent, self._started)
        self.bot.subscribe(hikari.ShardResumedEvent, self._resumed)
        self.bot.subscribe(hikari.InteractionCreateEvent, self._interaction)

    async def _started(self, event: hikari.StartedEvent) -> None:
        self.started.set()

    async def _resumed(self, event: hikari.ShardResumedEvent) -> None:
        self.resumed.set()

    async def _interaction(self, event: hikari.InteractionCreateEvent) -> None:
        try:
            await self._answer(event.interaction)
        except Exception as exc:  # the test reads these: a client error is a failure
            self.errors.append(exc)
            raise

    async def _answer(self, interaction: hikari.PartialInteraction) -> None:
        rest = self.bot.rest
        if isinstance(interaction, hikari.CommandInteraction):
            if interaction.command_name == "hello":
                row = (
                    rest.build_message_action_row()
                    .add_interactive_button(hikari.ButtonStyle.PRIMARY, "update", label="Update")
                    .add_interactive_button(hikari.ButtonStyle.SECONDARY, "private", label="Mine")
                )
                await interaction.create_initial_response(
                    hikari.ResponseType.MESSAGE_CREATE, "Hello from hikari", component=row
                )
            elif interaction.command_name == "later":
                await interaction.create_initial_response(
                    hikari.ResponseType.DEFERRED_MESSAGE_CREATE
                )
                await interaction.execute("first followup")
                await interaction.execute("second followup")
                await interaction.edit_initial_response("the original, edited")
            elif interaction.command_name == "form":
                await interaction.create_modal_response(
                    "A form",
                    f"form:{interaction.id}",
                    component=rest.build_modal_action_row().add_text_input("answer", "Answer"),
                )
        elif isinstance(interaction, hikari.ComponentInteraction):
            if interaction.custom_id == "update":
                await interaction.create_initial_response(
                    hikari.ResponseType.MESSAGE_UPDATE, "Updated by the press", components=[]
                )
            else:
                await interaction.create_initial_response(
                    hikari.ResponseType.MESSAGE_CREATE, "Only you see this", flags=EPHEMERAL
                )
        elif isinstance(interaction, hikari.ModalInteraction):
            answer = interaction.components[0].components[0]
            assert isinstance(answer, hikari.TextInputComponent)
            await interaction.create_initial_response(
                hikari.ResponseType.MESSAGE_CREATE, f"You said {answer.value}"
            )


@pytest.fixture
async def hikari_emu() -> AsyncIterator[Emulator]:
    """An emulator with its default (Discord-shaped) token: hikari reads the bot's id out
    of it. Every request and response is checked against the spec. Heartbeats every
    0.3 s, so the test sees several."""
    async with Emulator(heartbeat_interval_ms=300) as emu:
        yield emu
        emu.assert_no_contract_violations()
        assert not emu.unhandled, emu.unhandled


@pytest.fixture
async def shop(hikari_emu: Emulator, caplog: pytest.LogCaptureFixture) -> AsyncIterator[HikariShop]:
    """hikari catches what goes wrong while it reads an event (a field the emulator left
    out: KeyError) and only logs it: any error it logs fails the test."""
    emu = hikari_emu
    caplog.set_level(logging.WARNING, logger="hikari")
    shop = HikariShop(emu)
    running = asyncio.create_task(shop.bot.start(check_for_updates=False))
    try:
        await asyncio.wait_for(shop.started.wait(), 15)
        yield shop
    finally:
        await shop.bot.close()
        await asyncio.wait_for(running, 15)
    assert shop.errors == []
    complaints = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("hikari") and r.levelno >= logging.ERROR
    ]
    assert complaints == []


async def test_hikari_connects_compressed_and_resumes(
    shop: HikariShop, hikari_emu: Emulator
) -> None:
    emu = hikari_emu
    (connection,) = emu.gateway.connections
    assert connection.zlib_stream  # hikari's default: compress=zlib-stream
    assert emu.gateway.identifies == 1
    guild = shop.bot.cache.get_guild(emu.world.guild_id)
    assert guild is not None and guild.name == emu.world.guild_name  # from GUILD_CREATE
    me = shop.bot.get_me()
    assert me is not None and me.id == emu.world.bot_user_id
    # Heartbeats acknowledged through the compressed stream: hikari measures a latency.
    await emu._wait(lambda: emu.gateway.heartbeats >= 2 or None, 10, "two heartbeats")
    await emu._wait(
        lambda: shop.bot.heartbeat_latency == shop.bot.heartbeat_latency or None,  # not NaN
        10,
        "an acknowledged heartbeat",
    )
    beats = emu.gateway.heartbeats
    await emu.gateway.close_connections(4000, "forced by the test")
    await asyncio.wait_for(shop.resumed.wait(), 15)
    assert emu.gateway.resumes == 1 and emu.gateway.identifies == 1
    # ...and heartbeats again on the new socket.
    await emu._wait(lambda: emu.gateway.heartbeats > beats or None, 10, "a heartbeat after RESUME")
    application = await shop.bot.rest.fetch_application()
    assert application.id == emu.world.application_id


async def test_hikari_syncs_commands_and_answers_every_way(
    shop: HikariShop, hikari_emu: Emulator
) -> None:
    emu = hikari_emu
    rest = shop.bot.rest
    world = emu.world
    synced = await rest.set_application_commands(
        world.application_id,
        [
            rest.slash_command_builder("hello", "Say hello"),
            rest.slash_command_builder("later", "Answer later"),
            rest.slash_command_builder("form", "Open a form"),
        ],
        guild=world.guild_id,
    )
    assert sorted(c.name for c in synced) == ["form", "hello", "later"]
    buyer = world.buyer_id

    # A type 4 reply with buttons; a press answered by an update, one by an ephemeral reply.
    hello = await emu.send_slash_command(buyer, "hello")
    assert (await hello.wait_for_response())["type"] == 4
    original = await hello.wait_for_original(timeout=10)
    assert original["content"] == "Hello from hikari"
    update = await emu.press_button(buyer, original, "update")
    assert (await update.wait_for_response())["type"] == 7
    pressed = emu.message(int(original["id"]))
    assert pressed is not None and pressed["content"] == "Updated by the press"
    hello2 = await emu.send_slash_command(buyer, "hello")
    await hello2.wait_for_response()
    private = await emu.press_button(buyer, await hello2.wait_for_original(timeout=10), "private")
    answer = await private.wait_for_response()
    assert answer["type"] == 4 and answer["data"]["flags"] & EPHEMERAL

    # A deferral, two followups and an edit of the original.
    later = await emu.send_slash_command(buyer, "later")
    assert (await later.wait_for_response())["type"] == 5
    first = await later.wait_for_followup(timeout=10)
    second = await later.wait_for_followup(timeout=10)
    assert (first["content"], second["content"]) == ("first followup", "second followup")
    edited = await later.wait_for_original(
        lambda m: m.get("content") == "the original, edited", timeout=10
    )
    assert edited["interaction_metadata"]["id"] == str(later.id)

    # A modal and its submit, answered with a message.
    form = await emu.send_slash_command(buyer, "form")
    opened = await form.wait_for_response()
    assert opened["type"] == 9
    submitted = await emu.submit_modal(
        buyer, opened["data"]["custom_id"], {"answer": "blue"}, source_interaction=form
    )
    assert (await submitted.wait_for_response())["type"] == 4
    reply = await submitted.wait_for_original(timeout=10)
    assert reply["content"] == "You said blue"
    assert reply["interaction_metadata"]["triggering_interaction_metadata"]["id"] == str(form.id)
    # The driver's summary says what docs/emulator.md says it does.
    summary = form.summary()
    assert summary["acknowledged"] and summary["response_type"] == 9
    assert summary["modal"]["title"] == "A form"

    # The channel's history, read back by hikari: every reply above, whole.
    history: list[Any] = [m async for m in rest.fetch_messages(world.general_channel_id)]
    contents = {m.content for m in history}
    assert {"Updated by the press", "the original, edited", "You said blue"} <= contents
