"""Fixtures for the sandbox tests: a real SandboxCluster on 127.0.0.1 and an httpx client."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox import SandboxCluster
from tests.sandbox.helpers import FakeClock

# Building httpx's default SSL context costs ~70 ms per client; the sandboxes are plain HTTP.
_SSL_CONTEXT = ssl.create_default_context()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cluster(clock: FakeClock) -> AsyncIterator[SandboxCluster]:
    async with SandboxCluster(host="127.0.0.1", port=0, clock=clock, hang_seconds=0.5) as c:
        yield c


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0, verify=_SSL_CONTEXT) as client:
        yield client
