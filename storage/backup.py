"""Copies of the database that hold, and the checks that prove they do.

`cp` of a live database is not a backup: in WAL mode the newest commits sit in the
`-wal` file beside it, and a copy of the main file alone can even lack every table.
SQLite's online backup API reads the database the way a connection does, WAL included,
as one consistent snapshot, while the bot goes on writing (WAL readers don't block
writers).

Synchronous `sqlite3` on purpose: these run from the command line, one at a time, on
files no event loop shares.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.crypto import DecryptionError, DeliveryCipher
from storage.database import FILE_MODE, bundled_migrations
from storage.key_rotation import COLUMNS as SECRET_COLUMNS

# orderbot-YYYYmmdd-HHMMSS.sqlite3, with -N when a second one is taken within a second:
# only files named exactly so are ever pruned.
BACKUP_NAME = re.compile(r"orderbot-(\d{8}-\d{6})(?:-(\d+))?\.sqlite3")
MISMATCHES_SHOWN = 5
# How long a copy waits for another process's write lock before it gives up.
LOCK_WAIT = 60.0
SQLITE_BUSY = 5
SQLITE_LOCKED = 6


class BackupError(Exception):
    """A copy can't be made or can't be trusted: the message says why, in one line."""


@dataclass
class CopyReport:
    """What a check of a copy found. `problems` empty = the copy can be trusted."""

    schema_version: int = 0
    orders: int = 0
    wallets: int = 0
    ledger_rows: int = 0
    problems: list[str] = field(default_factory=list)
    # Orders whose secrets no configured key decrypts (only when a cipher was given).
    unreadable_orders: list[str] = field(default_factory=list)
    secrets_checked: int = 0

    def summary(self) -> str:
        return (
            f"schema {self.schema_version}, {self.orders} order(s), {self.wallets} wallet(s), "
            f"{self.ledger_rows} ledger row(s)"
        )


def newest_schema_version() -> int:
    return max((m.version for m in bundled_migrations()), default=0)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection that never creates the file it is given."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    uri = path.resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True)


@contextlib.contextmanager
def _closing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield conn
    finally:
        conn.close()


def copy_database(
    source: Path, dest: Path, *, next_name: Callable[[Path], Path] | None = None
) -> Path:
    """Copy `source` (a live WAL database is fine) to `dest`, a new owner-only file, as one
    self-contained file (rollback-journal mode, no -wal). Returns where it went (see
    `publish` for `next_name`). Raises BackupError."""
    with partial_copy(source, dest) as partial:
        return publish(partial, dest, next_name=next_name)


@contextlib.contextmanager
def partial_copy(source: Path, dest: Path) -> Iterator[Path]:
    """A finished, fsynced copy of `source` under a hidden temporary name beside `dest`
    (`.NAME.partial-PID`), removed on the way out unless `publish` gave it a name. A copy
    cut short (a full disk, SIGTERM, kill -9) or not yet checked never carries a
    backup's name; `remove_stale_temporaries` clears what a killed process left."""
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    _remove_with_sidecars(partial)
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except OSError as exc:
        raise BackupError(f"can't write in {dest.parent} ({exc.strerror})") from None
    os.close(fd)
    try:
        _copy_pages(source, partial)
        yield partial
    finally:
        _remove_with_sidecars(partial)


def publish(partial: Path, dest: Path, *, next_name: Callable[[Path], Path] | None = None) -> Path:
    """Give a finished copy the name `dest` with link(2), which never replaces a file.
    When `dest` is taken (two backups in the same second), `next_name` picks another;
    without it, BackupError. Returns the name it got."""
    try:
        while True:
            try:
                _link(partial, dest)
                return dest
            except FileExistsError:
                if next_name is None:
                    raise BackupError(f"{dest} exists: the bot never overwrites a file") from None
                dest = next_name(dest)
    except OSError as exc:
        raise BackupError(f"can't write {dest} ({exc.strerror})") from None


def _copy_pages(source: Path, partial: Path) -> None:
    deadline = time.monotonic() + LOCK_WAIT

    def give_up_when_locked_too_long(status: int, remaining: int, total: int) -> None:
        # Python's backup() retries a locked source for ever; a rollback-mode database
        # held by another writer would hang the backup (and its timer unit) with it.
        if status in (SQLITE_BUSY, SQLITE_LOCKED) and time.monotonic() > deadline:
            raise BackupError(
                f"{source} stayed locked by another process for {LOCK_WAIT:.0f} s: "
                "try again when it is done"
            )

    try:
        with (
            _closing(_connect_read_only(source)) as src,
            _closing(sqlite3.connect(partial)) as dst,
        ):
            src.execute(f"PRAGMA busy_timeout = {int(LOCK_WAIT * 1000)}")
            # All pages in one step: one consistent snapshot, WAL included.
            src.backup(dst, progress=give_up_when_locked_too_long)
            dst.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error as exc:
        raise BackupError(f"can't copy {source} ({exc})") from None
    with open(partial, "rb") as written:
        os.fsync(written.fileno())


def _link(partial: Path, dest: Path) -> None:
    """A second name for the finished copy, never replacing a file (FileExistsError)."""
    try:
        os.link(partial, dest)
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: check, then rename (a race here is only
        # possible against another backup started in the same instant).
        if dest.exists() or dest.is_symlink():
            raise FileExistsError(dest) from None
        shutil.copyfile(partial, dest)
    _fsync_folder(dest.parent)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


SIDECARS = ("-journal", "-wal", "-shm")
_TEMPORARY = re.compile(r"\..+\.(?:partial|restoring)-(\d+)(?:-journal|-wal|-shm)?")


def sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in SIDECARS]


def _remove_with_sidecars(path: Path) -> None:
    # Sidecars first: a process killed in between leaves the main file, which names them.
    for file in (*sidecars(path), path):
        with contextlib.suppress(FileNotFoundError):
            file.unlink()


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the hidden partial copies a killed backup or restore left in `folder` (their
    process is gone); a running one's are left alone. Returns what was deleted."""
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = _TEMPORARY.fullmatch(path.name)
        if match is None or _alive(int(match[1])):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unique_name(path: Path) -> Path:
    """`path`, or `path-1`, `path-2` … : the first that doesn't exist."""
    candidate, n = path, 0
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def check_copy(path: Path, cipher: DeliveryCipher | None = None) -> CopyReport:
    """Integrity, the schema version, ledger sums equal to wallet balances and, with a
    cipher, that every stored secret decrypts. Never changes the file."""
    report = CopyReport()
    try:
        with _closing(_connect_read_only(path)) as conn:
            conn.row_factory = sqlite3.Row
            _check(conn, report, cipher)
    except sqlite3.DatabaseError as exc:
        report.problems.append(f"it is not a readable SQLite database ({exc})")
    return report


def _check(conn: sqlite3.Connection, report: CopyReport, cipher: DeliveryCipher | None) -> None:
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
    if integrity != ["ok"]:
        report.problems.append("integrity check failed: " + "; ".join(integrity[:3]))
        return
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_migrations" not in tables:
        report.problems.append("it has no orderbot schema (is it the bot's database?)")
        return
    (version,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    report.schema_version = int(version)
    newest = newest_schema_version()
    if report.schema_version > newest:
        report.problems.append(
            f"its schema version {report.schema_version} is newer than this orderbot knows "
            f"({newest}): install the orderbot version that wrote it (or newer)"
        )
        return
    if "orders" in tables:
        report.orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    if {"ledger", "wallets"} <= tables:
        _check_ledger(conn, report)
    if cipher is not None and "orders" in tables:
        _check_secrets(conn, report, cipher)


def _check_ledger(conn: sqlite3.Connection, report: CopyReport) -> None:
    report.wallets = conn.execute("SELECT COUNT(*) FROM wallets").fetchone()[0]
    report.ledger_rows = conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
    # Every wallet's balance is the sum of its ledger rows, and every ledger row belongs
    # to a wallet: compared both ways, so a wallet with no rows and rows with no wallet
    # are caught alike.
    mismatches = conn.execute(
        """
        WITH sums AS (
            SELECT user_id, currency, SUM(amount_minor) AS total
            FROM ledger GROUP BY user_id, currency
        )
        SELECT w.user_id, w.currency, w.balance_minor AS balance, COALESCE(s.total, 0) AS total
        FROM wallets w LEFT JOIN sums s USING (user_id, currency)
        WHERE w.balance_minor != COALESCE(s.total, 0)
        UNION ALL
        SELECT s.user_id, s.currency, NULL, s.total
        FROM sums s LEFT JOIN wallets w USING (user_id, currency)
        WHERE w.user_id IS NULL
        """
    ).fetchall()
    if mismatches:
        shown = ", ".join(
            f"user {m['user_id']} {m['currency']}: "
            + ("no wallet" if m["balance"] is None else f"balance {m['balance']}")
            + f" != ledger {m['total']}"
            for m in mismatches[:MISMATCHES_SHOWN]
        )
        report.problems.append(
            f"{len(mismatches)} wallet(s) don't match their ledger ({shown}, in minor units)"
        )


def _check_secrets(conn: sqlite3.Connection, report: CopyReport, cipher: DeliveryCipher) -> None:
    columns = [
        row["name"] for row in conn.execute("PRAGMA table_info(orders)")
    ]  # an older schema may lack some
    present = [c for c in SECRET_COLUMNS if c in columns]
    if not present:
        return
    query = f"SELECT id, {', '.join(present)} FROM orders"  # noqa: S608 - fixed column names
    for row in conn.execute(query):
        for column in present:
            token = row[column]
            if token is None:
                continue
            report.secrets_checked += 1
            try:
                cipher.decrypt_text(bytes(token))
            except DecryptionError:
                report.unreadable_orders.append(str(row["id"]))
                break


def timestamped_path(folder: Path, now: float | None = None) -> Path:
    """A new name in `folder` for a backup taken now (the timer and a manual backup may
    run in the same second: the second gets -1)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    path = folder / f"orderbot-{stamp}.sqlite3"
    n = 0
    while path.exists() or path.is_symlink():
        n += 1
        path = folder / f"orderbot-{stamp}-{n}.sqlite3"
    return path


def _backup_order(path: Path) -> tuple[str, int]:
    match = BACKUP_NAME.fullmatch(path.name)
    assert match is not None
    return match[1], int(match[2] or 0)


def prune_backups(folder: Path, keep: int, *, newest: Path | None = None) -> list[Path]:
    """Delete all but the newest `keep` timestamped backups in `folder`. Only files named
    exactly as `timestamped_path` names them are counted or deleted: nothing else there
    is touched. `newest`, the backup just taken, is always kept, even when a name from a
    clock that once ran ahead sorts after it. Returns what was deleted."""
    ours = sorted(
        (
            p
            for p in folder.iterdir()
            if BACKUP_NAME.fullmatch(p.name) and p.is_file() and not p.is_symlink() and p != newest
        ),
        key=_backup_order,
    )
    room = keep - 1 if newest is not None else keep
    removed: list[Path] = []
    for path in ours[: max(len(ours) - room, 0)]:
        # Another backup pruning the same folder at the same time may have got there first.
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


FAILED_NAME = re.compile(BACKUP_NAME.pattern + r"\.failed(?:-\d+)?")


def prune_failed_copies(folder: Path, *, newest: Path) -> None:
    """Keep only the newest failed copy (`newest`) of those `backup` named in `folder`."""
    for path in folder.iterdir():
        if FAILED_NAME.fullmatch(path.name) and path != newest and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
