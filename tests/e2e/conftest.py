"""End-to-end: the real bot process, the Discord emulator and the sandbox providers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from demo.stack import LocalStack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[LocalStack]:
    running = LocalStack(tmp_path / "stack")
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        # Every REST body the bot sent was checked against Discord's OpenAPI spec.
        running.emulator.assert_no_contract_violations()
