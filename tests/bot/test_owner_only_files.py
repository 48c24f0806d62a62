"""Files the bot writes are its owner's only: the database (and the -wal/-shm SQLite makes
beside it), and LOG_FILE, which is rotated, redacted and never written through a symlink."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logging_setup import LOG_FILE_BACKUPS, SecretRedactingFilter, add_log_file
from storage.database import open_database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_database_and_its_wal_are_owner_only_whatever_the_umask(
    tmp_path: Path,
) -> None:
    old = os.umask(0o022)  # a typical shell's: files would be 0644
    try:
        db = await open_database(tmp_path / "data" / "shop.sqlite3")
        try:
            await db.fetch_one("SELECT 1")
            modes = {f.name: mode(f) for f in (tmp_path / "data").iterdir()}
        finally:
            await db.close()
    finally:
        os.umask(old)
    names = ["shop.sqlite3", "shop.sqlite3-shm", "shop.sqlite3-wal"]
    assert modes == dict.fromkeys(names, 0o600)
    assert mode(tmp_path / "data") == 0o700


async def test_a_database_readable_by_others_is_tightened_at_open(tmp_path: Path) -> None:
    path = tmp_path / "shop.sqlite3"
    db = await open_database(path)
    await db.close()
    os.chmod(path, 0o644)
    db = await open_database(path)
    await db.close()
    assert mode(path) == 0o600


@pytest.fixture
def isolated_root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_log_file_is_owner_only_redacted_and_rotated(
    tmp_path: Path, isolated_root_logger: logging.Logger
) -> None:
    secret = "tok-" + "x" * 40
    path = tmp_path / "logs" / "orderbot.log"
    handler = add_log_file(path, SecretRedactingFilter([secret]))
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    handler.maxBytes = 2000  # rotate soon, to see it happen
    isolated_root_logger.setLevel(logging.INFO)
    log = logging.getLogger("bot.test")
    for n in range(400):
        log.info("line %d carries %s", n, secret)
    handler.flush()
    written = sorted(p.name for p in path.parent.iterdir())
    assert written == ["orderbot.log"] + [f"orderbot.log.{n}" for n in range(1, 6)]
    assert len(written) == 1 + LOG_FILE_BACKUPS
    text = "".join(p.read_text(encoding="utf-8") for p in path.parent.iterdir())
    assert "line 399 carries [redacted]" in text and secret not in text
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_log_file_is_never_written_through_a_symlink(
    tmp_path: Path, isolated_root_logger: logging.Logger
) -> None:
    victim = tmp_path / "precious"
    victim.write_text("keep\n")
    (tmp_path / "orderbot.log").symlink_to(victim)
    with pytest.raises(OSError):
        add_log_file(tmp_path / "orderbot.log", SecretRedactingFilter())
    assert victim.read_text() == "keep\n"
