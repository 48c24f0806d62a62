"""Shop-wide switches staff flip from Discord: pause and resume ordering.

Each flip is one transaction (storage.shop_state): the switch, an `audit_log` row with
the staff member's id, and a staff-channel line through the alert outbox.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from core import alerts
from storage import shop_state
from storage.database import Database
from storage.shop_state import PAUSED_KEY, PAUSED_REASON_KEY

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShopStatus:
    paused: bool
    reason: str | None


class ShopService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def status(self) -> ShopStatus:
        paused = await shop_state.get_value(self.db, PAUSED_KEY) == "1"
        reason = await shop_state.get_value(self.db, PAUSED_REASON_KEY) if paused else None
        return ShopStatus(paused, reason or None)

    async def pause(self, staff_id: int, reason: str | None) -> bool:
        """Returns False when the shop was already paused (the reason is updated)."""
        reason = (reason or "").strip()[:200] or None
        was = await self.status()
        await shop_state.pause(
            self.db,
            staff_id=staff_id,
            reason=reason,
            alert=alerts.shop_paused(staff_id, reason, time.time_ns()),
        )
        log.warning("staff %s paused the shop (%s)", staff_id, reason or "no reason")
        return not was.paused

    async def resume(self, staff_id: int) -> bool:
        """Returns False when the shop was not paused."""
        was = await self.status()
        await shop_state.resume(
            self.db,
            staff_id=staff_id,
            alert=alerts.shop_resumed(staff_id, time.time_ns()) if was.paused else None,
        )
        log.warning("staff %s resumed the shop", staff_id)
        return was.paused
