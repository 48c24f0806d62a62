"""The systemd units in deploy/systemd, as shipped, pass `systemd-analyze verify` with no
warning, and say what docs/operations.md says they do."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

UNITS = REPO_ROOT / "deploy" / "systemd"
INSTALLED = "/opt/orderbot/venv/bin/orderbot"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd is Linux's")


def read_unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(UNITS / name, encoding="utf-8")
    return parser


def test_the_shipped_units_pass_systemd_analyze_verify_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: `apt-get install systemd` (CI checks the units)"
    # verify checks that ExecStart's program exists: the one change made is to point it at
    # this test's own installed `orderbot` instead of /opt/orderbot's. Nothing else differs.
    here = Path(sys.executable).parent / "orderbot"
    assert here.exists(), f"{here} is missing: the project is not installed in this venv"
    names = sorted(p.name for p in UNITS.iterdir())
    assert names == [
        "orderbot-backup.service",
        "orderbot-backup.timer",
        "orderbot-gateway.service",
        "orderbot-worker@.service",
        "orderbot.service",
    ]
    for name in names:
        text = (UNITS / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace(INSTALLED, str(here)), encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", *(f"./{n}" for n in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys are only warnings


def test_the_bot_unit_restarts_crashes_but_not_bad_settings() -> None:
    service = read_unit("orderbot.service")["Service"]
    assert service["ExecStart"] == f"{INSTALLED} run"
    assert service["Restart"] == "on-failure"
    # Exit 2 is a settings problem (the CLI's contract): restarting can't fix it.
    assert service["RestartPreventExitStatus"] == "2"
    assert service["UMask"] == "0077"
    assert service["User"] == "orderbot" and service["WorkingDirectory"] == "/etc/orderbot"
    assert service["StateDirectory"] == "orderbot"


def test_the_gateway_and_worker_units_run_the_split_and_restart_like_the_bot() -> None:
    """docs/scaling.md: one orderbot-gateway.service and any number of
    orderbot-worker@N.service instead of orderbot.service, with the same restart policy."""
    bot = read_unit("orderbot.service")["Service"]
    for name, command in (
        ("orderbot-gateway.service", "run --no-workers"),
        ("orderbot-worker@.service", "worker"),
    ):
        service = read_unit(name)["Service"]
        assert service["ExecStart"] == f"{INSTALLED} {command}"
        for key in ("Restart", "RestartPreventExitStatus", "UMask", "User", "WorkingDirectory"):
            assert service[key] == bot[key], (name, key)
    assert "%i" in read_unit("orderbot-worker@.service")["Unit"]["Description"]


def test_the_backup_timer_runs_the_backup_command_the_docs_describe() -> None:
    backup = read_unit("orderbot-backup.service")["Service"]
    assert backup["ExecStart"] == f"{INSTALLED} backup /var/backups/orderbot --keep 14"
    assert "/var/backups/orderbot" in backup["ReadWritePaths"]
    timer = read_unit("orderbot-backup.timer")["Timer"]
    assert timer["Persistent"] == "true"
    operations = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for name in ("orderbot.service", "orderbot-backup.service", "orderbot-backup.timer"):
        assert f"deploy/systemd/{name}" in operations
