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

import asyncio
import enum
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from bot.presenters import (
    delivery_payload,
    fallback_notice,
    notice_marker_line,
    notification_embed,
    notification_marker,
)
from core.crash_points import crash_point
from core.crypto import DecryptionError, DeliveryCipher
from core.domain import OrderStatus
from storage import notifications as outbox
from storage import orders as repo
from storage import staff_alerts, wallet
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


def notification_nonce(order_id: str, kind: str, channel: str) -> str:
    """A nonce unique to one notification's message in one channel. Discord checks a
    nonce against the same author's recent messages (all of the bot's, in every
    channel), so it is derived from what the message is, not from a row number another
    database could reuse. At most 25 characters."""
    digest = hashlib.sha256(f"{order_id}|{kind}|{channel}".encode()).hexdigest()
    return digest[:25]


class Settled(enum.Enum):
    FOUND = "found"
    NOT_FOUND = "not found"
    LOST = "lost"


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
        self._reconciling = asyncio.Lock()
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
                current = await outbox.get_notification(self.db, note.order_id, note.kind)
                if current is not None:
                    await self._retry(current, "unexpected error", unsure=True)
        return sent

    async def reconcile_stale(self) -> int:
        """The scheduled run: rows interrupted more than `stale_after` seconds ago, or
        before this process started."""
        return await self.reconcile_interrupted(stale_after=self.stale_after)

    async def reconcile_interrupted(self, *, stale_after: float | None = None) -> int:
        """Settle rows left in `sending` (see the module docstring): at startup
        (`stale_after=None`) the rows claimed before this process started; on the
        schedule, also this process's rows claimed more than `stale_after` seconds ago
        that aren't being sent. Runs never overlap (a lock), every move is a
        compare-and-set on the claim that was read, and a history that can't be read
        leaves the row for the next run; staff are told once it has waited too long."""
        async with self._reconciling:
            now = self.clock()
            cutoff = (
                self.started_at if stale_after is None else max(now - stale_after, self.started_at)
            )
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
        if note.claimed_at is not None and now - note.claimed_at > STUCK_SENDING_ALERT:
            await staff_alerts.raise_alert(
                self.db,
                kind="notify_stuck",
                message=f"📭 The {note.kind} DM for order `{note.order_id}` was interrupted "
                "and Discord's history can't be read to check it "
                f"({type(exc).__name__}). It is checked again every few seconds; it will not "
                "be sent twice.",
                dedupe_key=f"notify_stuck:{note.id}:interrupted",
                order_id=note.order_id,
                group_key="notify_stuck",
            )

    async def _settle(self, note: outbox.Notification) -> Settled:
        """An interrupted row, from the history: found -> sent (or fallback); not found
        -> pending again, to be sent (under the same nonce). LOST: the claim we read is
        no longer the row's (somebody else moved it); nothing was changed."""
        where = await self._find_marker(note)
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
        await repo.add_event(
            self.db,
            note.order_id,
            actor=repo.ACTOR_SYSTEM,
            kind="notified",
            detail=f"{note.kind} notification found already sent ({where})",
        )
        return Settled.FOUND

    async def _find_marker(self, note: outbox.Notification) -> str | None:
        """Where the notification already is: "dm", "fallback" or None. Only the bot's
        own messages count (anyone can type a marker), markers match exactly
        (`final` is not `final-2`), and the notices channel is read only when a notice
        was attempted."""
        me = self.client.user.id if self.client.user else None
        marker = notification_marker(note.order_id, note.kind)
        dm = await self.client.create_dm(discord.Object(id=note.user_id))
        async for message in dm.history(limit=HISTORY_LIMIT):
            if message.author.id != me:
                continue
            if any(e.footer and e.footer.text == marker for e in message.embeds):
                return "dm"
        if not note.notice_tried:
            return None
        line = notice_marker_line(note.order_id, note.kind)
        notices = await self._notice_channel()
        async for message in notices.history(limit=HISTORY_LIMIT):
            if message.author.id == me and line in (message.content or "").splitlines():
                return "fallback"
        return None

    async def _notice_channel(self) -> Any:
        channel = self.client.get_channel(self.notice_channel_id)
        if channel is None:
            channel = await self.client.fetch_channel(self.notice_channel_id)
        return channel

    async def _deliver(self, note: outbox.Notification) -> bool:
        # Marked in flight before the claim commits: reconciliation never sees our claim
        # as an interrupted one.
        if note.id in self._in_flight:
            return False
        self._in_flight.add(note.id)
        try:
            claimed = await outbox.set_notification_state(
                self.db,
                note.id,
                NotificationState.SENDING,
                expect=NotificationState.PENDING,
                count_attempt=True,
            )
            if not claimed:
                return False  # another run has it
            current = await outbox.get_notification(self.db, note.order_id, note.kind)
            if current is None:
                return False
            crash_point("dm.claimed")
            return await self._send_claimed(current)
        finally:
            self._in_flight.discard(note.id)

    async def _send_claimed(self, note: outbox.Notification) -> bool:
        if note.unsure:
            # An earlier attempt may have arrived: look before sending again.
            try:
                where = await self._find_marker(note)
            except discord.HTTPException as exc:
                await self._retry(note, f"history unreadable ({exc.status})", unsure=True)
                return False
            except (aiohttp.ClientError, TimeoutError) as exc:
                await self._retry(note, f"history unreadable ({type(exc).__name__})", unsure=True)
                return False
            if where is not None:
                state = NotificationState.SENT if where == "dm" else NotificationState.FALLBACK
                await self._record_sent(
                    note, state, f"{note.kind} notification found already sent ({where})"
                )
                return True
            # Not there: it never arrived. Sent now, under the same nonce.
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
        embed = notification_embed(order, note.kind, await wallet.order_entries(self.db, order.id))
        content, file = (None, None)
        try:
            delivery = order.delivery(self.cipher) if order.has_delivery else None
        except DecryptionError:
            # The DM still goes (the buyer learns the outcome); the goods can't, and staff
            # must fix the key. Waiting would block the DM for good.
            delivery = None
            content = (
                "Your delivery can't be shown right now; staff have been told and will send "
                "it. `/order` shows it once it's back."
            )
            await staff_alerts.raise_alert(
                self.db,
                kind="undecryptable",
                message=f"🔐 The delivery of order `{order.id}` can't be decrypted with the "
                "configured DELIVERY_ENCRYPTION_KEY (was a key removed?). The buyer got the "
                "outcome without it; fix the key, then `/admin order resend "
                f"order_id:{order.id}`.",
                dedupe_key=f"undecryptable:{order.id}:delivery",
                order_id=order.id,
                group_key="undecryptable",
            )
        if delivery is not None and not delivery.is_empty():
            content, file = delivery_payload(order, delivery)
        try:
            dm = await self.client.create_dm(discord.Object(id=note.user_id))
            # The nonce makes Discord itself drop a repeat of this DM (discord.py's own
            # re-send after a 5xx, or ours after an ambiguous failure).
            nonce = notification_nonce(note.order_id, note.kind, "dm")
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
        crash_point("dm.sent")
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
                self.db,
                note.id,
                state,
                expect=NotificationState.SENDING,
                expect_claimed_at=note.claimed_at,
                error=error,
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
        # From now on the notices channel is part of this notification's history.
        await outbox.mark_notice_tried(self.db, note.id)
        try:
            channel = await self._notice_channel()
            await channel.send(
                fallback_notice(order, note.kind),
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(id=order.user_id)]),
                nonce=notification_nonce(note.order_id, note.kind, "notice"),
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
            expect_claimed_at=note.claimed_at,
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
            expect_claimed_at=note.claimed_at,
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
