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
4. A row left `sending` (the process died, or recording `sent` failed) is settled by the
   reconciliation (dm_reconciliation.py), at startup and then on a schedule.

What remains: Discord accepted the message, its history doesn't show it yet when we
look, and the nonce window has passed; see docs/architecture.md.

DMs closed (403 / 50007): a notice in the notices channel that mentions the buyer and
contains no delivery data; the row is marked `fallback`. 429 / 5xx / network trouble:
retried with backoff (discord.py already retried each request). Anything else: marked
failed and staff are told.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

import aiohttp
import discord

from bot.presenters import OutgoingDm, delivery_payload, fallback_notice, notification_embed
from bot.services.dm_reconciliation import DmHistory, Reconciler
from bot.services.languages import LanguageService
from bot.services.topup_dms import topup_dm
from core import alerts, i18n
from core.crash_points import crash_point
from core.crypto import DecryptionError, DeliveryCipher
from core.domain import STATUS_LABELS, OrderStatus
from core.i18n import _
from core.kinds import EventKind, NotificationKind
from core.timings import Timings
from storage import notifications as outbox
from storage import orders as repo
from storage import staff_alerts, topups, wallet
from storage.database import Database
from storage.notifications import NotificationState

log = logging.getLogger(__name__)

DEFAULT_TIMINGS = Timings()

DM_CLOSED = 50007
ALERT_AFTER_ATTEMPTS = 5


def is_superseded(kind: str, status: OrderStatus) -> bool:
    """A progress DM ("review", "placed") owed for a state the order has since left."""
    base = kind.split("-", 1)[0]
    if base == NotificationKind.REVIEW:
        return status is not OrderStatus.NEEDS_REVIEW
    if base == NotificationKind.PLACED:
        return status.is_terminal or status is OrderStatus.NEEDS_REVIEW
    return False


def notification_nonce(order_id: str, kind: str, channel: str) -> str:
    """A nonce unique to one notification's message in one channel. Discord checks a
    nonce against the same author's recent messages (all of the bot's, in every
    channel), so it is derived from what the message is, not from a row number another
    database could reuse. At most 25 characters."""
    digest = hashlib.sha256(f"{order_id}|{kind}|{channel}".encode()).hexdigest()
    return digest[:25]


class Notifier:
    def __init__(
        self,
        db: Database,
        cipher: DeliveryCipher,
        client: discord.Client,
        notice_channel_id: int,
        *,
        clock: Callable[[], float] = time.time,
        timings: Timings = DEFAULT_TIMINGS,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.client = client
        self.clock = clock
        # This process's id in the registry, written on its claims (bot/app.py sets it).
        self.owner: str | None = None
        self.timings = timings
        # Rows this process is sending right now: reconciliation leaves them alone.
        self._in_flight: set[int] = set()
        self.history = DmHistory(client, notice_channel_id)
        self.languages = LanguageService(db)
        # Settles rows left `sending`; at startup (`reconcile_interrupted`) and on the
        # schedule (`reconcile_stale`).
        self.reconciler = Reconciler(
            db,
            self.history,
            self._in_flight,
            clock=lambda: self.clock(),
            stale_after=timings.dm_reconcile_after,
            alert_after=timings.dm_history_alert_after,
        )

    async def send_due(self, limit: int = 50) -> int:
        """Send up to `limit` owed DMs, claiming each just before it is sent (so another
        process's sender, or reconciliation, sees a claim only as old as its send)."""
        if not await outbox.any_due(self.db, now=self.clock()):
            return 0  # the common case: nothing owed, and no write to find that out
        sent = 0
        tried: set[int] = set()  # each row once per run, even one due again at once
        for _attempt in range(limit):
            note = await outbox.claim_due_notification(
                self.db, now=self.clock(), skip=tried | self._in_flight, owner=self.owner
            )
            if note is None:
                break
            tried.add(note.id)
            # In flight from the claim to the end of the send: this process's
            # reconciliation never takes our own claim for an interrupted one.
            self._in_flight.add(note.id)
            try:
                crash_point("dm.claimed")
                if await self._send_claimed(note):
                    sent += 1
            except Exception:
                # One bad notification must not stop the others. It may have been sent
                # before the error: the history is checked before it is sent again.
                log.exception("notification %s for %s failed unexpectedly", note.id, note.subject)
                current = await outbox.get_notification_by_id(self.db, note.id)
                if current is not None:
                    await self._retry(current, "unexpected error", unsure=True)
            finally:
                self._in_flight.discard(note.id)
        return sent

    async def _send_claimed(self, note: outbox.Notification) -> bool:
        if note.unsure:
            # An earlier attempt may have arrived: look before sending again.
            try:
                where = await self.history.find_marker(note)
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
        outgoing = await (self._topup_dm(note) if note.for_topup else self._order_dm(note))
        if outgoing is None:
            return False
        content, embed, file = outgoing.content, outgoing.embed, outgoing.file
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
                return await self._fallback(note, outgoing.notice)
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
        log.info("sent %s DM for %s", note.kind, note.subject)
        return True

    async def _order_dm(self, note: outbox.Notification) -> OutgoingDm | None:
        """An order's DM as the order is now; None when it is not to be sent (the row
        has been settled)."""
        order = await repo.get_order(self.db, note.order_id)
        if order is None:
            await self._give_up(note, "order gone")
            return None
        if is_superseded(note.kind, order.status):
            # "Staff are checking" or "placed", owed a moment ago, but the order has moved
            # on, and that move owes its own DM: this one would only repeat it.
            await self._record_sent(
                note,
                NotificationState.SENT,
                f"{note.kind} DM not sent: the order is already {STATUS_LABELS[order.status]}",
                error="superseded; not sent",
            )
            return None
        entries = await wallet.order_entries(self.db, order.id)
        # Written in the buyer's /language choice, else the language they ordered in.
        language = await self.languages.for_dm(order.user_id, order.language)
        try:
            delivery = order.delivery(self.cipher) if order.has_delivery else None
        except DecryptionError:
            # The DM still goes (the buyer learns the outcome); the goods can't, and staff
            # must fix the key. Waiting would block the DM for good.
            delivery = None
            await staff_alerts.raise_alert(self.db, alerts.delivery_undecryptable(order.id))
            undecryptable = True
        else:
            undecryptable = False
        with i18n.speaking(language):
            embed = notification_embed(order, note.kind, entries)
            content, file = (None, None)
            if undecryptable:
                content = _(
                    "Your delivery can't be shown right now; staff have been told and will"
                    " send it. `/order` shows it once it's back."
                )
            if delivery is not None and not delivery.is_empty():
                content, file = delivery_payload(order, delivery)
            return OutgoingDm(content, embed, file, fallback_notice(order, note.kind))

    async def _topup_dm(self, note: outbox.Notification) -> OutgoingDm | None:
        recorded = await topups.language_of(self.db, note.order_id)
        with i18n.speaking(await self.languages.for_dm(note.user_id, recorded)):
            outgoing = await topup_dm(self.db, note)
        if outgoing is None:
            await self._give_up(note, "top-up gone")
        return outgoing

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
            if not note.for_topup:
                await repo.add_event(
                    self.db,
                    note.order_id,
                    actor=repo.ACTOR_SYSTEM,
                    kind=EventKind.NOTIFIED,
                    detail=detail,
                )
        except Exception:
            log.exception(
                "notification %s for %s went out but recording it failed; "
                "reconciliation will find it",
                note.id,
                note.subject,
            )

    async def _fallback(self, note: outbox.Notification, notice: str) -> bool:
        # From now on the notices channel is part of this notification's history.
        await outbox.mark_notice_tried(self.db, note.id)
        try:
            channel = await self.history.notice_channel()
            await channel.send(
                notice,
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(id=note.user_id)]),
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
            alerts.topup_dm_fallback(note.user_id, note.order_id, note.kind, note.id)
            if note.for_topup
            else alerts.dm_fallback(note.user_id, note.order_id, note.kind, note.id),
        )
        log.info("DMs closed for %s: fallback notice posted", note.subject)
        return True

    async def _retry(self, note: outbox.Notification, reason: str, *, unsure: bool = False) -> None:
        # `note` is the row as claimed, and the claim counted this attempt: the first
        # failure is attempt 1 (waits dm_retry_base), the fifth alerts staff.
        attempts = note.attempts
        delay = min(self.timings.dm_retry_base * 2 ** (attempts - 1), self.timings.dm_retry_cap)
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
            "notification %s for %s: %s; retry in %.0fs",
            note.id,
            note.subject,
            reason,
            delay,
        )
        if attempts >= ALERT_AFTER_ATTEMPTS:
            await staff_alerts.raise_alert(
                self.db,
                alerts.topup_dm_trouble(
                    note.user_id, note.order_id, note.kind, note.id, reason, gave_up=False
                )
                if note.for_topup
                else alerts.dm_retrying(note.order_id, note.kind, note.id, reason),
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
            alerts.topup_dm_trouble(
                note.user_id, note.order_id, note.kind, note.id, reason, gave_up=True
            )
            if note.for_topup
            else alerts.dm_failed(note.user_id, note.order_id, note.id, reason),
        )
        log.error("notification %s for %s failed: %s", note.id, note.subject, reason)
