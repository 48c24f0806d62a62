"""The poller: asks providers about open orders when they are due, and hands each answer
to PollAnswers (poll_answers.py). Run by APScheduler; safe to overlap (leases).

Each provider is asked through its gate (provider_gate.py): a concurrency limit, a
request-rate limit, a hold while the provider is rate limiting us, and a circuit breaker.
Staff see the gates' state (`health()`, and `/admin providers` from the database).

Failures are per order: one bad reply is logged, backed off and, where staff must act,
alerted once — it never stops the loop or other orders.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

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
from bot.services.provider_gate import CircuitState, PollerSettings, ProviderGate, ProviderHealth
from bot.services.provider_keys import ProviderKeys
from bot.services.rate_limits import Unpaced
from bot.services.schedule import PollSchedule
from core import alerts
from core.crypto import DeliveryCipher
from storage import orders as repo
from storage import provider_health, staff_alerts
from storage.database import Database

log = logging.getLogger(__name__)

# A healthy provider's counters and last success are written at most this often; any
# change of its state (an error, a hold, the circuit) is written at once.
PERSIST_EVERY = 10.0
# A Retry-After longer than this is worth telling staff about (shorter ones are routine).
LONG_HOLD_SECONDS = 60.0

__all__ = [
    "CircuitState",
    "Poller",
    "PollerSettings",
    "ProviderGate",
    "ProviderHealth",
]


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
        keys: ProviderKeys | None = None,
    ) -> None:
        self.db = db
        self.cipher = cipher
        # Told what each poll says about our key (a refusal closes the provider's products).
        self.keys = keys
        self.settings = settings or PollerSettings()
        self.schedule = schedule or PollSchedule()
        self.clock = clock
        # Orders claimed by a run in progress, with the lease it set: given back at a
        # graceful stop (`release_leases`) if the run was cut off.
        self.leased: dict[str, float] = {}
        # This process's id in the registry, written on its claims (bot/app.py sets it).
        self.owner: str | None = None
        # What an answer changes; it reads this poller's clock, so setting `clock` moves both.
        self.answers = PollAnswers(db, cipher, self.schedule, lambda: self.clock())
        self.gates: dict[str, ProviderGate] = {
            adapter.name: ProviderGate.open_for(
                adapter,
                self.settings,
                # On PostgreSQL the adapter paces every request against the provider's
                # rate shared by all processes (share_provider_rates, bot/app.py); on
                # SQLite, where this is the only process, the gate paces the polls.
                limiter=Unpaced() if db.shared else None,
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
            if row is not None:
                gate.restore(row)

    async def _persist(self, gate: ProviderGate) -> None:
        if not gate.changed_since_saved(self.clock(), PERSIST_EVERY):
            return  # nothing staff would see changed: counters wait for the next write
        await provider_health.save(
            self.db, gate.health_row(), requests=gate.requests, failures=gate.failures
        )
        gate.requests = gate.failures = 0
        raised, gate.alerts = gate.alerts, []
        for alert in raised:
            await staff_alerts.raise_alert(self.db, alert)

    # --- the job ----------------------------------------------------------------------------

    async def poll_due_orders(self) -> int:
        """One run: every provider whose gate is open gets its due orders polled.
        Returns how many polls were made."""
        runs = [self.poll_provider(name) for name in self.gates]
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
        return max(
            self.settings.lease_seconds, rounds * per_poll + pacing + self.settings.lease_margin
        )

    async def poll_provider(self, name: str) -> int:
        """One run for one provider. The bot schedules one job per provider, so a provider
        that is slow or hanging never delays the polling of another."""
        gate = self.gates[name]
        now = self.clock()
        limit = gate.admission(now, self.settings.batch_size)
        if limit == 0:
            return 0
        lease_until = now + self.lease_for(gate, limit)
        orders = await repo.claim_due_orders(
            self.db,
            provider=gate.adapter.name,
            now=now,
            lease_until=lease_until,
            limit=limit,
            owner=self.owner,
        )
        if not orders:
            return 0
        self.leased.update((order.id, lease_until) for order in orders)
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

        answered = gate.health.polls - gate.health.failures
        gate.refused_in_batch = False
        try:
            workers = min(self.settings.concurrency, len(orders))
            await asyncio.gather(*(worker() for _ in range(workers)))
        finally:
            gate.probe_in_flight = False
            # Unchanged polls are written together: one transaction per batch.
            await repo.record_polls(self.db, bookkeeping)
            for order in orders:
                self.leased.pop(order.id, None)
            await self._persist(gate)
        answered_now = gate.health.polls - gate.health.failures > answered
        if self.keys is not None and answered_now and not gate.refused_in_batch:
            # An answered poll got past authentication: a key refused before this batch
            # works now. (A batch that also saw a 401 proves nothing either way.)
            await self.keys.accepted(name, "a poll was answered", asked_at=now)
        return made

    async def _poll_one(
        self, gate: ProviderGate, order: repo.OrderRecord, bookkeeping: list[repo.PollBookkeeping]
    ) -> bool:
        """Poll one order. Returns whether a request was made."""
        assert order.remote_id is not None
        async with gate.semaphore:
            now = self.clock()
            # The provider may have rate limited us while this order waited its turn.
            held = gate.closed_until(now)
            if held is not None:
                bookkeeping.append(
                    repo.PollBookkeeping(order.id, now, held, ok=True, counted=False)
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
        gate.succeeded(self.clock())
        await self.answers.record(order, answer, bookkeeping)
        return True

    async def _failed(
        self,
        gate: ProviderGate,
        order: repo.OrderRecord,
        exc: ProviderError,
        bookkeeping: list[repo.PollBookkeeping],
    ) -> None:
        now = self.clock()
        gate.failed(exc, now)
        name = gate.health.name
        if isinstance(exc, ProviderRateLimited):
            until = now + exc.retry_after
            if gate.hold(until):
                log.warning(
                    "%s rate limited us: holding all its polls for %.1fs", name, exc.retry_after
                )
                await repo.postpone_provider_polls(self.db, name, until)
                if exc.retry_after > LONG_HOLD_SECONDS:
                    hold = alerts.provider_hold(exc, until=until, held="polling")
                    await staff_alerts.raise_alert(self.db, hold)
            bookkeeping.append(repo.PollBookkeeping(order.id, now, until, ok=False))
            return
        if isinstance(exc, ProviderRejected):
            # The provider says this order is wrong (e.g. vanished). Staff must look;
            # keep checking rarely in case it was transient.
            await staff_alerts.raise_alert(
                self.db, alerts.poll_rejected(order, exc.message, exc.status_code)
            )
            bookkeeping.append(
                repo.PollBookkeeping(order.id, now, now + self.schedule.failure_cap, ok=False)
            )
            return
        # Unavailable, protocol garbage, auth: the provider's fault, not the order's.
        gate.count_failure()
        if isinstance(exc, ProviderProtocolError):
            await staff_alerts.raise_alert(self.db, alerts.provider_fault(order, exc.message))
        if isinstance(exc, ProviderAuthError) and self.keys is not None:
            gate.refused_in_batch = True
            await self.keys.refused(name, exc.message, asked_at=now)
        gate.trip_if_failing(now, self.settings)
        failures = order.poll_failures + 1
        next_at = max(now + self.schedule.next_after_failure(failures), gate.health.open_until)
        level = logging.WARNING if isinstance(exc, ProviderUnavailable) else logging.ERROR
        log.log(level, "poll of order %s at %s failed: %s", order.id, name, exc.message)
        bookkeeping.append(repo.PollBookkeeping(order.id, now, next_at, ok=False))
