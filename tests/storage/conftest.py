"""Storage tests run on both engines: `db` is a real SQLite file, then a real PostgreSQL
database (`test_x[sqlite]`, `test_x[postgres]`; `pytest -k postgres` selects that half).

On PostgreSQL each test gets an empty schema of its own worker (pytest-xdist runs two),
migrated from nothing, so tests never see each other's rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.database import Database
from tests.support import ENGINES, engine_database


@pytest.fixture(params=ENGINES)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = await engine_database(request.param, tmp_path / "orders.sqlite3")
    try:
        yield database
    finally:
        await database.close()
