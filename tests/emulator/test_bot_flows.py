"""A real discord.py client, in process, driven through the emulator."""

from __future__ import annotations

import asyncio
import math

import discord
import pytest

from emulator import Emulator, OptionError

from .minibot import MiniBot

EPHEMERAL = 64
LOADING = 128


async def test_login_ready_and_guild_create(emu: Emulator, bot: MiniBot) -> None:
    world = emu.world
    assert bot.user is not None and bot.user.id == world.bot_user_id
    assert bot.application_id == world.application_id
    guild = bot.get_guild(world.guild_id)
    assert guild is not None and not guild.unavailable
    assert {c.name for c in guild.text_channels} == {"general", "staff", "order-notices"}
    assert guild.get_role(world.staff_role_id) is not None
    # With the members intent every member arrives, so the guild counts as chunked.
    assert guild.member_count == len(guild.members) == len(world.members)
    assert guild.chunked
    staff = guild.get_member(world.staff_id)
    assert staff is not None and world.staff_role_id in [r.id for r in staff.roles]
    assert guild.me is not None and guild.me.id == world.bot_user_id


async def test_command_sync_lands_in_the_guild(emu: Emulator, bot: MiniBot) -> None:
    guild_cmds = {c["name"]: c for c in emu.commands(emu.world.guild_id)}
    assert {"echo", "slow", "shop", "form", "pick", "notify", "admin"} <= set(guild_cmds)
    assert [c["name"] for c in emu.commands()] == ["ping"]
    echo = guild_cmds["echo"]
    assert echo["guild_id"] == str(emu.world.guild_id)
    assert [(o["name"], o["type"]) for o in echo["options"]] == [("text", 3), ("count", 4)]
    # A second sync keeps command ids stable.
    synced = await bot.tree.sync(guild=discord.Object(emu.world.guild_id))
    assert {c.name: str(c.id) for c in synced}["echo"] == echo["id"]


async def test_slash_command_ephemeral_reply_and_followup(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(emu.world.staff_id, "echo", {"text": "hi", "count": 3})
    response = await driven.wait_for_response()
    assert response["type"] == 4
    assert response["data"]["content"] == "echo hi"
    assert response["data"]["flags"] == EPHEMERAL
    followup = await driven.wait_for_followup()
    assert followup["content"] == "followup 3"
    assert followup["flags"] == EPHEMERAL
    assert driven.original_message is not None
    assert driven.original_message["content"] == "echo hi"
    assert driven.original_message["flags"] & EPHEMERAL
    seen = bot.seen.echo[0]
    assert (seen["text"], seen["count"], seen["id"]) == ("hi", 3, driven.id)
    assert isinstance(seen["user"], discord.Member)
    assert emu.world.staff_role_id in [r.id for r in seen["user"].roles]
    # Ephemeral replies are not part of the channel's visible history.
    assert emu.channel_messages(emu.world.general_channel_id) == []


async def test_option_checks_match_discords_client(emu: Emulator, bot: MiniBot) -> None:
    with pytest.raises(OptionError, match="max_value"):
        await emu.send_slash_command(emu.world.buyer_id, "echo", {"text": "x", "count": 11})
    with pytest.raises(OptionError, match="needs option 'text'"):
        await emu.send_slash_command(emu.world.buyer_id, "echo", {})
    with pytest.raises(OptionError, match="no option"):
        await emu.send_slash_command(emu.world.buyer_id, "echo", {"text": "x", "bogus": 1})
    with pytest.raises(TimeoutError, match="never"):
        await emu.send_slash_command(emu.world.buyer_id, "never", timeout=0.1)


async def test_default_member_permissions_hide_a_command(emu: Emulator, bot: MiniBot) -> None:
    [cmd] = [c for c in emu.commands(emu.world.guild_id) if c["name"] == "staffonly"]
    assert cmd["default_member_permissions"] == str(1 << 13)
    with pytest.raises(PermissionError, match="hidden"):
        await emu.send_slash_command(emu.world.buyer_id, "staffonly")
    driven = await emu.send_slash_command(emu.world.staff_id, "staffonly")
    assert (await driven.wait_for_response())["data"]["content"] == "welcome, staff"


async def test_defer_then_followup_fills_the_thinking_message(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(emu.world.buyer_id, "slow")
    response = await driven.wait_for_response()
    assert response == {"type": 5, "data": {"flags": EPHEMERAL}}
    first = await driven.wait_for_followup()
    second = await driven.wait_for_followup()
    # The first followup replaces the loading message and keeps the deferred ephemeral flag.
    assert first["id"] == str(driven.original_message_id)
    assert first["content"] == "done" and first["flags"] == EPHEMERAL
    assert second["content"] == "and more" and second["id"] != first["id"]
    assert second["flags"] == 0
    original = await driven.wait_for_original()
    assert original["content"] == "done" and not original["flags"] & LOADING


async def test_button_round_trip(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(emu.world.buyer_id, "shop")
    await driven.wait_for_response()
    message = driven.original_message
    assert message is not None
    buttons = [c for row in message["components"] for c in row["components"]]
    assert [b["custom_id"] for b in buttons] == ["confirm", "cancel"]

    with pytest.raises(PermissionError):
        await emu.press_button(emu.world.buyer2_id, message, "confirm")

    press = await emu.press_button(emu.world.buyer_id, message, "confirm")
    response = await press.wait_for_response()
    assert response["type"] == 7
    assert response["data"]["content"] == "confirmed"
    assert response["data"]["components"] == []
    updated = emu.message(int(message["id"]))
    assert updated is not None
    assert updated["content"] == "confirmed" and updated["components"] == []
    assert press.original_message == updated


async def test_select_menu_and_disabled_button(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(emu.world.buyer_id, "plans")
    await driven.wait_for_response()
    message = await emu.wait_for_channel_message(emu.world.general_channel_id)
    assert message["id"] == str(driven.original_message_id)
    with pytest.raises(ValueError, match="disabled"):
        await emu.press_button(emu.world.buyer_id, message, "soldout")
    with pytest.raises(ValueError, match="no option"):
        await emu.select_menu(emu.world.buyer_id, message, "plan", ["lifetime"])
    # Anyone in the channel can use a non-ephemeral message's components.
    picked = await emu.select_menu(emu.world.buyer2_id, message, "plan", ["12m"])
    answer = await picked.wait_for_response()
    assert answer["data"] == {"content": "plan 12m", "flags": EPHEMERAL, "tts": False}


async def test_edit_and_delete_through_the_webhook(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(emu.world.buyer_id, "revise")
    await emu._wait(lambda: bot.seen.echo or None, 5, "the revise command to finish")
    assert bot.seen.echo == [{"original": "final"}]
    assert driven.original_message is not None
    assert driven.original_message["content"] == "final"
    assert driven.original_message["edited_timestamp"] is not None
    [temporary] = driven.followups
    assert temporary["content"] == "temporary"
    assert emu.message(int(temporary["id"])) is None  # deleted
    assert [m["content"] for m in emu.channel_messages(emu.world.general_channel_id)] == ["final"]


async def test_modal_round_trip(emu: Emulator, bot: MiniBot) -> None:
    opener = await emu.send_slash_command(emu.world.buyer_id, "form")
    response = await opener.wait_for_response()
    assert response["type"] == 9
    assert opener.modal is not None and opener.modal["custom_id"] == "phone_modal"

    with pytest.raises(ValueError, match="min_length"):
        await emu.submit_modal(emu.world.buyer_id, "phone_modal", {"phone": "123"})

    submit = await emu.submit_modal(emu.world.buyer_id, "phone_modal", {"phone": "+919876543210"})
    answer = await submit.wait_for_response()
    assert answer["data"]["content"] == "phone=+919876543210"
    assert bot.seen.modal_values == ["+919876543210"]
    rows = submit.payload["data"]["components"]
    assert [row["type"] for row in rows] == [1, 1]
    assert rows[1]["components"][0] == {
        "type": 4,
        "id": rows[1]["components"][0]["id"],
        "custom_id": "note",
        "value": "",
    }


async def test_label_modal_round_trip(emu: Emulator, bot: MiniBot) -> None:
    opener = await emu.send_slash_command(emu.world.buyer_id, "labelled")
    await opener.wait_for_response()
    assert opener.modal is not None
    assert opener.modal["components"][0]["type"] == 18
    submit = await emu.submit_modal(emu.world.buyer_id, "label_modal", {"code": "shopdemo"})
    answer = await submit.wait_for_response()
    assert answer["data"]["content"] == "code=shopdemo"
    label = submit.payload["data"]["components"][0]
    assert label["type"] == 18 and label["component"]["value"] == "shopdemo"
    # Not ephemeral: it is visible in the channel.
    visible = await emu.wait_for_channel_message(emu.world.general_channel_id)
    assert visible["content"] == "code=shopdemo"


async def test_autocomplete(emu: Emulator, bot: MiniBot) -> None:
    choices = await emu.send_autocomplete(
        emu.world.buyer_id, "pick", {"product": "netf"}, "product"
    )
    assert choices == [
        {"name": "netflix-1m", "value": "netflix-1m"},
        {"name": "netflix-12m", "value": "netflix-12m"},
    ]


async def test_subcommand_group_with_a_member_option(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(
        emu.world.staff_id,
        "admin",
        {"member": emu.world.buyer_id, "order_id": "ABC123"},
        subcommand_path="order link",
        channel_id=emu.world.staff_channel_id,
    )
    response = await driven.wait_for_response()
    assert response["data"]["content"] == f"linked ABC123 to {emu.world.buyer_id}"
    member, order_id = bot.seen.links[0]
    assert isinstance(member, discord.Member) and member.id == emu.world.buyer_id
    assert order_id == "ABC123"
    options = driven.payload["data"]["options"]
    assert options[0]["type"] == 2 and options[0]["options"][0]["type"] == 1
    with pytest.raises(OptionError, match="subcommand"):
        await emu.send_slash_command(emu.world.staff_id, "admin", {"order_id": "x"})


async def test_dm_context_command(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(emu.world.buyer_id, "ping", dm=True)
    response = await driven.wait_for_response()
    assert response["data"]["content"] == "pong True"
    assert "user" in driven.payload and "member" not in driven.payload
    assert emu.dms(emu.world.buyer_id)[0]["content"] == "pong True"


async def test_dm_arrives(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(
        emu.world.buyer_id, "notify", {"user": emu.world.buyer2_id}
    )
    assert (await driven.wait_for_response())["data"]["content"] == "sent"
    dm = await emu.wait_for_dm(emu.world.buyer2_id)
    assert dm["content"] == "hello from the shop"
    assert dm["author"]["id"] == str(emu.world.bot_user_id)
    assert emu.dms(emu.world.buyer2_id) == [dm]


async def test_dm_to_closed_dms_is_forbidden(emu: Emulator, bot: MiniBot) -> None:
    emu.set_dms_closed(emu.world.buyer2_id)
    driven = await emu.send_slash_command(
        emu.world.buyer_id, "notify", {"user": emu.world.buyer2_id}
    )
    assert (await driven.wait_for_response())["data"]["content"] == "forbidden 50007"
    error = bot.seen.errors[0]
    assert isinstance(error, discord.Forbidden) and error.code == 50007
    assert emu.dms(emu.world.buyer2_id) == []
    assert emu.rejected_dms[0]["user_id"] == emu.world.buyer2_id


async def test_redelivered_interaction_is_acknowledged_only_once(
    emu: Emulator, bot: MiniBot
) -> None:
    driven = await emu.send_slash_command(emu.world.buyer_id, "echo", {"text": "once"})
    await driven.wait_for_followup()
    await emu.redeliver(driven)
    await emu._wait(lambda: bot.seen.errors or None, 5, "the bot to see the 40060")
    error = bot.seen.errors[0]
    assert isinstance(error, discord.HTTPException) and error.code == 40060
    assert len(driven.callbacks) == 1
    assert driven.rejected[0]["code"] == 40060
    assert [e["id"] for e in bot.seen.echo] == [driven.id, driven.id]


async def test_injected_429_is_retried_by_discord_py(emu: Emulator, bot: MiniBot) -> None:
    fault = emu.inject_rate_limit("POST", r"^/channels/\d+/messages$", retry_after=0.2)
    driven = await emu.send_slash_command(emu.world.staff_id, "announce", {"text": "restock"})
    await driven.wait_for_followup()
    posted = await emu.wait_for_channel_message(emu.world.staff_channel_id)
    assert posted["content"] == "restock"
    assert fault.hits == 1
    statuses = [
        r.status for r in emu.requests if r.path.endswith("/messages") and r.method == "POST"
    ]
    assert statuses[-2:] == [429, 200]


async def test_injected_502_is_retried(emu: Emulator, bot: MiniBot) -> None:
    fault = emu.inject_error("POST", r"^/channels/\d+/messages$", 502, message="Bad Gateway")
    channel = bot.get_channel(emu.world.notice_channel_id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("after a blip")
    assert fault.hits == 1
    assert emu.message(sent.id) is not None


async def test_file_reply_keeps_the_bytes(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(emu.world.buyer_id, "report")
    await driven.wait_for_response()
    message = driven.original_message
    assert message is not None
    [attachment] = message["attachments"]
    assert attachment["filename"] == "report.csv"
    assert emu.attachment_bytes(attachment) == b"id,status\n1,done\n"


async def test_heartbeat_is_acknowledged(emu: Emulator, bot: MiniBot) -> None:
    assert emu.gateway.heartbeats >= 1
    assert math.isfinite(bot.latency)


async def test_resume_after_a_dropped_connection(emu: Emulator, bot: MiniBot) -> None:
    assert await emu.disconnect_bot() == 1
    await asyncio.wait_for(bot.seen.resumed.wait(), 10)
    assert emu.gateway.resumes == 1 and emu.gateway.identifies == 1
    driven = await emu.send_slash_command(emu.world.buyer_id, "echo", {"text": "still here"})
    assert (await driven.wait_for_response())["data"]["content"] == "echo still here"


async def test_reconnect_opcode_resumes(emu: Emulator, bot: MiniBot) -> None:
    await emu.request_reconnect()
    await asyncio.wait_for(bot.seen.resumed.wait(), 10)
    assert emu.gateway.resumes == 1


async def test_invite_lookup(emu: Emulator, bot: MiniBot) -> None:
    invite = await bot.fetch_invite("shopdemo")
    assert isinstance(invite.guild, discord.Guild | discord.PartialInviteGuild)
    assert invite.guild.name == "Demo Server"
    assert invite.approximate_member_count == 42
    emu.add_invite("bigshop", "Big Shop", member_count=5000)
    assert (await bot.fetch_invite("https://discord.gg/bigshop")).approximate_member_count == 5000
    with pytest.raises(discord.NotFound) as info:
        await bot.fetch_invite("nope")
    assert info.value.code == 10006


async def test_fetch_calls(emu: Emulator, bot: MiniBot) -> None:
    world = emu.world
    user = await bot.fetch_user(world.buyer_id)
    assert user.name == "buyer"
    guild = await bot.fetch_guild(world.guild_id)
    assert guild.name == world.guild_name
    member = await guild.fetch_member(world.staff_id)
    assert world.staff_role_id in member._roles
    channel = await bot.fetch_channel(world.staff_channel_id)
    assert isinstance(channel, discord.TextChannel) and channel.name == "staff"
    with pytest.raises(discord.NotFound):
        await bot.fetch_user(1)


async def test_added_member_reaches_the_bot(emu: Emulator, bot: MiniBot) -> None:
    uid = emu.add_member("newcomer")
    guild = bot.get_guild(emu.world.guild_id)
    assert guild is not None
    await emu._wait(lambda: guild.get_member(uid), 5, "GUILD_MEMBER_ADD")
    driven = await emu.send_slash_command(uid, "echo", {"text": "new"})
    assert (await driven.wait_for_response())["data"]["content"] == "echo new"


async def test_bad_token_fails_login(raw_emu: Emulator) -> None:
    client = discord.Client(intents=discord.Intents.default())
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
    finally:
        await client.close()
