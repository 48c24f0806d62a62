"""What a service manager sees: under journald each stderr line carries its priority (so
`journalctl -p warning` finds the warnings), elsewhere a timestamped line; and a reader
that goes away (`orderbot backup … | head -1`) ends the command without a traceback."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bot.jobs import guarded
from storage.database import open_database
from tests.support import PYTHON, REPO_ROOT

LOGS = (
    "import logging, sys\n"
    "from bot.logging_setup import configure_logging\n"
    "configure_logging('DEBUG', ['s3cret-value'])\n"
    "log = logging.getLogger('bot.demo')\n"
    "log.info('started with s3cret-value')\n"
    "log.warning('provider slow')\n"
    "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('it broke')\n"
)


def run_logging(tmp_path: Path, *, journal: bool) -> str:
    out = tmp_path / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    with open(out, "wb") as stderr:
        if journal:  # what systemd sets: the device and inode of the stream it gave us
            info = os.fstat(stderr.fileno())
            env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
        subprocess.run(
            [PYTHON, "-c", LOGS], cwd=REPO_ROOT, env=env, stderr=stderr, check=True, timeout=60
        )
    return out.read_text(encoding="utf-8")


def test_under_journald_every_line_carries_its_priority(tmp_path: Path) -> None:
    lines = run_logging(tmp_path, journal=True).splitlines()
    assert lines[0] == "<6>bot.demo: started with [redacted]"
    assert lines[1] == "<4>bot.demo: provider slow"
    assert lines[2] == "<3>bot.demo: it broke"
    # The traceback's lines too, or journald would file them as info.
    assert len(lines) > 4 and all(line.startswith("<3>") for line in lines[2:])
    assert any("ZeroDivisionError" in line for line in lines)


def test_elsewhere_lines_are_timestamped_and_unprefixed(tmp_path: Path) -> None:
    text = run_logging(tmp_path, journal=False)
    assert "WARNING bot.demo: provider slow" in text
    assert "<4>" not in text and "s3cret-value" not in text


def test_a_reader_that_goes_away_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_PATH": str(tmp_path / "shop.sqlite3"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    subprocess.run(
        [PYTHON, "-m", "bot", "migrate"],
        cwd=tmp_path,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    read, write = os.pipe()
    os.close(read)  # `| head -1` that has already gone
    try:
        done = subprocess.run(
            [PYTHON, "-m", "bot", "backup", str(tmp_path / "b.sqlite3")],
            cwd=tmp_path,
            env=env,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
    assert (tmp_path / "b.sqlite3").exists()  # the backup itself was made


def test_under_journald_the_clis_own_error_lines_carry_a_priority(tmp_path: Path) -> None:
    out = tmp_path / "stderr.txt"
    env = {
        **{k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"},
        "DATABASE_PATH": str(tmp_path / "missing.sqlite3"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    with open(out, "wb") as stderr:
        info = os.fstat(stderr.fileno())
        env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
        done = subprocess.run(
            [PYTHON, "-m", "bot", "backup", str(tmp_path / "b.sqlite3")],
            cwd=tmp_path,
            env=env,
            stderr=stderr,
            stdout=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert line.startswith("<3>DATABASE_PATH=") and "doesn't exist" in line


async def test_a_job_blocked_by_another_processs_lock_logs_one_warning_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real lock: a second connection (a `sqlite3` shell) holds a write transaction
    past the bot's busy timeout while a scheduled job writes."""
    db = await open_database(tmp_path / "shop.sqlite3")
    await db.conn.execute("PRAGMA busy_timeout = 100")  # the bot's 5 s, shortened
    holder = sqlite3.connect(tmp_path / "shop.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    ran: list[str] = []

    async def job() -> None:
        ran.append("started")
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM shop_state")

    run = guarded(job, "poll boost", stopping=lambda: False, running=set())
    try:
        with caplog.at_level(logging.WARNING, logger="bot.jobs"):
            await run()
    finally:
        holder.close()
        await db.close()
    assert ran == ["started"]
    (record,) = [r for r in caplog.records if r.name == "bot.jobs"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "poll boost job waited too long for the database" in record.getMessage()
