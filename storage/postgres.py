"""PostgreSQL behind the same `Database` the rest of storage uses (issue 26).

Storage's SQL is written once, in the dialect both engines share, with `?` placeholders
and aiosqlite's cursor API (`execute` → `fetchone`/`fetchall`/`rowcount`). This module
makes a pooled asyncpg connection speak that API, and translates what differs:

* placeholders: `?` → `$1, $2, …` (never inside a quoted literal);
* two-argument `MAX(a, b)` / `MIN(a, b)` → `GREATEST` / `LEAST` (the aggregates, with one
  argument, are the same in both);
* `date(x, 'unixepoch')` → the UTC day of a UNIX time;
* migrations: column types (`INTEGER` → `BIGINT`, so money holds 2^53 - 1 minor units;
  `REAL` → `DOUBLE PRECISION`; `BLOB` → `BYTEA`; `AUTOINCREMENT` keys → identity
  columns). Where the SQL itself must differ (triggers), a migration has a file of the
  same number under `migrations/postgres/`.

Writes serialize exactly as they do on SQLite: every write transaction first takes one
transaction-level advisory lock, so the read-then-write transactions storage is built
from (the Confirm claim and its debit, compare-and-sets) see what SQLite's single writer
guarantees, across every process using the database. Reads take no lock. Lease claims
(due polls, owed DMs, staff alerts) take no shop-wide lock either: they lock the rows they
take with `FOR UPDATE SKIP LOCKED` (`Database.claiming`), so many processes claim side by
side, each getting different rows.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias, cast

import aiosqlite
import asyncpg
from asyncpg.pool import PoolConnectionProxy

from storage.database import (
    Database,
    DatabaseBusy,
    DatabaseUnusable,
    Migration,
    SchemaTooNew,
    _only_comments,
    bundled_migrations,
)

# A pooled connection (what the pool hands out) or a plain one.
Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

# The advisory lock every write transaction takes, with the shop's schema (one database
# may hold several shops, each in its own schema, as the tests do).
WRITE_LOCK = 0x6F726462  # "ordb"
POOL_SIZE = 10


def _placeholders(sql: str) -> str:
    """`?` → `$n` outside string literals and quoted identifiers."""
    out: list[str] = []
    n = 0
    quote: str | None = None
    for ch in sql:
        if quote:
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


def _top_level_args(sql: str, start: int) -> tuple[list[str], int]:
    """The comma-separated arguments of the call whose `(` is at `start`, and the index
    just after its `)`."""
    depth, args, current = 0, [], []
    i = start
    while i < len(sql):
        ch = sql[i]
        if ch == "(":
            depth += 1
            if depth > 1:
                current.append(ch)
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(current))
                return args, i + 1
            current.append(ch)
        elif ch == "," and depth == 1:
            args.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    raise ValueError("unbalanced parentheses in SQL")


_SCALAR = re.compile(r"\b(MAX|MIN|date)\(", re.IGNORECASE)


def _functions(sql: str) -> str:
    out, i = [], 0
    for match in _SCALAR.finditer(sql):
        if match.start() < i:
            continue
        args, end = _top_level_args(sql, match.end() - 1)
        name = match.group(1).upper()
        inner = [_functions(a) for a in args]
        if name in ("MAX", "MIN") and len(inner) == 2:
            out.append(sql[i : match.start()])
            out.append(f"{'GREATEST' if name == 'MAX' else 'LEAST'}({inner[0]}, {inner[1]})")
            i = end
        elif name == "DATE" and len(inner) == 2 and inner[1].strip() == "'unixepoch'":
            out.append(sql[i : match.start()])
            out.append(f"to_char(to_timestamp({inner[0]}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
            i = end
    out.append(sql[i:])
    return "".join(out)


_LIKE = re.compile(r"\bLIKE\b")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    # Cached: storage's statements are a few hundred constant strings, translated on
    # every execution otherwise (bench/worker_polls.py's profile showed it).
    # SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE is that.
    return _placeholders(_LIKE.sub("ILIKE", _functions(sql)))


def pg_statements(script: str) -> list[str]:
    """A migration's statements for PostgreSQL: each ends with a `;` at the end of a line
    (after any `-- comment`), except inside a `$$ … $$` function body."""
    statements: list[str] = []
    buffer, in_body = "", False
    for line in script.splitlines(keepends=True):
        buffer += line
        in_body ^= line.count("$$") % 2 == 1
        code = line.split("--", 1)[0].rstrip()
        if not in_body and code.endswith(";"):
            if not _only_comments(buffer):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not _only_comments(buffer):
        raise ValueError("migration ends with an incomplete statement")
    return statements


_TYPES = [
    (
        re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
]


def migration_sql(migration: Migration) -> str:
    """A migration as PostgreSQL runs it: its own file under migrations/postgres/ where
    the SQL differs, else the shared file with PostgreSQL's column types."""
    own = resources.files("storage.migrations").joinpath(
        "postgres", f"{migration.version:04d}_{migration.name}.sql"
    )
    sql = own.read_text(encoding="utf-8") if own.is_file() else migration.sql
    for pattern, replacement in _TYPES:
        sql = pattern.sub(replacement, sql)
    return sql


@contextmanager
def as_sqlite_errors() -> Iterator[None]:
    """Storage speaks the DB-API's error vocabulary (`sqlite3.IntegrityError` for a
    UNIQUE, CHECK or foreign key refusal, and for the ledger's append-only trigger), so
    it catches one exception whichever engine refused."""
    try:
        yield
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.RaiseError) as exc:
        raise sqlite3.IntegrityError(str(exc)) from exc


class PgCursor:
    def __init__(self, rows: list[asyncpg.Record], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    async def fetchone(self) -> asyncpg.Record | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[asyncpg.Record]:
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest

    async def __aenter__(self) -> PgCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Execution:
    """What `execute` returns: awaited, or used as `async with … as cur`, like aiosqlite."""

    def __init__(self, conn: Connection, sql: str, params: Sequence[Any]) -> None:
        self._conn, self._sql, self._params = conn, sql, params
        self._cursor: PgCursor | None = None

    async def _run(self) -> PgCursor:
        statement = await self._conn.prepare(translate(self._sql))
        with as_sqlite_errors():
            rows = await statement.fetch(*self._params)
        status = statement.get_statusmsg() or ""
        tail = status.rsplit(" ", 1)[-1]
        count = int(tail) if tail.isdigit() else len(rows)
        return PgCursor(list(rows), count)

    def __await__(self) -> Any:
        return self._run().__await__()

    async def __aenter__(self) -> PgCursor:
        self._cursor = await self._run()
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        return None


class PgConnection:
    """One pooled asyncpg connection, with aiosqlite's `execute` and `executemany`."""

    def __init__(self, conn: Connection) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Iterable[Any] = ()) -> _Execution:
        return _Execution(self.raw, sql, tuple(params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with as_sqlite_errors():
            await self.raw.executemany(translate(sql), [tuple(r) for r in rows])


class PostgresDatabase(Database):
    """`Database` on PostgreSQL. The same methods; a pool instead of one connection."""

    shared = True
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, pool: asyncpg.Pool, url: str, schema: str | None = None) -> None:
        self.pool = pool
        self.url = url
        self.schema = schema
        # What messages name the database by: never the URL, which may hold a password.
        self.path = Path("PostgreSQL")

    @classmethod
    async def connect(cls, url: str, *, schema: str | None = None) -> PostgresDatabase:
        settings = {"search_path": schema} if schema else {}
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=POOL_SIZE, server_settings=settings
        )
        return cls(pool, url, schema)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", WRITE_LOCK
            )
            yield cast(aiosqlite.Connection, PgConnection(conn))

    @asynccontextmanager
    async def claiming(self) -> AsyncIterator[aiosqlite.Connection]:
        # No write lock: `FOR UPDATE SKIP LOCKED` locks exactly the rows claimed, and a
        # row another transaction holds (a claim, or a write under the lock) is skipped.
        # Under READ COMMITTED a row changed since the statement began is re-checked
        # against the WHERE once locked, so an expired-lease test is never stale.
        async with self.pool.acquire() as conn, conn.transaction():
            yield cast(aiosqlite.Connection, PgConnection(conn))

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self.pool.acquire() as conn:
            yield cast(aiosqlite.Connection, PgConnection(conn))

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(translate(sql), *tuple(params))
        return cast(list[aiosqlite.Row], list(rows))

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(translate(sql), *tuple(params))
        return cast("aiosqlite.Row | None", row)

    async def schema_version(self) -> int:
        async with self.pool.acquire() as conn:
            exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not exists:
                return 0
            return int(
                await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            )

    async def migrate(self, migrations: list[Migration] | None = None) -> list[int]:
        migrations = bundled_migrations() if migrations is None else migrations
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", WRITE_LOCK
            )
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version BIGINT PRIMARY KEY,"
                " name TEXT NOT NULL,"
                " applied_at DOUBLE PRECISION NOT NULL)"
            )
            applied = {int(r[0]) for r in await conn.fetch("SELECT version FROM schema_migrations")}
            newest = max((m.version for m in migrations), default=0)
            if applied and max(applied) > newest:
                raise SchemaTooNew(
                    f"the database has schema version {max(applied)}, newer than this "
                    f"orderbot knows ({newest}): install the orderbot version that wrote it "
                    "(or newer)."
                )
            pending = [m for m in migrations if m.version not in applied]
            for migration in pending:
                for statement in pg_statements(migration_sql(migration)):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    time.time(),
                )
        return [m.version for m in pending]


async def empty_schema(url: str, schema: str) -> None:
    """`schema` in the database at `url`, empty: dropped (with everything in it) if it
    exists, then created. For a fresh shop of its own (tests, benchmarks)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()


async def open_postgres(
    url: str, *, migrate: bool = True, schema: str | None = None
) -> PostgresDatabase:
    """`schema`: where the tables live (the tests give each worker its own)."""
    db = await PostgresDatabase.connect(url, schema=schema)
    if migrate:
        try:
            await db.migrate()
        except BaseException:
            await db.close()
            raise
    return db


class GatewayLockHeld(DatabaseUnusable):
    """Another process holds this PostgreSQL shop in a way that excludes this one: a
    second gateway, maintenance beside running processes, or the reverse."""


class MaintenanceRunning(GatewayLockHeld, DatabaseBusy):
    """`migrate` (or another maintenance command) holds the shop: a serving process
    waits for it to finish. Exit 1, so a service manager starts it again later."""


# Session-level advisory locks, each with the shop's schema. GATEWAY: held exclusively
# by `run` (with or without workers) for its whole life. PROCESSES: held shared by every
# serving process (`run`, `run --no-workers`, `worker`) and exclusively by maintenance
# (`migrate`, `migrate-data`, `rotate-key`), so maintenance never runs under a worker.
GATEWAY_LOCK = 0x67617465  # "gate"
PROCESSES_LOCK = 0x70726F63  # "proc"


class Holder(StrEnum):
    GATEWAY = "gateway"  # run, run --no-workers
    WORKER = "worker"  # worker
    MAINTENANCE = "maintenance"  # migrate, migrate-data, rotate-key


async def _try_lock(conn: Connection, key: int, *, shared: bool = False) -> bool:
    function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    return bool(await conn.fetchval(f"SELECT {function}($1, hashtext(current_schema()))", key))


@asynccontextmanager
async def hold_database(
    url: str, *, what: str, holder: Holder = Holder.MAINTENANCE
) -> AsyncIterator[None]:
    """Hold the shop for as long as the block runs, on a connection of its own, as
    `holder`; refuse at once (GatewayLockHeld) when that conflicts with another process.
    `what` names the command for the message. The locks end with the connection, so a
    killed process never leaves one behind."""
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnusable(
            f"PostgreSQL at DATABASE_URL can't be reached ({type(exc).__name__}): check that "
            "the server runs and the URL's host, database and user."
        ) from None
    try:
        if holder is not Holder.WORKER and not await _try_lock(conn, GATEWAY_LOCK):
            raise GatewayLockHeld(
                f"{what} refused: another orderbot run is using this PostgreSQL database. "
                "Stop it first (one bot per database: two would both answer every command)."
            )
        if holder is Holder.MAINTENANCE:
            if not await _try_lock(conn, PROCESSES_LOCK):
                raise GatewayLockHeld(
                    f"{what} refused: orderbot workers are using this PostgreSQL database. "
                    "Stop them first (systemctl stop 'orderbot-worker@*')."
                )
        elif not await _try_lock(conn, PROCESSES_LOCK, shared=True):
            raise MaintenanceRunning(
                f"{what} refused: `migrate` (or `migrate-data`, `rotate-key`) is working on "
                "this PostgreSQL database; start again once it has finished."
            )
        yield
    finally:
        await conn.close()
