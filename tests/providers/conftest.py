"""Adapters against the real sandbox servers, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from bot.providers.base import ProviderAdapter
from bot.providers.registry import ProviderRegistry, build_adapter
from sandbox.runner import SandboxCluster

PROVIDERS = ("boost", "checkout", "namefi", "digital_shop")


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cluster(clock: FakeClock) -> AsyncIterator[SandboxCluster]:
    async with SandboxCluster(port=0, clock=clock, hang_seconds=3.0) as running:
        yield running


def make_adapter(cluster: SandboxCluster, name: str, *, timeout: float = 1.0) -> ProviderAdapter:
    return build_adapter(
        name,
        cluster.base_url(name),
        SecretStr(cluster.api_key(name)),
        timeout=timeout,
        max_connections=8,
    )


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
