"""Shop-wide switches staff flip from Discord: pause and resume ordering.

Each flip is one transaction: the switch, an `audit_log` row with the staff member's id,
and a staff-channel line through the alert outbox.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from bot.services.ordering import PAUSED_KEY, PAUSED_REASON_KEY
from storage import audit
from storage.database import Database
from storage.shop_state import get_value, set_value_in
from storage.staff_alerts import raise_alert_in

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShopStatus:
    paused: bool
    reason: str | None


class ShopService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def status(self) -> ShopStatus:
        paused = await get_value(self.db, PAUSED_KEY) == "1"
        reason = await get_value(self.db, PAUSED_REASON_KEY) if paused else None
        return ShopStatus(paused, reason or None)

    async def pause(self, staff_id: int, reason: str | None) -> bool:
        """Returns False when the shop was already paused (the reason is updated)."""
        reason = (reason or "").strip()[:200] or None
        was = await self.status()
        async with self.db.transaction() as conn:
            await set_value_in(conn, PAUSED_KEY, "1")
            await set_value_in(conn, PAUSED_REASON_KEY, reason or "")
            await audit.record_in(
                conn, actor_id=staff_id, action="shop.pause", detail=reason or "no reason given"
            )
            await raise_alert_in(
                conn,
                kind="staff_action",
                message=f"⏸️ <@{staff_id}> paused the shop"
                + (f": {reason}" if reason else "")
                + ". Buyers can't order until `/admin shop resume`.",
                dedupe_key=f"staff:shop:pause:{time.time_ns()}",
            )
        log.warning("staff %s paused the shop (%s)", staff_id, reason or "no reason")
        return not was.paused

    async def resume(self, staff_id: int) -> bool:
        """Returns False when the shop was not paused."""
        was = await self.status()
        async with self.db.transaction() as conn:
            await set_value_in(conn, PAUSED_KEY, "0")
            await set_value_in(conn, PAUSED_REASON_KEY, "")
            await audit.record_in(conn, actor_id=staff_id, action="shop.resume")
            if was.paused:
                await raise_alert_in(
                    conn,
                    kind="staff_action",
                    message=f"▶️ <@{staff_id}> resumed the shop. Buyers can order again.",
                    dedupe_key=f"staff:shop:resume:{time.time_ns()}",
                )
        log.warning("staff %s resumed the shop", staff_id)
        return was.paused
