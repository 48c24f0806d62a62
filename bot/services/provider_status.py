"""What /admin providers shows: each provider's health as the database has it (so it is
the same whichever process polls, and after a restart), its open orders, and its
requests in the last hour."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.providers.registry import ADAPTERS, ProviderRegistry
from storage import orders as repo
from storage import provider_health
from storage.database import Database
from storage.provider_health import HealthRow


@dataclass(frozen=True, slots=True)
class ProviderReport:
    name: str
    configured: bool
    can_poll: bool
    can_create: bool
    key_setting: str
    # The key can be checked without placing an order (a documented read endpoint).
    key_checkable: bool
    health: HealthRow | None
    open_orders: int
    requests_last_hour: int
    failures_last_hour: int
    now: float

    @property
    def hold_seconds(self) -> float:
        """How long until this provider is asked again (Retry-After or an open circuit)."""
        if self.health is None:
            return 0.0
        held = max(self.health.hold_until, self.health.open_until if self.circuit_open else 0.0)
        return max(held - self.now, 0.0)

    @property
    def circuit(self) -> str:
        """As staff should read it: an open circuit whose cooldown is over is probing (the
        next poll decides), whatever the poller last wrote."""
        if self.health is None:
            return "closed"
        if self.health.circuit == "open" and self.health.open_until <= self.now:
            return "half_open"
        return self.health.circuit

    @property
    def circuit_open(self) -> bool:
        return self.circuit == "open"


async def provider_reports(db: Database, providers: ProviderRegistry) -> list[ProviderReport]:
    now = time.time()
    health = await provider_health.load_all(db)
    requests = await provider_health.requests_since(db, now - 3600)
    open_orders = await repo.open_orders_by_provider(db)
    reports = []
    for name in sorted(ADAPTERS):
        adapter = providers.get(name)
        made, failed = requests.get(name, (0, 0))
        reports.append(
            ProviderReport(
                name=name,
                configured=adapter is not None,
                can_poll=adapter is not None and adapter.capabilities.can_poll,
                can_create=ADAPTERS[name].capabilities.can_create,
                key_setting=ADAPTERS[name].key_setting,
                key_checkable=adapter is not None and adapter.key_check_path() is not None,
                health=health.get(name),
                open_orders=open_orders.get(name, 0),
                requests_last_hour=made,
                failures_last_hour=failed,
                now=now,
            )
        )
    return reports
