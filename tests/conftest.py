"""Fixtures shared by every test package: a real SQLite file in a temp dir, a cipher,
and a complete, valid settings environment for subprocess runs of the bot."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.providers.registry import ProviderRegistry
from core import i18n
from core.crypto import DeliveryCipher
from demo.stack import BOT_SETTING_PREFIXES
from sandbox.runner import SandboxCluster
from storage.database import Database, open_database
from storage.postgres import PostgresDatabase
from tests.support import (
    ONE_PYTHON_ENV,
    POSTGRES_ENV,
    POSTGRES_PART_ENV,
    PROVIDERS,
    REPO_ROOT,
    TEST_BOOST_KEY,
    TEST_CHECKOUT_KEY,
    TEST_DIGITAL_KEY,
    TEST_DISCORD_TOKEN,
    TEST_NAMEFI_TOKEN,
    FakeClock,
    fresh_postgres,
    make_adapter,
    postgres_dsn,
)

E2E = REPO_ROOT / "tests" / "e2e"
# Whole modules whose every test starts a process (the CLI, an install in a clean venv).
SUBPROCESS_MODULES = frozenset(
    {
        REPO_ROOT / "tests" / "bot" / "test_cli.py",
        REPO_ROOT / "tests" / "bot" / "test_install.py",
        REPO_ROOT / "tests" / "bot" / "test_startup_failures.py",
        REPO_ROOT / "tests" / "bot" / "test_backup.py",
        REPO_ROOT / "tests" / "storage" / "test_lock.py",
        REPO_ROOT / "tests" / "bot" / "test_service_logging.py",
        REPO_ROOT / "tests" / "bot" / "test_config_mistakes.py",
    }
)


@pytest.fixture(autouse=True)
def shop_languages_as_configured_by_default() -> Iterator[None]:
    """The shop's languages are process-wide (core.i18n.configure, from the settings of
    the bot that started last): a test whose in-process bot had STAFF_LANGUAGE=bn must
    not leave the next test's staff text in Bengali."""
    yield
    i18n.configure(default=i18n.SOURCE_LANGUAGE, staff=i18n.SOURCE_LANGUAGE)


@pytest.fixture
def fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def cipher(fernet_key: str) -> DeliveryCipher:
    return DeliveryCipher(SecretStr(fernet_key))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path / "orders.sqlite3")
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def bot_env(tmp_path: Path, fernet_key: str) -> dict[str, str]:
    """A full, valid environment for `python -m bot`, isolated from any developer .env
    (the subprocess runs with cwd=tmp_path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(BOT_SETTING_PREFIXES)}
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "DISCORD_TOKEN": TEST_DISCORD_TOKEN,
            "GUILD_ID": "1100000000000000001",
            "STAFF_ROLE_ID": "1100000000000000002",
            "STAFF_CHANNEL_ID": "1100000000000000003",
            "NOTICE_CHANNEL_ID": "1100000000000000004",
            "DATABASE_PATH": str(tmp_path / "data" / "bot.sqlite3"),
            "DELIVERY_ENCRYPTION_KEY": fernet_key,
            "CATALOG_PATH": str(REPO_ROOT / "catalog.toml"),
            "BOOST_API_BASE_URL": "http://127.0.0.1:9/boost",
            "BOOST_API_KEY": TEST_BOOST_KEY,
            "CHECKOUT_API_BASE_URL": "http://127.0.0.1:9/checkout",
            "CHECKOUT_API_KEY": TEST_CHECKOUT_KEY,
            "NAMEFI_API_BASE_URL": "http://127.0.0.1:9/namefi",
            "NAMEFI_API_TOKEN": TEST_NAMEFI_TOKEN,
            "DIGITAL_SHOP_API_BASE_URL": "http://127.0.0.1:9/digital-shop",
            "DIGITAL_SHOP_API_KEY": TEST_DIGITAL_KEY,
        }
    )
    return env


# --- sandbox providers ---------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cluster(clock: FakeClock) -> AsyncIterator[SandboxCluster]:
    async with SandboxCluster(port=0, clock=clock, hang_seconds=3.0) as running:
        yield running


@pytest.fixture
async def adapters(cluster: SandboxCluster) -> AsyncIterator[ProviderRegistry]:
    registry = ProviderRegistry({name: make_adapter(cluster, name) for name in PROVIDERS})
    # Keep retry waits short in tests; the policy itself is unchanged.
    for adapter in registry.all():
        adapter.retry_backoff = 0.01
    try:
        yield registry
    finally:
        await registry.aclose()


# The PostgreSQL half (tests marked `postgres`, e.g. `test_x[postgres]`): `make test`
# starts one server and gives one Python its DSN here; the other Pythons get "elsewhere"
# and deselect that half (never skip it). Without either (a developer with no PostgreSQL,
# or `make test-quick`) it is deselected with a line saying so; in CI that is an error.
def _deselect_postgres(config: pytest.Config, items: list[pytest.Item]) -> None:
    if postgres_dsn() is not None:
        _keep_postgres_part(config, items)
        return
    chosen = [i for i in items if i.get_closest_marker("postgres") is None]
    dropped = [i for i in items if i.get_closest_marker("postgres") is not None]
    if not dropped:
        return
    if os.environ.get(POSTGRES_ENV, "") != "elsewhere":
        if os.environ.get("CI"):
            raise pytest.UsageError(
                f"{len(dropped)} PostgreSQL test(s) but no server: CI runs them through "
                "`make test`, which starts one"
            )
        print(
            f"\nPostgreSQL half left out ({len(dropped)} tests): no server here; `make test` "
            "starts one (it needs PostgreSQL's server binaries)."
        )
    config.hook.pytest_deselected(items=dropped)
    items[:] = chosen


# `make test` may split the [postgres] half between two Pythons, each with a database of
# its own (.ci/pythons.py): the worker-process tests (`workers`) on one, the rest on the
# other. POSTGRES_PART_ENV says which part this run has; unset, it has both.
def _keep_postgres_part(config: pytest.Config, items: list[pytest.Item]) -> None:
    part = os.environ.get(POSTGRES_PART_ENV, "all")
    if part == "all":
        return

    def elsewhere(item: pytest.Item) -> bool:
        if item.get_closest_marker("postgres") is None:
            return False
        is_workers = item.get_closest_marker("workers") is not None
        return is_workers if part == "engines" else not is_workers

    dropped = [i for i in items if elsewhere(i)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if not elsewhere(i)]


def _deselect_soaks(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The soaks run when `-m` names them (`make soak`), never as part of `make test`."""
    if "soak" in (config.getoption("markexpr") or ""):
        return
    dropped = [i for i in items if i.get_closest_marker("soak") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i.get_closest_marker("soak") is None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every end-to-end test drives the bot through the emulator: `e2e`. Those that start
    the bot as a process of their own (`@pytest.mark.stack(process=True)`) and other tests
    that start a process carry `subprocess`, themselves or through the list above.
    `pytest -m "not subprocess"` (make test-quick) is the fast inner loop."""
    for item in items:
        path = item.path.resolve()
        if E2E in path.parents:
            item.add_marker(pytest.mark.e2e)
            if any(m.kwargs.get("process") for m in item.iter_markers("stack")):
                item.add_marker(pytest.mark.subprocess)
        elif path in SUBPROCESS_MODULES:
            item.add_marker(pytest.mark.subprocess)
    _deselect_postgres(config, items)
    _deselect_soaks(config, items)
    _deselect_one_python(items, config)


def _deselect_one_python(items: list[pytest.Item], config: pytest.Config) -> None:
    """Tests whose subject doesn't depend on the interpreter (the demo walked with other
    catalogs, a CLI check's output) run on one of the Pythons `make test` runs."""
    if os.environ.get(ONE_PYTHON_ENV) != "0":
        return
    dropped = [i for i in items if i.get_closest_marker("one_python") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i.get_closest_marker("one_python") is None]


@pytest.fixture
async def postgres_db() -> AsyncIterator[PostgresDatabase]:
    """For tests about PostgreSQL alone (mark them `postgres`)."""
    database = await fresh_postgres()
    try:
        yield database
    finally:
        await database.close()
