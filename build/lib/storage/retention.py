"""What expires, and when. Run by the bot's pruning job (every few minutes).

Kept for good: orders, their timelines (`order_events`) and the DMs owed for them
(`notifications`): they are the shop's record of what was sold and told, and small.
Expires:
- drafts: unconfirmed screens, after twice their 10-minute confirmation window;
- provider request counters (`provider_requests`): after 2 hours (`/admin providers`
  shows the last hour);
- staff alerts posted (or given up on) more than STAFF_ALERT_DAYS ago: the staff
  channel itself keeps them;
- the staff audit log (`audit_log`), after AUDIT_DAYS: long enough for any dispute.
"""

from __future__ import annotations

from storage import orders as repo
from storage import provider_health
from storage.database import Database

DAY = 86_400.0
DRAFT_MAX_AGE = 20 * 60.0
STAFF_ALERT_DAYS = 30
AUDIT_DAYS = 365


async def prune_expired(db: Database, *, now: float) -> dict[str, int]:
    """Delete what has expired; returns how many rows went, per kind."""
    pruned = {
        "drafts": await repo.delete_expired_drafts(db, older_than=now - DRAFT_MAX_AGE),
        "provider_requests": await provider_health.prune_requests(db, now=now),
    }
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM staff_alerts WHERE COALESCE(posted_at, failed_at) < ?",
            (now - STAFF_ALERT_DAYS * DAY,),
        )
        pruned["staff_alerts"] = cur.rowcount
        cur = await conn.execute("DELETE FROM audit_log WHERE at < ?", (now - AUDIT_DAYS * DAY,))
        pruned["audit_log"] = cur.rowcount
    return pruned
