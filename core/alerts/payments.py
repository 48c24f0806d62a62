"""Alerts about online top-ups (issue 28): money that arrived otherwise than asked, and
money the provider took back. Pure builders, as the rest of the catalogue."""

from __future__ import annotations

from core.domain import Money
from core.kinds import Alert, AlertKind


def topup_mismatch(
    topup_id: str, user_id: int, provider: str, asked: Money, paid: Money, payment_id: str
) -> Alert:
    """Credited what the provider says was paid, which is not what was asked (a partial
    payment, another currency, a link paid twice)."""
    return Alert(
        AlertKind.TOPUP_MISMATCH,
        f"💱 Top-up `{topup_id}` of <@{user_id}> asked {asked.format()} at {provider}, and "
        f"{paid.format()} was paid (payment `{payment_id}`). The wallet was credited what "
        "was paid. Check the payment at the provider; correct the balance with "
        f"`/admin wallet debit member:<@{user_id}>` or `/admin wallet credit` if the shop should.",
        f"topup_mismatch:{provider}:{payment_id}",
        group_key="topup_mismatch",
    )


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
    if adjusted is not None and adjusted.minor == taken.minor:
        done = f"The wallet was reduced by {adjusted.format()} (audited)."
    elif adjusted is not None:
        done = (
            f"The wallet was reduced by {adjusted.format()}, all its balance allowed; the "
            f"rest was already spent. Decide with the buyer (`/admin wallet view member:<@{user_id}>`)."
        )
    else:
        done = (
            "Nothing was taken from the wallet: its balance is spent. Decide with the buyer "
            f"(`/admin wallet view member:<@{user_id}>`)."
        )
    return Alert(
        AlertKind.TOPUP_REVERSED,
        f"↩️ Top-up `{topup_id}` of <@{user_id}>: {provider} {what} {taken.format()} of "
        f"payment `{payment_id}`. {done}",
        f"topup_reversed:{provider}:{reference}",
        group_key="topup_reversed",
    )


def topup_unresolved(topup_id: str, user_id: int, provider: str, why: str) -> Alert:
    """Reconciliation stopped asking about a top-up it could not settle (`why`)."""
    return Alert(
        AlertKind.TOPUP_UNRESOLVED,
        f"❓ Top-up `{topup_id}` of <@{user_id}> at {provider}: {why}. The bot stopped "
        "checking it. Look it up at the provider; if the buyer paid, credit them with "
        f"`/admin wallet credit member:<@{user_id}>`.",
        f"topup_unresolved:{topup_id}",
        group_key="topup_unresolved",
    )


def payment_event_unreadable(provider: str, event_id: str) -> Alert:
    """A webhook event with a valid signature that the bot can't read: stored, and tried
    again for a day (an update may read it)."""
    return Alert(
        AlertKind.PAYMENT_EVENT_UNREADABLE,
        f"🧾 {provider} sent a signed webhook event (`{event_id[:64]}`) the bot can't read. "
        "It is stored, encrypted, and read again for a day in case an update can. Payments "
        "are still credited by checking open links; check refunds and disputes at the "
        f"{provider} dashboard, and `/admin payments`.",
        f"payment_event_unreadable:{provider}:{event_id[:64]}",
        group_key="payment_event_unreadable",
    )


def topup_refund_failed(
    topup_id: str, user_id: int, provider: str, reference: str, given_back: Money | None
) -> Alert:
    """A refund the provider announced failed: the money stayed with the shop, so what
    was taken from the wallet for it is given back (`given_back`; None: nothing was)."""
    done = (
        f"The {given_back.format()} taken from the wallet for it was given back."
        if given_back is not None
        else "Nothing had been taken from the wallet for it."
    )
    return Alert(
        AlertKind.TOPUP_REVERSED,
        f"↪️ Top-up `{topup_id}` of <@{user_id}>: refund `{reference}` at {provider} "
        f"failed, so the money stayed with the shop. {done} "
        f"`/admin wallet view member:<@{user_id}>` shows the wallet.",
        refund_failed_key(provider, reference),
        group_key="topup_reversed",
    )


def refund_failed_key(provider: str, reference: str) -> str:
    """The dedupe key of a failed refund's alert (the once-marker is its
    `payment_reversals` row)."""
    return f"topup_refund_failed:{provider}:{reference}"


def topup_dm_trouble(
    user_id: int, topup_id: str, kind: str, note_id: int, reason: str, *, gave_up: bool
) -> Alert:
    """A top-up's DM (its credit, its expiry) that keeps failing, or was given up. The
    money is safe either way: the buyer's balance shows in `/wallet`."""
    what = "was given up" if gave_up else "keeps failing and is retried"
    return Alert(
        AlertKind.NOTIFY_FAILED if gave_up else AlertKind.NOTIFY_STUCK,
        f"📭 The {kind} DM to <@{user_id}> about top-up `{topup_id}` {what} ({reason}). "
        "Their balance is right either way: `/wallet` shows it, and "
        f"`/admin wallet view member:<@{user_id}>` shows it to staff.",
        f"{'notify_failed' if gave_up else 'notify_stuck'}:{note_id}",
        group_key="notify_failed" if gave_up else "notify_stuck",
    )


def topup_dm_fallback(user_id: int, topup_id: str, kind: str, note_id: int) -> Alert:
    """DMs closed: the buyer was told in the notices channel, without the amount."""
    return Alert(
        AlertKind.DM_FALLBACK,
        f"📪 <@{user_id}> has DMs closed: top-up `{topup_id}` ({kind}) was announced in "
        "the notices channel instead, without the amount. Nothing to do unless they ask.",
        f"dm_fallback:{note_id}",
        group_key="dm_fallback",
    )
