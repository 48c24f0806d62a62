"""The browser the playground's tests drive: Debian's Chromium, installed when missing.

Playwright's Python package brings its own driver but no browser, and `playwright install`
would download one (never done here): the tests launch /usr/bin/chromium instead, found
through ORDERBOT_CHROMIUM. Standard library only: it runs before any venv exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def find() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def ensure_installed() -> str | None:
    """CI on a Debian machine without it: install Debian's chromium (apt, after an update)."""
    found = find()
    apt = shutil.which("apt-get")
    if found is not None or apt is None or os.geteuid() != 0:
        return found
    print("Chromium is not installed: installing Debian's chromium package", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-qq"], check=True, env=env)
    subprocess.run(
        [apt, "install", "-y", "-qq", "--no-install-recommends", "chromium"], check=True, env=env
    )
    return find()
