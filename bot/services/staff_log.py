"""Posts the staff-alert outbox to the staff channel, each alert once, without storms.

Alerts are written to SQLite in the same transaction as what they report (see
storage.staff_alerts), so a crash or a Discord outage delays them but never loses them.

- **Claimed before posting**: a lease on each alert, so an overlapping run or a second
  process never posts it twice.
- **Posted under a nonce of its own**: every message carries a nonce derived from the
  alerts it reports, with `enforce_nonce`. When Discord stored a message but the answer
  was lost (a 5xx, a dropped connection, a timeout), the next try sends the same nonce and
  Discord answers with the message it already has: one approval with one pair of buttons,
  not two (within Discord's nonce window, a few minutes; a retry comes far sooner).
- **One bad alert doesn't block the rest**: a failed post is retried with backoff, the
  queue moves on, and after MAX_ATTEMPTS the alert is given up with an error in the log.
- **No storms**: per group (kind and provider) the first few alerts in a window are posted
  as they are; the rest become one digest with counts, at most one per digest interval (core.timings).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from itertools import groupby

import aiohttp
import discord

from bot.command_mentions import CommandMentions
from core.i18n import N_, _, in_staff_language, number
from core.timings import Timings
from storage import staff_alerts
from storage.database import Database
from storage.staff_alerts import StaffAlert

log = logging.getLogger(__name__)

DEFAULT_TIMINGS = Timings()

CLAIM_LEASE = 60.0
# Posting is about one message a second per channel: a claim this size is posted well
# within its lease, so a second process never finds it expired mid-run.
CLAIM_BATCH = 20
MAX_ATTEMPTS = 8  # for failures caused by the alert itself (Discord refused its body)
INDIVIDUAL_PER_WINDOW = 3  # alerts of one group posted on their own per window
WINDOW = 3600.0
DIGEST_IDS_SHOWN = 10
DISCORD_LIMIT = 2000


class ChannelDown(Exception):
    """The staff channel itself failed (5xx, 429, 403, 404, or the connection: reset,
    timed out, refused): not this alert's fault."""


# Failures of the connection to Discord rather than answers from it. After one of these
# the message may have been stored or not; either way it is the channel's outage, not the
# alert's, and the retry's nonce makes Discord answer with the message if it has it.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (aiohttp.ClientError, TimeoutError, OSError)
# Everything that says the channel can't be posted to right now (see post_pending).
CHANNEL_FAILURES: tuple[type[Exception], ...] = (
    ChannelDown,
    discord.HTTPException,
    *TRANSPORT_ERRORS,
)


# What a digest says per kind (a whole clause, `{count}` filled in: translated where the
# digest is written), and the command that acts on it. Every command named here exists
# (tests/bot/test_staff_log.py checks them against the /admin tree).
DIGEST_TEXT: dict[str, tuple[str, str]] = {
    "needs_review": (
        N_("{count} more orders need review"),
        N_(
            "Check the provider, then `/admin order retry order_id:<id>` for each "
            "(`/admin orders status:needs_review` lists them)."
        ),
    ),
    "unknown_status": (
        N_("{count} more orders report a status we don't know"),
        N_("They stay open. `/admin order view order_id:<id>` shows the provider's word."),
    ),
    "provider_fault": (
        N_("{count} more orders got unreadable replies"),
        N_("They keep being polled. `/admin providers` shows the provider's health."),
    ),
    "poll_rejected": (
        N_("{count} more orders were refused by the provider"),
        N_("`/admin order view order_id:<id>`, then `/admin order set-status` if it is gone."),
    ),
    "provider_outcome": (
        N_("{count} more orders ended badly at the provider"),
        N_("The buyers were told. `/admin order view order_id:<id>` shows each."),
    ),
    "order_failed": (
        N_("{count} more orders failed at submission"),
        N_("`/admin order retry order_id:<id>` sends one again."),
    ),
    "stuck_order": (
        N_("{count} more orders are open for too long"),
        N_("`/admin order view order_id:<id>`; `/admin order set-status` or `deliver` to finish."),
    ),
    "dm_fallback": (
        N_("{count} more buyers have closed DMs"),
        N_("They were told in the notices channel; `/order` shows them their order."),
    ),
    "notify_stuck": (
        N_("{count} more DMs keep failing"),
        N_(
            "They keep retrying; once Discord answers, `/admin order resend order_id:<id>` if needed."
        ),
    ),
    "notify_failed": (
        N_("{count} more DMs could not be sent"),
        N_("Fix the cause, then `/admin order resend order_id:<id>` for each."),
    ),
    "illegal_transition": (
        N_("{count} more orders moved in a way we don't allow"),
        N_("`/admin order view order_id:<id>`, then `/admin order set-status` to correct it."),
    ),
    "circuit": (
        N_("{count} more changes of a provider's circuit (it keeps failing and recovering)"),
        N_("`/admin providers` shows its health now."),
    ),
    "provider_hold": (
        N_("{count} more long Retry-After holds"),
        N_("`/admin providers` shows the current hold."),
    ),
    "process_stalled": (
        N_("{count} more of the shop's processes went silent"),
        N_("`/admin workers` shows who is alive; restart the silent ones."),
    ),
    "topup_mismatch": (
        N_("{count} more top-ups were paid otherwise than asked"),
        N_(
            "Each was credited what was paid; check them at the payment provider, and "
            "`/admin wallet view` the buyers'."
        ),
    ),
    "topup_unresolved": (
        N_("{count} more top-ups could not be settled by checking them"),
        N_(
            "Look each up at the payment provider; credit a buyer who paid with "
            "`/admin wallet credit`."
        ),
    ),
    "payment_event_unreadable": (
        N_("{count} more signed payment webhook events could not be read"),
        N_(
            "They are stored and read again for a day; check refunds and disputes at the "
            "provider, and `/admin payments`."
        ),
    ),
    "topup_reversed": (
        N_("{count} more top-ups were refunded or disputed at the payment provider"),
        N_(
            "Check each at the provider; the wallets were reduced as far as their balance "
            "allowed (`/admin wallet view` shows them)."
        ),
    ),
}


class StaffLog:
    def __init__(
        self,
        db: Database,
        client: discord.Client,
        channel_id: int,
        *,
        clock: Callable[[], float] = time.time,
        timings: Timings = DEFAULT_TIMINGS,
    ) -> None:
        self.db = db
        self.client = client
        self.channel_id = channel_id
        self.clock = clock
        self.timings = timings
        # Buttons for an alert that is acted on from its own message (an approval); set
        # by the bot once the cogs that answer them are loaded.
        self.view_for: Callable[[StaffAlert], discord.ui.View | None] | None = None
        # The commands an alert names, as mentions each client shows in its own language
        # (set by the bot once it knows the guild's command ids).
        self.mentions = CommandMentions()
        self._channel_down_until = 0.0

    async def _channel(self) -> discord.abc.Messageable:
        channel = self.client.get_channel(self.channel_id)
        if channel is None:
            channel = await self.client.fetch_channel(self.channel_id)
        assert isinstance(channel, discord.abc.Messageable)
        return channel

    async def post_pending(self, *, waited: float = 0.0) -> int:
        """Post what is due (with `waited`, only alerts raised at least that long ago:
        the gateway's fallback for when no worker posts them). Returns how many
        messages were posted."""
        now = self.clock()
        if now < self._channel_down_until:
            # The channel failed a moment ago: an alert raised since waits behind the
            # ones that failed, so staff read them in the order they happened.
            return 0
        claimed = await staff_alerts.claim_due_alerts(
            self.db, now=now, lease=CLAIM_LEASE, limit=CLAIM_BATCH, raised_before=now - waited
        )
        if not claimed:
            return 0
        done: set[int] = set()
        try:
            channel = await self._channel()
            posted = await self._post_claimed(channel, claimed, now, done)
        except CHANNEL_FAILURES as exc:
            # Discord or the channel is down, the connection failed, or we lost access:
            # nothing here is the alerts' fault, so none of them uses up an attempt. They
            # all wait and retry (under the same nonces: what was stored isn't posted again).
            log.warning(
                "staff channel %s unavailable (%s): %d alert(s) wait %gs",
                self.channel_id,
                _describe(exc),
                len(claimed) - len(done),
                self.timings.staff_channel_retry,
            )
            self._channel_down_until = now + self.timings.staff_channel_retry
            await staff_alerts.release_alerts(
                self.db,
                [a.id for a in claimed if a.id not in done],
                not_before=self._channel_down_until,
            )
            return 0
        return posted

    async def _post_claimed(
        self,
        channel: discord.abc.Messageable,
        claimed: list[StaffAlert],
        now: float,
        done: set[int],
    ) -> int:
        singles: list[StaffAlert] = [a for a in claimed if a.group_key is None]
        digests: list[tuple[str, list[StaffAlert]]] = []
        grouped = sorted((a for a in claimed if a.group_key is not None), key=_group)
        for key, members in groupby(grouped, key=_group):
            batch = list(members)
            allowance = INDIVIDUAL_PER_WINDOW - await staff_alerts.messages_posted_since(
                self.db, key, now - WINDOW
            )
            singles.extend(batch[: max(allowance, 0)])
            if batch[max(allowance, 0) :]:
                digests.append((key, batch[max(allowance, 0) :]))
        posted = 0
        # Alerts on their own first, in the order they were raised; digests after them.
        for alert in sorted(singles, key=lambda a: a.id):
            view = self.view_for(alert) if self.view_for is not None else None
            if await self._post(channel, alert.message, alert, alert_nonce([alert]), view=view):
                await staff_alerts.mark_alerts_posted(self.db, [alert.id])
                posted += 1
            done.add(alert.id)
        for key, rest in digests:
            posted += await self._digest(channel, key, rest, now)
            done.update(a.id for a in rest)
        return posted

    async def _digest(
        self, channel: discord.abc.Messageable, key: str, rest: list[StaffAlert], now: float
    ) -> int:
        last = await staff_alerts.last_digest_at(self.db, key)
        if last is not None:
            recent = await staff_alerts.digests_posted_since(self.db, key, now - WINDOW)
            wait = min(
                self.timings.staff_digest_interval * 2 ** max(recent - 1, 0),
                self.timings.staff_digest_interval_max,
            )
            if now - last < wait:
                # A digest went out recently: these wait and join the next one.
                await staff_alerts.release_alerts(
                    self.db, [a.id for a in rest], not_before=last + wait
                )
                return 0
        head = rest[0]
        if not await self._post(channel, digest_message(key, rest), head, alert_nonce(rest)):
            await staff_alerts.release_alerts(
                self.db, [a.id for a in rest[1:]], not_before=now + self.timings.staff_channel_retry
            )
            return 0
        await staff_alerts.mark_alerts_posted(self.db, [a.id for a in rest], digest_id=head.id)
        log.info("posted a digest of %d %s alert(s)", len(rest), key)
        return 1

    async def _post(
        self,
        channel: discord.abc.Messageable,
        text: str,
        alert: StaffAlert,
        nonce: str,
        *,
        view: discord.ui.View | None = None,
    ) -> bool:
        """True when posted; False when Discord refused this alert (retried later, and given
        up after MAX_ATTEMPTS). A channel-wide failure, the connection's included, raises
        ChannelDown instead.

        discord.py sends a given nonce with `enforce_nonce`, so Discord answers a repeat of
        ``nonce`` with the message it stored the first time instead of posting another."""
        text = self.mentions.render(text)
        try:
            if view is not None:
                await channel.send(
                    text[:DISCORD_LIMIT],
                    allowed_mentions=discord.AllowedMentions.none(),
                    view=view,
                    nonce=nonce,
                )
            else:
                await channel.send(
                    text[:DISCORD_LIMIT],
                    allowed_mentions=discord.AllowedMentions.none(),
                    nonce=nonce,
                )
            return True
        except TRANSPORT_ERRORS as exc:
            # Discord may have stored it: the retry, under the same nonce, finds out.
            raise ChannelDown(_describe(exc)) from exc
        except discord.HTTPException as exc:
            if exc.status >= 500 or exc.status in (403, 404, 429):
                raise ChannelDown(f"{exc.status} {exc.text[:80]}") from exc
            attempts = alert.attempts + 1
            give_up = attempts >= MAX_ATTEMPTS
            retry_at = self.clock() + min(2.0**attempts, 300.0)
            await staff_alerts.mark_alert_attempt_failed(
                self.db, alert.id, retry_at=retry_at, give_up=give_up
            )
            if give_up:
                log.error(
                    "giving up on staff alert %s (%s) after %d attempts: Discord refuses it (%s)",
                    alert.id,
                    alert.kind,
                    attempts,
                    exc,
                )
            else:
                log.warning(
                    "posting staff alert %s failed (%s); retrying in %.0fs, the others go on",
                    alert.id,
                    exc,
                    retry_at - self.clock(),
                )
            return False


def _group(alert: StaffAlert) -> str:
    return alert.group_key or ""


def _describe(exc: BaseException) -> str:
    # A dropped connection's message can be empty or vague; its type says what happened.
    if isinstance(exc, (ChannelDown, discord.HTTPException)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def alert_nonce(alerts: Sequence[StaffAlert]) -> str:
    """The nonce of the message reporting ``alerts`` (one alert, or a digest's alerts):
    the same on every try at that message, so Discord keeps only the first one it stored.

    Discord checks a nonce against all of the bot's recent messages, in every channel, so
    it is derived from what each alert is (its row, dedupe key and creation time), not its
    row number alone, which a new database would hand out again. A digest's nonce covers
    every alert in it: one that gained alerts between tries is a new message (the new ones
    must be reported), while the same digest tried again is the message Discord has. At
    most 25 characters, as Discord requires."""
    key = "|".join(f"{a.id}:{a.dedupe_key}:{a.created_at!r}" for a in alerts)
    return "alert-" + hashlib.sha256(key.encode()).hexdigest()[:19]


@in_staff_language
def digest_message(key: str, alerts: list[StaffAlert]) -> str:
    kind, _sep, provider = key.partition(":")
    count = number(len(alerts))
    if kind in DIGEST_TEXT:
        label, hint = DIGEST_TEXT[kind]
        what = _(label, count=count)
    else:
        what = _("{count} more {kind} alerts", count=count, kind=kind)
        hint = N_("`/admin orders` lists the orders.")
    ids = [a.order_id for a in alerts if a.order_id]
    shown = ", ".join(f"`{i}`" for i in ids[:DIGEST_IDS_SHOWN])
    if len(ids) > DIGEST_IDS_SHOWN:
        # Translators: a list of order ids, then how many more there are
        shown = _("{ids} and {count} more", ids=shown, count=number(len(ids) - DIGEST_IDS_SHOWN))
    if provider:
        # Translators: {what} is a whole clause, e.g. "3 more orders need review"
        return _(
            "📣 **{what}** at **{provider}** (grouped to keep this channel readable): "
            "{ids}.\n{hint}",
            what=what,
            provider=provider,
            ids=shown,
            hint=_(hint),
        )
    # Translators: {what} is a whole clause, e.g. "3 more orders need review"
    return _(
        "📣 **{what}** (grouped to keep this channel readable): {ids}.\n{hint}",
        what=what,
        ids=shown,
        hint=_(hint),
    )
