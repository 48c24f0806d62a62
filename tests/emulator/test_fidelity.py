"""What real Discord does that the staff, fault and wallet tests rely on: command permission
overrides, a DM stored and then answered with an error, and nonce de-duplication."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
import pytest

from emulator import Emulator

from .minibot import TOKEN, MiniBot

AUTH = {"Authorization": f"Bot {TOKEN}"}
ROLE, USER, CHANNEL = 1, 2, 3


def _dm_posts(emu: Emulator, channel_id: int) -> list[int]:
    return [
        r.status
        for r in emu.requests
        if r.method == "POST" and r.path == f"/channels/{channel_id}/messages"
    ]


# -- command permission overrides ----------------------------------------------------------


async def test_a_member_override_shows_a_command_the_default_hides(
    emu: Emulator, bot: MiniBot
) -> None:
    world = emu.world
    with pytest.raises(PermissionError, match="default_member_permissions"):
        await emu.send_slash_command(world.buyer_id, "staffonly")

    updates: list[discord.RawAppCommandPermissionsUpdateEvent] = []

    async def on_update(payload: discord.RawAppCommandPermissionsUpdateEvent) -> None:
        updates.append(payload)

    bot.on_raw_app_command_permissions_update = on_update  # type: ignore[attr-defined]
    stored = await emu.set_command_permissions(
        "staffonly", [{"id": world.buyer_id, "type": USER, "permission": True}]
    )
    assert stored["permissions"] == [{"id": str(world.buyer_id), "type": USER, "permission": True}]

    # The buyer now sees and runs it; only the bot's own check could still refuse them.
    driven = await emu.send_slash_command(world.buyer_id, "staffonly")
    assert (await driven.wait_for_response())["data"]["content"] == "welcome, staff"
    # buyer2 has no override: the default still hides it.
    with pytest.raises(PermissionError):
        await emu.send_slash_command(world.buyer2_id, "staffonly")

    # The bot is told, as Discord dispatches APPLICATION_COMMAND_PERMISSIONS_UPDATE.
    await emu._wait(lambda: updates or None, 5, "the permissions update event")
    assert updates[0].target_id == int(stored["id"])
    assert [p.target.id for p in updates[0].permissions] == [world.buyer_id]

    # And the bot can read the overrides over REST with its own token.
    [command] = [
        c
        for c in await bot.tree.fetch_commands(guild=bot.get_guild(world.guild_id))
        if c.name == "staffonly"
    ]
    fetched = await command.fetch_permissions(discord.Object(world.guild_id))
    assert [(p.id, p.permission) for p in fetched.permissions] == [(world.buyer_id, True)]


async def test_role_user_and_channel_overrides_follow_discords_precedence(
    emu: Emulator, bot: MiniBot
) -> None:
    world = emu.world
    # An @everyone allow (role id = guild id) lets every member see it...
    await emu.set_command_permissions(
        "staffonly",
        [
            {"id": world.guild_id, "type": ROLE, "permission": True},
            # ...except one member explicitly denied, even though @everyone is allowed...
            {"id": world.buyer2_id, "type": USER, "permission": False},
            # ...and nowhere but the notices channel ("all channels" is guild id - 1).
            {"id": world.guild_id - 1, "type": CHANNEL, "permission": False},
            {"id": world.notice_channel_id, "type": CHANNEL, "permission": True},
        ],
    )
    driven = await emu.send_slash_command(
        world.buyer_id, "staffonly", channel_id=world.notice_channel_id
    )
    assert (await driven.wait_for_response())["data"]["content"] == "welcome, staff"
    with pytest.raises(PermissionError, match="channel"):
        await emu.send_slash_command(world.buyer_id, "staffonly")  # the general channel
    # Overrides never let anyone use a channel they can't see.
    with pytest.raises(PermissionError, match="cannot see"):
        await emu.send_slash_command(world.buyer_id, "staffonly", channel_id=world.staff_channel_id)
    with pytest.raises(PermissionError, match="denied to user"):
        await emu.send_slash_command(
            world.buyer2_id, "staffonly", channel_id=world.notice_channel_id
        )
    # A staff member whose role would pass the default is denied by an explicit role deny.
    await emu.set_command_permissions(
        "staffonly", [{"id": world.staff_role_id, "type": ROLE, "permission": False}]
    )
    with pytest.raises(PermissionError, match="denied"):
        await emu.send_slash_command(world.staff_id, "staffonly")
    # Clearing the overrides restores the default.
    await emu.set_command_permissions("staffonly", [])
    driven = await emu.send_slash_command(world.staff_id, "staffonly")
    assert (await driven.wait_for_response())["data"]["content"] == "welcome, staff"


async def test_app_level_override_applies_to_subcommands(emu: Emulator, bot: MiniBot) -> None:
    world = emu.world
    # An app-level channel deny (command None = every command of the app).
    await emu.set_command_permissions(
        None, [{"id": world.general_channel_id, "type": CHANNEL, "permission": False}]
    )
    with pytest.raises(PermissionError, match="channel"):
        await emu.send_slash_command(
            world.staff_id,
            "admin",
            {"member": world.buyer_id, "order_id": "x"},
            subcommand_path="order link",
        )
    driven = await emu.send_slash_command(
        world.staff_id,
        "admin",
        {"member": world.buyer_id, "order_id": "x"},
        subcommand_path="order link",
        channel_id=world.staff_channel_id,
    )
    assert (await driven.wait_for_response())["data"]["content"].startswith("linked x")


async def test_overrides_are_checked_against_the_spec(
    emu: Emulator, bot: MiniBot, needs_spec: None
) -> None:
    with pytest.raises(ValueError, match="refuse"):
        await emu.set_command_permissions(
            "staffonly", [{"id": "not-a-snowflake", "type": USER, "permission": True}]
        )
    # A bot token can read overrides but never change them.
    url = (
        f"{emu.api_base}/applications/{emu.world.application_id}/guilds/"
        f"{emu.world.guild_id}/commands/{emu.world.application_id}/permissions"
    )
    async with aiohttp.ClientSession() as session:
        async with session.put(url, json={"permissions": []}, headers=AUTH) as resp:
            assert resp.status == 403
            assert (await resp.json())["code"] == 20001
        async with session.get(url, headers=AUTH) as resp:
            assert resp.status == 404
            assert (await resp.json())["code"] == 10066


# -- a DM stored, then answered with an error ----------------------------------------------


async def _dm_channel(emu: Emulator, bot: MiniBot, user_id: int) -> tuple[discord.User, int]:
    user = await bot.fetch_user(user_id)
    channel = await user.create_dm()
    return user, channel.id


async def test_store_then_502_gets_exactly_discord_pys_retry(emu: Emulator, bot: MiniBot) -> None:
    user, channel_id = await _dm_channel(emu, bot, emu.world.buyer_id)
    fault = emu.inject_store_then_fail("POST", rf"^/channels/{channel_id}/messages$", 502)

    message = await user.send("your order is complete")

    # discord.py re-sent after the 502 (once: the fault was armed once)...
    assert fault.hits == 1
    assert _dm_posts(emu, channel_id) == [502, 200]
    # ...with the same random nonce and enforce_nonce, which discord.py 2.7 adds to every
    # send, so Discord answered the retry with the DM it had stored: one DM, not two.
    [dm] = emu.dms(emu.world.buyer_id)
    assert str(message.id) == dm["id"]
    assert dm["nonce"] == str(message.nonce)

    # Five 502s in a row: discord.py gives up after its fifth try and raises, though Discord
    # stored the DM (once, thanks to the nonce).
    emu.inject_store_then_fail("POST", rf"^/channels/{channel_id}/messages$", 502, count=5)
    with pytest.raises(discord.DiscordServerError):
        await _send_quickly(user, "your receipt")
    assert _dm_posts(emu, channel_id) == [502, 200] + [502] * 5
    assert [m["content"] for m in emu.dms(emu.world.buyer_id)][1:] == ["your receipt"]
    # A bot that re-sends on its own after that error gets a fresh nonce from discord.py:
    # the buyer gets the DM twice. Only a nonce the bot chooses itself prevents it.
    await user.send("your receipt")
    assert [m["content"] for m in emu.dms(emu.world.buyer_id)][1:] == ["your receipt"] * 2


async def _send_quickly(user: discord.User, content: str) -> discord.Message:
    """user.send with discord.py's retry sleeps (1, 3, 5, 7 s) shortened to keep tests fast."""
    real_sleep = asyncio.sleep

    async def no_wait(delay: float, *args: Any) -> Any:
        return await real_sleep(0)

    import discord.http as http

    original = http.asyncio.sleep
    http.asyncio.sleep = no_wait  # type: ignore[assignment]
    try:
        return await user.send(content)
    finally:
        http.asyncio.sleep = original


async def test_a_nonce_with_enforce_nonce_makes_the_retry_return_the_stored_dm(
    emu: Emulator, bot: MiniBot
) -> None:
    user, channel_id = await _dm_channel(emu, bot, emu.world.buyer_id)
    emu.inject_store_then_fail("POST", rf"^/channels/{channel_id}/messages$", 502)

    message = await user.send("your order is complete", nonce="order-42:completed")

    assert _dm_posts(emu, channel_id) == [502, 200]
    [dm] = emu.dms(emu.world.buyer_id)
    assert dm["id"] == str(message.id)
    assert dm["nonce"] == "order-42:completed"
    # Sending the same nonce again later still creates nothing new (within Discord's window).
    again = await user.send("your order is complete", nonce="order-42:completed")
    assert again.id == message.id
    assert len(emu.dms(emu.world.buyer_id)) == 1
    # A different nonce is a different message.
    await user.send("your order is complete", nonce="order-42:resend-1")
    assert len(emu.dms(emu.world.buyer_id)) == 2


async def test_a_nonce_without_enforce_nonce_does_not_deduplicate(raw_emu: Emulator) -> None:
    emu = raw_emu
    channel_id = emu.world.dm_channel_for(emu.world.buyer_id).id
    url = f"{emu.api_base}/channels/{channel_id}/messages"
    async with aiohttp.ClientSession() as session:
        ids: list[Any] = []
        for enforce in (False, False, True, True):
            body = {"content": "hi", "nonce": "n1", "enforce_nonce": enforce}
            async with session.post(url, json=body, headers=AUTH) as resp:
                assert resp.status == 200
                ids.append((await resp.json())["id"])
    # Without enforce_nonce each POST creates a message; with it, the latest one comes back.
    assert ids[0] != ids[1]
    assert ids[2] == ids[3] == ids[1]
    assert len(emu.dms(emu.world.buyer_id)) == 2


async def test_store_then_drop_stores_the_dm_and_the_bot_gets_no_answer(
    emu: Emulator, bot: MiniBot
) -> None:
    user, channel_id = await _dm_channel(emu, bot, emu.world.buyer_id)
    emu.inject_store_then_fail("POST", rf"^/channels/{channel_id}/messages$", drop=True)

    with pytest.raises((aiohttp.ClientError, OSError)):
        await user.send("your delivery")

    # The buyer has the DM even though the bot never learned it was sent.
    assert [m["content"] for m in emu.dms(emu.world.buyer_id)] == ["your delivery"]
    assert _dm_posts(emu, channel_id) == [0]
    # The connection pool recovers: the next send works.
    await user.send("second")
    assert len(emu.dms(emu.world.buyer_id)) == 2


async def test_store_then_fail_after_a_delay(emu: Emulator, bot: MiniBot) -> None:
    user, channel_id = await _dm_channel(emu, bot, emu.world.buyer_id)
    emu.inject_store_then_fail("POST", rf"^/channels/{channel_id}/messages$", 404, delay=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(discord.NotFound):
        await user.send("slow")
    assert loop.time() - started >= 0.2
    # Stored before the delay: visible while the bot is still waiting for its answer.
    assert [m["content"] for m in emu.dms(emu.world.buyer_id)] == ["slow"]
