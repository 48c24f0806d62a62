"""storage.lock: the lock covers the database file, whatever path leads to it, and never
writes through a symlink. (The running-bot side is tests/e2e/test_one_bot_per_database.py.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.config import load_storage_settings
from storage import lock as database_lock
from storage.lock import DatabaseInUse, UnsafeLockFile
from tests.support import PYTHON, REPO_ROOT


def test_a_symlink_to_the_database_takes_the_same_lock_and_says_the_same_line(
    tmp_path: Path,
) -> None:
    real = tmp_path / "data" / "shop.sqlite3"
    real.parent.mkdir()
    real.write_bytes(b"")
    link = tmp_path / "elsewhere" / "link.sqlite3"
    link.parent.mkdir()
    link.symlink_to(real)
    # A symlinked folder on the way is resolved too.
    folder_link = tmp_path / "data-link"
    folder_link.symlink_to(real.parent)
    with database_lock.exclusive(real):
        said = []
        for other in (real, link, folder_link / "shop.sqlite3"):
            with pytest.raises(DatabaseInUse) as refused, database_lock.exclusive(other):
                pass
            said.append(str(refused.value))
    assert said[0] == said[1] == said[2]
    assert f"{real} is in use by process {os.getpid()}" in said[0]
    assert not (link.parent / "link.sqlite3.lock").exists()


def test_a_database_that_doesnt_exist_yet_is_locked_where_it_will_be(tmp_path: Path) -> None:
    link = tmp_path / "link.sqlite3"
    link.symlink_to(tmp_path / "first-run.sqlite3")  # dangling: the first run creates it
    with database_lock.exclusive(link), pytest.raises(DatabaseInUse):
        with database_lock.exclusive(tmp_path / "first-run.sqlite3"):
            pass


def test_the_lock_file_is_never_written_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("the owner's notes\n")
    database = tmp_path / "shop.sqlite3"
    (tmp_path / "shop.sqlite3.lock").symlink_to(victim)
    with pytest.raises(UnsafeLockFile) as refused, database_lock.exclusive(database):
        pass
    assert "is a symlink" in str(refused.value) and "rm " in str(refused.value)
    assert victim.read_text() == "the owner's notes\n"


def test_the_lock_file_is_owner_only(tmp_path: Path) -> None:
    with database_lock.exclusive(tmp_path / "shop.sqlite3"):
        mode = (tmp_path / "shop.sqlite3.lock").stat().st_mode & 0o777
    assert mode == 0o600


def run_without_posix(code: str) -> subprocess.CompletedProcess[str]:
    """Python as on Windows, as far as we can make it here: no fcntl module (and the
    CLI's own os.name check told it is not POSIX)."""
    prelude = "import sys; sys.modules['fcntl'] = None\n"
    return subprocess.run(
        [PYTHON, "-c", prelude + code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_works_and_the_cli_says_what_to_do_on_a_system_without_fcntl() -> None:
    helped = run_without_posix(
        "from bot.__main__ import main\ntry:\n    main(['--help'])\nexcept SystemExit as e:\n"
        "    sys.exit(e.code)\n"
    )
    assert helped.returncode == 0, helped.stderr
    assert "backup" in helped.stdout and "restore" in helped.stdout
    refused = run_without_posix(
        "import bot.__main__ as cli\ncli.IS_POSIX = False\nsys.exit(cli.main(['migrate']))\n"
    )
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "run it under WSL" in refused.stderr
    locked = run_without_posix(
        "from pathlib import Path\nfrom storage import lock\n"
        "try:\n    lock.exclusive(Path('x.sqlite3')).__enter__()\n"
        "except lock.UnsupportedSystem as e:\n    print(e); sys.exit(3)\n"
    )
    assert locked.returncode == 3 and "WSL" in locked.stdout


def test_a_lock_file_that_is_not_a_regular_file_is_refused_in_one_line(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "shop.sqlite3.lock")
    with pytest.raises(UnsafeLockFile, match="not a regular file"):
        with database_lock.exclusive(tmp_path / "shop.sqlite3"):
            pass


def test_a_home_relative_database_path_locks_the_file_that_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    settings = load_storage_settings(database_path="~/shop.sqlite3")
    assert settings.database_path == tmp_path / "shop.sqlite3"
    assert database_lock.lock_path_for(settings.database_path) == tmp_path / "shop.sqlite3.lock"
