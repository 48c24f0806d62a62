"""End-to-end: the real bot, the Discord emulator and the sandbox providers.

One `stack` fixture for every e2e test. By default it runs the bot in the test's event
loop (`LocalStack(in_process=True)`) with the short test timings: the journey is the
same, with nothing waiting on the clock. A module or test says what else it needs with
the `stack` marker:

    pytestmark = pytest.mark.stack(env={"PAYMENT_MODE": "wallet"})
    @pytest.mark.stack(process=True)   # kill -9, crash points, SIGTERM, a real DEBUG log
    @pytest.mark.stack(payments=True)  # the Razorpay sandbox (stripe=True: Stripe's too);
                                       # webhooks=False: no webhook comes

`process=True` starts `python -m bot run` as a process of its own, and the test is
marked `subprocess` (tests/conftest.py), so `make test-quick` leaves it out.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from demo.payments import PaymentSandboxes
from demo.stack import LocalStack
from storage.postgres import empty_schema
from tests.support import ENGINES, postgres_dsn


def stack_options(node: pytest.Item) -> dict[str, object]:
    """The `stack` markers of a test, its class and its module, the closest winning;
    `env` dicts merge."""
    options: dict[str, object] = {}
    env: dict[str, str] = {}
    for marker in reversed(list(node.iter_markers("stack"))):
        options.update({k: v for k, v in marker.kwargs.items() if k != "env"})
        env.update(marker.kwargs.get("env", {}))
    options["env"] = env
    return options


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test (or module) marked `both_engines` runs its `stack` on SQLite and on
    PostgreSQL: `test_x[sqlite]`, `test_x[postgres]`."""
    if "engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize(
            "engine",
            ENGINES,
            indirect=True,
        )


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


SCHEMAS = itertools.count()


async def postgres_schema_url() -> str:
    """An empty schema of this test's own in the tests' PostgreSQL database, as a
    DATABASE_URL (asyncpg passes `search_path` on as a server setting)."""
    dsn = postgres_dsn()
    assert dsn is not None  # deselected otherwise (tests/conftest.py)
    schema = f"e2e_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}_{next(SCHEMAS)}"
    await empty_schema(dsn, schema)
    return f"{dsn}&search_path={schema}"


@pytest.fixture
async def stack(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> AsyncIterator[LocalStack]:
    options = stack_options(request.node)
    env: dict[str, str] = dict(options["env"])  # type: ignore[call-overload]
    if engine == "postgres":
        env["DATABASE_URL"] = await postgres_schema_url()
    running = LocalStack(
        tmp_path / "stack",
        env=env,
        in_process=not options.get("process", False),
        command=tuple(options.get("command", ("run",))),  # type: ignore[arg-type]
        fast=bool(options.get("fast", True)),
        payments=(
            PaymentSandboxes(
                webhooks=options.get("webhooks", True) is not False,
                stripe=bool(options.get("stripe", False)),
            )
            if options.get("payments")
            else None
        ),
    )
    try:
        await running.start()
        yield running
    finally:
        await running.stop()
        # Every REST body the bot sent was checked against Discord's OpenAPI spec.
        running.emulator.assert_no_contract_violations()


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[LocalStack]:
    """The emulator and the sandboxes, without the bot: each test starts it its way."""
    stack = LocalStack(tmp_path / "stack")
    await stack.sandbox.start()
    await stack.emulator.start()
    try:
        yield stack
    finally:
        await stack.stop()
    # Whatever the bot sent, and whatever the emulator answered, was as Discord's spec says.
    stack.emulator.assert_no_contract_violations()
