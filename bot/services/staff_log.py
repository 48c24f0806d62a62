"""Posts the staff-alert outbox to the staff channel, each alert once.

Alerts are written to SQLite in the same transaction as what they report (see
storage.staff_alerts), so a crash or a Discord outage delays them but never loses them.
"""

from __future__ import annotations

import logging

import discord

from storage import staff_alerts
from storage.database import Database

log = logging.getLogger(__name__)

MAX_ATTEMPTS_BEFORE_WARNING = 5


class StaffLog:
    def __init__(self, db: Database, client: discord.Client, channel_id: int) -> None:
        self.db = db
        self.client = client
        self.channel_id = channel_id

    async def _channel(self) -> discord.abc.Messageable:
        channel = self.client.get_channel(self.channel_id)
        if channel is None:
            channel = await self.client.fetch_channel(self.channel_id)
        assert isinstance(channel, discord.abc.Messageable)
        return channel

    async def post_pending(self) -> int:
        """Post every unposted alert in order. Stops at the first Discord failure so
        order is kept; the next run picks up from there."""
        pending = await staff_alerts.unposted_alerts(self.db)
        if not pending:
            return 0
        try:
            channel = await self._channel()
        except discord.HTTPException as exc:
            log.warning("staff channel %s unavailable: %s", self.channel_id, exc)
            return 0
        posted = 0
        for alert in pending:
            try:
                await channel.send(
                    alert.message[:2000],
                    allowed_mentions=discord.AllowedMentions.none(),
                )
            except discord.HTTPException as exc:
                await staff_alerts.mark_alert_attempt_failed(self.db, alert.id)
                level = (
                    logging.ERROR
                    if alert.attempts >= MAX_ATTEMPTS_BEFORE_WARNING
                    else logging.WARNING
                )
                log.log(level, "posting staff alert %s failed (%s); will retry", alert.id, exc)
                break
            await staff_alerts.mark_alert_posted(self.db, alert.id)
            posted += 1
        return posted
