"""Where a DM already is, from Discord's history, and settling the rows left `sending`.

A row left `sending` (the process died, or recording `sent` failed) is settled by
`Reconciler.reconcile_interrupted` — at startup and then on a schedule — from the
history: found means sent; not found means it is sent again (still under its nonce).
The notifier (notifier.py) asks the same history before re-sending an `unsure` DM.

What remains: Discord accepted the message, its history doesn't show it yet when we
look, and the nonce window has passed; see docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import discord

from bot.presenters import notice_marker_line, notification_marker
from core import alerts
from core.i18n import _, speaking, staff_language
from core.kinds import EventKind
from storage import notifications as outbox
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database
from storage.notifications import NotificationState

log = logging.getLogger(__name__)

# Messages since a DM was owed read at most (20 pages of 100), and how far before that
# the search starts (clock differences between this machine and Discord).
HISTORY_SCAN_LIMIT = 2000
CLOCK_MARGIN = 300.0
# A row still `sending` after this long was interrupted (no send takes a minute: each
# of discord.py's requests is bounded); the scheduled reconciliation settles it.
SENDING_STALE_AFTER = 60.0
# Staff hear about a row whose history has been unreadable this long (the default of
# `Timings.dm_history_alert_after`).
STUCK_SENDING_ALERT = 15 * 60.0


class Settled(enum.Enum):
    FOUND = "found"
    NOT_FOUND = "not found"
    LOST = "lost"


class DmHistory:
    """The bot's own messages in a buyer's DM channel and in the notices channel."""

    def __init__(self, client: discord.Client, notice_channel_id: int) -> None:
        self.client = client
        self.notice_channel_id = notice_channel_id

    async def notice_channel(self) -> Any:
        channel = self.client.get_channel(self.notice_channel_id)
        if channel is None:
            channel = await self.client.fetch_channel(self.notice_channel_id)
        return channel

    @staticmethod
    def _since_owed(channel: Any, note: outbox.Notification) -> Any:
        """The channel's messages since the DM was owed (no attempt to send it can be
        older), oldest first, however many: a buyer whose orders complete together gets
        many DMs, and the one looked for may be far from the newest. A margin allows for
        our clock and Discord's to differ."""
        since = datetime.fromtimestamp(note.created_at - CLOCK_MARGIN, tz=UTC)
        return channel.history(limit=HISTORY_SCAN_LIMIT, after=since)

    async def find_marker(self, note: outbox.Notification) -> str | None:
        """Where the notification already is: "dm", "fallback" or None. Only the bot's
        own messages count (anyone can type a marker), markers match exactly
        (`final` is not `final-2`), and the notices channel is read only when a notice
        was attempted."""
        me = self.client.user.id if self.client.user else None
        marker = notification_marker(note.order_id, note.kind)
        dm = await self.client.create_dm(discord.Object(id=note.user_id))
        async for message in self._since_owed(dm, note):
            if message.author.id != me:
                continue
            if any(e.footer and e.footer.text == marker for e in message.embeds):
                return "dm"
        if not note.notice_tried:
            return None
        line = notice_marker_line(note.order_id, note.kind)
        notices = await self.notice_channel()
        async for message in self._since_owed(notices, note):
            if message.author.id == me and line in (message.content or "").splitlines():
                return "fallback"
        return None


class Reconciler:
    def __init__(
        self,
        db: Database,
        history: DmHistory,
        in_flight: set[int],
        *,
        clock: Callable[[], float],
        stale_after: float = SENDING_STALE_AFTER,
        alert_after: float = STUCK_SENDING_ALERT,
    ) -> None:
        self.db = db
        self.history = history
        # Rows the notifier is sending right now (shared with it): left alone here.
        self._in_flight = in_flight
        self.clock = clock
        self.started_at = clock()
        self._reconciling = asyncio.Lock()
        self.stale_after = stale_after
        self.alert_after = alert_after

    async def reconcile_stale(self) -> int:
        """The scheduled run: rows interrupted more than `stale_after` seconds ago, or
        before this process started."""
        return await self.reconcile_interrupted(stale_after=self.stale_after)

    async def reconcile_interrupted(self, *, stale_after: float | None = None) -> int:
        """Settle rows left in `sending` (see the module docstring): at startup
        (`stale_after=None`) the rows claimed before this process started; on the
        schedule, also this process's rows claimed more than `stale_after` seconds ago
        that aren't being sent. On a shared database (PostgreSQL) only rows claimed more
        than `stale_after` ago, at startup too: a younger claim may be another
        process's live send. Runs never overlap (a lock), every move is a
        compare-and-set on the claim that was read, and a history that can't be read
        leaves the row for the next run; staff are told once it has waited too long."""
        async with self._reconciling:
            now = self.clock()
            if self.db.shared:
                # Other processes send DMs from this database: a claim younger than
                # `stale_after` may be one of their live sends, at startup too. Only an
                # expired claim is taken (DM_RECONCILE_AFTER_SECONDS is the DM lease).
                cutoff = now - self.stale_after
            elif stale_after is None:
                cutoff = self.started_at
            else:
                cutoff = max(now - stale_after, self.started_at)
            settled = 0
            for note in await outbox.list_sending(self.db, claimed_before=cutoff):
                if note.id in self._in_flight:
                    continue
                self._in_flight.add(note.id)
                try:
                    if await self._settle(note) is not Settled.LOST:
                        settled += 1
                except Exception as exc:
                    await self._history_unreadable(note, exc, now)
                finally:
                    self._in_flight.discard(note.id)
            return settled

    async def _history_unreadable(
        self, note: outbox.Notification, exc: Exception, now: float
    ) -> None:
        log.warning(
            "cannot settle interrupted notification %s yet (%s); will retry",
            note.id,
            type(exc).__name__,
        )
        if note.claimed_at is None or now - note.claimed_at <= self.alert_after:
            return
        # Staff read the reason in the alert: in the staff language, as the alert is.
        with speaking(staff_language()):
            reason = _(
                "Discord's history can't be read to check it ({error})",
                error=type(exc).__name__,
            )
        alert = (
            # A top-up's DM: its alert names no order (staff_alerts.order_id is a key
            # into orders).
            alerts.topup_dm_trouble(
                note.user_id, note.order_id, note.kind, note.id, reason, gave_up=False
            )
            if note.for_topup
            else alerts.dm_unverifiable(note.order_id, note.kind, note.id, type(exc).__name__)
        )
        try:
            await staff_alerts.raise_alert(self.db, alert)
        except Exception:
            # The other interrupted rows are settled all the same.
            log.exception("could not raise the alert for notification %s", note.id)

    async def _settle(self, note: outbox.Notification) -> Settled:
        """An interrupted row, from the history: found -> sent (or fallback); not found
        -> pending again, to be sent (under the same nonce). LOST: the claim we read is
        no longer the row's (somebody else moved it); nothing was changed."""
        where = await self.history.find_marker(note)
        if where is None:
            moved = await outbox.set_notification_state(
                self.db,
                note.id,
                NotificationState.PENDING,
                expect=NotificationState.SENDING,
                expect_claimed_at=note.claimed_at,
                next_attempt_at=self.clock(),
                unsure=False,
            )
            return Settled.NOT_FOUND if moved else Settled.LOST
        state = NotificationState.SENT if where == "dm" else NotificationState.FALLBACK
        if not await outbox.set_notification_state(
            self.db,
            note.id,
            state,
            expect=NotificationState.SENDING,
            expect_claimed_at=note.claimed_at,
        ):
            return Settled.LOST
        if note.for_topup:
            return Settled.FOUND
        await repo.add_event(
            self.db,
            note.order_id,
            actor=repo.ACTOR_SYSTEM,
            kind=EventKind.NOTIFIED,
            detail=f"{note.kind} notification found already sent ({where})",
        )
        return Settled.FOUND
