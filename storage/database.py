"""One aiosqlite connection per process, and the migration runner.

The connection runs in autocommit mode (`isolation_level=None`) and every write goes
through `Database.transaction()`, which issues BEGIN IMMEDIATE / COMMIT itself. An
asyncio lock serialises transactions: with a single shared connection, two coroutines
interleaving statements would otherwise end up inside each other's transaction.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
BUSY_TIMEOUT_MS = 5000
# The database holds wallets, contacts and (encrypted) deliveries: readable by the bot's
# user only. SQLite gives its -wal and -shm files the database file's permissions.
FILE_MODE = 0o600


class DatabaseUnusable(Exception):
    """DATABASE_PATH can't be used as the bot's database: the message says why and what
    to do, in one line."""


class DatabaseBusy(DatabaseUnusable):
    """Another process (not a bot: that is the lock's business) kept the database locked
    past the busy timeout, e.g. a `sqlite3` shell in the middle of a transaction. Worth
    trying again later, unlike the other reasons."""


class SchemaTooNew(DatabaseUnusable):
    """The database was written by a newer orderbot than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def bundled_migrations() -> list[Migration]:
    """The numbered .sql files shipped in storage/migrations, in order."""
    found: list[Migration] = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements. sqlite3's executescript() would COMMIT first,
    breaking the all-migrations-in-one-transaction guarantee, so we execute one by one."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement.strip(";").strip() and not _only_comments(statement):
                statements.append(statement)
            buffer = ""
    if buffer.strip() and not _only_comments(buffer):
        raise ValueError("migration ends with an incomplete statement")
    return statements


def _only_comments(sql: str) -> bool:
    return all(
        not line.strip() or line.strip().startswith("--") or line.strip() == ";"
        for line in sql.splitlines()
    )


class Database:
    # Whether other processes may use the database at the same time (PostgreSQL). On
    # SQLite the file lock (storage/lock.py) proves this process is the only one.
    shared = False
    # Appended to the row selection of a lease claim. SQLite has one writer, so a claim
    # sees every other claim committed; PostgreSQL locks the rows it takes and skips the
    # ones another process is taking right now, instead of waiting for them.
    skip_locked = ""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        """Open (creating it owner-only if new) and configure the database, or raise
        DatabaseUnusable. A failure closes the connection it opened: aiosqlite's thread
        would otherwise keep a failed process alive, doing nothing, until it is killed."""
        path = Path(path)
        if str(path) != ":memory:":
            prepare_database_file(path)
            # Tried first without aiosqlite: a connect that fails inside aiosqlite leaves
            # its thread to report the failure to an event loop that asyncio.run() may
            # already have closed (a traceback on a clean exit 2).
            _probe(path)
        try:
            conn = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise DatabaseUnusable(_unusable(path, exc)) from None
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives a killed process (the WAL is in the OS cache);
            # only a power cut could lose the last commits, never corrupt the file.
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise DatabaseUnusable(_unusable(path, exc)) from None
            raise
        return cls(conn, path)

    async def close(self) -> None:
        await self.conn.close()

    def claiming(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """The transaction a lease claim runs in (`UPDATE … WHERE id IN (SELECT … LIMIT ?`
        + `skip_locked` + `) RETURNING *`). On SQLite, any write transaction. On
        PostgreSQL it skips the shop-wide write lock: the claim's row locks are enough,
        so claims by many processes run side by side and never wait for each other."""
        return self.transaction()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self._roll_back()
                raise
            try:
                await self.conn.execute("COMMIT")
            except BaseException:
                # A COMMIT can fail (a deferred constraint, a full disk, a busy reader)
                # and leave the transaction open: every later BEGIN would then fail on
                # this shared connection. End it, and let the caller see the failure.
                await self._roll_back()
                raise

    async def _roll_back(self) -> None:
        """ROLLBACK if a transaction is still open (SQLite ends some on error itself);
        never raise over the error that got us here."""
        if not self.conn.in_transaction:
            return
        try:
            await self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("ROLLBACK failed; the connection may be unusable")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """Reads take the same lock so they never observe another coroutine's
        half-finished transaction on the shared connection."""
        async with self._lock:
            yield self.conn

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self.reading() as conn, conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self.reading() as conn, conn.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    # --- migrations ---------------------------------------------------------------------

    async def schema_version(self) -> int:
        row = await self.fetch_one(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
        if row is None:
            return 0
        row = await self.fetch_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        return int(row[0]) if row else 0

    async def migrate(self, migrations: list[Migration] | None = None) -> list[int]:
        """Apply every pending migration in ONE transaction. Returns the versions applied;
        an up-to-date database returns [] and changes nothing."""
        migrations = bundled_migrations() if migrations is None else migrations
        try:
            return await self._migrate(migrations)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise _unusable_error(self.path, exc) from None
            raise

    async def _migrate(self, migrations: list[Migration]) -> list[int]:
        async with self.transaction() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL,"
                " applied_at REAL NOT NULL)"
            )
            async with conn.execute("SELECT version FROM schema_migrations") as cur:
                applied = {int(r[0]) for r in await cur.fetchall()}
            newest = max((m.version for m in migrations), default=0)
            if applied and max(applied) > newest:
                # Written by a newer orderbot (a downgrade, or a newer shop's backup):
                # this code doesn't know what those migrations changed.
                raise SchemaTooNew(
                    f"{self.path} has schema version {max(applied)}, newer than this "
                    f"orderbot knows ({newest}): install the orderbot version that wrote it "
                    "(or newer)."
                )
            pending = [m for m in migrations if m.version not in applied]
            for migration in pending:
                log.info("applying migration %04d_%s", migration.version, migration.name)
                for statement in split_statements(migration.sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time()),
                )
        return [m.version for m in pending]


def prepare_database_file(path: Path) -> None:
    """Make the folder and an empty owner-only file if there is none, and take group and
    other access away from a database created before the bot did so. Raises
    DatabaseUnusable for a path that can't be a database file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.is_dir():
            raise DatabaseUnusable(
                f"DATABASE_PATH={path} is a folder: point it at a file in it, such as "
                f"{path / 'orderbot.sqlite3'}"
            )
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except FileExistsError:
            pass
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            try:
                info = file.stat()
            except FileNotFoundError:
                continue
            if info.st_mode & 0o077 and info.st_uid == os.geteuid():
                os.chmod(file, FILE_MODE)
    except OSError as exc:
        raise DatabaseUnusable(_unusable(path, exc)) from None


def _probe(path: Path) -> None:
    """Reading the schema is what finds a file that isn't a database at all."""
    try:
        probe = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            probe.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()
    except sqlite3.Error as exc:
        raise _unusable_error(path, exc) from None


def _unusable_error(path: Path, exc: sqlite3.Error) -> DatabaseUnusable:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return DatabaseBusy(
            f"DATABASE_PATH={path} is locked by another process (a `sqlite3` shell in the "
            "middle of a transaction?): finish or close it, then start again."
        )
    return DatabaseUnusable(_unusable(path, exc))


def _unusable(path: Path, exc: BaseException) -> str:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in reason:
        return (
            f"DATABASE_PATH={path} is not a SQLite database (or it is damaged): point it at "
            "the bot's database, restore a backup (`orderbot restore BACKUP`), or move the "
            "file away to start an empty shop."
        )
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return (
            f"DATABASE_PATH={path}: a part of its folder is a file, not a folder. Point it "
            "at a file inside a folder."
        )
    owner = _foreign_owner(path)
    if owner is not None:
        return (
            f"DATABASE_PATH={path} can't be opened ({reason}): it belongs to {owner}, not to "
            f"the user the bot runs as. `chown` it (and its folder) to the bot's user."
        )
    return f"DATABASE_PATH={path} can't be opened as the database ({reason})."


def _foreign_owner(path: Path) -> str | None:
    """Who owns the database file (or its folder), if not us: the usual reason it can't
    be opened is a restore or a migrate run as root."""
    for candidate in (path, path.parent):
        try:
            uid = candidate.stat().st_uid
        except OSError:
            continue
        if uid != os.geteuid():
            try:
                import pwd

                return f"user {pwd.getpwuid(uid).pw_name}"
            except (ImportError, KeyError):
                return f"uid {uid}"
    return None


async def open_database(path: Path | str, *, migrate: bool = True) -> Database:
    db = await Database.open(path)
    if migrate:
        try:
            await db.migrate()
        except BaseException:
            await db.close()
            raise
    return db
