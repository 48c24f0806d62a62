"""When to ask a provider about an order next.

Shape: poll soon after submission; right after a status change poll again soon
(changes cluster: a PROCESSING order is usually about to finish); while nothing changes,
back off exponentially up to a cap that depends on the status (PROCESSING is capped low,
a PENDING order can wait longer). Failures back off separately. Jitter spreads load so
10,000 orders submitted together don't come due in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from core.domain import OrderStatus
from core.timings import Timings


@dataclass(frozen=True, slots=True)
class PollSchedule:
    first_delay: float = 2.0  # after submission
    after_change: float = 3.0  # right after a status change
    factor: float = 1.6  # growth per unchanged poll
    pending_cap: float = 90.0  # submitted / pending at the provider
    processing_cap: float = 15.0  # work is underway: completion is near
    failure_base: float = 5.0
    failure_cap: float = 300.0
    jitter: float = 0.1  # ± fraction
    min_delay: float = 0.5

    @classmethod
    def from_timings(cls, timings: Timings) -> PollSchedule:
        return cls(
            first_delay=timings.first_poll_delay,
            after_change=timings.poll_after_change,
            pending_cap=timings.poll_pending_cap,
            processing_cap=timings.poll_processing_cap,
            failure_base=timings.poll_failure_base,
            failure_cap=timings.poll_failure_cap,
            min_delay=timings.poll_min_delay,
        )

    def _jittered(self, delay: float, rng: random.Random | None) -> float:
        r = (rng or random).uniform(-self.jitter, self.jitter)
        return max(self.min_delay, delay * (1 + r))

    def cap_for(self, status: OrderStatus) -> float:
        return self.processing_cap if status is OrderStatus.PROCESSING else self.pending_cap

    def next_unchanged(
        self, status: OrderStatus, unchanged_polls: int, rng: random.Random | None = None
    ) -> float:
        """Delay after a poll that found the same status for the n-th time (n >= 1)."""
        delay = self.after_change * self.factor ** max(0, unchanged_polls)
        return self._jittered(min(delay, self.cap_for(status)), rng)

    def next_after_change(self, rng: random.Random | None = None) -> float:
        return self._jittered(self.after_change, rng)

    def next_after_failure(self, failures: int, rng: random.Random | None = None) -> float:
        delay = self.failure_base * 2 ** max(0, failures - 1)
        return self._jittered(min(delay, self.failure_cap), rng)
