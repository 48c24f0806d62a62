"""Orders left `submitting`: due re-sends, and what a stopped process left behind.

docs/architecture.md, "Exactly-once submission" §9. Each provider is recovered on its
own, so one hanging provider's re-sends don't delay another's, nor staff hearing of it.
"""

from __future__ import annotations

import asyncio
import logging

from bot.services.submission import Submitter
from core.domain import OrderStatus
from storage import orders as repo
from storage import provider_health

log = logging.getLogger(__name__)


class Recovery:
    def __init__(self, submitter: Submitter) -> None:
        self.submitter = submitter

    async def recover_submitting(self, *, at_startup: bool) -> int:
        """Resolve orders stuck in `submitting`, each provider on its own.

        At startup, an order the last process was sending when it stopped is a crash
        leftover: idempotent providers get the same request again; the rest go to
        needs_review (never re-sent blindly). A re-send already scheduled keeps its time,
        and a provider's Retry-After hold is honoured, at startup too. While running,
        due re-sends are made, and an order left `submitting` by an unexpected error is
        recovered the same way once it is clearly not in flight. On a shared database
        (PostgreSQL) start-up is no different from the running path: another process
        may be sending the order, so only one abandoned that long is taken.
        """
        submitter = self.submitter
        now = submitter.clock()
        due: dict[str, list[repo.OrderRecord]] = {}
        for order in await repo.list_orders_in_status(submitter.db, OrderStatus.SUBMITTING):
            if submitter.is_in_flight(order.id):
                continue
            adapter = submitter.providers.get(order.provider)
            idempotent = adapter is not None and adapter.capabilities.idempotent_create
            if order.next_poll_at is not None and idempotent:
                when = order.next_poll_at  # a scheduled re-send
            elif at_startup and not submitter.db.shared:
                # On SQLite the file lock proves no other process is sending it. On a
                # shared database another process may be, so start-up waits for the
                # same sign of abandonment as the running path below.
                when = now
            else:
                # The send in progress should have ended long before this: if it hasn't,
                # an error broke off its recording.
                # An order still `submitting` this long after its send began, and not
                # in flight here, was abandoned: it is recovered (re-sent or to staff).
                when = order.updated_at + submitter.timings.stuck_submitting_after
            if when <= now:
                due.setdefault(order.provider, []).append(order)
        results = await asyncio.gather(
            *(self._recover_provider(name, orders, now) for name, orders in due.items())
        )
        return sum(results)

    async def _recover_provider(
        self, provider: str, orders: list[repo.OrderRecord], now: float
    ) -> int:
        submitter = self.submitter
        adapter = submitter.providers.get(provider)
        idempotent = adapter is not None and adapter.capabilities.idempotent_create
        if idempotent and await provider_health.hold_until(submitter.db, provider) > now:
            return 0  # the provider asked us to wait; the next run sends them
        handled = 0
        # Long enough for the slowest send (its tries and waits), so the claim never
        # ends while this process still acts on the order.
        until = now + submitter.timings.stuck_submitting_after
        for order in orders:
            # Other processes (workers) may have found the same order: one claims it.
            if not await repo.claim_for_recovery(submitter.db, order.id, now=now, until=until):
                continue
            try:
                if idempotent:
                    await submitter.submit(order)
                else:
                    await submitter.outcomes.needs_review(order, abandoned_reason(order))
                handled += 1
            except Exception:
                # One bad order must not stop the others.
                log.exception("recovering order %s failed", order.id)
            finally:
                await repo.release_recovery_claim(submitter.db, order.id, until=until)
        return handled


def abandoned_reason(order: repo.OrderRecord) -> str:
    if order.remote_id is not None:
        return (
            f"{order.provider} answered (order `{order.remote_id}`, {order.raw_status}) but "
            "the bot stopped before recording the outcome"
        )
    return "the bot stopped while sending this order; the provider may or may not have it"
