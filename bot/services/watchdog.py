"""Orders that stay open too long: one staff alert per order (STUCK_ORDER_MINUTES).

A provider that never finishes, a checkout order nobody delivered, a needs-review order
nobody resolved: none of them makes noise on its own, so this job does, once per order.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.domain import OrderStatus
from storage import staff_alerts
from storage.database import Database

OPEN_STATUSES = [s.value for s in OrderStatus if s.is_open]
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
        placeholders = ", ".join("?" for _ in OPEN_STATUSES)
        rows = await self.db.fetch_all(
            "SELECT id, provider, status, created_at FROM orders"  # noqa: S608 - only placeholders are interpolated
            f" WHERE status IN ({placeholders}) AND created_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM staff_alerts a WHERE a.dedupe_key = 'stuck:' || orders.id)"
            " ORDER BY created_at LIMIT ?",
            (*OPEN_STATUSES, cutoff, BATCH),
        )
        raised = 0
        for row in rows:
            status = OrderStatus(row["status"])
            if status is OrderStatus.NEEDS_REVIEW:
                action = f"`/admin order retry order_id:{row['id']}`"
            elif status is OrderStatus.AWAITING_APPROVAL:
                action = (
                    "it waits for a staff decision: press Approve or Reject on its approval "
                    "message in this channel (or `/admin order set-status` to cancel it)"
                )
            else:
                action = (
                    f"`/admin order view order_id:{row['id']}`, then `/admin order deliver` or "
                    "`/admin order set-status`"
                )
            raised += await staff_alerts.raise_alert(
                self.db,
                kind="stuck_order",
                message=f"🐢 Order `{row['id']}` ({row['provider']}) has been **{status.label}** "
                f"since <t:{int(row['created_at'])}:R>. Look at it: {action}.",
                dedupe_key=f"stuck:{row['id']}",
                order_id=row["id"],
                group_key=f"stuck_order:{row['provider']}",
            )
        return raised
