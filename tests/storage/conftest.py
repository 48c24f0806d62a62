"""Storage tests run on both engines: `db` is a real SQLite file, then a real PostgreSQL
database (`test_x[sqlite]`, `test_x[postgres]`; `pytest -k postgres` selects that half).

On PostgreSQL each test gets an empty schema of its own worker (pytest-xdist runs two),
migrated from nothing, so tests never see each other's rows."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.database import Database, open_database
from storage.postgres import PostgresDatabase, open_postgres
from tests.support import empty_schema, postgres_dsn


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database: Database = await open_database(tmp_path / "orders.sqlite3")
    else:
        database = await fresh_postgres()
    try:
        yield database
    finally:
        await database.close()


async def fresh_postgres() -> PostgresDatabase:
    dsn = postgres_dsn()
    assert dsn is not None  # deselected otherwise (tests/conftest.py)
    schema = f"test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    await empty_schema(dsn, schema)
    return await open_postgres(dsn, schema=schema)


@pytest.fixture
async def postgres_db() -> AsyncIterator[PostgresDatabase]:
    """For tests about PostgreSQL alone (mark them `postgres`)."""
    database = await fresh_postgres()
    try:
        yield database
    finally:
        await database.close()
