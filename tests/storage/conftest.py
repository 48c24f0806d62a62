"""Storage tests run on both engines: `db` is a real SQLite file, then a real PostgreSQL
database (`test_x[sqlite]`, `test_x[postgres]`; `pytest -k postgres` selects that half).

On PostgreSQL each test gets an empty schema of its own worker (pytest-xdist runs two),
migrated from nothing, so tests never see each other's rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.database import Database, open_database
from storage.postgres import PostgresDatabase
from tests.support import ENGINES, engine_database


@pytest.fixture(params=ENGINES)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = await engine_database(request.param, tmp_path / "orders.sqlite3")
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def second(db: Database) -> AsyncIterator[Database]:
    """Another process's handle on the same shop: a second pool on PostgreSQL, a second
    connection on SQLite."""
    if isinstance(db, PostgresDatabase):
        other: Database = await PostgresDatabase.connect(db.url, schema=db.schema)
    else:
        other = await open_database(db.path)
    try:
        yield other
    finally:
        await other.close()
