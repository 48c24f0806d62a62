"""Alerts about orders, providers and DMs: what submission, polling and notifying raise.

Builders only: pure functions from facts to a `core.kinds.Alert` (see core/alerts/__init__.py).
"""

from __future__ import annotations

from typing import Literal, Protocol

from core.alerts.facts import OrderFacts
from core.domain import OrderStatus
from core.kinds import Alert, AlertKind

# Provider-side endings staff hear about (the buyer is DMed in any case).
BAD_ENDINGS = (OrderStatus.FAILED, OrderStatus.REFUNDED, OrderStatus.PARTIALLY_COMPLETED)


def new_order(order: OrderFacts, remote_id: str, status: OrderStatus) -> Alert:
    """A create the provider accepted."""
    return Alert(
        AlertKind.NEW_ORDER,
        f"🛒 New order `{order.id}`: <@{order.user_id}> ordered "
        f"{order.quantity} × {order.product_name} for {order.total.format()} "
        f"({order.provider} `{remote_id}`, {status.label}).",
        f"new_order:{order.id}",
        order_id=order.id,
    )


def approval_request(order: OrderFacts) -> Alert:
    """The staff-channel message with Approve / Reject buttons (cogs.admin.approvals)."""
    return Alert(
        AlertKind.APPROVAL,
        f"🧾 <@{order.user_id}> confirmed order `{order.id}`: {order.quantity} × "
        f"{order.product_name}, **{order.total.format()}**. Check that they paid, then "
        "**Approve** (it is sent to the provider) or **Reject** (nothing is sent; they are told).",
        f"approval:{order.id}",
        order_id=order.id,
    )


def order_failed(order: OrderFacts, detail: str, *, updated_at: float) -> Alert:
    """A create refused before anything was ordered (`updated_at`: the order's, as read)."""
    return Alert(
        AlertKind.ORDER_FAILED,
        f"❌ Order `{order.id}` by <@{order.user_id}> failed at submission "
        f"({order.provider}): {detail}. Nothing was ordered. "
        f"`/admin order retry order_id:{order.id}` sends it again.",
        f"order_failed:{order.id}:{updated_at}",
        group_key=f"order_failed:{order.provider}",
        order_id=order.id,
    )


def needs_review(order: OrderFacts, detail: str, *, updated_at: float) -> Alert:
    """A create whose outcome is unknown: staff look, the bot never re-sends it."""
    return Alert(
        AlertKind.NEEDS_REVIEW,
        f"⚠️ Order `{order.id}` by <@{order.user_id}> needs review: the outcome "
        f"at {order.provider} is unknown ({detail}). The bot won't send it again on "
        f"its own. Check the provider, then use `/admin order view "
        f"order_id:{order.id}`.",
        f"needs_review:{order.id}:{updated_at}",
        group_key=f"needs_review:{order.provider}",
        order_id=order.id,
    )


def late_answer(order: OrderFacts, remote_id: str, raw_status: str, current: OrderStatus) -> Alert:
    """The provider accepted an order after somebody (staff) had already moved it."""
    return Alert(
        AlertKind.LATE_ANSWER,
        f"⚠️ {order.provider} accepted order `{order.id}` as `{remote_id}` "
        f"({raw_status}) after it was set to {current.label}. Compare the two with "
        f"`/admin order view order_id:{order.id}`.",
        f"late_answer:{order.id}:{remote_id}",
        group_key=f"late_answer:{order.provider}",
        order_id=order.id,
    )


def bad_ending(order: OrderFacts, status: OrderStatus | None, raw_status: str) -> Alert | None:
    """Staff hear about a provider-side bad ending (the buyer is DMed in any case),
    whether a poll found it or the create answered with it. None for any other status."""
    if status not in BAD_ENDINGS:
        return None
    assert status is not None
    return Alert(
        AlertKind.PROVIDER_OUTCOME,
        f"🧾 {order.provider} says order `{order.id}` by <@{order.user_id}> is "
        f"**{status.label}** (`{raw_status[:50]}`). The buyer is being told. "
        f"`/admin order view order_id:{order.id}` shows it.",
        f"provider_outcome:{order.id}:{status.value}",
        group_key=f"provider_outcome:{order.provider}",
        order_id=order.id,
    )


def draft_undecryptable(draft_id: str) -> Alert:
    """A draft's contact details no longer decrypt: nothing was sent, the draft is gone
    (so the alert names it but isn't linked to it)."""
    return Alert(
        AlertKind.UNDECRYPTABLE,
        f"🔐 The contact details of draft `{draft_id}` can't be decrypted with "
        "the configured DELIVERY_ENCRYPTION_KEY (was a key removed?). Nothing was sent; "
        "the buyer was asked to start again.",
        f"undecryptable:{draft_id}",
        group_key="undecryptable",
    )


class RetryAfter(Protocol):
    """A provider's 429 (bot.providers.errors.ProviderRateLimited): `asked` is what it
    asked for when we cut that to `retry_after`, else None."""

    @property
    def provider(self) -> str: ...
    @property
    def retry_after(self) -> float: ...
    @property
    def asked(self) -> float | None: ...


def provider_hold(hold: RetryAfter, *, until: float, held: Literal["sending", "polling"]) -> Alert:
    """A provider's Retry-After. A create's hold and a poll's share the dedupe key: staff
    hear it once."""
    provider, asked, waited = hold.provider, hold.asked, hold.retry_after
    wait = f"{asked:g}s, which we cut to {waited:.0f}s" if asked is not None else f"{waited:.0f}s"
    what = "nothing is sent to it" if held == "sending" else "none of its orders are polled"
    return Alert(
        AlertKind.PROVIDER_HOLD,
        f"⏳ {provider} asked us to wait {wait} (Retry-After): {what} until "
        f"<t:{int(until)}:T>. Nothing to do unless it keeps happening; "
        "`/admin providers` shows it.",
        f"provider_hold:{provider}:{int(until // 60)}",
        group_key=f"provider_hold:{provider}",
    )


def provider_key_refused(
    provider: str,
    error: str,
    *,
    setting: str,
    products: list[str],
    checked_again: bool,
    now: float,
) -> Alert:
    """A provider refused our key (a check, a poll or an order said 401/403). Raised when
    the key's state changes, so once per refusal, not once per request."""
    closed = (
        f" Its products ({', '.join(products)}) are closed to buyers until it works."
        if products
        else ""
    )
    again = (
        "the bot also asks again every few minutes"
        if checked_again
        else "its API can't be asked without placing an order, so its products stay "
        "closed until the restart"
    )
    return Alert(
        AlertKind.PROVIDER_AUTH,
        f"🔑 {provider} refused our API key ({error}).{closed} Fix {setting} in the "
        f"settings and restart; {again}. `/admin providers` shows what it last said.",
        f"provider_key:{provider}:refused:{int(now * 1000)}",
        group_key=f"provider_key:{provider}",
    )


def provider_key_unchecked(
    provider: str, *, setting: str, products: list[str], now: float
) -> Alert:
    """A provider whose key was refused before a restart, and whose API can't be asked
    without an order: its products are open again, and the next order tells."""
    opened = f" Its products ({', '.join(products)}) are open to buyers again." if products else ""
    return Alert(
        AlertKind.PROVIDER_AUTH,
        f"🔑 {provider} refused our API key before this restart.{opened} Its API can't be "
        f"asked without placing an order, so the next order checks {setting} (a refusal "
        "closes its products again, and that buyer gets their money back).",
        f"provider_key:{provider}:unchecked:{int(now * 1000)}",
        group_key=f"provider_key:{provider}",
    )


def provider_key_accepted(provider: str, *, products: list[str], now: float) -> Alert:
    """A provider accepts our key again after refusing it: its products are open."""
    opened = f" Its products ({', '.join(products)}) are open to buyers again." if products else ""
    return Alert(
        AlertKind.PROVIDER_AUTH,
        f"🔑 {provider} accepts our API key again.{opened}",
        f"provider_key:{provider}:accepted:{int(now * 1000)}",
        group_key=f"provider_key:{provider}",
    )


def poll_rejected(order: OrderFacts, error: str, status_code: int | None) -> Alert:
    """The provider refused to report an order (vanished?); it is polled slowly."""
    return Alert(
        AlertKind.POLL_REJECTED,
        f"⚠️ {order.provider} refused to report order `{order.id}` "
        f"(remote `{order.remote_id}`): {error}. Polling slowly. Check it with "
        f"`/admin order view order_id:{order.id}`.",
        f"poll_rejected:{order.id}:{status_code}",
        group_key=f"poll_rejected:{order.provider}",
        order_id=order.id,
    )


def provider_fault(order: OrderFacts, error: str) -> Alert:
    """An unreadable reply to a poll."""
    return Alert(
        AlertKind.PROVIDER_FAULT,
        f"⚠️ {order.provider} sent an unreadable reply for order `{order.id}`: "
        f"{error}. It keeps being polled; `/admin providers` shows the provider's "
        "health.",
        f"provider_fault:{order.id}:protocol",
        group_key=f"provider_fault:{order.provider}",
        order_id=order.id,
    )


def circuit_open(
    provider: str, *, error_kind: str | None, error: str | None, cooldown: float, now: float
) -> Alert:
    """A provider's circuit opened (once per outage: a failed probe is the same one)."""
    return Alert(
        AlertKind.CIRCUIT_OPEN,
        f"🔌 {provider} keeps failing ({error_kind}: "
        f"{error}): its circuit is open, so its orders are not polled "
        f"for {cooldown:.0f}s, then one probe decides. Orders wait, nothing is lost. "
        "`/admin providers` shows its health.",
        f"circuit_open:{provider}:{int(now)}",
        group_key=f"circuit:{provider}",  # a flapping provider becomes a digest
    )


def circuit_closed(provider: str, *, at: float) -> Alert:
    """A provider answered again after its circuit had opened."""
    return Alert(
        AlertKind.CIRCUIT_CLOSED,
        f"✅ {provider} answers again: its circuit is closed and polling "
        "resumed. `/admin providers` shows its health.",
        f"circuit_closed:{provider}:{int(at)}",
        group_key=f"circuit:{provider}",
    )


def invalid_remote_id(order: OrderFacts, problem: str) -> Alert:
    """A stored provider id we won't put in a request: the order goes to staff."""
    return Alert(
        AlertKind.INVALID_REMOTE_ID,
        f"⚠️ Order `{order.id}` can't be tracked: {problem}, so it is never "
        f"put in a request to {order.provider}. Find the order at the provider, "
        f"then use Mark placed in `/admin order view order_id:{order.id}`.",
        f"invalid_remote_id:{order.id}",
        group_key=f"invalid_remote_id:{order.provider}",
        order_id=order.id,
    )


def delivery_missing(order: OrderFacts, raw_status: str, minutes: float) -> Alert:
    """COMPLETED for `minutes` without the goods: staff fetch and deliver them."""
    return Alert(
        AlertKind.DELIVERY_MISSING,
        f"📦 {order.provider} says order `{order.id}` (remote "
        f"`{order.remote_id}`) is {raw_status[:50]}, but sent no delivery "
        f"in {minutes:.0f} min. Get the goods from {order.provider} and send them "
        f"with `/admin order deliver order_id:{order.id}`.",
        f"delivery_missing:{order.id}",
        group_key=f"delivery_missing:{order.provider}",
        order_id=order.id,
    )


def unknown_status(order: OrderFacts, raw_status: str) -> Alert:
    """A status we don't know: the order stays open (told once per order and value)."""
    return Alert(
        AlertKind.UNKNOWN_STATUS,
        f"❓ {order.provider} reports an unknown status `{raw_status[:50]}` "
        f"for order `{order.id}`. It stays open and keeps being polled; "
        f"`/admin order view order_id:{order.id}` shows it.",
        f"unknown_status:{order.id}:{raw_status[:50]}",
        group_key=f"unknown_status:{order.provider}",
        order_id=order.id,
    )


def illegal_transition(
    order: OrderFacts, old: OrderStatus, new: OrderStatus, raw_status: str
) -> Alert:
    """A provider moved an order in a way we don't allow; it is not recorded."""
    return Alert(
        AlertKind.ILLEGAL_TRANSITION,
        f"⚠️ {order.provider} moved order `{order.id}` from {old.label} to "
        f"{new.label} (`{raw_status}`), which we don't allow. Check it with "
        f"`/admin order view order_id:{order.id}`.",
        f"illegal:{order.id}:{old.value}:{new.value}",
        group_key=f"illegal_transition:{order.provider}",
        order_id=order.id,
    )


def dm_unverifiable(order_id: str, kind: str, note_id: int, error: str) -> Alert:
    """An interrupted DM whose history has been unreadable too long (`error`: the
    exception's name)."""
    return Alert(
        AlertKind.NOTIFY_STUCK,
        f"📭 The {kind} DM for order `{order_id}` was interrupted "
        "and Discord's history can't be read to check it "
        f"({error}). It is checked again every few seconds; it will not "
        "be sent twice.",
        f"notify_stuck:{note_id}:interrupted",
        group_key="notify_stuck",
        order_id=order_id,
    )


def dm_retrying(order_id: str, kind: str, note_id: int, reason: str) -> Alert:
    """A DM that keeps failing (it keeps being retried)."""
    return Alert(
        AlertKind.NOTIFY_STUCK,
        f"📭 The {kind} DM for order `{order_id}` keeps failing ({reason}). "
        "It will keep retrying; the buyer can also see the order with `/order`. "
        f"`/admin order resend order_id:{order_id}` sends it again once Discord answers.",
        f"notify_stuck:{note_id}",
        group_key="notify_stuck",
        order_id=order_id,
    )


def dm_failed(user_id: int, order_id: str, note_id: int, reason: str) -> Alert:
    """A DM given up (Discord refused it for good)."""
    return Alert(
        AlertKind.NOTIFY_FAILED,
        f"📭 Couldn't notify <@{user_id}> about order `{order_id}`: {reason}. "
        f"Fix the cause, then `/admin order resend order_id:{order_id}`.",
        f"notify_failed:{note_id}",
        group_key="notify_failed",
        order_id=order_id,
    )


def dm_fallback(user_id: int, order_id: str, kind: str, note_id: int) -> Alert:
    """DMs closed: the buyer was told in the notices channel instead."""
    return Alert(
        AlertKind.DM_FALLBACK,
        f"📪 <@{user_id}> has DMs closed: order `{order_id}` ({kind}) was "
        "announced in the notices channel instead, without delivery data. They can see it "
        "with `/order`; nothing to do unless they ask.",
        f"dm_fallback:{note_id}",
        group_key="dm_fallback",
        order_id=order_id,
    )


def delivery_undecryptable(order_id: str) -> Alert:
    """An order's delivery no longer decrypts: the buyer got the outcome without it."""
    return Alert(
        AlertKind.UNDECRYPTABLE,
        f"🔐 The delivery of order `{order_id}` can't be decrypted with the "
        "configured DELIVERY_ENCRYPTION_KEY (was a key removed?). The buyer got the "
        "outcome without it; fix the key, then `/admin order resend "
        f"order_id:{order_id}`.",
        f"undecryptable:{order_id}:delivery",
        group_key="undecryptable",
        order_id=order_id,
    )
