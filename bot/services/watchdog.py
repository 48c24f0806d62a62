"""Orders that stay open too long: one staff alert per order (STUCK_ORDER_MINUTES).

A provider that never finishes, a checkout order nobody delivered, a needs-review order
nobody resolved: none of them makes noise on its own, so this job does, once per order.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core import alerts
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database

BATCH = 200


class StuckOrderWatch:
    def __init__(
        self, db: Database, minutes: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.minutes = minutes
        self.clock = clock

    async def alert_stuck_orders(self) -> int:
        if self.minutes <= 0:
            return 0
        cutoff = self.clock() - self.minutes * 60
        raised = 0
        for order in await repo.stuck_orders(self.db, created_before=cutoff, limit=BATCH):
            raised += await staff_alerts.raise_alert(
                self.db,
                alerts.stuck_order(order.id, order.provider, order.status, order.created_at),
            )
        return raised
