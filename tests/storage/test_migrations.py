from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.database import (
    Database,
    Migration,
    bundled_migrations,
    open_database,
    split_statements,
)


def _schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()


def _versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


async def test_fresh_database_is_built(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "fresh.sqlite3"
    db = await open_database(path)
    await db.close()
    assert path.exists()
    names = {name for name, _ in _schema(path)}
    assert {"orders", "order_events", "notifications", "staff_alerts", "shop_state"} <= names
    assert {"orders_due_poll", "orders_by_user", "orders_by_status"} <= names
    assert _versions(path) == [m.version for m in bundled_migrations()]


async def test_second_run_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "twice.sqlite3"
    db = await open_database(path)
    await db.close()
    before = (_schema(path), _versions(path))
    db = await Database.open(path)
    try:
        assert await db.migrate() == []
    finally:
        await db.close()
    assert (_schema(path), _versions(path)) == before


async def test_older_database_is_brought_forward(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    all_migrations = bundled_migrations()
    assert len(all_migrations) >= 2
    db = await Database.open(path)
    try:
        assert await db.migrate(all_migrations[:1]) == [1]
        assert await db.schema_version() == 1
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO shop_state (key, value) VALUES ('paused', '1')")
        applied = await db.migrate()
        assert applied == [m.version for m in all_migrations[1:]]
        assert await db.schema_version() == all_migrations[-1].version
        row = await db.fetch_one("SELECT value FROM shop_state WHERE key = 'paused'")
        assert row is not None and row[0] == "1"
    finally:
        await db.close()
    assert "staff_alerts" in {name for name, _ in _schema(path)}


async def test_failed_migration_rolls_back_everything(tmp_path: Path) -> None:
    path = tmp_path / "broken.sqlite3"
    good = Migration(1, "good", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "bad", "CREATE TABLE b (y INTEGER);\nINSERT INTO nope VALUES (1);")
    db = await Database.open(path)
    try:
        with pytest.raises(sqlite3.OperationalError):
            await db.migrate([good, bad])
        # Neither migration is applied: they ran in one transaction.
        assert await db.schema_version() == 0
        names = {r[0] for r in await db.fetch_all("SELECT name FROM sqlite_master")}
        assert "a" not in names and "b" not in names
    finally:
        await db.close()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """These are about SQLite itself (its pragmas, its COMMIT): one engine only."""
    database = await open_database(tmp_path / "orders.sqlite3")
    try:
        yield database
    finally:
        await database.close()


async def test_connection_pragmas(sqlite_db: Database) -> None:
    db = sqlite_db
    assert (await db.fetch_one("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
    assert (await db.fetch_one("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
    assert (await db.fetch_one("PRAGMA busy_timeout"))[0] >= 1000  # type: ignore[index]


def test_split_statements_handles_semicolons_in_strings_and_comments() -> None:
    script = "-- a comment; with a semicolon\nCREATE TABLE t (x TEXT DEFAULT 'a;b');\n\nINSERT INTO t VALUES ('c;d');\n"
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("INSERT")


async def test_a_failed_commit_ends_the_transaction(sqlite_db: Database) -> None:
    db = sqlite_db
    # A deferred foreign key is checked at COMMIT: a real COMMIT that fails and, in
    # SQLite, leaves the transaction open. The next write must still work.
    async with db.transaction() as conn:
        await conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        await conn.execute(
            "CREATE TABLE child (parent_id INTEGER"
            " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO child (parent_id) VALUES (42)")
    assert not db.conn.in_transaction
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO parent (id) VALUES (1)")
    assert await db.fetch_all("SELECT * FROM child") == []
    assert [tuple(r) for r in await db.fetch_all("SELECT id FROM parent")] == [(1,)]
