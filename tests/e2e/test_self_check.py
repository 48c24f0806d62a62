"""Issue 16: the start-up self-check, through the Discord emulator and the sandboxes.

Each Discord-side mistake a shop owner makes stops `run` with exit 2 and one line saying
what to do (never a traceback); a provider that is down is a warning, and the bot still
starts; `check-config --online` reports every problem at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from demo.stack import REPO_ROOT, LocalStack
from emulator.world import ADMINISTRATOR, SEND_MESSAGES, VIEW_CHANNEL, Overwrite
from tests.e2e.helpers import (
    assert_only_its_own_lines,
    closed_port,
    embed_text,
    problem_lines,
    run_bot,
)

INVITE = "https://discord.com/oauth2/authorize?client_id="


# `python -m bot run` and `check-config --online`: their output and exit status.
pytestmark = pytest.mark.subprocess


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        ("wrong_guild", "The bot is not in the server GUILD_ID=42 "),
        ("missing_channel", "STAFF_CHANNEL_ID=43 is not a channel in Emulated Shop"),
        ("unknown_role", "STAFF_ROLE_ID=44 is not a role in Emulated Shop"),
        ("no_permission", "The bot can't see it and send messages in #staff (STAFF_CHANNEL_ID)"),
    ],
)
async def test_each_discord_mistake_stops_run_with_one_line(
    parts: LocalStack, mistake: str, expected: str
) -> None:
    world = parts.emulator.world
    env: dict[str, str] = {}
    if mistake == "wrong_guild":
        env["GUILD_ID"] = "42"
    elif mistake == "missing_channel":
        env["STAFF_CHANNEL_ID"] = "43"
    elif mistake == "unknown_role":
        env["STAFF_ROLE_ID"] = "44"
    else:
        staff = world.channels[world.staff_channel_id]
        staff.overwrites = [o for o in staff.overwrites if o.id != world.bot_role_id] + [
            Overwrite(world.bot_role_id, 0, allow=VIEW_CHANNEL, deny=SEND_MESSAGES)
        ]
    status, output = await run_bot(parts, ["run"], env)
    assert status == 2, output
    (line,) = problem_lines(output)
    assert expected in line, output
    if mistake == "wrong_guild":
        assert INVITE in line and "applications.commands" in line
    assert "Traceback" not in output
    assert not parts.emulator.gateway.sessions  # it never went online half set up


async def test_a_provider_that_is_down_is_a_warning_and_the_bot_starts(
    parts: LocalStack,
) -> None:
    port = closed_port()
    parts.extra_env["NAMEFI_API_BASE_URL"] = f"http://127.0.0.1:{port}"
    await parts.start_bot()
    await parts.let_staff_see_admin()
    log: str = ""
    for _ in range(100):
        log = parts.bot_log()
        if "start-up check: namefi" in log:
            break
        await asyncio.sleep(0.1)
    warning = next(line for line in log.splitlines() if "start-up check: namefi" in line)
    assert f"namefi at http://127.0.0.1:{port}: cannot connect" in warning
    assert "Traceback" not in log
    _, answer = await parts.admin("providers")
    namefi = next(
        f["value"]
        for e in answer.get("embeds") or []
        for f in e.get("fields") or []
        if "namefi" in f["name"].lower()
    )
    assert "start-up check" in namefi, embed_text(answer)
    # The other providers were asked once each, and answered.
    assert "start-up check: boost" not in log


async def test_check_config_online_reports_every_problem_at_once(parts: LocalStack) -> None:
    world = parts.emulator.world
    notices = world.channels[world.notice_channel_id]
    notices.overwrites = [o for o in notices.overwrites if o.id != world.bot_role_id] + [
        Overwrite(world.bot_role_id, 0, deny=SEND_MESSAGES)
    ]
    env: dict[str, Any] = {
        "STAFF_ROLE_ID": "44",
        "STAFF_CHANNEL_ID": "43",
        "BUYER_ROLE_ID": "45",
        "BOOST_API_BASE_URL": f"http://127.0.0.1:{closed_port()}",
        "CATALOG_PATH": str(REPO_ROOT / "catalog.toml"),
    }
    status, output = await run_bot(parts, ["check-config", "--online"], env)
    assert status == 2, output
    problems = problem_lines(output)
    assert len(problems) == 4, output
    for expected in (
        "STAFF_ROLE_ID=44 is not a role",
        "BUYER_ROLE_ID=45 is not a role",
        "STAFF_CHANNEL_ID=43 is not a channel",
        "The bot can't see it, send messages and read its history in #order-notices",
    ):
        assert any(expected in p for p in problems), (expected, output)
    assert "WARNING: boost at http://127.0.0.1:" in output and "cannot connect" in output
    assert "Traceback" not in output
    assert_only_its_own_lines(output)

    # Set up right: OK, exit 0, and nothing went online.
    notices.overwrites = [o for o in notices.overwrites if o.id != world.bot_role_id]
    notices.overwrites.append(Overwrite(world.bot_role_id, 0, allow=SEND_MESSAGES))
    status, output = await run_bot(parts, ["check-config", "--online"], {})
    assert status == 0, output
    assert "OK: Discord is set up as the settings say" in output
    assert not parts.emulator.gateway.sessions
    assert_only_its_own_lines(output)


async def test_discord_failing_during_the_check_is_one_line_not_a_traceback(
    parts: LocalStack,
) -> None:
    # Discord answers 503 to every try discord.py makes at reading the roles.
    parts.emulator.inject_error("GET", r"/guilds/\d+/roles$", 503, count=10)
    status, output = await run_bot(parts, ["run"], {}, within=90)
    assert status == 2, output
    (line,) = problem_lines(output)
    assert "Discord answered 503 while the bot checked the server" in line
    assert "Traceback" not in output
    assert not parts.emulator.gateway.sessions


async def test_a_refused_token_is_one_line_and_exit_2(parts: LocalStack) -> None:
    status, output = await run_bot(parts, ["run"], {"DISCORD_TOKEN": "not-the-token"})
    assert status == 2, output
    assert "Discord refused DISCORD_TOKEN: copy it again from your application's Bot tab" in output
    assert "Traceback" not in output and "not-the-token" not in output
    assert not parts.emulator.gateway.sessions


# Issue 25: setups that leak the staff channel or hand out staff power are problems too.
STAFF_CHANNEL_FIX = (
    "edit the channel → Permissions → {role} → deny View Channel (allow it for the staff role "
    "and the bot's role), or set STAFF_CHANNEL_ID to a private channel."
)


@pytest.mark.parametrize(
    "mistake",
    [
        "swapped_channels",
        "public_staff_channel",
        "everyone_is_administrator",
        "notices_are_staff",
        "staff_is_everyone",
    ],
)
async def test_a_setup_that_leaks_or_hands_out_staff_power_is_a_problem(
    parts: LocalStack, mistake: str
) -> None:
    world = parts.emulator.world
    staff_id, notice_id = world.staff_channel_id, world.notice_channel_id
    env: dict[str, str] = {}
    if mistake == "swapped_channels":
        env = {"STAFF_CHANNEL_ID": str(notice_id), "NOTICE_CHANNEL_ID": str(staff_id)}
        expected = (
            f"STAFF_CHANNEL_ID={notice_id} (#order-notices) can be read by every member "
            "(@everyone has View Channel): " + STAFF_CHANNEL_FIX.format(role="@everyone")
        )
    elif mistake == "public_staff_channel":
        staff = world.channels[staff_id]
        staff.overwrites = [o for o in staff.overwrites if o.id != world.everyone_role_id]
        expected = (
            f"STAFF_CHANNEL_ID={staff_id} (#staff) can be read by every member "
            "(@everyone has View Channel): " + STAFF_CHANNEL_FIX.format(role="@everyone")
        )
    elif mistake == "everyone_is_administrator":
        world.roles[world.everyone_role_id].permissions |= ADMINISTRATOR
        expected = (
            f"STAFF_CHANNEL_ID={staff_id} (#staff) can be read by every member (@everyone has "
            "Administrator): Server Settings → Roles → @everyone → turn off Administrator."
        )
    elif mistake == "notices_are_staff":
        env = {"NOTICE_CHANNEL_ID": str(staff_id)}
        expected = (
            f"NOTICE_CHANNEL_ID={staff_id} is also STAFF_CHANNEL_ID (#staff): order notices and "
            "staff work would share one channel. Set NOTICE_CHANNEL_ID to a separate channel "
            "for order notices."
        )
    else:
        env = {"STAFF_ROLE_ID": str(world.guild_id)}
        expected = (
            f"STAFF_ROLE_ID={world.guild_id} is @everyone, so every member would be staff: "
            "create a Staff role (Server Settings → Roles), give it to your staff only, and set "
            "STAFF_ROLE_ID to its id."
        )
    status, output = await run_bot(parts, ["check-config", "--online"], env)
    assert status == 2, output
    assert problem_lines(output) == [f"PROBLEM: {expected}"], output
    assert "Traceback" not in output


async def test_a_staff_channel_the_buyer_role_reads_is_a_problem(parts: LocalStack) -> None:
    world = parts.emulator.world
    buyers = world.add_role("Buyers")
    staff = world.channels[world.staff_channel_id]
    staff.overwrites.append(Overwrite(buyers, 0, allow=VIEW_CHANNEL))
    env = {"BUYER_ROLE_ID": str(buyers)}
    status, output = await run_bot(parts, ["check-config", "--online"], env)
    assert status == 2, output
    assert problem_lines(output) == [
        f"PROBLEM: STAFF_CHANNEL_ID={world.staff_channel_id} (#staff) can be read by every "
        f"buyer (BUYER_ROLE_ID={buyers}, @Buyers) (@Buyers has View Channel): "
        + STAFF_CHANNEL_FIX.format(role="@Buyers")
    ], output

    # The buyer role set, and the staff channel private: OK.
    staff.overwrites = [o for o in staff.overwrites if o.id != buyers]
    status, output = await run_bot(parts, ["check-config", "--online"], env)
    assert status == 0, output
    assert "OK: Discord is set up as the settings say" in output
