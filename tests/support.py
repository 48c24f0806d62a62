"""Constants and helpers shared by test modules across packages: the repository root, the
known secret values of the test environment, a fake clock and a sandbox adapter factory.

Test modules import these from here, never from a conftest (tests/test_test_modules.py);
tests/conftest.py builds its fixtures on them."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.providers.base import ProviderAdapter
from bot.providers.registry import build_adapter
from sandbox.runner import SandboxCluster
from storage.database import Database
from storage.postgres import PostgresDatabase, empty_schema

REPO_ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# Known secret values: tests assert none of them ever appears in output.
TEST_DISCORD_TOKEN = "MTIz.test-discord-token-VALUE-91f3"
TEST_BOOST_KEY = "boost-key-SECRET-7c1d"
TEST_CHECKOUT_KEY = "checkout-key-SECRET-44aa"
TEST_NAMEFI_TOKEN = "namefi-token-SECRET-e0b2"
TEST_DIGITAL_KEY = "digital-key-SECRET-19fe"

PROVIDERS = ("boost", "checkout", "namefi", "digital_shop")

# The tests' PostgreSQL database (`make test` sets it for one Python; "elsewhere" for the
# others): tests/conftest.py deselects the [postgres] half without it.
POSTGRES_ENV = "ORDERBOT_TEST_POSTGRES"
# Which part of the [postgres] half this run has when `make test` splits it between two
# Pythons: "engines" (all but the worker processes), "workers", or "all" (the default).
POSTGRES_PART_ENV = "ORDERBOT_TEST_POSTGRES_PART"
# "0" on every Python `make test` runs but one (.ci/pythons.py): tests marked
# `one_python` are deselected there. Unset (a run by hand), they run.
ONE_PYTHON_ENV = "ORDERBOT_TEST_ONE_PYTHON"


def postgres_dsn() -> str | None:
    value = os.environ.get(POSTGRES_ENV, "")
    return value if value.startswith("postgresql://") else None


# Each provider's endpoints as its contract in ../shared/provider-apis documents them, and
# nothing else (the digital shop's path is DIGITAL_SHOP_ORDER_PATH's default).
DOCUMENTED_ENDPOINTS = {
    "boost": [("POST", r"/order"), ("GET", r"/order/[^/]+")],
    "digital_shop": [("GET", r"/api/v1/orders/[A-Za-z0-9]{12}")],
    "namefi": [("GET", r"/v-next/orders/[0-9a-f-]{36}")],
    "checkout": [("POST", r"/orders")],
}


def only_documented_requests(cluster: SandboxCluster, name: str) -> list[tuple[str, str]]:
    """Every request the provider's sandbox received, each asserted to be one its
    contract documents."""
    sent = [(r.method, r.path) for r in cluster.state(name).requests]
    for method, path in sent:
        assert any(method == m and re.fullmatch(p, path) for m, p in DOCUMENTED_ENDPOINTS[name]), (
            f"{name}: {method} {path} is not in its contract"
        )
    return sent


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_adapter(cluster: SandboxCluster, name: str, *, timeout: float = 1.0) -> ProviderAdapter:
    return build_adapter(
        name,
        cluster.base_url(name),
        SecretStr(cluster.api_key(name)),
        timeout=timeout,
        max_connections=8,
    )


# Parameters of a test that runs on both engines: `test_x[sqlite]`, `test_x[postgres]`.
ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def engine_database(engine: str, path: Path, *, name: str = "test") -> Database:
    """An empty, migrated shop on `engine`: the SQLite file `path`, or a PostgreSQL schema
    of this worker's own called after `name`."""
    if engine == "sqlite":
        from storage.database import open_database

        return await open_database(path)
    return await fresh_postgres(name)


async def fresh_postgres(name: str = "test") -> PostgresDatabase:
    """A migrated, empty shop in the tests' PostgreSQL database: a schema of this worker's
    own (pytest-xdist), emptied first."""
    from storage.postgres import open_postgres

    dsn = postgres_dsn()
    assert dsn is not None  # deselected otherwise (tests/conftest.py)
    schema = f"{name}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    await empty_schema(dsn, schema)
    return await open_postgres(dsn, schema=schema)


async def serve_app(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve an aiohttp app on 127.0.0.1 (a free port): the runner (clean it up) and its URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"
