"""Money a provider took back after a top-up's credit (refunds, disputes), and a refund
that failed giving it back (migration 0013). Each is one balance-capped ledger
adjustment, once per the provider's id for it, with its staff alert, in one transaction;
a balance never goes below zero.

The `payment_reversals` row is the once-marker. It is written first, so a second report
of the same refund (Razorpay's `refund.created` then `refund.processed`; Stripe listing
every refund of a charge in each `charge.refunded`) finds it and changes nothing, and a
refund reported failed before it was seen leaves a `failed` row that makes its late
creation take nothing.
"""

from __future__ import annotations

import time

import aiosqlite

from core import alerts
from core.domain import Money
from storage import staff_alerts, wallet
from storage.database import Database
from storage.topups import ACTOR_PAYMENTS, Topup


async def _lock_topup(conn: aiosqlite.Connection, topup: Topup, now: float) -> None:
    """Take the top-up's row lock first: two reversals of one top-up (PostgreSQL
    workers) then run one after the other, each seeing what the other took."""
    await conn.execute("UPDATE topups SET updated_at = ? WHERE id = ?", (now, topup.id))


async def _taken_before(
    conn: aiosqlite.Connection, topup: Topup, payment_id: str, prefix: str
) -> int:
    async with conn.execute(
        "SELECT COALESCE(SUM(asked_minor), 0) FROM payment_reversals"
        " WHERE provider = ? AND payment_id = ? AND reference LIKE ?",
        (topup.provider, payment_id, f"{prefix}%"),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def reverse(
    db: Database,
    topup: Topup,
    *,
    reference: str,
    payment_id: str,
    taken: Money,
    what: str,
    cumulative: bool = False,
    now: float | None = None,
) -> Money | None:
    """The provider took `taken` back (`what`: "refunded", "disputed") after the credit:
    take it from the wallet as far as the balance allows, never below zero, and tell
    staff, in one transaction and once per `reference` (the provider's refund or dispute
    id). Returns what was taken from the wallet (None: nothing, or applied before).

    `cumulative`: `taken` is everything refunded on the payment so far (Stripe's
    `amount_refunded` when the event lists no refunds) and `reference` ends in that
    amount (`ch_…:1200`): only the part not asked for under an earlier such reference
    is taken, so events in any order take the total once."""
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        await _lock_topup(conn, topup, now)
        asked = taken.minor
        if cumulative:
            prefix = reference.rsplit(":", 1)[0] + ":"
            asked -= await _taken_before(conn, topup, payment_id, prefix)
            if asked <= 0:
                return None  # an earlier (or larger) total already asked for it
        async with conn.execute(
            "INSERT INTO payment_reversals (provider, reference, topup_id, payment_id, what,"
            " asked_minor, taken_minor, currency, state, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 0, ?, 'taken', ?, ?)"
            " ON CONFLICT (provider, reference) DO NOTHING RETURNING reference",
            (
                topup.provider,
                reference,
                topup.id,
                payment_id,
                what,
                asked,
                taken.currency,
                now,
                now,
            ),
        ) as cur:
            if await cur.fetchone() is None:
                return None  # seen before: taken then, or reported failed first
        balance = await wallet.balance_in(conn, topup.user_id, taken.currency)
        amount = min(balance.minor, asked)
        adjusted = Money(amount, taken.currency) if amount > 0 else None
        if adjusted is not None and await wallet.post_in(
            conn,
            wallet.Movement(
                user_id=topup.user_id,
                amount=Money(-amount, taken.currency),
                kind=wallet.EntryKind.ADJUSTMENT,
                actor=ACTOR_PAYMENTS,
                idempotency_key=f"topup-reversal:{topup.provider}:{reference}",
                note=f"top-up {topup.id}: {what} at {topup.provider} ({reference})",
            ),
            now=now,
        ):
            await conn.execute(
                "UPDATE payment_reversals SET taken_minor = ? WHERE provider = ? AND reference = ?",
                (amount, topup.provider, reference),
            )
            await conn.execute(
                "UPDATE topups SET refunded_minor = refunded_minor + ? WHERE id = ?",
                (amount, topup.id),
            )
        else:
            adjusted = None
        await staff_alerts.raise_alert_in(
            conn,
            alerts.topup_reversed(
                topup.id,
                topup.user_id,
                topup.provider,
                payment_id,
                Money(asked, taken.currency),
                what,
                adjusted=adjusted,
                reference=reference,
            ),
        )
    return adjusted


async def undo_reversal(
    db: Database,
    topup: Topup,
    *,
    reference: str,
    payment_id: str,
    currency: str,
    now: float | None = None,
) -> Money | None:
    """The provider says refund `reference` failed: the money stayed with the shop, so
    what `reverse` took from the wallet for it is given back, once, with a staff alert.
    A refund not seen yet is marked failed, so its `refund.created` arriving after this
    takes nothing. Returns what was given back (None: nothing had been taken)."""
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        await _lock_topup(conn, topup, now)
        async with conn.execute(
            "UPDATE payment_reversals SET state = 'undone', updated_at = ?"
            " WHERE provider = ? AND reference = ? AND state = 'taken'"
            " RETURNING taken_minor, currency",
            (now, topup.provider, reference),
        ) as cur:
            undone = await cur.fetchone()
        if undone is None:
            async with conn.execute(
                "INSERT INTO payment_reversals (provider, reference, topup_id, payment_id,"
                " what, asked_minor, taken_minor, currency, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'refunded', 0, 0, ?, 'failed', ?, ?)"
                " ON CONFLICT (provider, reference) DO NOTHING RETURNING reference",
                (topup.provider, reference, topup.id, payment_id, currency, now, now),
            ) as cur:
                if await cur.fetchone() is None:
                    return None  # undone (or marked failed) before
            given_back = None
        else:
            minor, taken_currency = int(undone[0]), str(undone[1])
            given_back = Money(minor, taken_currency) if minor > 0 else None
        if given_back is not None and await wallet.post_in(
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
        ):
            await conn.execute(
                "UPDATE topups SET refunded_minor = refunded_minor - ? WHERE id = ?",
                (given_back.minor, topup.id),
            )
        await staff_alerts.raise_alert_in(
            conn,
            alerts.topup_refund_failed(
                topup.id, topup.user_id, topup.provider, reference, given_back
            ),
        )
    return given_back
