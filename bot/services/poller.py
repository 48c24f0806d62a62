"""The poller: asks providers about open orders when they are due, and hands each answer
to PollAnswers (poll_answers.py). Run by APScheduler; safe to overlap (leases).

Per provider there is a gate: a concurrency limit, a request-rate limit (aiolimiter),
a hold while the provider is rate limiting us (Retry-After applies to ALL of its
orders), and a circuit breaker that stops polling a provider after repeated failures
and probes it with a single request when the breaker half-opens. Staff see the gates'
state (`health()`).

Failures are per order: one bad reply is logged, backed off and, where staff must act,
alerted once — it never stops the loop or other orders.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from aiolimiter import AsyncLimiter

from bot.providers.base import ProviderAdapter
from bot.providers.errors import (
    InvalidRemoteId,
    ProviderAuthError,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.providers.registry import ProviderRegistry
from bot.services.poll_answers import PollAnswers
from bot.services.schedule import PollSchedule
from core.crypto import DeliveryCipher
from storage import orders as repo
from storage import provider_health, staff_alerts
from storage.database import Database

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0  # default; PollerSettings.lease_seconds
# A healthy provider's counters and last success are written at most this often; any
# change of its state (an error, a hold, the circuit) is written at once.
PERSIST_EVERY = 10.0
# A Retry-After longer than this is worth telling staff about (shorter ones are routine).
LONG_HOLD_SECONDS = 60.0


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
    rate_limited_until: float = 0.0
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
    lease_seconds: float = LEASE_SECONDS  # raised to the slowest batch (see lease_for)


@dataclass
class ProviderGate:
    adapter: ProviderAdapter
    semaphore: asyncio.Semaphore
    limiter: AsyncLimiter
    health: ProviderHealth
    probe_in_flight: bool = False
    requests: int = 0  # made since the last persist
    failures: int = 0
    saved: tuple[object, ...] = ()  # the state last written, and when
    saved_at: float = 0.0
    # Staff alerts about the gate itself (circuit opened or closed), raised at persist.
    alerts: list[tuple[str, str, str, str]] = field(default_factory=list)


class Poller:
    def __init__(
        self,
        db: Database,
        cipher: DeliveryCipher,
        providers: ProviderRegistry,
        *,
        settings: PollerSettings | None = None,
        schedule: PollSchedule | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.settings = settings or PollerSettings()
        self.schedule = schedule or PollSchedule()
        self.clock = clock
        # What an answer changes; it reads this poller's clock, so setting `clock` moves both.
        self.answers = PollAnswers(db, cipher, self.schedule, lambda: self.clock())
        self.gates: dict[str, ProviderGate] = {
            adapter.name: ProviderGate(
                adapter=adapter,
                semaphore=asyncio.Semaphore(self.settings.concurrency),
                limiter=_limiter(self.settings.rate_per_second),
                health=ProviderHealth(adapter.name),
            )
            for adapter in providers.all()
            if adapter.capabilities.can_poll
        }

    def health(self) -> list[ProviderHealth]:
        return [gate.health for gate in self.gates.values()]

    async def restore(self) -> None:
        """Take over the gates' state a previous run left in the database: a provider that
        asked us to hold off, or whose circuit is open, stays held after a restart."""
        saved = await provider_health.load_all(self.db)
        for name, gate in self.gates.items():
            row = saved.get(name)
            if row is None:
                continue
            health = gate.health
            health.circuit = CircuitState(row.circuit)
            if health.circuit is CircuitState.HALF_OPEN:
                health.circuit = CircuitState.OPEN  # the probe died with the old process
            health.consecutive_failures = row.consecutive_failures
            health.open_until = row.open_until
            health.opened_times = row.opened_times
            health.rate_limited_until = row.hold_until
            health.last_success_at = row.last_success_at
            health.last_error_at = row.last_error_at
            health.last_error_kind = row.last_error_kind
            health.last_error = row.last_error

    async def _persist(self, gate: ProviderGate) -> None:
        health = gate.health
        state = (
            health.circuit,
            health.consecutive_failures,
            health.open_until,
            health.opened_times,
            health.rate_limited_until,
            health.last_error_at,
        )
        now = self.clock()
        if state == gate.saved and not gate.alerts and now - gate.saved_at < PERSIST_EVERY:
            return  # nothing staff would see changed: counters wait for the next write
        gate.saved, gate.saved_at = state, now
        await provider_health.save(
            self.db,
            provider_health.HealthRow(
                provider=health.name,
                circuit=health.circuit.value,
                consecutive_failures=health.consecutive_failures,
                open_until=health.open_until,
                opened_times=health.opened_times,
                hold_until=health.rate_limited_until,
                last_success_at=health.last_success_at,
                last_error_at=health.last_error_at,
                last_error_kind=health.last_error_kind,
                last_error=health.last_error,
            ),
            requests=gate.requests,
            failures=gate.failures,
        )
        gate.requests = gate.failures = 0
        alerts, gate.alerts = gate.alerts, []
        for kind, message, dedupe_key, group_key in alerts:
            await staff_alerts.raise_alert(
                self.db, kind=kind, message=message, dedupe_key=dedupe_key, group_key=group_key
            )

    # --- the job ----------------------------------------------------------------------------

    async def poll_due_orders(self) -> int:
        """One run: every provider whose gate is open gets its due orders polled.
        Returns how many polls were made."""
        runs = [self._poll_provider(gate) for gate in self.gates.values()]
        results = await asyncio.gather(*runs, return_exceptions=True)
        total = 0
        for gate, result in zip(self.gates.values(), results, strict=True):
            if isinstance(result, BaseException):
                log.error("polling %s failed", gate.adapter.name, exc_info=result)
            else:
                total += result
        return total

    def lease_for(self, gate: ProviderGate, orders: int) -> float:
        """How long a batch of ``orders`` may take at worst: the workers go through it in
        rounds, and each poll is bounded by the adapter's deadline per try (with its
        backoffs). A lease shorter than that could expire mid-batch and let another run
        poll the same order at the same time."""
        adapter = gate.adapter
        rounds = -(-orders // self.settings.concurrency)
        per_poll = (
            adapter.max_attempts * adapter.deadline
            + adapter.retry_backoff * 2**adapter.max_attempts
        )
        # The request-rate limit alone spreads the batch's requests (every try counts).
        pacing = orders * adapter.max_attempts / self.settings.rate_per_second
        return max(self.settings.lease_seconds, rounds * per_poll + pacing + 30.0)

    async def poll_provider(self, name: str) -> int:
        """One run for one provider. The bot schedules one job per provider, so a provider
        that is slow or hanging never delays the polling of another."""
        return await self._poll_provider(self.gates[name])

    def _admission(self, gate: ProviderGate, now: float) -> int:
        """How many orders this provider may be asked about right now."""
        health = gate.health
        if health.rate_limited_until > now:
            return 0
        if health.circuit is CircuitState.OPEN:
            if now < health.open_until:
                return 0
            health.circuit = CircuitState.HALF_OPEN
            log.info("%s circuit half-open: probing with one request", health.name)
        if health.circuit is CircuitState.HALF_OPEN:
            return 0 if gate.probe_in_flight else 1
        return self.settings.batch_size

    async def _poll_provider(self, gate: ProviderGate) -> int:
        now = self.clock()
        limit = self._admission(gate, now)
        if limit == 0:
            return 0
        orders = await repo.claim_due_orders(
            self.db,
            provider=gate.adapter.name,
            now=now,
            lease_until=now + self.lease_for(gate, limit),
            limit=limit,
        )
        if not orders:
            return 0
        probing = gate.health.circuit is CircuitState.HALF_OPEN
        gate.probe_in_flight = probing
        bookkeeping: list[repo.PollBookkeeping] = []
        queue = list(reversed(orders))  # oldest due first
        made = 0

        async def worker() -> None:
            # A few workers pulling from the batch instead of one task per order: the
            # same concurrency with far fewer tasks (10,000 due orders stay cheap).
            nonlocal made
            while queue:
                order = queue.pop()
                try:
                    if await self._poll_one(gate, order, bookkeeping):
                        made += 1
                except Exception:
                    log.exception("polling order %s failed unexpectedly", order.id)
                    bookkeeping.append(
                        repo.PollBookkeeping(
                            order.id, now, now + self.schedule.failure_cap, ok=False
                        )
                    )

        try:
            workers = min(self.settings.concurrency, len(orders))
            await asyncio.gather(*(worker() for _ in range(workers)))
        finally:
            gate.probe_in_flight = False
            # Unchanged polls are written together: one transaction per batch.
            await repo.record_polls(self.db, bookkeeping)
            await self._persist(gate)
        return made

    async def _poll_one(
        self, gate: ProviderGate, order: repo.OrderRecord, bookkeeping: list[repo.PollBookkeeping]
    ) -> bool:
        """Poll one order. Returns whether a request was made."""
        assert order.remote_id is not None
        async with gate.semaphore:
            now = self.clock()
            # The provider may have rate limited us while this order waited its turn.
            if gate.health.rate_limited_until > now or gate.health.circuit is CircuitState.OPEN:
                hold = max(gate.health.rate_limited_until, gate.health.open_until)
                bookkeeping.append(
                    repo.PollBookkeeping(order.id, now, hold, ok=True, counted=False)
                )
                return False
            async with gate.limiter:
                gate.requests += 1
                try:
                    answer = await gate.adapter.get_order(order.remote_id)
                except InvalidRemoteId as exc:
                    # Refused before any request: the order's fault, not the provider's.
                    gate.requests -= 1
                    await self.answers.unusable_remote_id(order, exc, bookkeeping)
                    return False
                except ProviderError as exc:
                    gate.failures += 1
                    await self._failed(gate, order, exc, bookkeeping)
                    return True
        self._succeeded(gate)
        await self.answers.record(order, answer, bookkeeping)
        return True

    # --- outcomes ----------------------------------------------------------------------------

    def _succeeded(self, gate: ProviderGate) -> None:
        health = gate.health
        health.polls += 1
        health.last_success_at = self.clock()
        if health.circuit is not CircuitState.CLOSED:
            log.info("%s circuit closed: the provider answered", health.name)
            gate.alerts.append(
                (
                    "circuit_closed",
                    f"✅ {health.name} answers again: its circuit is closed and polling "
                    "resumed. `/admin providers` shows its health.",
                    f"circuit_closed:{health.name}:{int(health.last_success_at or 0)}",
                    f"circuit:{health.name}",  # a flapping provider becomes a digest
                )
            )
        health.circuit = CircuitState.CLOSED
        health.consecutive_failures = 0
        health.opened_times = 0

    async def _failed(
        self,
        gate: ProviderGate,
        order: repo.OrderRecord,
        exc: ProviderError,
        bookkeeping: list[repo.PollBookkeeping],
    ) -> None:
        now = self.clock()
        health = gate.health
        health.polls += 1
        health.failures += 1
        health.last_error = exc.message[:200]
        health.last_error_kind = exc.kind
        health.last_error_at = now
        if isinstance(exc, ProviderRateLimited):
            until = now + exc.retry_after
            if until > health.rate_limited_until:
                health.rate_limited_until = until
                log.warning(
                    "%s rate limited us: holding all its polls for %.1fs",
                    health.name,
                    exc.retry_after,
                )
                await repo.postpone_provider_polls(self.db, health.name, until)
                if exc.retry_after > LONG_HOLD_SECONDS:
                    asked = (
                        f"{exc.asked:g}s, which we cut to {exc.retry_after:.0f}s"
                        if exc.asked is not None
                        else f"{exc.retry_after:.0f}s"
                    )
                    await staff_alerts.raise_alert(
                        self.db,
                        kind="provider_hold",
                        message=f"⏳ {health.name} asked us to wait {asked} (Retry-After): none "
                        f"of its orders are polled until <t:{int(until)}:T>. Nothing to do "
                        "unless it keeps happening; `/admin providers` shows it.",
                        dedupe_key=f"provider_hold:{health.name}:{int(until // 60)}",
                        group_key=f"provider_hold:{health.name}",
                    )
            bookkeeping.append(repo.PollBookkeeping(order.id, now, until, ok=False))
            return
        if isinstance(exc, ProviderRejected):
            # The provider says this order is wrong (e.g. vanished). Staff must look;
            # keep checking rarely in case it was transient.
            await staff_alerts.raise_alert(
                self.db,
                kind="poll_rejected",
                message=f"⚠️ {health.name} refused to report order `{order.id}` "
                f"(remote `{order.remote_id}`): {exc.message}. Polling slowly. Check it with "
                f"`/admin order view order_id:{order.id}`.",
                dedupe_key=f"poll_rejected:{order.id}:{exc.status_code}",
                order_id=order.id,
                group_key=f"poll_rejected:{health.name}",
            )
            bookkeeping.append(
                repo.PollBookkeeping(order.id, now, now + self.schedule.failure_cap, ok=False)
            )
            return
        # Unavailable, protocol garbage, auth: the provider's fault, not the order's.
        health.consecutive_failures += 1
        if isinstance(exc, ProviderProtocolError):
            await staff_alerts.raise_alert(
                self.db,
                kind="provider_fault",
                message=f"⚠️ {health.name} sent an unreadable reply for order `{order.id}`: "
                f"{exc.message}. It keeps being polled; `/admin providers` shows the provider's "
                "health.",
                dedupe_key=f"provider_fault:{order.id}:protocol",
                order_id=order.id,
                group_key=f"provider_fault:{health.name}",
            )
        if isinstance(exc, ProviderAuthError):
            await staff_alerts.raise_alert(
                self.db,
                kind="provider_auth",
                message=f"🔑 {health.name} rejected our credentials ({exc.message}). "
                f"Fix {health.name.upper()}_API_* in the settings and restart.",
                dedupe_key=f"provider_auth:{health.name}:{int(now // 3600)}",
            )
        if health.circuit is CircuitState.HALF_OPEN or (
            health.consecutive_failures >= self.settings.breaker_threshold
        ):
            self._open_circuit(gate, now)
        failures = order.poll_failures + 1
        next_at = max(now + self.schedule.next_after_failure(failures), health.open_until)
        level = logging.WARNING if isinstance(exc, ProviderUnavailable) else logging.ERROR
        log.log(level, "poll of order %s at %s failed: %s", order.id, health.name, exc.message)
        bookkeeping.append(repo.PollBookkeeping(order.id, now, next_at, ok=False))

    def _open_circuit(self, gate: ProviderGate, now: float) -> None:
        health = gate.health
        cooldown = min(
            self.settings.breaker_cooldown * 2**health.opened_times,
            self.settings.breaker_max_cooldown,
        )
        if health.circuit is CircuitState.CLOSED:
            # Told once per outage: re-opening after a failed probe is the same outage.
            gate.alerts.append(
                (
                    "circuit_open",
                    f"🔌 {health.name} keeps failing ({health.last_error_kind}: "
                    f"{health.last_error}): its circuit is open, so its orders are not polled "
                    f"for {cooldown:.0f}s, then one probe decides. Orders wait, nothing is lost. "
                    "`/admin providers` shows its health.",
                    f"circuit_open:{health.name}:{int(now)}",
                    f"circuit:{health.name}",
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
