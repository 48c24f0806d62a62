"""The playground and the bot stop together: Ctrl+C (SIGTERM) stops both, and a bot that
dies stops the playground with its log's last lines, never leaving a page that talks to
nobody (issue 31)."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.playground.browser import RunningPlayground, Trap, start_playground

pytestmark = [pytest.mark.browser, pytest.mark.one_python, pytest.mark.subprocess]


def bot_pid(running: RunningPlayground) -> int:
    found = re.search(r"The bot \(pid (\d+)\)", "".join(running.output))
    assert found is not None, "".join(running.output)
    return int(found.group(1))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def said(running: RunningPlayground, text: str, timeout: float = 30) -> str:
    """The playground's output once it says `text` (its reader thread is still reading)."""
    deadline = time.monotonic() + timeout
    while text not in "".join(running.output):
        assert time.monotonic() < deadline, "".join(running.output)
        time.sleep(0.05)
    return "".join(running.output)


def test_ctrl_c_stops_the_bot_and_the_playground(tmp_path: Path, trap: Trap) -> None:
    started = start_playground(tmp_path, trap)
    running = next(started)
    pid = bot_pid(running)
    assert alive(pid)
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(30) == 0
    said(running, "Stopping…")
    deadline = time.monotonic() + 10
    while alive(pid):
        assert time.monotonic() < deadline, "the bot outlived the playground"
        time.sleep(0.05)
    started.close()


def test_a_bot_that_dies_stops_the_playground_with_its_log(tmp_path: Path, trap: Trap) -> None:
    started = start_playground(tmp_path, trap)
    running = next(started)
    os.kill(bot_pid(running), signal.SIGKILL)
    assert running.process.wait(30) == 1
    output = said(running, "The bot stopped on its own (exit status -9)")
    assert "bot.log" in output and "Traceback" not in output
    started.close()
