"""`make demo` is product code: it must walk every journey and exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from demo.stack import REPO_ROOT


def test_demo_walks_every_journey(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--workdir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for heading in ("Journey 1", "Journey 2", "Journey 3", "Journey 3b", "Journey 4"):
        assert heading in result.stdout
    assert "All journeys worked" in result.stdout
    # The public notice in the transcript carries no delivery data.
    notice = result.stdout.split("[bot → #notices")[1].split("[buyer2]")[0]
    assert "AAAA-BBBB" not in notice
