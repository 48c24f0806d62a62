"""The notifier: sends the outbox of DMs owed to buyers, at most one per (order, kind).

Four layers keep a DM from going out twice:
1. A row is claimed with a compare-and-set (pending -> sending) before the DM is sent,
   and every later move (sent, retry, give up) is a compare-and-set from `sending`: a
   second sender, or a late step of this one, can't overwrite `sent`.
2. Every send carries a nonce derived from the notification row, with `enforce_nonce`:
   when discord.py re-sends after a 5xx, or we re-send after an ambiguous failure,
   Discord answers with the message it already has instead of posting another (within
   Discord's nonce window, a few minutes).
3. After an ambiguous failure (5xx, timeout, an error once the request may have left)
   the row is marked `unsure`, and the DM channel's history is searched for the
   notification's marker before the next send.
4. A row left `sending` (the process died, or recording `sent` failed) is settled by
   `reconcile_interrupted` — at startup and then on a schedule — from the history: found
   means sent; not found means it is sent again (still under its nonce).

What remains: Discord accepted the message, its history doesn't show it yet when we
look, and the nonce window has passed; see docs/architecture.md.

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
from bot.domain import OrderStatus
from bot.presenters import (
    delivery_payload,
    fallback_notice,
    notification_embed,
    notification_marker,
)
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
# A row still `sending` after this long was interrupted (no send takes a minute: each
# of discord.py's requests is bounded); the scheduled reconciliation settles it.
SENDING_STALE_AFTER = 60.0
# Staff hear about a row whose history has been unreadable this long.
STUCK_SENDING_ALERT = 15 * 60.0


def is_superseded(kind: str, status: OrderStatus) -> bool:
    """A progress DM ("review", "placed") owed for a state the order has since left."""
    base = kind.split("-", 1)[0]
    if base == "review":
        return status is not OrderStatus.NEEDS_REVIEW
    if base == "placed":
        return status.is_terminal or status is OrderStatus.NEEDS_REVIEW
    return False


def notification_nonce(notification_id: int, channel: str) -> str:
    """A nonce unique to one notification's message in one channel (Discord: at most 25
    characters). Staff resends are new notifications, so they get new nonces."""
    return f"n{notification_id}{channel[0]}"


class Notifier:
    def __init__(
        self,
        db: Database,
        cipher: DeliveryCipher,
        client: discord.Client,
        notice_channel_id: int,
        *,
        clock: Callable[[], float] = time.time,
        stale_after: float = SENDING_STALE_AFTER,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.client = client
        self.notice_channel_id = notice_channel_id
        self.clock = clock
        # Rows this process is sending right now: reconciliation leaves them alone.
        self._in_flight: set[int] = set()
        self.started_at = clock()
        self.stale_after = stale_after

    async def send_due(self, limit: int = 50) -> int:
        sent = 0
        for note in await outbox.due_notifications(self.db, now=self.clock(), limit=limit):
            try:
                if await self._deliver(note):
                    sent += 1
            except Exception:
                # One bad notification must not stop the others. It may have been sent
                # before the error: the history is checked before it is sent again.
                log.exception(
                    "notification %s for order %s failed unexpectedly", note.id, note.order_id
                )
                await self._retry(note, "unexpected error", unsure=True)
        return sent

    async def reconcile_stale(self) -> int:
        """The scheduled run: rows interrupted more than `stale_after` seconds ago."""
        return await self.reconcile_interrupted(stale_after=self.stale_after)

    async def reconcile_interrupted(self, *, stale_after: float | None = None) -> int:
        """Settle rows left in `sending` (see the module docstring). At startup every such
        row is interrupted (`stale_after=None`); on the schedule, only rows claimed more
        than `stale_after` seconds ago and not being sent by this process. A history
        that can't be read leaves the row for the next run, and staff are told once it
        has waited too long."""
        now = self.clock()
        # Anything claimed before this process started can't be in flight here (one bot
        # per database), so it is interrupted whatever its age.
        cutoff = now if stale_after is None else max(now - stale_after, self.started_at)
        settled = 0
        for note in await outbox.list_sending(self.db, claimed_before=cutoff):
            if note.id in self._in_flight:
                continue
            try:
                if await self._settle(note):
                    settled += 1
            except Exception as exc:
                log.warning(
                    "cannot settle interrupted notification %s yet (%s); will retry",
                    note.id,
                    type(exc).__name__,
                )
                if note.claimed_at is not None and now - note.claimed_at > STUCK_SENDING_ALERT:
                    await staff_alerts.raise_alert(
                        self.db,
                        kind="notify_stuck",
                        message=f"📭 The {note.kind} DM for order `{note.order_id}` was "
                        "interrupted and Discord's history can't be read to check it "
                        f"({type(exc).__name__}). It is checked again every minute; it will not "
                        "be sent twice.",
                        dedupe_key=f"notify_stuck:{note.id}:interrupted",
                        order_id=note.order_id,
                        group_key="notify_stuck",
                    )
        return settled

    async def _settle(self, note: outbox.Notification) -> bool:
        where = await self._find_marker(note.user_id, notification_marker(note.order_id, note.kind))
        if where is None:
            # Not in the history: it never arrived. Sent again (under the same nonce).
            return await outbox.set_notification_state(
                self.db,
                note.id,
                NotificationState.PENDING,
                expect=NotificationState.SENDING,
                next_attempt_at=self.clock(),
                unsure=False,
            )
        state = NotificationState.SENT if where == "dm" else NotificationState.FALLBACK
        if not await outbox.set_notification_state(
            self.db, note.id, state, expect=NotificationState.SENDING
        ):
            return False
        await repo.add_event(
            self.db,
            note.order_id,
            actor=repo.ACTOR_SYSTEM,
            kind="notified",
            detail=f"{note.kind} notification found already sent ({where})",
        )
        return True

    async def _find_marker(self, user_id: int, marker: str) -> str | None:
        """Where the notification with `marker` already is: "dm", "fallback" or None.
        Only the bot's own messages count: anyone can type a marker into a channel."""
        me = self.client.user.id if self.client.user else None
        dm = await self.client.create_dm(discord.Object(id=user_id))
        async for message in dm.history(limit=HISTORY_LIMIT):
            if message.author.id != me:
                continue
            if any(e.footer and e.footer.text == marker for e in message.embeds):
                return "dm"
        notices = await self._notice_channel()
        async for message in notices.history(limit=HISTORY_LIMIT):
            if message.author.id == me and marker in (message.content or ""):
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
        self._in_flight.add(note.id)
        try:
            return await self._send_claimed(note)
        finally:
            self._in_flight.discard(note.id)

    async def _send_claimed(self, note: outbox.Notification) -> bool:
        if note.unsure:
            # An earlier attempt may have arrived: look before sending again.
            try:
                if await self._settle(note):
                    return True
            except discord.HTTPException as exc:
                await self._retry(note, f"history unreadable ({exc.status})", unsure=True)
                return False
            except (aiohttp.ClientError, TimeoutError) as exc:
                await self._retry(note, f"history unreadable ({type(exc).__name__})", unsure=True)
                return False
            # Not there: _settle put the row back to pending; claim it again to send.
            if not await outbox.set_notification_state(
                self.db, note.id, NotificationState.SENDING, expect=NotificationState.PENDING
            ):
                return False
        order = await repo.get_order(self.db, note.order_id)
        if order is None:
            await self._give_up(note, "order gone")
            return False
        if is_superseded(note.kind, order.status):
            # "Staff are checking" or "placed", owed a moment ago, but the order has moved
            # on, and that move owes its own DM: this one would only repeat it.
            await self._record_sent(
                note,
                NotificationState.SENT,
                f"{note.kind} DM not sent: the order is already {order.status.label}",
                error="superseded; not sent",
            )
            return False
        embed = notification_embed(order, note.kind)
        delivery = order.delivery(self.cipher) if order.has_delivery else None
        content, file = (None, None)
        if delivery is not None and not delivery.is_empty():
            content, file = delivery_payload(order, delivery)
        try:
            dm = await self.client.create_dm(discord.Object(id=note.user_id))
            # The nonce makes Discord itself drop a repeat of this DM (discord.py's own
            # re-send after a 5xx, or ours after an ambiguous failure).
            nonce = notification_nonce(note.id, "dm")
            if file is not None:
                await dm.send(content, embed=embed, file=file, nonce=nonce)
            else:
                await dm.send(content, embed=embed, nonce=nonce)
        except discord.Forbidden as exc:
            if exc.code == DM_CLOSED:
                return await self._fallback(note, order)
            await self._give_up(note, f"Discord refused the DM ({exc.code})")
            return False
        except discord.NotFound as exc:
            await self._give_up(note, f"Discord doesn't know the user ({exc.code})")
            return False
        except discord.HTTPException as exc:
            if exc.status == 429:
                await self._retry(note, "Discord 429")
            elif exc.status >= 500:
                # Discord may have stored it before failing.
                await self._retry(note, f"Discord {exc.status}", unsure=True)
            else:
                await self._give_up(note, f"Discord refused the DM ({exc.status}/{exc.code})")
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self._retry(note, f"network: {type(exc).__name__}", unsure=True)
            return False
        await self._record_sent(note, NotificationState.SENT, f"{note.kind} DM sent")
        log.info("sent %s DM for order %s", note.kind, order.id)
        return True

    async def _record_sent(
        self,
        note: outbox.Notification,
        state: NotificationState,
        detail: str,
        error: str | None = None,
    ) -> None:
        """After a send that went through. If recording it fails, the row stays `sending`
        and reconciliation finds the DM in the history: it is never sent again from here."""
        try:
            await outbox.set_notification_state(
                self.db, note.id, state, expect=NotificationState.SENDING, error=error
            )
            await repo.add_event(
                self.db, note.order_id, actor=repo.ACTOR_SYSTEM, kind="notified", detail=detail
            )
        except Exception:
            log.exception(
                "notification %s for order %s went out but recording it failed; "
                "reconciliation will find it",
                note.id,
                note.order_id,
            )

    async def _fallback(self, note: outbox.Notification, order: repo.OrderRecord) -> bool:
        try:
            channel = await self._notice_channel()
            await channel.send(
                fallback_notice(order, note.kind),
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(id=order.user_id)]),
                nonce=notification_nonce(note.id, "notice"),
            )
        except discord.HTTPException as exc:
            await self._retry(
                note, f"DMs closed and the notice failed ({exc.status})", unsure=exc.status >= 500
            )
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self._retry(note, f"notice: network {type(exc).__name__}", unsure=True)
            return False
        await self._record_sent(
            note,
            NotificationState.FALLBACK,
            f"{note.kind}: DMs closed, notice posted in the notices channel (no delivery data)",
            error="DMs closed",
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

    async def _retry(self, note: outbox.Notification, reason: str, *, unsure: bool = False) -> None:
        attempts = note.attempts + 1
        delay = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
        if not await outbox.set_notification_state(
            self.db,
            note.id,
            NotificationState.PENDING,
            expect=NotificationState.SENDING,
            error=reason,
            next_attempt_at=self.clock() + delay,
            # Once unsure, stays unsure until the history has been checked.
            unsure=True if unsure else None,
        ):
            return  # no longer ours (sent, or settled by reconciliation)
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
        if not await outbox.set_notification_state(
            self.db,
            note.id,
            NotificationState.FAILED,
            expect=NotificationState.SENDING,
            error=reason,
        ):
            return
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
