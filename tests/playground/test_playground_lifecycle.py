"""The playground and the bot stop together: Ctrl+C (SIGTERM) stops both, and a bot that
dies stops the playground with its log's last lines, never leaving a page that talks to
nobody (issue 31)."""

from __future__ import annotations

import os
import re
import select
import signal
from pathlib import Path

import pytest

from tests.playground.browser import RunningPlayground, Trap, start_playground

pytestmark = [pytest.mark.browser, pytest.mark.one_python, pytest.mark.subprocess]


def bot_pid(running: RunningPlayground) -> int:
    found = re.search(r"The bot \(pid (\d+)\)", "".join(running.output))
    assert found is not None, "".join(running.output)
    return int(found.group(1))


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Whether the process `pid` (not our child) has ended within `timeout`: waits on the
    process itself (a pidfd becomes readable when it exits), not on the clock."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def output_once_ended(running: RunningPlayground) -> str:
    """Everything the playground printed: its reader ends at the end of its output."""
    running.reader.join(30)
    assert not running.reader.is_alive(), "the playground's output did not end"
    return "".join(running.output)


def test_ctrl_c_stops_the_bot_and_the_playground(tmp_path: Path, trap: Trap) -> None:
    started = start_playground(tmp_path, trap)
    running = next(started)
    pid = bot_pid(running)
    assert not wait_for_exit(pid, 0), "the bot is not running"
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(30) == 0
    assert "Stopping…" in output_once_ended(running)
    assert wait_for_exit(pid, 10), "the bot outlived the playground"
    started.close()


def test_a_bot_that_dies_stops_the_playground_with_its_log(tmp_path: Path, trap: Trap) -> None:
    started = start_playground(tmp_path, trap)
    running = next(started)
    os.kill(bot_pid(running), signal.SIGKILL)
    assert running.process.wait(30) == 1
    output = output_once_ended(running)
    assert "The bot stopped on its own (exit status -9)" in output
    assert "bot.log" in output and "Traceback" not in output
    started.close()
