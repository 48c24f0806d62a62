"""A provider's gate: what the poller may ask it, and when.

Per provider: a concurrency limit, a request-rate limit (aiolimiter), a hold while the
provider is rate limiting us (Retry-After applies to ALL of its orders), and a circuit
breaker that stops polling a provider after repeated failures and probes it with a
single request when it half-opens. The state is persisted (storage.provider_health) so
a restarted bot honours a hold and keeps an open circuit open; staff see it in
`/admin providers`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import StrEnum

from aiolimiter import AsyncLimiter

from bot.providers.base import ProviderAdapter
from bot.providers.errors import ProviderError
from bot.services.rate_limits import RateLimit
from core import alerts
from core.kinds import Alert
from storage import provider_health

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0  # default; PollerSettings.lease_seconds


class CircuitState(StrEnum):
    CLOSED = "closed"  # healthy: poll normally
    OPEN = "open"  # failing: don't poll until `open_until`
    HALF_OPEN = "half_open"  # cooling down is over: one probe decides


@dataclass
class ProviderHealth:
    """A provider's gate state; persisted after every batch (storage.provider_health)."""

    name: str
    circuit: CircuitState = CircuitState.CLOSED
    consecutive_failures: int = 0
    open_until: float = 0.0
    opened_times: int = 0
    hold_until: float = 0.0  # the provider's Retry-After: nothing is asked before
    last_error: str | None = None
    last_error_kind: str | None = None
    last_error_at: float | None = None
    last_success_at: float | None = None
    polls: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class PollerSettings:
    concurrency: int = 8  # in-flight polls per provider
    rate_per_second: float = 20.0  # requests per second per provider
    batch_size: int = 200  # orders claimed per provider per run
    breaker_threshold: int = 5  # consecutive failures that open the circuit
    breaker_cooldown: float = 30.0  # first open period; doubles while it keeps failing
    breaker_max_cooldown: float = 600.0
    lease_seconds: float = LEASE_SECONDS  # raised to the slowest batch (Poller.lease_for)
    lease_margin: float = 30.0  # added to the slowest batch: time to record it


@dataclass
class ProviderGate:
    adapter: ProviderAdapter
    semaphore: asyncio.Semaphore
    limiter: RateLimit
    health: ProviderHealth
    probe_in_flight: bool = False
    # A poll of the batch running now was refused (401): its successes don't reopen.
    refused_in_batch: bool = False
    requests: int = 0  # made since the last persist
    failures: int = 0
    saved: tuple[object, ...] = ()  # the state last written, and when
    saved_at: float = 0.0
    # Staff alerts about the gate itself (circuit opened or closed), raised at persist.
    alerts: list[Alert] = field(default_factory=list)

    @classmethod
    def open_for(
        cls, adapter: ProviderAdapter, settings: PollerSettings, *, limiter: RateLimit | None = None
    ) -> ProviderGate:
        return cls(
            adapter=adapter,
            semaphore=asyncio.Semaphore(settings.concurrency),
            limiter=limiter if limiter is not None else _limiter(settings.rate_per_second),
            health=ProviderHealth(adapter.name),
        )

    def restore(self, row: provider_health.HealthRow) -> None:
        """Take over the state a previous run left: a provider that asked us to hold
        off, or whose circuit is open, stays so after a restart."""
        health = self.health
        health.circuit = CircuitState(row.circuit)
        if health.circuit is CircuitState.HALF_OPEN:
            health.circuit = CircuitState.OPEN  # the probe died with the old process
        health.consecutive_failures = row.consecutive_failures
        health.open_until = row.open_until
        health.opened_times = row.opened_times
        health.hold_until = row.hold_until
        health.last_success_at = row.last_success_at
        health.last_error_at = row.last_error_at
        health.last_error_kind = row.last_error_kind
        health.last_error = row.last_error

    def changed_since_saved(self, now: float, every: float) -> bool:
        """Whether the state is worth writing: something staff would see changed, an
        alert waits, or the counters have waited `every` seconds. Marks it saved."""
        health = self.health
        state = (
            health.circuit,
            health.consecutive_failures,
            health.open_until,
            health.opened_times,
            health.hold_until,
            health.last_error_at,
        )
        if state == self.saved and not self.alerts and now - self.saved_at < every:
            return False
        self.saved, self.saved_at = state, now
        return True

    def health_row(self) -> provider_health.HealthRow:
        health = self.health
        return provider_health.HealthRow(
            provider=health.name,
            circuit=health.circuit.value,
            consecutive_failures=health.consecutive_failures,
            open_until=health.open_until,
            opened_times=health.opened_times,
            hold_until=health.hold_until,
            last_success_at=health.last_success_at,
            last_error_at=health.last_error_at,
            last_error_kind=health.last_error_kind,
            last_error=health.last_error,
        )

    def admission(self, now: float, batch_size: int) -> int:
        """How many orders this provider may be asked about right now."""
        health = self.health
        if health.hold_until > now:
            return 0
        if health.circuit is CircuitState.OPEN:
            if now < health.open_until:
                return 0
            health.circuit = CircuitState.HALF_OPEN
            log.info("%s circuit half-open: probing with one request", health.name)
        if health.circuit is CircuitState.HALF_OPEN:
            return 0 if self.probe_in_flight else 1
        return batch_size

    def closed_until(self, now: float) -> float | None:
        """When an order that waited its turn may be asked, if the provider rate limited
        us or its circuit opened meanwhile; None when it may be asked now."""
        health = self.health
        if health.hold_until > now or health.circuit is CircuitState.OPEN:
            return max(health.hold_until, health.open_until)
        return None

    def succeeded(self, now: float) -> None:
        health = self.health
        health.polls += 1
        health.last_success_at = now
        if health.circuit is not CircuitState.CLOSED:
            log.info("%s circuit closed: the provider answered", health.name)
            self.alerts.append(alerts.circuit_closed(health.name, at=health.last_success_at))
        health.circuit = CircuitState.CLOSED
        health.consecutive_failures = 0
        health.opened_times = 0

    def failed(self, exc: ProviderError, now: float) -> None:
        """Any failed poll: the error staff see."""
        health = self.health
        health.polls += 1
        health.failures += 1
        health.last_error = exc.message[:200]
        health.last_error_kind = exc.kind
        health.last_error_at = now

    def hold(self, until: float) -> bool:
        """The provider asked us to wait until `until`: True if that extends the hold."""
        if until <= self.health.hold_until:
            return False
        self.health.hold_until = until
        return True

    def count_failure(self) -> None:
        """A failure that is the provider's fault (unavailable, garbage, auth), not the
        order's."""
        self.health.consecutive_failures += 1

    def trip_if_failing(self, now: float, settings: PollerSettings) -> None:
        """Enough failures in a row, or a failed probe, open the circuit."""
        health = self.health
        if health.circuit is CircuitState.HALF_OPEN or (
            health.consecutive_failures >= settings.breaker_threshold
        ):
            self._open_circuit(now, settings)

    def _open_circuit(self, now: float, settings: PollerSettings) -> None:
        health = self.health
        cooldown = min(
            settings.breaker_cooldown * 2**health.opened_times,
            settings.breaker_max_cooldown,
        )
        if health.circuit is CircuitState.CLOSED:
            # Told once per outage: re-opening after a failed probe is the same outage.
            self.alerts.append(
                alerts.circuit_open(
                    health.name,
                    error_kind=health.last_error_kind,
                    error=health.last_error,
                    cooldown=cooldown,
                    now=now,
                )
            )
        health.circuit = CircuitState.OPEN
        health.open_until = now + cooldown
        health.opened_times += 1
        log.error(
            "%s circuit OPEN after %d consecutive failures: pausing its polls for %.0fs",
            health.name,
            health.consecutive_failures,
            cooldown,
        )


def _limiter(rate_per_second: float) -> AsyncLimiter:
    """A limiter for `rate_per_second` requests, below one per second too (aiolimiter
    refuses to acquire more than its max_rate at once, so 0.5/s is 1 per 2 s)."""
    if rate_per_second >= 1:
        return AsyncLimiter(rate_per_second, 1.0)
    return AsyncLimiter(1, 1.0 / rate_per_second)
