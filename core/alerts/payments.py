"""Alerts about online top-ups (issue 28): money that arrived otherwise than asked, and
money the provider took back. Pure builders, as the rest of the catalogue."""

from __future__ import annotations

from core.domain import Money
from core.i18n import _, in_staff_language
from core.kinds import Alert, AlertKind


@in_staff_language
def topup_mismatch(
    topup_id: str, user_id: int, provider: str, asked: Money, paid: Money, payment_id: str
) -> Alert:
    """Credited what the provider says was paid, which is not what was asked (a partial
    payment, another currency, a link paid twice)."""
    return Alert(
        AlertKind.TOPUP_MISMATCH,
        _(
            "💱 Top-up `{topup_id}` of <@{user_id}> asked {asked} at {provider}, and "
            "{paid} was paid (payment `{payment_id}`). The wallet was credited what "
            "was paid. Check the payment at the provider; correct the balance with "
            "`/admin wallet debit member:<@{user_id}>` or `/admin wallet credit` if the shop "
            "should.",
            topup_id=topup_id,
            user_id=user_id,
            asked=asked.format(),
            provider=provider,
            paid=paid.format(),
            payment_id=payment_id,
        ),
        f"topup_mismatch:{provider}:{payment_id}",
        group_key="topup_mismatch",
    )


@in_staff_language
def topup_reversed(
    topup_id: str,
    user_id: int,
    provider: str,
    payment_id: str,
    taken: Money,
    what: str,
    *,
    adjusted: Money | None,
    reference: str,
) -> Alert:
    """The provider took money back after the credit (`what`: refunded, disputed).
    `adjusted`: what was taken from the wallet (None: the balance didn't allow it)."""
    # Whole sentences, joined with a space: what the provider did, then what the bot did.
    if what == "refunded":
        happened = _(
            "↩️ Top-up `{topup_id}` of <@{user_id}>: {provider} refunded {amount} of "
            "payment `{payment_id}`.",
            topup_id=topup_id,
            user_id=user_id,
            provider=provider,
            amount=taken.format(),
            payment_id=payment_id,
        )
    elif what == "disputed":
        happened = _(
            "↩️ Top-up `{topup_id}` of <@{user_id}>: {provider} disputed {amount} of "
            "payment `{payment_id}`.",
            topup_id=topup_id,
            user_id=user_id,
            provider=provider,
            amount=taken.format(),
            payment_id=payment_id,
        )
    else:
        # Translators: {what} is the provider's word for taking money back, in English.
        happened = _(
            "↩️ Top-up `{topup_id}` of <@{user_id}>: {provider} {what} {amount} of "
            "payment `{payment_id}`.",
            topup_id=topup_id,
            user_id=user_id,
            provider=provider,
            what=what,
            amount=taken.format(),
            payment_id=payment_id,
        )
    if adjusted is not None and adjusted.minor == taken.minor:
        done = _("The wallet was reduced by {amount} (audited).", amount=adjusted.format())
    elif adjusted is not None:
        done = _(
            "The wallet was reduced by {amount}, all its balance allowed; the rest was "
            "already spent. Decide with the buyer "
            "(`/admin wallet view member:<@{user_id}>`).",
            amount=adjusted.format(),
            user_id=user_id,
        )
    else:
        done = _(
            "Nothing was taken from the wallet: its balance is spent. Decide with the buyer "
            "(`/admin wallet view member:<@{user_id}>`).",
            user_id=user_id,
        )
    return Alert(
        AlertKind.TOPUP_REVERSED,
        f"{happened} {done}",
        f"topup_reversed:{provider}:{reference}",
        group_key="topup_reversed",
    )


@in_staff_language
def topup_unresolved(topup_id: str, user_id: int, provider: str, why: str) -> Alert:
    """Reconciliation stopped asking about a top-up it could not settle (`why`)."""
    return Alert(
        AlertKind.TOPUP_UNRESOLVED,
        _(
            "❓ Top-up `{topup_id}` of <@{user_id}> at {provider}: {why}. The bot stopped "
            "checking it. Look it up at the provider; if the buyer paid, credit them with "
            "`/admin wallet credit member:<@{user_id}>`.",
            topup_id=topup_id,
            user_id=user_id,
            provider=provider,
            why=why,
        ),
        f"topup_unresolved:{topup_id}",
        group_key="topup_unresolved",
    )


@in_staff_language
def payment_event_unreadable(provider: str, event_id: str) -> Alert:
    """A webhook event with a valid signature that the bot can't read: stored, and tried
    again for a day (an update may read it)."""
    return Alert(
        AlertKind.PAYMENT_EVENT_UNREADABLE,
        _(
            "🧾 {provider} sent a signed webhook event (`{event_id}`) the bot can't read. "
            "It is stored, encrypted, and read again for a day in case an update can. Payments "
            "are still credited by checking open links; check refunds and disputes at the "
            "{provider} dashboard, and `/admin payments`.",
            provider=provider,
            event_id=event_id[:64],
        ),
        f"payment_event_unreadable:{provider}:{event_id[:64]}",
        group_key="payment_event_unreadable",
    )


@in_staff_language
def topup_refund_failed(
    topup_id: str, user_id: int, provider: str, reference: str, given_back: Money | None
) -> Alert:
    """A refund the provider announced failed: the money stayed with the shop, so what
    was taken from the wallet for it is given back (`given_back`; None: nothing was)."""
    # Whole sentences, joined with a space.
    happened = _(
        "↪️ Top-up `{topup_id}` of <@{user_id}>: refund `{reference}` at {provider} "
        "failed, so the money stayed with the shop.",
        topup_id=topup_id,
        user_id=user_id,
        reference=reference,
        provider=provider,
    )
    done = (
        _(
            "The {amount} taken from the wallet for it was given back.",
            amount=given_back.format(),
        )
        if given_back is not None
        else _("Nothing had been taken from the wallet for it.")
    )
    shows = _("`/admin wallet view member:<@{user_id}>` shows the wallet.", user_id=user_id)
    return Alert(
        AlertKind.TOPUP_REVERSED,
        f"{happened} {done} {shows}",
        refund_failed_key(provider, reference),
        group_key="topup_reversed",
    )


def refund_failed_key(provider: str, reference: str) -> str:
    """The dedupe key of a failed refund's alert (the once-marker is its
    `payment_reversals` row)."""
    return f"topup_refund_failed:{provider}:{reference}"


@in_staff_language
def topup_dm_trouble(
    user_id: int, topup_id: str, kind: str, note_id: int, reason: str, *, gave_up: bool
) -> Alert:
    """A top-up's DM (its credit, its expiry) that keeps failing, or was given up. The
    money is safe either way: the buyer's balance shows in `/wallet`."""
    if gave_up:
        # Translators: {kind} is the DM's kind as stored (credited, unpaid, ...): keep it
        # as it is.
        message = _(
            "📭 The {kind} DM to <@{user_id}> about top-up `{topup_id}` was given up "
            "({reason}). Their balance is right either way: `/wallet` shows it, and "
            "`/admin wallet view member:<@{user_id}>` shows it to staff.",
            kind=kind,
            user_id=user_id,
            topup_id=topup_id,
            reason=reason,
        )
    else:
        # Translators: {kind} is the DM's kind as stored (credited, unpaid, ...): keep it
        # as it is.
        message = _(
            "📭 The {kind} DM to <@{user_id}> about top-up `{topup_id}` keeps failing and is "
            "retried ({reason}). Their balance is right either way: `/wallet` shows it, and "
            "`/admin wallet view member:<@{user_id}>` shows it to staff.",
            kind=kind,
            user_id=user_id,
            topup_id=topup_id,
            reason=reason,
        )
    return Alert(
        AlertKind.NOTIFY_FAILED if gave_up else AlertKind.NOTIFY_STUCK,
        message,
        f"{'notify_failed' if gave_up else 'notify_stuck'}:{note_id}",
        group_key="notify_failed" if gave_up else "notify_stuck",
    )


@in_staff_language
def topup_dm_fallback(user_id: int, topup_id: str, kind: str, note_id: int) -> Alert:
    """DMs closed: the buyer was told in the notices channel, without the amount."""
    return Alert(
        AlertKind.DM_FALLBACK,
        # Translators: {kind} is the DM's kind as stored (credited, unpaid, ...): keep it
        # as it is.
        _(
            "📪 <@{user_id}> has DMs closed: top-up `{topup_id}` ({kind}) was announced in "
            "the notices channel instead, without the amount. Nothing to do unless they ask.",
            user_id=user_id,
            topup_id=topup_id,
            kind=kind,
        ),
        f"dm_fallback:{note_id}",
        group_key="dm_fallback",
    )
