"""The browser the playground's tests drive: Debian's Chromium, installed when missing.

Playwright's Python package brings its own driver but no browser, and `playwright install`
would download one (never done here): the tests launch /usr/bin/chromium instead, found
through ORDERBOT_CHROMIUM. Standard library only: it runs before any venv exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def find() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


# The bot's messages start with emoji: without a colour emoji font, the screenshots the
# tests leave show boxes where a person would see them.
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


def ensure_installed() -> str | None:
    """CI on a Debian machine without them: install Debian's chromium and its emoji font
    (apt, after an update)."""
    found = find()
    apt = shutil.which("apt-get")
    missing = [
        package
        for package, present in (
            ("chromium", found),
            ("fonts-noto-color-emoji", EMOJI_FONT.exists()),
        )
        if not present
    ]
    if not missing or apt is None or os.geteuid() != 0:
        return found
    print(f"Installing Debian's {', '.join(missing)} for the browser tests", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-qq"], check=True, env=env)
    subprocess.run(
        [apt, "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env
    )
    return find()
