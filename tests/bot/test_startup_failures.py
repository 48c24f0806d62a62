"""Every start-up failure ends the way the README promises: exit status 2, one readable
line (or a short block) on stderr naming the setting, never a traceback, and a process
that ends by itself. Each case runs `python -m bot …` (or `python -m demo …`) as a real
subprocess in a temp folder, with a clean environment (the `bot_env` fixture)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bot.helpers import run_bot
from tests.support import PYTHON, REPO_ROOT

TIMEOUT = 60.0
MAX_STDERR_LINES = 3

Env = dict[str, str]


@dataclass(frozen=True)
class Case:
    """`prepare` makes the broken file or folder in the temp folder and returns the
    settings that point at it; `names` is what stderr must mention."""

    prepare: Callable[[Path], Env]
    commands: tuple[str, ...]
    names: str
    needs_non_root: bool = False


def _folder(tmp: Path, name: str) -> Path:
    path = tmp / name
    path.mkdir()
    return path


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _unreadable_catalog(tmp: Path) -> Env:
    path = _file(tmp, "catalog.toml", (REPO_ROOT / "catalog.toml").read_bytes())
    path.chmod(0)
    return {"CATALOG_PATH": str(path)}


def _dangling_symlink(tmp: Path) -> Env:
    path = tmp / "catalog.toml"
    path.symlink_to(tmp / "gone" / "catalog.toml")
    return {"CATALOG_PATH": str(path)}


def _unreadable_dotenv(tmp: Path) -> Env:
    _file(tmp, ".env", b"TOP_UP_INSTRUCTIONS=Ask staff\n").chmod(0)
    return {}


def _latin1_dotenv(tmp: Path) -> Env:
    """A .env saved by an editor in latin-1 (the subprocess runs in `tmp`)."""
    _file(tmp, ".env", "TOP_UP_INSTRUCTIONS=Payez au café\n".encode("latin-1"))
    return {}


LATIN1_CATALOG = (
    '[[products]]\nkey = "cafe"\nname = "Café boost"\nprovider = "boost"\nkind = "boost"\n'
    'unit_price = 100\ncurrency = "USD"\n'
).encode("latin-1")

BOT = ("run", "check-config")
ALL = ("run", "check-config", "migrate")
# A file that isn't SQLite is only found by opening it: check-config doesn't.
OPENS_DB = ("run", "migrate")


def _symlink_to_victim(tmp: Path) -> Path:
    """A log path that is a symlink to someone else's file: refused, never appended to."""
    (tmp / "victim").write_text("keep\n")
    (tmp / "orderbot.log").symlink_to(tmp / "victim")
    return tmp / "orderbot.log"


def _newer_schema(tmp: Path) -> Env:
    path = tmp / "bot.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name, applied_at)")
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'from_the_future', 0)")
    conn.commit()
    conn.close()
    return {"DATABASE_PATH": str(path)}


CASES: dict[str, Case] = {
    "catalog-is-a-folder": Case(
        lambda tmp: {"CATALOG_PATH": str(_folder(tmp, "catalog.d"))}, BOT, "CATALOG_PATH"
    ),
    "catalog-utf16-bytes": Case(
        lambda tmp: {"CATALOG_PATH": str(_file(tmp, "catalog.toml", b"\xff\xfe[products]"))},
        BOT,
        "CATALOG_PATH",
    ),
    "catalog-latin1-text": Case(
        lambda tmp: {"CATALOG_PATH": str(_file(tmp, "catalog.toml", LATIN1_CATALOG))},
        BOT,
        "CATALOG_PATH",
    ),
    "catalog-unreadable": Case(_unreadable_catalog, BOT, "CATALOG_PATH", needs_non_root=True),
    "catalog-dangling-symlink": Case(_dangling_symlink, BOT, "CATALOG_PATH"),
    "catalog-missing": Case(
        lambda tmp: {"CATALOG_PATH": str(tmp / "nowhere.toml")}, BOT, "CATALOG_PATH"
    ),
    "database-parent-is-a-file": Case(
        lambda tmp: {"DATABASE_PATH": str(_file(tmp, "data", b"x") / "bot.sqlite3")},
        ALL,
        "DATABASE_PATH",
    ),
    "database-is-a-folder": Case(
        lambda tmp: {"DATABASE_PATH": str(_folder(tmp, "db.sqlite3"))}, ALL, "DATABASE_PATH"
    ),
    "database-random-bytes": Case(
        lambda tmp: {"DATABASE_PATH": str(_file(tmp, "bot.sqlite3", os.urandom(4096)))},
        OPENS_DB,
        "DATABASE_PATH",
    ),
    "database-text-file": Case(
        lambda tmp: {"DATABASE_PATH": str(_file(tmp, "bot.sqlite3", b"just some notes\n" * 40))},
        OPENS_DB,
        "DATABASE_PATH",
    ),
    "log-file-is-a-folder": Case(
        lambda tmp: {"LOG_FILE": str(_folder(tmp, "orderbot.log"))}, ("run",), "LOG_FILE"
    ),
    "log-file-is-a-symlink": Case(
        lambda tmp: {"LOG_FILE": str(_symlink_to_victim(tmp))}, ("run",), "LOG_FILE"
    ),
    "schema-from-a-newer-orderbot": Case(_newer_schema, OPENS_DB, "newer than this orderbot"),
    "dotenv-not-utf8": Case(_latin1_dotenv, ALL, ".env"),
    "dotenv-unreadable": Case(_unreadable_dotenv, ALL, ".env", needs_non_root=True),
    # The demo takes CATALOG_PATH as --catalog and DEMO_WORKDIR as --workdir (run_command).
    "demo-catalog-is-a-folder": Case(
        lambda tmp: {"CATALOG_PATH": str(_folder(tmp, "catalog.d"))}, ("demo",), "--catalog"
    ),
    "demo-workdir-is-a-file": Case(
        lambda tmp: {"DEMO_WORKDIR": str(_file(tmp, "work", b"x"))}, ("demo",), "--workdir"
    ),
}

PARAMS = [
    pytest.param(name, command, id=f"{name}-{command}")
    for name, case in CASES.items()
    for command in case.commands
]


def closed_port() -> int:
    """A local port nothing listens on: `run` must fail before it connects, and if it
    didn't, it fails to connect here instead of reaching Discord."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_command(command: str, env: Env, cwd: Path) -> subprocess.CompletedProcess[str]:
    if command == "demo":
        workdir = env.get("DEMO_WORKDIR", str(cwd / "demo"))
        return subprocess.run(
            [PYTHON, "-m", "demo", "--catalog", env["CATALOG_PATH"], "--workdir", workdir],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    return run_bot([command], env, cwd, timeout=TIMEOUT)


@pytest.mark.parametrize(("name", "command"), PARAMS)
def test_start_up_failure_is_exit_2_and_a_short_message(
    bot_env: Env, tmp_path: Path, name: str, command: str
) -> None:
    case = CASES[name]
    if case.needs_non_root and os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    env = {
        **bot_env,
        "DISCORD_API_BASE_URL": f"http://127.0.0.1:{closed_port()}",
        **case.prepare(tmp_path),
    }
    try:
        result = run_command(command, env, tmp_path)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"did not end by itself within {TIMEOUT:.0f}s; stderr: {exc.stderr!r}")
    stderr = result.stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    assert 0 < len(lines) <= MAX_STDERR_LINES, stderr
    assert case.names in stderr, stderr


@pytest.mark.parametrize("command", ["migrate", "run"])
def test_a_database_another_process_keeps_locked_is_exit_1_to_retry(
    bot_env: Env, tmp_path: Path, command: str
) -> None:
    """A `sqlite3` shell left in a write transaction: not a settings problem (exit 1, so a
    service manager tries again), one line, after the busy timeout rather than at once."""
    path = tmp_path / "bot.sqlite3"
    assert run_bot(["migrate"], {**bot_env, "DATABASE_PATH": str(path)}, tmp_path).returncode == 0
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM shop_state")
    env = {
        **bot_env,
        "DATABASE_PATH": str(path),
        "DISCORD_API_BASE_URL": f"http://127.0.0.1:{closed_port()}",
    }
    try:
        result = run_command(command, env, tmp_path)
    finally:
        holder.close()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[-1].startswith(f"DATABASE_PATH={path} is locked by another process")
    assert len(lines) <= MAX_STDERR_LINES, result.stderr
