"""The notifier: sends the outbox of DMs owed to buyers, each at most once.

A row is claimed (pending -> sending) before the DM is sent and marked sent right after.
If the process dies between the two, the row is found in `sending` at the next start;
instead of sending again blindly, the DM channel's recent history is searched for the
notification's marker (and the notices channel, for a fallback). Only if it isn't there
is it sent again. What remains: Discord accepted the message but its history doesn't
show it yet when we look — a window of milliseconds after a crash, not of a send.

DMs closed (403 / 50007): a notice in the notices channel that mentions the buyer and
contains no delivery data; the row is marked `fallback`. 429 / 5xx / network trouble:
retried with backoff (discord.py already retried each request). Anything else: marked
failed and staff are told.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from bot.crypto import DeliveryCipher
from bot.presenters import delivery_payload, fallback_notice, final_dm_embed, notification_marker
from storage import notifications as outbox
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database
from storage.notifications import NotificationState

log = logging.getLogger(__name__)

DM_CLOSED = 50007
RETRY_BASE = 5.0
RETRY_CAP = 600.0
ALERT_AFTER_ATTEMPTS = 5
HISTORY_LIMIT = 50


class Notifier:
    def __init__(
        self,
        db: Database,
        cipher: DeliveryCipher,
        client: discord.Client,
        notice_channel_id: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.client = client
        self.notice_channel_id = notice_channel_id
        self.clock = clock

    async def send_due(self, limit: int = 50) -> int:
        sent = 0
        for note in await outbox.due_notifications(self.db, now=self.clock(), limit=limit):
            try:
                if await self._deliver(note):
                    sent += 1
            except Exception:
                # One bad notification must not stop the others.
                log.exception(
                    "notification %s for order %s failed unexpectedly", note.id, note.order_id
                )
                await self._retry(note, "unexpected error")
        return sent

    async def reconcile_interrupted(self) -> int:
        """At startup: settle rows left in `sending` by a crash (see module docstring)."""
        rows = await self.db.fetch_all(
            "SELECT order_id, kind FROM notifications WHERE state = 'sending'"
        )
        settled = 0
        for row in rows:
            note = await outbox.get_notification(self.db, row["order_id"], row["kind"])
            if note is None:
                continue
            marker = notification_marker(note.order_id, note.kind)
            try:
                where = await self._find_marker(note.user_id, marker)
            except discord.HTTPException as exc:
                log.warning(
                    "cannot check history for notification %s (%s); will retry", note.id, exc
                )
                continue
            if where is not None:
                state = NotificationState.SENT if where == "dm" else NotificationState.FALLBACK
                await outbox.set_notification_state(
                    self.db, note.id, state, expect=NotificationState.SENDING
                )
                await repo.add_event(
                    self.db,
                    note.order_id,
                    actor=repo.ACTOR_SYSTEM,
                    kind="notified",
                    detail=f"{note.kind} notification found already sent ({where}) after a restart",
                )
            else:
                await outbox.set_notification_state(
                    self.db, note.id, NotificationState.PENDING, expect=NotificationState.SENDING
                )
            settled += 1
        return settled

    async def _find_marker(self, user_id: int, marker: str) -> str | None:
        dm = await self.client.create_dm(discord.Object(id=user_id))
        async for message in dm.history(limit=HISTORY_LIMIT):
            if any(e.footer and e.footer.text == marker for e in message.embeds):
                return "dm"
        notices = await self._notice_channel()
        async for message in notices.history(limit=HISTORY_LIMIT):
            if marker in (message.content or ""):
                return "fallback"
        return None

    async def _notice_channel(self) -> Any:
        channel = self.client.get_channel(self.notice_channel_id)
        if channel is None:
            channel = await self.client.fetch_channel(self.notice_channel_id)
        return channel

    async def _deliver(self, note: outbox.Notification) -> bool:
        claimed = await outbox.set_notification_state(
            self.db,
            note.id,
            NotificationState.SENDING,
            expect=NotificationState.PENDING,
            count_attempt=True,
        )
        if not claimed:
            return False  # another run has it
        order = await repo.get_order(self.db, note.order_id)
        if order is None:
            await outbox.set_notification_state(
                self.db, note.id, NotificationState.FAILED, error="order gone"
            )
            return False
        embed = final_dm_embed(order, note.kind)
        delivery = order.delivery(self.cipher) if order.has_delivery else None
        content, file = (None, None)
        if delivery is not None and not delivery.is_empty():
            content, file = delivery_payload(order, delivery)
        try:
            dm = await self.client.create_dm(discord.Object(id=note.user_id))
            if file is not None:
                await dm.send(content, embed=embed, file=file)
            else:
                await dm.send(content, embed=embed)
        except discord.Forbidden as exc:
            if exc.code == DM_CLOSED:
                return await self._fallback(note, order)
            await self._give_up(note, f"Discord refused the DM ({exc.code})")
            return False
        except discord.NotFound as exc:
            await self._give_up(note, f"Discord doesn't know the user ({exc.code})")
            return False
        except discord.HTTPException as exc:
            if exc.status == 429 or exc.status >= 500:
                await self._retry(note, f"Discord {exc.status}")
            else:
                await self._give_up(note, f"Discord refused the DM ({exc.status}/{exc.code})")
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self._retry(note, f"network: {type(exc).__name__}")
            return False
        await outbox.set_notification_state(
            self.db, note.id, NotificationState.SENT, expect=NotificationState.SENDING
        )
        await repo.add_event(
            self.db,
            order.id,
            actor=repo.ACTOR_SYSTEM,
            kind="notified",
            detail=f"{note.kind} DM sent",
        )
        log.info("sent %s DM for order %s", note.kind, order.id)
        return True

    async def _fallback(self, note: outbox.Notification, order: repo.OrderRecord) -> bool:
        try:
            channel = await self._notice_channel()
            await channel.send(
                fallback_notice(order, note.kind),
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(id=order.user_id)]),
            )
        except discord.HTTPException as exc:
            await self._retry(note, f"DMs closed and the notice failed ({exc.status})")
            return False
        await outbox.set_notification_state(
            self.db,
            note.id,
            NotificationState.FALLBACK,
            expect=NotificationState.SENDING,
            error="DMs closed",
        )
        await repo.add_event(
            self.db,
            order.id,
            actor=repo.ACTOR_SYSTEM,
            kind="notified",
            detail=f"{note.kind}: DMs closed, notice posted in the notices channel (no delivery data)",
        )
        await staff_alerts.raise_alert(
            self.db,
            kind="dm_fallback",
            message=f"📪 <@{order.user_id}> has DMs closed: order `{order.id}` ({note.kind}) was "
            "announced in the notices channel instead, without delivery data. They can see it "
            "with `/order`; nothing to do unless they ask.",
            dedupe_key=f"dm_fallback:{note.id}",
            order_id=order.id,
            group_key="dm_fallback",
        )
        log.info("DMs closed for order %s: fallback notice posted", order.id)
        return True

    async def _retry(self, note: outbox.Notification, reason: str) -> None:
        attempts = note.attempts + 1
        delay = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
        await outbox.set_notification_state(
            self.db,
            note.id,
            NotificationState.PENDING,
            error=reason,
            next_attempt_at=self.clock() + delay,
        )
        log.warning(
            "notification %s for order %s: %s; retry in %.0fs",
            note.id,
            note.order_id,
            reason,
            delay,
        )
        if attempts >= ALERT_AFTER_ATTEMPTS:
            await staff_alerts.raise_alert(
                self.db,
                kind="notify_stuck",
                message=f"📭 The {note.kind} DM for order `{note.order_id}` keeps failing ({reason}). "
                "It will keep retrying; the buyer can also see the order with `/order`. "
                f"`/admin order resend order_id:{note.order_id}` sends it again once Discord answers.",
                dedupe_key=f"notify_stuck:{note.id}",
                order_id=note.order_id,
                group_key="notify_stuck",
            )

    async def _give_up(self, note: outbox.Notification, reason: str) -> None:
        await outbox.set_notification_state(
            self.db, note.id, NotificationState.FAILED, error=reason
        )
        await staff_alerts.raise_alert(
            self.db,
            kind="notify_failed",
            message=f"📭 Couldn't notify <@{note.user_id}> about order `{note.order_id}`: {reason}. "
            f"Fix the cause, then `/admin order resend order_id:{note.order_id}`.",
            dedupe_key=f"notify_failed:{note.id}",
            order_id=note.order_id,
            group_key="notify_failed",
        )
        log.error("notification %s for order %s failed: %s", note.id, note.order_id, reason)
