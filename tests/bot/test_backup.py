"""`orderbot backup` and `orderbot restore`, run as the owner runs them (a real process,
real SQLite files): a backup beside a live writer holds the rows still in its WAL, a
copy is checked before it is trusted, and a restore replaces nothing it can't vouch for.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

import storage.backup
from bot import backup_commands
from bot.backup_commands import _set_aside
from core.crypto import DeliveryCipher
from core.domain import Money
from demo.stack import BOT_SETTING_PREFIXES
from storage import lock as database_lock
from storage import orders as repo
from storage import wallet
from storage.backup import (
    BackupError,
    check_copy,
    copy_database,
    newest_schema_version,
    prune_backups,
    remove_stale_temporaries,
    timestamped_path,
)
from storage.database import Database, bundled_migrations, open_database
from storage.wallet import EntryKind, Movement
from tests.bot.helpers import run_bot
from tests.storage.factories import new_order
from tests.support import REPO_ROOT

CREDITS = 40
CONTACT = {"phone_number": "+919876543210", "name": "Asha"}


def env_for(database: Path, key: str) -> dict[str, str]:
    """Only what backup and restore need, isolated from any developer .env (the process
    runs in the test's own folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(BOT_SETTING_PREFIXES)}
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "DATABASE_PATH": str(database),
            "DELIVERY_ENCRYPTION_KEY": key,
        }
    )
    return env


def rows(path: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def unbalanced_wallets(path: Path) -> list[sqlite3.Row]:
    return rows(
        path,
        "SELECT w.user_id, w.balance_minor, SUM(l.amount_minor) AS total FROM wallets w"
        " JOIN ledger l USING (user_id, currency) GROUP BY w.user_id, w.currency"
        " HAVING w.balance_minor != total",
    )


async def credit(db: Database, user_id: int, minor: int, key: str) -> None:
    movement = Movement(user_id, Money(minor, "INR"), EntryKind.CREDIT, "staff:1", key)
    assert await wallet.post(db, movement)


async def seed_shop(path: Path, cipher: DeliveryCipher, *, credits: int = 3) -> None:
    db = await open_database(path)
    try:
        for n in range(credits):
            await credit(db, 500 + n % 3, 100 * (n + 1), f"seed-{n}")
        await repo.insert_order(db, new_order(contact=CONTACT), cipher)
    finally:
        await db.close()


def seed(path: Path, cipher: DeliveryCipher, *, credits: int = 3) -> None:
    asyncio.run(seed_shop(path, cipher, credits=credits))


def seed_unbalanced(path: Path, cipher: DeliveryCipher) -> None:
    """A shop whose wallet 501 holds one minor unit more than its ledger says."""
    seed(path, cipher)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE wallets SET balance_minor = balance_minor + 1 WHERE user_id = 501")
    conn.commit()
    conn.close()


async def read_order(path: Path, order_id: str) -> repo.OrderRecord | None:
    db = await open_database(path)
    try:
        return await repo.get_order(db, order_id)
    finally:
        await db.close()


async def migrate_to(path: Path, count: int) -> None:
    db = await open_database(path, migrate=False)
    try:
        await db.migrate(bundled_migrations()[:count])
    finally:
        await db.close()


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def cipher(key: str) -> DeliveryCipher:
    return DeliveryCipher(SecretStr(key))


@pytest.fixture
async def live_writer(tmp_path: Path, cipher: DeliveryCipher) -> AsyncIterator[Database]:
    """A bot-like writer whose commits stay in the WAL: automatic checkpoints are off,
    so the main file holds none of them while it stays open."""
    path = tmp_path / "live" / "shop.sqlite3"
    await seed_shop(path, cipher, credits=0)
    db = await open_database(path)
    await db.conn.execute("PRAGMA wal_autocheckpoint = 0")
    for n in range(CREDITS):
        await credit(db, 700 + n % 4, 250, f"live-{n}")
    yield db
    await db.close()


def test_a_backup_beside_a_live_writer_holds_the_rows_in_its_wal_and_restores_balanced(
    live_writer: Database, tmp_path: Path, key: str
) -> None:
    source = live_writer.path
    # The fault is real: the main file alone (what `cp` of it gives) lacks the writer's
    # rows, and the WAL beside it holds them.
    plain = tmp_path / "cp-of-main-file.sqlite3"
    shutil.copyfile(source, plain)
    assert rows(plain, "SELECT COUNT(*) AS n FROM ledger")[0]["n"] == 0
    assert Path(f"{source}-wal").stat().st_size > 0

    dest = tmp_path / "backups" / "nightly.sqlite3"
    dest.parent.mkdir()
    done = run_bot(["backup", str(dest)], env_for(source, key), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "integrity ok, ledger balanced" in done.stdout
    assert "Keep DELIVERY_ENCRYPTION_KEY with this backup" in done.stdout
    assert DeliveryCipher(SecretStr(key)).primary_fingerprint in done.stdout
    assert key not in done.stdout + done.stderr
    # The copy is one self-contained owner-only file, with every row the writer committed.
    assert rows(dest, "SELECT COUNT(*) AS n FROM ledger")[0]["n"] == CREDITS
    assert not Path(f"{dest}-wal").exists()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    # The writer never noticed: it goes on writing, and its database is unchanged.
    assert rows(source, "SELECT COUNT(*) AS n FROM ledger")[0]["n"] == CREDITS

    target = tmp_path / "new-host" / "shop.sqlite3"
    done = run_bot(["restore", str(dest)], env_for(target, key), tmp_path)
    assert done.returncode == 0, done.stderr
    assert rows(target, "SELECT COUNT(*) AS n FROM ledger")[0]["n"] == CREDITS
    assert rows(target, "SELECT SUM(balance_minor) AS s FROM wallets")[0]["s"] == CREDITS * 250
    assert unbalanced_wallets(target) == []
    assert rows(target, "PRAGMA integrity_check")[0][0] == "ok"


def test_a_restore_replaces_a_live_database_and_its_stale_wal(
    live_writer: Database, tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    backup_source = tmp_path / "other" / "shop.sqlite3"
    seed(backup_source, cipher, credits=3)
    backup = tmp_path / "backup.sqlite3"
    assert run_bot(["backup", str(backup)], env_for(backup_source, key), tmp_path).returncode == 0

    # The target as a crash leaves it: a main file and a -wal full of commits (copied
    # while the writer is open, as after kill -9).
    target = tmp_path / "crashed" / "shop.sqlite3"
    target.parent.mkdir()
    shutil.copyfile(live_writer.path, target)
    shutil.copyfile(f"{live_writer.path}-wal", f"{target}-wal")
    assert rows(target, "SELECT COUNT(*) AS n FROM ledger")[0]["n"] == CREDITS

    done = run_bot(["restore", str(backup)], env_for(target, key), tmp_path)
    assert done.returncode == 0, done.stderr
    # The backup's rows, none of the replaced database's WAL replayed onto them.
    assert rows(target, "PRAGMA integrity_check")[0][0] == "ok"
    assert rows(target, "SELECT COUNT(*) AS n FROM ledger")[0]["n"] == 3
    assert unbalanced_wallets(target) == []
    # The replaced database is kept whole, its WAL's commits included.
    (kept,) = target.parent.glob("shop.sqlite3.before-restore-*")
    assert str(kept) in done.stdout
    assert rows(kept, "SELECT COUNT(*) AS n FROM ledger")[0]["n"] == CREDITS
    # And the restored database serves: the bot's own code opens it and reads a secret.
    (row,) = rows(target, "SELECT id FROM orders")
    order = asyncio.run(read_order(target, row["id"]))
    assert order is not None and order.contact(cipher) == CONTACT


def test_a_restore_refuses_beside_a_running_bot_and_changes_nothing(
    tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    target = tmp_path / "shop.sqlite3"
    seed(target, cipher)
    backup = tmp_path / "b.sqlite3"
    assert run_bot(["backup", str(backup)], env_for(target, key), tmp_path).returncode == 0
    before = target.read_bytes()
    with database_lock.exclusive(target):  # a bot is running on it
        done = run_bot(["restore", str(backup)], env_for(target, key), tmp_path)
    assert done.returncode == 2
    assert "is in use by process" in done.stderr and "Traceback" not in done.stderr
    assert target.read_bytes() == before
    assert list(tmp_path.glob("shop.sqlite3.*restor*")) == []


def test_a_restore_refuses_a_backup_the_key_cant_read_until_the_key_is_added(
    tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    source = tmp_path / "old.sqlite3"
    seed(source, cipher)
    target = tmp_path / "shop.sqlite3"
    other_key = Fernet.generate_key().decode()
    done = run_bot(["restore", str(source)], env_for(target, other_key), tmp_path)
    assert done.returncode == 2, done.stderr
    assert "doesn't decrypt 1 order(s)" in done.stderr
    assert "DELIVERY_ENCRYPTION_KEY=new,old" in done.stderr
    assert not target.exists()  # nothing was put in place
    assert len(done.stderr.strip().splitlines()) == 1
    # With the old key kept after the new one, it restores.
    done = run_bot(["restore", str(source)], env_for(target, f"{other_key},{key}"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert rows(target, "SELECT COUNT(*) AS n FROM orders")[0]["n"] == 1


def test_a_restore_refuses_a_newer_schema_and_migrates_an_older_one(
    tmp_path: Path, key: str
) -> None:
    older = tmp_path / "older.sqlite3"
    asyncio.run(migrate_to(older, 5))  # before the wallet ledger existed
    target = tmp_path / "shop.sqlite3"
    done = run_bot(["restore", str(older)], env_for(target, key), tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"migrated to schema {newest_schema_version()}" in done.stdout
    versions = rows(target, "SELECT MAX(version) AS v FROM schema_migrations")
    assert versions[0]["v"] == newest_schema_version()

    newer = tmp_path / "newer.sqlite3"
    shutil.copyfile(target, newer)
    conn = sqlite3.connect(newer)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'from_the_future', 0)")
    conn.commit()
    conn.close()
    before = target.read_bytes()
    done = run_bot(["restore", str(newer)], env_for(target, key), tmp_path)
    assert done.returncode == 2
    assert "schema version 999 is newer than this orderbot knows" in done.stderr
    assert target.read_bytes() == before


def test_a_copy_whose_ledger_doesnt_add_up_is_not_called_a_backup(
    tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    source = tmp_path / "shop.sqlite3"
    seed_unbalanced(source, cipher)
    dest = tmp_path / "b.sqlite3"
    done = run_bot(["backup", str(dest)], env_for(source, key), tmp_path)
    assert done.returncode == 1
    assert "NOT usable" in done.stderr and "user 501 INR: balance 201 != ledger 200" in done.stderr
    assert not dest.exists() and Path(f"{dest}.failed").exists()
    # And restore refuses the same copy.
    done = run_bot(["restore", f"{dest}.failed"], env_for(tmp_path / "t.sqlite3", key), tmp_path)
    assert done.returncode == 2 and "don't match their ledger" in done.stderr


def test_backups_into_a_folder_are_named_by_time_and_pruned(
    tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    source = tmp_path / "shop.sqlite3"
    seed(source, cipher)
    folder = tmp_path / "backups"
    folder.mkdir()
    old = [folder / f"orderbot-2020010{n}-000000.sqlite3" for n in range(1, 4)]
    for path in old:
        shutil.copyfile(source, path)
    # The owner's own files, even with names like ours, are neither counted nor deleted.
    unrelated = [
        folder / n for n in ("notes.txt", "orderbot-2025-keepme.sqlite3", "orderbot-manual.sqlite3")
    ]
    for path in unrelated:
        path.write_text("mine")
    done = run_bot(["backup", str(folder), "--keep", "2"], env_for(source, key), tmp_path)
    assert done.returncode == 0, done.stderr
    kept = sorted(p.name for p in folder.glob("orderbot-2*-*.sqlite3") if p not in unrelated)
    assert len(kept) == 2 and kept[0] == old[2].name
    assert all(path.read_text() == "mine" for path in unrelated)
    assert rows(folder / kept[1], "SELECT COUNT(*) AS n FROM ledger")[0]["n"] == 3
    # A name from a clock that once ran ahead sorts after the new backup: --keep still
    # never deletes the backup it has just taken.
    ahead = folder / "orderbot-20990101-000000.sqlite3"
    shutil.copyfile(source, ahead)
    done = run_bot(["backup", str(folder), "--keep", "1"], env_for(source, key), tmp_path)
    assert done.returncode == 0, done.stderr
    (left,) = [p for p in folder.glob("orderbot-2*.sqlite3") if p not in unrelated]
    assert left != ahead and f"to {left}" in done.stdout


def test_same_second_backups_get_their_own_names_in_order(tmp_path: Path) -> None:
    first = timestamped_path(tmp_path, now=0)
    first.write_text("")
    second = timestamped_path(tmp_path, now=0)
    assert (first.name, second.name) == (
        "orderbot-19700101-000000.sqlite3",
        "orderbot-19700101-000000-1.sqlite3",
    )
    second.write_text("")
    timestamped_path(tmp_path, now=1).write_text("")
    assert prune_backups(tmp_path, 1) == [first, second]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can hand a file to another user")
def test_a_restore_run_as_root_leaves_the_database_to_the_bots_user(
    tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    source = tmp_path / "backup.sqlite3"
    seed(source, cipher)
    home = tmp_path / "var-lib-orderbot"
    home.mkdir()
    os.chown(home, 65534, 65534)  # the bot's user owns its folder
    done = run_bot(["restore", str(source)], env_for(home / "shop.sqlite3", key), tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("shop.sqlite3", "shop.sqlite3.lock"):  # or the bot can't take its lock
        info = (home / name).stat()
        assert (info.st_uid, info.st_gid) == (65534, 65534), name
    # A refused restore on a fresh folder leaves the bot able to take its lock too.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    os.chown(fresh, 65534, 65534)
    wrong_key = Fernet.generate_key().decode()
    done = run_bot(["restore", str(source)], env_for(fresh / "shop.sqlite3", wrong_key), tmp_path)
    assert done.returncode == 2 and "nothing was changed" in done.stderr
    assert (fresh / "shop.sqlite3.lock").stat().st_uid == 65534


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("missing", 2),
        ("not-a-database", 1),
        ("dest-exists", 2),
        ("dest-folder-missing", 2),
        ("dest-folder-with-slash-missing", 2),
    ],
)
def test_a_backup_that_cant_be_made_says_so_in_one_line(
    tmp_path: Path, key: str, case: str, status: int
) -> None:
    source = tmp_path / "shop.sqlite3"
    dest = tmp_path / "b.sqlite3"
    if case == "not-a-database":
        source.write_bytes(os.urandom(4096))
    elif case.startswith("dest"):
        conn = sqlite3.connect(source)
        conn.execute("CREATE TABLE t (x)")
        conn.close()
    given = str(dest)
    if case == "dest-exists":
        dest.write_text("precious")
    elif case == "dest-folder-missing":
        given = str(tmp_path / "nowhere" / "b.sqlite3")
    elif case == "dest-folder-with-slash-missing":
        given = str(tmp_path / "backups") + "/"  # meant a folder: never a file named so
    done = run_bot(["backup", given], env_for(source, key), tmp_path)
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    if case == "dest-exists":
        assert dest.read_text() == "precious"
    # Nothing half-made is left behind, under any name.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != source.name) == (
        ["b.sqlite3"] if case == "dest-exists" else []
    )


def test_a_copy_cut_short_leaves_nothing_named_like_a_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rollback-mode database held by another writer: the copy gives up after
    LOCK_WAIT (Python's backup() alone would retry for ever) and leaves no file."""
    source = tmp_path / "shop.sqlite3"
    holder = sqlite3.connect(source, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (1)")
    monkeypatch.setattr(storage.backup, "LOCK_WAIT", 0.3)
    folder = tmp_path / "backups"
    folder.mkdir()
    try:
        with pytest.raises(BackupError, match="stayed locked by another process"):
            copy_database(source, folder / "b.sqlite3")
    finally:
        holder.close()
    assert list(folder.iterdir()) == []


def test_a_killed_backups_partial_copy_is_removed_by_the_next_one(tmp_path: Path) -> None:
    dead_pid = _ended_pid()
    stale = tmp_path / f".orderbot-20261205-010000.sqlite3.partial-{dead_pid}"
    live = tmp_path / f".orderbot-20261205-010001.sqlite3.partial-{os.getpid()}"
    for path in (stale, Path(f"{stale}-journal"), live):
        path.write_bytes(b"half")
    mine = tmp_path / "orderbot-notes.txt.partial-1"  # not hidden: not ours
    mine.write_text("mine")
    orphan = tmp_path / f".shop.sqlite3.restoring-{dead_pid}-journal"  # its main file gone
    orphan.write_bytes(b"half")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([stale, Path(f"{stale}-journal"), orphan])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, mine.name])


def test_a_killed_restores_hidden_copy_is_removed_when_the_bot_next_starts(
    tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    target = tmp_path / "shop.sqlite3"
    seed(target, cipher)
    left = tmp_path / f".shop.sqlite3.restoring-{_ended_pid()}"
    shutil.copyfile(target, left)  # a full copy, contacts and all
    done = run_bot(["migrate"], env_for(target, key), tmp_path)
    assert done.returncode == 0, done.stderr
    assert not left.exists() and f"removed {left}" in done.stderr


def test_a_backup_stopped_while_it_checks_the_copy_leaves_no_backup(
    tmp_path: Path, key: str, cipher: DeliveryCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM's default is to end the process; SystemExit unwinds the same way."""
    source = tmp_path / "shop.sqlite3"
    seed(source, cipher)
    folder = tmp_path / "backups"
    folder.mkdir()
    monkeypatch.setenv("DATABASE_PATH", str(source))
    monkeypatch.setenv("DELIVERY_ENCRYPTION_KEY", key)
    monkeypatch.chdir(tmp_path)
    checked: list[Path] = []

    def stopped(path: Path, cipher: DeliveryCipher | None = None) -> None:
        checked.append(path)
        raise SystemExit(143)

    monkeypatch.setattr(backup_commands, "check_copy", stopped)
    with pytest.raises(SystemExit):
        backup_commands.cmd_backup(str(folder))
    assert checked and checked[0].name.startswith(".orderbot-")  # it was checking, unnamed
    assert list(folder.iterdir()) == []


def _ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_two_copies_given_the_same_name_both_land(tmp_path: Path, cipher: DeliveryCipher) -> None:
    source = tmp_path / "shop.sqlite3"
    seed(source, cipher)
    folder = tmp_path / "backups"
    folder.mkdir()
    name = folder / "orderbot-20261205-010000.sqlite3"
    first = copy_database(source, name, next_name=lambda _: timestamped_path(folder, now=0))
    second = copy_database(source, name, next_name=lambda _: timestamped_path(folder, now=0))
    assert first == name and second == folder / "orderbot-19700101-000000.sqlite3"
    for path in (first, second):
        assert check_copy(path, cipher).problems == []
    assert sorted(p.name for p in folder.iterdir()) == sorted([first.name, second.name])


def test_restores_within_one_second_keep_every_database_they_replace(
    tmp_path: Path, cipher: DeliveryCipher
) -> None:
    target = tmp_path / "shop.sqlite3"
    seed(target, cipher, credits=1)
    first = _set_aside(target)
    conn = sqlite3.connect(target)
    conn.execute("UPDATE wallets SET balance_minor = 7")
    conn.commit()
    conn.close()
    second = _set_aside(target)
    assert first is not None and second is not None and first != second
    assert rows(first, "SELECT balance_minor AS b FROM wallets")[0]["b"] == 100
    assert rows(second, "SELECT balance_minor AS b FROM wallets")[0]["b"] == 7


def test_a_restore_through_a_symlinked_database_path_replaces_the_real_file(
    tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    real = tmp_path / "real" / "shop.sqlite3"
    seed(real, cipher, credits=1)
    backup = tmp_path / "backup.sqlite3"
    other = tmp_path / "other.sqlite3"
    seed(other, cipher, credits=3)
    assert run_bot(["backup", str(backup)], env_for(other, key), tmp_path).returncode == 0
    link = tmp_path / "link" / "shop.sqlite3"
    link.parent.mkdir()
    link.symlink_to(real)
    done = run_bot(["restore", str(backup)], env_for(link, key), tmp_path)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and link.resolve() == real
    assert rows(real, "SELECT COUNT(*) AS n FROM ledger")[0]["n"] == 3
    assert list(link.parent.iterdir()) == [link]  # the kept copy is beside the real file
    assert len(list(real.parent.glob("shop.sqlite3.before-restore-*"))) == 1


def test_ledger_rows_without_a_wallet_are_caught_even_when_they_cancel_out(
    tmp_path: Path, cipher: DeliveryCipher
) -> None:
    path = tmp_path / "shop.sqlite3"
    seed(path, cipher, credits=1)
    conn = sqlite3.connect(path)
    for n, amount in enumerate((300, -300)):
        conn.execute(
            "INSERT INTO ledger (user_id, currency, amount_minor, kind, actor, created_at,"
            " idempotency_key) VALUES (999, 'INR', ?, 'adjustment', 'x', 0, ?)",
            (amount, f"orphan-{n}"),
        )
    conn.commit()
    conn.close()
    (problem,) = check_copy(path, cipher).problems
    assert "user 999 INR: no wallet != ledger 0" in problem


def test_a_failed_copy_never_replaces_a_file_and_only_the_newest_is_kept(
    tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    source = tmp_path / "shop.sqlite3"
    seed_unbalanced(source, cipher)
    dest = tmp_path / "x.sqlite3"
    Path(f"{dest}.failed").write_text("the owner's notes")
    done = run_bot(["backup", str(dest)], env_for(source, key), tmp_path)
    assert done.returncode == 1
    assert Path(f"{dest}.failed").read_text() == "the owner's notes"
    assert f"{dest}.failed-1" in done.stderr and Path(f"{dest}.failed-1").exists()
    folder = tmp_path / "backups"
    folder.mkdir()
    mine = folder / "orderbot-manual.sqlite3.failed"
    mine.write_text("the owner's")
    for _ in range(2):
        assert run_bot(["backup", str(folder)], env_for(source, key), tmp_path).returncode == 1
    assert len(list(folder.glob("orderbot-2*.sqlite3.failed*"))) == 1
    assert list(folder.glob("orderbot-*.sqlite3")) == []
    assert mine.read_text() == "the owner's"


def test_a_refused_start_is_in_the_log_file_too(
    tmp_path: Path, key: str, cipher: DeliveryCipher
) -> None:
    target = tmp_path / "shop.sqlite3"
    seed(target, cipher)
    log_file = tmp_path / "logs" / "orderbot.log"
    env = {
        **env_for(target, key),
        "LOG_FILE": str(log_file),
        "DISCORD_TOKEN": "x" * 60,
        "GUILD_ID": "1100000000000000001",
        "STAFF_ROLE_ID": "1100000000000000002",
        "STAFF_CHANNEL_ID": "1100000000000000003",
        "NOTICE_CHANNEL_ID": "1100000000000000004",
        "CATALOG_PATH": str(REPO_ROOT / "catalog.toml"),
        "DISCORD_API_BASE_URL": "http://127.0.0.1:9",
    }
    with database_lock.exclusive(target):  # another bot runs on it
        done = run_bot(["run"], env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "is in use by process" in done.stderr
    logged = log_file.read_text(encoding="utf-8")
    assert "ERROR   bot.cli: " in logged and "is in use by process" in logged
