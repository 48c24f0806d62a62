"""Money a provider took back after a top-up's credit (refunds, disputes), and a refund
that failed giving it back. Each is one balance-capped ledger adjustment, once, with its
staff alert in the same transaction; a balance never goes below zero."""

from __future__ import annotations

import time

from core import alerts
from core.domain import Money
from storage import staff_alerts, wallet
from storage.database import Database
from storage.topups import ACTOR_PAYMENTS, Topup


async def reverse(
    db: Database,
    topup: Topup,
    *,
    reference: str,
    payment_id: str,
    taken: Money,
    what: str,
    now: float | None = None,
) -> Money | None:
    """The provider took `taken` back (`what`: "refunded", "disputed") after the credit:
    take it from the wallet as far as the balance allows, never below zero, and tell
    staff, in one transaction and once per `reference` (the provider's refund or dispute
    id). Returns what was taken from the wallet (None: nothing, or applied before)."""
    now = time.time() if now is None else now
    key = f"topup-reversal:{topup.provider}:{reference}"
    async with db.transaction() as conn:
        balance = await wallet.balance_in(conn, topup.user_id, taken.currency)
        amount = min(balance.minor, taken.minor)
        adjusted = Money(amount, taken.currency) if amount > 0 else None
        alert = alerts.topup_reversed(
            topup.id,
            topup.user_id,
            topup.provider,
            payment_id,
            taken,
            what,
            adjusted=adjusted,
            reference=reference,
        )
        # A refund the provider already said failed (its events out of order) takes
        # nothing.
        async with conn.execute(
            "SELECT 1 FROM staff_alerts WHERE dedupe_key = ?",
            (alerts.refund_failed_key(topup.provider, reference),),
        ) as cur:
            if await cur.fetchone() is not None:
                return None
        # The alert's dedupe key is the once-marker: a reference seen before (the same
        # refund announced twice, as `refund.created` then `refund.processed`) changes
        # nothing, even if the balance has grown since.
        if not await staff_alerts.raise_alert_in(conn, alert):
            return None
        if adjusted is not None:
            await wallet.post_in(
                conn,
                wallet.Movement(
                    user_id=topup.user_id,
                    amount=Money(-amount, taken.currency),
                    kind=wallet.EntryKind.ADJUSTMENT,
                    actor=ACTOR_PAYMENTS,
                    idempotency_key=key,
                    note=f"top-up {topup.id}: {what} at {topup.provider} ({reference})",
                ),
                now=now,
            )
            await conn.execute(
                "UPDATE topups SET refunded_minor = refunded_minor + ?, updated_at = ?"
                " WHERE id = ?",
                (amount, now, topup.id),
            )
    return adjusted


async def undo_reversal(
    db: Database, topup: Topup, *, reference: str, now: float | None = None
) -> Money | None:
    """The provider says refund `reference` failed: the money stayed with the shop, so
    what `reverse` took from the wallet for it is given back, once, with a staff alert.
    Its alert also marks the refund failed, so a `refund.created` arriving after this
    takes nothing. Returns what was given back (None: nothing had been taken)."""
    now = time.time() if now is None else now
    taken_key = f"topup-reversal:{topup.provider}:{reference}"
    async with db.transaction() as conn:
        taken = await wallet.entry_by_key_in(conn, taken_key)
        given_back = Money(-taken.amount.minor, taken.amount.currency) if taken else None
        alert = alerts.topup_refund_failed(
            topup.id, topup.user_id, topup.provider, reference, given_back
        )
        if not await staff_alerts.raise_alert_in(conn, alert):
            return None  # told before: given back then
        if given_back is None:
            return None
        await wallet.post_in(
            conn,
            wallet.Movement(
                user_id=topup.user_id,
                amount=given_back,
                kind=wallet.EntryKind.ADJUSTMENT,
                actor=ACTOR_PAYMENTS,
                idempotency_key=f"topup-reversal-undo:{topup.provider}:{reference}",
                note=f"top-up {topup.id}: refund {reference} failed at {topup.provider}",
            ),
            now=now,
        )
        await conn.execute(
            "UPDATE topups SET refunded_minor = refunded_minor - ?, updated_at = ? WHERE id = ?",
            (given_back.minor, now, topup.id),
        )
    return given_back
