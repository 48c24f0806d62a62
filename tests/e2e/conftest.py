"""End-to-end: the real bot, the Discord emulator and the sandbox providers.

One `stack` fixture for every e2e test. By default it runs the bot in the test's event
loop (`LocalStack(in_process=True)`) with the short test timings: the journey is the
same, with nothing waiting on the clock. A module or test says what else it needs with
the `stack` marker:

    pytestmark = pytest.mark.stack(env={"PAYMENT_MODE": "wallet"})
    @pytest.mark.stack(process=True)   # kill -9, crash points, SIGTERM, a real DEBUG log

`process=True` starts `python -m bot run` as a process of its own, and the test is
marked `subprocess` (tests/conftest.py), so `make test-quick` leaves it out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from demo.stack import LocalStack


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


@pytest.fixture
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LocalStack]:
    options = stack_options(request.node)
    running = LocalStack(
        tmp_path / "stack",
        env=options["env"],  # type: ignore[arg-type]
        in_process=not options.get("process", False),
        fast=bool(options.get("fast", True)),
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
