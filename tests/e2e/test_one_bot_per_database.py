"""Issue 14, part 1: one bot per database file. A second `python -m bot run` (or a
`migrate`) on a database a bot is using exits 2 with a clear message, and the first bot
keeps working as if nothing happened."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from demo.stack import REPO_ROOT, LocalStack
from tests.e2e.helpers import db_rows, embed_text, polled_again, requests_to, wait_for_row
from tests.e2e.journeys import place_boost, staff_line


async def run_cli(stack: LocalStack, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=REPO_ROOT,
        env=stack.bot_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


# The lock is the process's: a second process, and kill -9.
pytestmark = pytest.mark.stack(process=True)


async def test_a_second_bot_on_the_same_database_is_refused(stack: LocalStack) -> None:
    emu = stack.emulator
    sessions = len(emu.gateway.sessions)
    status, said = await run_cli(stack, "run")
    assert status == 2, said
    assert "in use by process" in said and "Only one bot may use a database" in said
    assert "Traceback" not in said
    assert len(emu.gateway.sessions) == sessions  # it never connected to Discord
    for command in ("migrate",):
        status, said = await run_cli(stack, command)
        assert status == 2 and "in use by process" in said, said
    # The first bot goes on as if nothing happened: one order, one request, one alert.
    order_id = await place_boost(stack, emu.world.buyer_id)
    assert len(requests_to(stack, "boost")) == 1
    # Its staff line has gone out and none about it waits (each is posted once), and the
    # bot has polled the order since: it keeps working, and nothing more is on its way.
    await staff_line(stack, f"New order `{order_id}`")
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM staff_alerts"
        " WHERE order_id = ? AND posted_at IS NULL AND failed_at IS NULL",
        (order_id,),
        lambda r: r["n"] == 0,
    )
    (placed,) = db_rows(stack, "SELECT remote_id FROM orders WHERE id = ?", (order_id,))
    await polled_again(stack, "boost", placed["remote_id"])
    assert len(requests_to(stack, "boost")) == 1
    alerts = [
        m
        for m in emu.channel_messages(emu.world.staff_channel_id)
        if order_id in embed_text(m) and "New order" in embed_text(m)
    ]
    assert len(alerts) == 1
    (row,) = db_rows(stack, "SELECT status FROM orders WHERE id = ?", (order_id,))
    assert row["status"] == "submitted"


async def test_the_lock_goes_with_the_process_even_after_kill_9(stack: LocalStack) -> None:
    assert await stack.stop_bot(kill=True) == -9
    status, said = await run_cli(stack, "migrate")
    assert status == 0, said
    await stack.start_bot()  # and a new bot starts on the same file


async def run_cli_on(stack: LocalStack, database: Path, *args: str) -> tuple[int, str]:
    """`python -m bot ARGS` with DATABASE_PATH set to `database`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=REPO_ROOT,
        env={**stack.bot_env(), "DATABASE_PATH": str(database)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


def other_paths_to(database: str, folder: Path) -> tuple[Path, Path, Path]:
    """The database's real path, a symlink to it, and a path through a symlinked folder."""
    real = Path(database).resolve()
    link = folder / "shop-link.sqlite3"
    link.symlink_to(real)
    (folder / "data-link").symlink_to(real.parent)
    return real, link, folder / "data-link" / real.name


async def test_another_path_to_the_same_database_is_refused_with_the_same_line(
    stack: LocalStack, tmp_path: Path
) -> None:
    emu = stack.emulator
    real, link, through_folder = other_paths_to(stack.bot_env()["DATABASE_PATH"], tmp_path)
    sessions = len(emu.gateway.sessions)
    status, by_real_path = await run_cli_on(stack, real, "run")
    assert status == 2, by_real_path
    for other in (link, through_folder):
        status, said = await run_cli_on(stack, other, "run")
        assert status == 2, said
        assert said == by_real_path  # the same "in use" line, naming the real file
        for command in ("migrate", "rotate-key"):
            status, said = await run_cli_on(stack, other, command)
            assert status == 2 and "in use by process" in said, said
    assert len(emu.gateway.sessions) == sessions  # no second bot ever went online
    assert "shop-link.sqlite3.lock" not in os.listdir(tmp_path)  # the lock is by the file
    # The first bot goes on: an order placed now is sent once and stays its own.
    order_id = await place_boost(stack, emu.world.buyer_id)
    (row,) = db_rows(stack, "SELECT status, remote_id FROM orders WHERE id = ?", (order_id,))
    assert row["status"] == "submitted" and row["remote_id"]
    assert len(requests_to(stack, "boost")) == 1


def copy_rows(path: Path, sql: str) -> list[sqlite3.Row]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql))


async def test_a_backup_beside_the_running_bot_holds_what_it_just_wrote(
    stack: LocalStack, tmp_path: Path
) -> None:
    emu = stack.emulator
    await stack.credit(emu.world.buyer_id, "$20", note="before the backup")
    order_id = await place_boost(stack, emu.world.buyer_id)
    live = db_rows(stack, "SELECT COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS s FROM ledger")
    dest = tmp_path / "while-running.sqlite3"
    status, said = await run_cli_on(stack, stack.database_path, "backup", str(dest))
    assert status == 0, said
    assert "integrity ok, ledger balanced" in said
    (order,) = copy_rows(dest, f"SELECT status, remote_id FROM orders WHERE id = '{order_id}'")  # noqa: S608
    assert order["status"] == "submitted" and order["remote_id"]
    (ledger,) = copy_rows(
        dest, "SELECT COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS s FROM ledger"
    )
    assert (ledger["n"], ledger["s"]) == (live[0]["n"], live[0]["s"]) and ledger["n"] > 0
    # The bot never noticed: still one bot, still serving.
    await polled_again(stack, "boost", order["remote_id"])
