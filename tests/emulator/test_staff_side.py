"""Staff-side Discord behaviours, end to end: attachment options, modals opened from a button,
and a channel message's buttons pressed by someone other than the member who caused it."""

from __future__ import annotations

import asyncio

import discord
import pytest

from emulator import Emulator, OptionError
from emulator.world import MANAGE_MESSAGES, VIEW_CHANNEL, Overwrite

from .minibot import ApprovalView, MiniBot, start_bot

EPHEMERAL = 64
MESSAGE_COMPONENT, MODAL_SUBMIT = 3, 5
CB_CHANNEL_MESSAGE, CB_DEFERRED_CHANNEL_MESSAGE, CB_UPDATE_MESSAGE, CB_MODAL = 4, 5, 7, 9
ATTACHMENT_OPTION = 11
# Not valid UTF-8, with a NUL: the bytes must survive untouched, not as text.
KEYS = b"KEY-AAAA-1111\nKEY-BBBB-2222\n\x00\xff\xfe end"


def _buttons(message: dict[str, object]) -> dict[str, dict[str, object]]:
    rows = message["components"]
    assert isinstance(rows, list)
    return {c["custom_id"]: c for row in rows for c in row["components"]}


# -- 1. an attachment option ---------------------------------------------------------------


async def test_attachment_option_bytes_reach_the_bot(emu: Emulator, bot: MiniBot) -> None:
    [cmd] = [c for c in emu.commands(emu.world.guild_id) if c["name"] == "upload"]
    assert [(o["name"], o["type"], o.get("required", False)) for o in cmd["options"]] == [
        ("file", ATTACHMENT_OPTION, True),
        ("note", 3, False),
    ]

    driven = await emu.send_slash_command(
        emu.world.staff_id,
        "upload",
        {
            "file": {"filename": "keys.txt", "data": KEYS, "content_type": "text/plain"},
            "note": "restock",
        },
    )
    # The bot deferred, downloaded the file from the attachment's URL, then answered.
    assert (await driven.wait_for_response())["type"] == CB_DEFERRED_CHANNEL_MESSAGE
    answer = await driven.wait_for_followup()
    assert answer["content"] == f"got keys.txt ({len(KEYS)} bytes)"
    assert answer["flags"] == EPHEMERAL

    [seen] = bot.seen.uploads
    assert seen["data"] == KEYS
    assert seen["filename"] == "keys.txt"
    assert seen["size"] == len(KEYS)
    assert seen["content_type"] == "text/plain"
    assert seen["note"] == "restock"

    # What Discord sends: the option's value is the attachment id, resolved in data.resolved.
    data = driven.payload["data"]
    [file_opt, note_opt] = data["options"]
    assert file_opt == {"type": ATTACHMENT_OPTION, "name": "file", "value": str(seen["id"])}
    assert note_opt == {"type": 3, "name": "note", "value": "restock"}
    attachment = data["resolved"]["attachments"][str(seen["id"])]
    assert attachment["id"] == str(seen["id"])
    assert attachment["filename"] == "keys.txt"
    assert attachment["size"] == len(KEYS)
    assert attachment["content_type"] == "text/plain"
    assert attachment["url"].startswith(emu.base_url)
    # The payload carries only the URL: the bot's bytes came from fetching it.
    assert "data" not in attachment and "content" not in attachment
    assert emu.attachment_bytes(attachment) == KEYS


async def test_attachment_option_as_a_filename_and_bytes_pair(emu: Emulator, bot: MiniBot) -> None:
    driven = await emu.send_slash_command(
        emu.world.buyer_id, "upload", {"file": ("proof.bin", b"\x89PNG\r\n")}
    )
    await driven.wait_for_followup()
    [seen] = bot.seen.uploads
    assert (seen["filename"], seen["data"], seen["size"]) == ("proof.bin", b"\x89PNG\r\n", 6)
    assert seen["content_type"] == "application/octet-stream"
    assert seen["note"] is None
    assert [o["name"] for o in driven.payload["data"]["options"]] == ["file"]


async def test_required_attachment_option_missing(emu: Emulator, bot: MiniBot) -> None:
    with pytest.raises(OptionError, match="needs option 'file'"):
        await emu.send_slash_command(emu.world.staff_id, "upload", {"note": "no file"})
    assert bot.seen.uploads == []
    assert not any(d.payload["data"].get("name") == "upload" for d in emu.interactions.values())


# -- 2. a modal opened from a button -------------------------------------------------------


async def test_modal_opened_from_a_button(emu: Emulator, bot: MiniBot) -> None:
    buyer = emu.world.buyer_id
    opener = await emu.send_slash_command(buyer, "fixorder")
    assert (await opener.wait_for_response())["type"] == CB_CHANNEL_MESSAGE
    prompt = opener.original_message
    assert prompt is not None and prompt["flags"] & EPHEMERAL
    assert list(_buttons(prompt)) == ["fix_open"]

    press = await emu.press_button(buyer, prompt, "fix_open")
    response = await press.wait_for_response()
    assert response["type"] == CB_MODAL
    modal = press.modal
    assert modal is not None
    custom_id = f"fix:{press.id}"
    assert modal["custom_id"] == custom_id and modal["title"] == "Fix an order"
    # A modal answer creates no message: the prompt is unchanged.
    assert press.original_message_id is None
    assert emu.message(int(prompt["id"])) == prompt

    # Only the modal that was opened can be submitted, and only by the member it was shown to.
    with pytest.raises(LookupError, match="never opened"):
        await emu.submit_modal(buyer, "fix_open", {"reason": "x"})
    with pytest.raises(LookupError, match="never opened"):
        await emu.submit_modal(buyer, f"fix:{opener.id}", {"reason": "x"})
    with pytest.raises(LookupError, match="never opened"):
        await emu.submit_modal(emu.world.buyer2_id, custom_id, {"reason": "x"})
    with pytest.raises(ValueError, match="required"):
        await emu.submit_modal(buyer, custom_id, {"code": "ABC"})

    submit = await emu.submit_modal(
        buyer, custom_id, {"reason": "the key was already used", "code": "NEW-KEY-1"}
    )
    answer = await submit.wait_for_response()
    assert answer["type"] == CB_CHANNEL_MESSAGE
    assert answer["data"]["content"] == "noted: the key was already used"
    assert answer["data"]["flags"] == EPHEMERAL

    # Discord includes the message the modal was opened from in MODAL_SUBMIT.
    payload = submit.payload
    assert payload["type"] == MODAL_SUBMIT
    assert payload["message"]["id"] == prompt["id"]
    assert payload["message"]["components"] == prompt["components"]
    assert payload["data"]["custom_id"] == custom_id
    inputs = {
        c["custom_id"]: c["value"]
        for row in payload["data"]["components"]
        for c in row["components"]
    }
    assert inputs == {"reason": "the key was already used", "code": "NEW-KEY-1"}
    assert bot.seen.fixes == [
        {
            "custom_id": custom_id,
            "user_id": buyer,
            "message_id": int(prompt["id"]),
            "reason": "the key was already used",
            "code": "NEW-KEY-1",
        }
    ]
    # Discord closes a modal once its submit is answered: it can't be submitted again.
    with pytest.raises(LookupError, match="already submitted"):
        await emu.submit_modal(buyer, custom_id, {"reason": "again"}, source_interaction=press)


async def test_badly_shaped_attachment_values_are_refused(emu: Emulator, bot: MiniBot) -> None:
    for value in ("ab", "keys.txt", 5, {"data": b"x"}, {"filename": "a.txt", "data": 5}):
        with pytest.raises(OptionError, match="file"):
            await emu.send_slash_command(emu.world.staff_id, "upload", {"file": value})
    assert bot.seen.uploads == []


async def test_two_modals_from_the_same_button_stay_apart(emu: Emulator, bot: MiniBot) -> None:
    buyer = emu.world.buyer_id
    opener = await emu.send_slash_command(buyer, "fixorder")
    await opener.wait_for_response()
    prompt = opener.original_message
    assert prompt is not None
    first = await emu.press_button(buyer, prompt, "fix_open")
    second = await emu.press_button(buyer, prompt, "fix_open")
    await asyncio.gather(first.wait_for_response(), second.wait_for_response())
    assert first.modal is not None and second.modal is not None
    assert first.modal["custom_id"] != second.modal["custom_id"]

    # Submit the older one: it reaches the modal object of that press, not the newer one.
    done = await emu.submit_modal(
        buyer, f"fix:{first.id}", {"reason": "first"}, source_interaction=first
    )
    await done.wait_for_response()
    assert [(f["custom_id"], f["reason"]) for f in bot.seen.fixes] == [(f"fix:{first.id}", "first")]


# -- 3. a channel message's button pressed by another member --------------------------------


async def _post_order(emu: Emulator, bot: MiniBot, item: str) -> dict[str, object]:
    """The buyer orders; the bot posts the order, with buttons, in the staff channel."""
    driven = await emu.send_slash_command(emu.world.buyer_id, "order", {"item": item})
    ack = await driven.wait_for_followup()
    posted = await emu.wait_for_channel_message(emu.world.staff_channel_id)
    assert ack["content"] == f"order {posted['id']} sent to staff"
    assert bot.seen.orders[-1] == int(str(posted["id"]))
    return posted


async def test_staff_member_approves_a_buyers_order(emu: Emulator, bot: MiniBot) -> None:
    world = emu.world
    posted = await _post_order(emu, bot, "netflix-1m")
    mid = int(str(posted["id"]))
    # A plain channel message (POST /channels/{id}/messages), not an interaction response.
    assert posted["content"] == f"Order netflix-1m for <@{world.buyer_id}>"
    assert posted["flags"] == 0 and "interaction_metadata" not in posted
    assert posted["author"]["id"] == str(world.bot_user_id)  # type: ignore[index]
    buttons = _buttons(posted)
    assert list(buttons) == ["order:approve", "order:reject"]
    assert not any(b.get("disabled") for b in buttons.values())

    press = await emu.press_button(world.staff_id, posted, "order:approve")
    response = await press.wait_for_response()
    followup = await press.wait_for_followup()

    # The bot saw who pressed (the staff member), not who caused the message.
    assert bot.seen.approvals == [
        {
            "decision": "approved",
            "user_id": world.staff_id,
            "message_id": mid,
            "author_id": world.bot_user_id,
        }
    ]
    assert press.user_id == world.staff_id
    assert press.payload["type"] == MESSAGE_COMPONENT
    assert press.payload["member"]["user"]["id"] == str(world.staff_id)
    assert press.payload["message"]["id"] == str(mid)

    # UPDATE_MESSAGE edits the order message in place: buttons disabled.
    assert response["type"] == CB_UPDATE_MESSAGE
    expected = f"Order netflix-1m for <@{world.buyer_id}>\napproved by <@{world.staff_id}>"
    assert response["data"]["content"] == expected
    stored = emu.message(mid)
    assert stored is not None
    assert stored["content"] == expected and stored["edited_timestamp"] is not None
    assert stored["flags"] == 0
    assert {cid: b.get("disabled") for cid, b in _buttons(stored).items()} == {
        "order:approve": True,
        "order:reject": True,
    }
    assert press.original_message_id == mid

    # The confirmation is ephemeral, for the presser only.
    assert followup["content"] == f"approved order {mid}"
    assert followup["flags"] == EPHEMERAL
    assert followup["interaction_metadata"]["user"]["id"] == str(world.staff_id)
    staff_channel = emu.channel_messages(world.staff_channel_id)
    assert [m["id"] for m in staff_channel] == [str(mid)]
    with pytest.raises(PermissionError, match="ephemeral"):
        await emu.press_button(world.owner_id, followup, "order:approve")

    # The buttons are now disabled: no one can press them again.
    for custom_id in ("order:approve", "order:reject"):
        with pytest.raises(ValueError, match="disabled"):
            await emu.press_button(world.staff_id, mid, custom_id)
    assert len(bot.seen.approvals) == 1


async def test_reject_by_the_owner(emu: Emulator, bot: MiniBot) -> None:
    world = emu.world
    posted = await _post_order(emu, bot, "spotify-1m")
    press = await emu.press_button(world.owner_id, posted, "order:reject")
    assert (await press.wait_for_response())["type"] == CB_UPDATE_MESSAGE
    assert (await press.wait_for_followup())["content"] == f"rejected order {posted['id']}"
    assert [(a["decision"], a["user_id"]) for a in bot.seen.approvals] == [
        ("rejected", world.owner_id)
    ]
    stored = emu.message(int(str(posted["id"])))
    assert stored is not None and stored["content"].endswith(f"rejected by <@{world.owner_id}>")


async def test_member_who_sees_the_channel_but_is_not_staff_is_refused_by_the_bot(
    emu: Emulator, bot: MiniBot
) -> None:
    world = emu.world
    helper = emu.add_member("helper")
    # Let the helper see the staff channel, without manage_messages.
    world.channels[world.staff_channel_id].overwrites.append(
        Overwrite(helper, 1, allow=VIEW_CHANNEL)
    )
    perms = world.channel_permissions(helper, world.staff_channel_id)
    assert perms & VIEW_CHANNEL and not perms & MANAGE_MESSAGES
    posted = await _post_order(emu, bot, "netflix-12m")

    press = await emu.press_button(helper, posted, "order:approve")
    answer = await press.wait_for_response()
    assert answer["type"] == CB_CHANNEL_MESSAGE
    assert answer["data"]["content"] == "staff only"
    assert answer["data"]["flags"] == EPHEMERAL
    assert int(press.payload["member"]["permissions"]) == perms
    # Nothing changed: no decision, the message and its buttons are as posted.
    assert bot.seen.approvals == []
    assert emu.message(int(str(posted["id"]))) == posted


async def test_member_who_cannot_see_the_channel_cannot_press(emu: Emulator, bot: MiniBot) -> None:
    world = emu.world
    buyer, staff_channel = world.buyer_id, world.staff_channel_id
    assert not world.channel_permissions(buyer, staff_channel) & VIEW_CHANNEL
    posted = await _post_order(emu, bot, "netflix-1m")
    dispatched = len(emu.interactions)
    # Discord's client never shows the buyer the staff channel: no click, no command there.
    with pytest.raises(PermissionError, match="cannot see channel"):
        await emu.press_button(buyer, posted, "order:approve")
    with pytest.raises(PermissionError, match="cannot see channel"):
        await emu.send_slash_command(buyer, "order", {"item": "x"}, channel_id=staff_channel)
    assert len(emu.interactions) == dispatched  # nothing reached the bot
    assert bot.seen.approvals == []
    assert emu.message(int(str(posted["id"]))) == posted
    # Once the channel is opened to them, the same click reaches the bot (which then
    # applies its own staff check).
    world.channels[staff_channel].overwrites.append(Overwrite(buyer, 1, allow=VIEW_CHANNEL))
    press = await emu.press_button(buyer, posted, "order:approve")
    assert (await press.wait_for_response())["data"]["content"] == "staff only"


async def test_persistent_view_survives_a_bot_restart(emu: Emulator) -> None:
    world = emu.world
    first, task = await start_bot(emu)
    try:
        channel = first.get_channel(world.staff_channel_id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("Order #42 (manual)", view=ApprovalView(first.seen))
    finally:
        await first.close()
        await asyncio.wait_for(task, 5)

    second, task = await start_bot(emu)
    try:
        # Only the view registered in setup_hook can answer: the first process is gone.
        press = await emu.press_button(world.staff_id, sent.id, "order:approve")
        assert (await press.wait_for_response())["type"] == CB_UPDATE_MESSAGE
        await press.wait_for_followup()
        assert first.seen.approvals == []
        assert second.seen.approvals == [
            {
                "decision": "approved",
                "user_id": world.staff_id,
                "message_id": sent.id,
                "author_id": world.bot_user_id,
            }
        ]
        stored = emu.message(sent.id)
        assert stored is not None
        assert all(b.get("disabled") for b in _buttons(stored).values())
    finally:
        await second.close()
        await asyncio.wait_for(task, 5)
