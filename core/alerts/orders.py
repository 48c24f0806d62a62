"""Alerts about orders, providers and DMs: what submission, polling and notifying raise.

Builders only: pure functions from facts to a `core.kinds.Alert` (see core/alerts/__init__.py).
"""

from __future__ import annotations

from typing import Literal, Protocol

from core.alerts.facts import OrderFacts
from core.domain import OrderStatus
from core.i18n import _, in_staff_language, native_digits, number
from core.kinds import Alert, AlertKind

# Provider-side endings staff hear about (the buyer is DMed in any case).
BAD_ENDINGS = (OrderStatus.FAILED, OrderStatus.REFUNDED, OrderStatus.PARTIALLY_COMPLETED)


@in_staff_language
def new_order(order: OrderFacts, remote_id: str, status: OrderStatus) -> Alert:
    """A create the provider accepted."""
    return Alert(
        AlertKind.NEW_ORDER,
        _(
            "🛒 New order `{order_id}`: <@{user_id}> ordered "
            "{quantity} × {product} for {amount} "
            "({provider} `{remote_id}`, {status}).",
            order_id=order.id,
            user_id=order.user_id,
            quantity=number(order.quantity),
            product=order.product_name,
            amount=order.total.format(),
            provider=order.provider,
            remote_id=remote_id,
            status=status.label,
        ),
        f"new_order:{order.id}",
        order_id=order.id,
    )


@in_staff_language
def approval_request(order: OrderFacts) -> Alert:
    """The staff-channel message with Approve / Reject buttons (cogs.admin.approvals)."""
    return Alert(
        AlertKind.APPROVAL,
        # Translators: **Approve** and **Reject** are the labels of the buttons under this
        # message; keep them as those buttons are translated.
        _(
            "🧾 <@{user_id}> confirmed order `{order_id}`: {quantity} × "
            "{product}, **{amount}**. Check that they paid, then "
            "**Approve** (it is sent to the provider) or **Reject** (nothing is sent; they "
            "are told).",
            user_id=order.user_id,
            order_id=order.id,
            quantity=number(order.quantity),
            product=order.product_name,
            amount=order.total.format(),
        ),
        f"approval:{order.id}",
        order_id=order.id,
    )


@in_staff_language
def order_failed(order: OrderFacts, detail: str, *, updated_at: float) -> Alert:
    """A create refused before anything was ordered (`updated_at`: the order's, as read)."""
    return Alert(
        AlertKind.ORDER_FAILED,
        _(
            "❌ Order `{order_id}` by <@{user_id}> failed at submission "
            "({provider}): {detail}. Nothing was ordered. "
            "`/admin order retry order_id:{order_id}` sends it again.",
            order_id=order.id,
            user_id=order.user_id,
            provider=order.provider,
            detail=detail,
        ),
        f"order_failed:{order.id}:{updated_at}",
        group_key=f"order_failed:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def needs_review(order: OrderFacts, detail: str, *, updated_at: float) -> Alert:
    """A create whose outcome is unknown: staff look, the bot never re-sends it."""
    return Alert(
        AlertKind.NEEDS_REVIEW,
        _(
            "⚠️ Order `{order_id}` by <@{user_id}> needs review: the outcome "
            "at {provider} is unknown ({detail}). The bot won't send it again on "
            "its own. Check the provider, then use `/admin order view "
            "order_id:{order_id}`.",
            order_id=order.id,
            user_id=order.user_id,
            provider=order.provider,
            detail=detail,
        ),
        f"needs_review:{order.id}:{updated_at}",
        group_key=f"needs_review:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def late_answer(order: OrderFacts, remote_id: str, raw_status: str, current: OrderStatus) -> Alert:
    """The provider accepted an order after somebody (staff) had already moved it."""
    return Alert(
        AlertKind.LATE_ANSWER,
        _(
            "⚠️ {provider} accepted order `{order_id}` as `{remote_id}` "
            "({raw_status}) after it was set to {status}. Compare the two with "
            "`/admin order view order_id:{order_id}`.",
            provider=order.provider,
            order_id=order.id,
            remote_id=remote_id,
            raw_status=raw_status,
            status=current.label,
        ),
        f"late_answer:{order.id}:{remote_id}",
        group_key=f"late_answer:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def bad_ending(order: OrderFacts, status: OrderStatus | None, raw_status: str) -> Alert | None:
    """Staff hear about a provider-side bad ending (the buyer is DMed in any case),
    whether a poll found it or the create answered with it. None for any other status."""
    if status not in BAD_ENDINGS:
        return None
    assert status is not None
    return Alert(
        AlertKind.PROVIDER_OUTCOME,
        _(
            "🧾 {provider} says order `{order_id}` by <@{user_id}> is "
            "**{status}** (`{raw_status}`). The buyer is being told. "
            "`/admin order view order_id:{order_id}` shows it.",
            provider=order.provider,
            order_id=order.id,
            user_id=order.user_id,
            status=status.label,
            raw_status=raw_status[:50],
        ),
        f"provider_outcome:{order.id}:{status.value}",
        group_key=f"provider_outcome:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def draft_undecryptable(draft_id: str) -> Alert:
    """A draft's contact details no longer decrypt: nothing was sent, the draft is gone
    (so the alert names it but isn't linked to it)."""
    return Alert(
        AlertKind.UNDECRYPTABLE,
        _(
            "🔐 The contact details of draft `{draft_id}` can't be decrypted with "
            "the configured DELIVERY_ENCRYPTION_KEY (was a key removed?). Nothing was sent; "
            "the buyer was asked to start again.",
            draft_id=draft_id,
        ),
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


@in_staff_language
def provider_hold(hold: RetryAfter, *, until: float, held: Literal["sending", "polling"]) -> Alert:
    """A provider's Retry-After. A create's hold and a poll's share the dedupe key: staff
    hear it once."""
    provider, asked, waited = hold.provider, hold.asked, hold.retry_after
    # Seconds printed as before (`{:g}` may be `inf`), in the language's digits.
    seconds, stamp = native_digits(f"{waited:.0f}"), int(until)
    # One whole sentence per case: what the provider asked for, and what is held.
    if asked is not None:
        cut = native_digits(f"{asked:g}")
        if held == "sending":
            message = _(
                "⏳ {provider} asked us to wait {asked}s, which we cut to {seconds}s "
                "(Retry-After): nothing is sent to it until <t:{until}:T>. Nothing to do "
                "unless it keeps happening; `/admin providers` shows it.",
                provider=provider,
                asked=cut,
                seconds=seconds,
                until=stamp,
            )
        else:
            message = _(
                "⏳ {provider} asked us to wait {asked}s, which we cut to {seconds}s "
                "(Retry-After): none of its orders are polled until <t:{until}:T>. Nothing "
                "to do unless it keeps happening; `/admin providers` shows it.",
                provider=provider,
                asked=cut,
                seconds=seconds,
                until=stamp,
            )
    elif held == "sending":
        message = _(
            "⏳ {provider} asked us to wait {seconds}s (Retry-After): nothing is sent to it "
            "until <t:{until}:T>. Nothing to do unless it keeps happening; "
            "`/admin providers` shows it.",
            provider=provider,
            seconds=seconds,
            until=stamp,
        )
    else:
        message = _(
            "⏳ {provider} asked us to wait {seconds}s (Retry-After): none of its orders are "
            "polled until <t:{until}:T>. Nothing to do unless it keeps happening; "
            "`/admin providers` shows it.",
            provider=provider,
            seconds=seconds,
            until=stamp,
        )
    return Alert(
        AlertKind.PROVIDER_HOLD,
        message,
        f"provider_hold:{provider}:{int(until // 60)}",
        group_key=f"provider_hold:{provider}",
    )


@in_staff_language
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
    # Whole sentences, joined with a space: the optional one about products sits between.
    sentences = [_("🔑 {provider} refused our API key ({error}).", provider=provider, error=error)]
    if products:
        sentences.append(
            _(
                "Its products ({products}) are closed to buyers until it works.",
                products=", ".join(products),
            )
        )
    if checked_again:
        sentences.append(
            _(
                "Fix {setting} in the settings and restart; the bot also asks again every "
                "few minutes. `/admin providers` shows what it last said.",
                setting=setting,
            )
        )
    else:
        sentences.append(
            _(
                "Fix {setting} in the settings and restart; its API can't be asked without "
                "placing an order, so its products stay closed until the restart. "
                "`/admin providers` shows what it last said.",
                setting=setting,
            )
        )
    return Alert(
        AlertKind.PROVIDER_AUTH,
        " ".join(sentences),
        f"provider_key:{provider}:refused:{int(now * 1000)}",
        group_key=f"provider_key:{provider}",
    )


@in_staff_language
def provider_key_unchecked(
    provider: str, *, setting: str, products: list[str], now: float
) -> Alert:
    """A provider whose key was refused before a restart, and whose API can't be asked
    without an order: its products are open again, and the next order tells."""
    sentences = [_("🔑 {provider} refused our API key before this restart.", provider=provider)]
    if products:
        sentences.append(_products_open(products))
    sentences.append(
        _(
            "Its API can't be asked without placing an order, so the next order checks "
            "{setting} (a refusal closes its products again, and that buyer gets their "
            "money back).",
            setting=setting,
        )
    )
    return Alert(
        AlertKind.PROVIDER_AUTH,
        " ".join(sentences),
        f"provider_key:{provider}:unchecked:{int(now * 1000)}",
        group_key=f"provider_key:{provider}",
    )


@in_staff_language
def provider_key_accepted(provider: str, *, products: list[str], now: float) -> Alert:
    """A provider accepts our key again after refusing it: its products are open."""
    sentences = [_("🔑 {provider} accepts our API key again.", provider=provider)]
    if products:
        sentences.append(_products_open(products))
    return Alert(
        AlertKind.PROVIDER_AUTH,
        " ".join(sentences),
        f"provider_key:{provider}:accepted:{int(now * 1000)}",
        group_key=f"provider_key:{provider}",
    )


def _products_open(products: list[str]) -> str:
    """The sentence saying a provider's products are open to buyers again."""
    return _("Its products ({products}) are open to buyers again.", products=", ".join(products))


@in_staff_language
def poll_rejected(order: OrderFacts, error: str, status_code: int | None) -> Alert:
    """The provider refused to report an order (vanished?); it is polled slowly."""
    return Alert(
        AlertKind.POLL_REJECTED,
        _(
            "⚠️ {provider} refused to report order `{order_id}` "
            "(remote `{remote_id}`): {error}. Polling slowly. Check it with "
            "`/admin order view order_id:{order_id}`.",
            provider=order.provider,
            order_id=order.id,
            remote_id=order.remote_id,
            error=error,
        ),
        f"poll_rejected:{order.id}:{status_code}",
        group_key=f"poll_rejected:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def provider_fault(order: OrderFacts, error: str) -> Alert:
    """An unreadable reply to a poll."""
    return Alert(
        AlertKind.PROVIDER_FAULT,
        _(
            "⚠️ {provider} sent an unreadable reply for order `{order_id}`: "
            "{error}. It keeps being polled; `/admin providers` shows the provider's "
            "health.",
            provider=order.provider,
            order_id=order.id,
            error=error,
        ),
        f"provider_fault:{order.id}:protocol",
        group_key=f"provider_fault:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def circuit_open(
    provider: str, *, error_kind: str | None, error: str | None, cooldown: float, now: float
) -> Alert:
    """A provider's circuit opened (once per outage: a failed probe is the same one)."""
    return Alert(
        AlertKind.CIRCUIT_OPEN,
        _(
            "🔌 {provider} keeps failing ({error_kind}: "
            "{error}): its circuit is open, so its orders are not polled "
            "for {seconds}s, then one probe decides. Orders wait, nothing is lost. "
            "`/admin providers` shows its health.",
            provider=provider,
            error_kind=error_kind,
            error=error,
            seconds=native_digits(f"{cooldown:.0f}"),
        ),
        f"circuit_open:{provider}:{int(now)}",
        group_key=f"circuit:{provider}",  # a flapping provider becomes a digest
    )


@in_staff_language
def circuit_closed(provider: str, *, at: float) -> Alert:
    """A provider answered again after its circuit had opened."""
    return Alert(
        AlertKind.CIRCUIT_CLOSED,
        _(
            "✅ {provider} answers again: its circuit is closed and polling "
            "resumed. `/admin providers` shows its health.",
            provider=provider,
        ),
        f"circuit_closed:{provider}:{int(at)}",
        group_key=f"circuit:{provider}",
    )


@in_staff_language
def invalid_remote_id(order: OrderFacts, problem: str) -> Alert:
    """A stored provider id we won't put in a request: the order goes to staff."""
    return Alert(
        AlertKind.INVALID_REMOTE_ID,
        # Translators: "Mark placed" is a button of /admin order view; keep it as that
        # button is translated.
        _(
            "⚠️ Order `{order_id}` can't be tracked: {problem}, so it is never "
            "put in a request to {provider}. Find the order at the provider, "
            "then use Mark placed in `/admin order view order_id:{order_id}`.",
            order_id=order.id,
            problem=problem,
            provider=order.provider,
        ),
        f"invalid_remote_id:{order.id}",
        group_key=f"invalid_remote_id:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def delivery_missing(order: OrderFacts, raw_status: str, minutes: float) -> Alert:
    """COMPLETED for `minutes` without the goods: staff fetch and deliver them."""
    return Alert(
        AlertKind.DELIVERY_MISSING,
        _(
            "📦 {provider} says order `{order_id}` (remote "
            "`{remote_id}`) is {raw_status}, but sent no delivery "
            "in {minutes} min. Get the goods from {provider} and send them "
            "with `/admin order deliver order_id:{order_id}`.",
            provider=order.provider,
            order_id=order.id,
            remote_id=order.remote_id,
            raw_status=raw_status[:50],
            minutes=native_digits(f"{minutes:.0f}"),
        ),
        f"delivery_missing:{order.id}",
        group_key=f"delivery_missing:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def unknown_status(order: OrderFacts, raw_status: str) -> Alert:
    """A status we don't know: the order stays open (told once per order and value)."""
    return Alert(
        AlertKind.UNKNOWN_STATUS,
        _(
            "❓ {provider} reports an unknown status `{raw_status}` "
            "for order `{order_id}`. It stays open and keeps being polled; "
            "`/admin order view order_id:{order_id}` shows it.",
            provider=order.provider,
            raw_status=raw_status[:50],
            order_id=order.id,
        ),
        f"unknown_status:{order.id}:{raw_status[:50]}",
        group_key=f"unknown_status:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def illegal_transition(
    order: OrderFacts, old: OrderStatus, new: OrderStatus, raw_status: str
) -> Alert:
    """A provider moved an order in a way we don't allow; it is not recorded."""
    return Alert(
        AlertKind.ILLEGAL_TRANSITION,
        _(
            "⚠️ {provider} moved order `{order_id}` from {old} to "
            "{new} (`{raw_status}`), which we don't allow. Check it with "
            "`/admin order view order_id:{order_id}`.",
            provider=order.provider,
            order_id=order.id,
            old=old.label,
            new=new.label,
            raw_status=raw_status,
        ),
        f"illegal:{order.id}:{old.value}:{new.value}",
        group_key=f"illegal_transition:{order.provider}",
        order_id=order.id,
    )


@in_staff_language
def dm_unverifiable(order_id: str, kind: str, note_id: int, error: str) -> Alert:
    """An interrupted DM whose history has been unreadable too long (`error`: the
    exception's name)."""
    return Alert(
        AlertKind.NOTIFY_STUCK,
        # Translators: {kind} is the DM's kind as stored (placed, review, final, final-2,
        # resend-1, ...): keep it as it is.
        _(
            "📭 The {kind} DM for order `{order_id}` was interrupted "
            "and Discord's history can't be read to check it "
            "({error}). It is checked again every few seconds; it will not "
            "be sent twice.",
            kind=kind,
            order_id=order_id,
            error=error,
        ),
        f"notify_stuck:{note_id}:interrupted",
        group_key="notify_stuck",
        order_id=order_id,
    )


@in_staff_language
def dm_retrying(order_id: str, kind: str, note_id: int, reason: str) -> Alert:
    """A DM that keeps failing (it keeps being retried)."""
    return Alert(
        AlertKind.NOTIFY_STUCK,
        # Translators: {kind} is the DM's kind as stored (placed, review, final, final-2,
        # resend-1, ...): keep it as it is.
        _(
            "📭 The {kind} DM for order `{order_id}` keeps failing ({reason}). "
            "It will keep retrying; the buyer can also see the order with `/order`. "
            "`/admin order resend order_id:{order_id}` sends it again once Discord answers.",
            kind=kind,
            order_id=order_id,
            reason=reason,
        ),
        f"notify_stuck:{note_id}",
        group_key="notify_stuck",
        order_id=order_id,
    )


@in_staff_language
def dm_failed(user_id: int, order_id: str, note_id: int, reason: str) -> Alert:
    """A DM given up (Discord refused it for good)."""
    return Alert(
        AlertKind.NOTIFY_FAILED,
        _(
            "📭 Couldn't notify <@{user_id}> about order `{order_id}`: {reason}. "
            "Fix the cause, then `/admin order resend order_id:{order_id}`.",
            user_id=user_id,
            order_id=order_id,
            reason=reason,
        ),
        f"notify_failed:{note_id}",
        group_key="notify_failed",
        order_id=order_id,
    )


@in_staff_language
def dm_fallback(user_id: int, order_id: str, kind: str, note_id: int) -> Alert:
    """DMs closed: the buyer was told in the notices channel instead."""
    return Alert(
        AlertKind.DM_FALLBACK,
        # Translators: {kind} is the DM's kind as stored (placed, review, final, final-2,
        # resend-1, ...): keep it as it is.
        _(
            "📪 <@{user_id}> has DMs closed: order `{order_id}` ({kind}) was "
            "announced in the notices channel instead, without delivery data. They can see "
            "it with `/order`; nothing to do unless they ask.",
            user_id=user_id,
            order_id=order_id,
            kind=kind,
        ),
        f"dm_fallback:{note_id}",
        group_key="dm_fallback",
        order_id=order_id,
    )


@in_staff_language
def delivery_undecryptable(order_id: str) -> Alert:
    """An order's delivery no longer decrypts: the buyer got the outcome without it."""
    return Alert(
        AlertKind.UNDECRYPTABLE,
        _(
            "🔐 The delivery of order `{order_id}` can't be decrypted with the "
            "configured DELIVERY_ENCRYPTION_KEY (was a key removed?). The buyer got the "
            "outcome without it; fix the key, then `/admin order resend "
            "order_id:{order_id}`.",
            order_id=order_id,
        ),
        f"undecryptable:{order_id}:delivery",
        group_key="undecryptable",
        order_id=order_id,
    )
