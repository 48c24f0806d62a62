"""Online top-ups (migration 0011): a payment link per top-up, and the one credit it
leads to. Raw SQL; every state change is a compare-and-set on the state read.

Two paths credit a top-up, a verified webhook and the reconciliation poll, and neither
trusts the other: `credit_in` posts the ledger row under `topup:<provider>:<payment id>`
and moves the top-up to `paid` in one transaction, so whichever path comes second finds
the key used and the state moved, and changes nothing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from enum import StrEnum

import aiosqlite

from core import alerts
from core.crash_points import crash_point
from core.domain import Money
from core.kinds import NotificationKind
from storage import staff_alerts, wallet
from storage.database import Database
from storage.notifications import count_topup_notifications_in, owe_topup_notification_in

ACTOR_PAYMENTS = "payments"


class TopupState(StrEnum):
    CREATING = "creating"  # asked the provider; its answer not stored yet
    OPEN = "open"  # the buyer can pay
    PAID = "paid"  # credited
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"  # the provider refused to create the link

    @property
    def is_final(self) -> bool:
        return self not in (TopupState.CREATING, TopupState.OPEN)


@dataclass(frozen=True, slots=True)
class Topup:
    id: str
    user_id: int
    guild_id: int | None
    provider: str
    remote_id: str | None
    url: str | None
    amount: Money  # asked
    state: TopupState
    payment_id: str | None
    paid: Money | None  # what the provider says was paid
    refunded_minor: int
    created_at: float
    updated_at: float
    expires_at: float | None
    next_check_at: float | None
    checks: int
    draft_id: str | None
    language: str | None = None  # the buyer's at /top-up: the DMs' if they chose none


def _topup(row: aiosqlite.Row) -> Topup:
    r = dict(zip(row.keys(), row, strict=True))
    paid = (
        Money(r["paid_minor"], r["paid_currency"])
        if r["paid_minor"] is not None and r["paid_currency"]
        else None
    )
    return Topup(
        id=r["id"],
        user_id=r["user_id"],
        guild_id=r["guild_id"],
        provider=r["provider"],
        remote_id=r["remote_id"],
        url=r["url"],
        amount=Money(r["amount_minor"], r["currency"]),
        state=TopupState(r["state"]),
        payment_id=r["payment_id"],
        paid=paid,
        refunded_minor=r["refunded_minor"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        expires_at=r["expires_at"],
        next_check_at=r["next_check_at"],
        checks=r["checks"],
        draft_id=r["draft_id"],
        language=r["language"],
    )


def credit_key(provider: str, payment_id: str) -> str:
    """The ledger key both paths credit under: one payment, one credit."""
    return f"topup:{provider}:{payment_id}"


class StaleTopup(Exception):
    """The top-up is no longer in the state the caller read (another path moved it)."""


async def create(
    db: Database,
    *,
    topup_id: str,
    user_id: int,
    guild_id: int | None,
    provider: str,
    amount: Money,
    draft_id: str | None = None,
    language: str | None = None,
    now: float | None = None,
) -> Topup:
    """Record a top-up before the provider is asked, so a link created just before a
    crash is found again (by its reference id) instead of lost."""
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO topups (id, user_id, guild_id, provider, amount_minor, currency,"
            " state, created_at, updated_at, draft_id, language)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                topup_id,
                user_id,
                guild_id,
                provider,
                amount.minor,
                amount.currency,
                TopupState.CREATING.value,
                now,
                now,
                draft_id,
                language,
            ),
        )
    found = await get(db, topup_id)
    assert found is not None
    return found


async def list_topups(
    db: Database,
    *,
    state: TopupState | None = None,
    user_id: int | None = None,
    limit: int,
    offset: int = 0,
) -> list[Topup]:
    """Top-ups for staff, newest first, optionally of one state and one buyer."""
    where, params = _filter(state, user_id)
    rows = await db.fetch_all(
        f"SELECT * FROM topups{where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",  # noqa: S608 - fixed clauses
        (*params, limit, offset),
    )
    return [_topup(r) for r in rows]


async def count_by_state(db: Database, *, user_id: int | None = None) -> dict[str, int]:
    where, params = _filter(None, user_id)
    rows = await db.fetch_all(
        f"SELECT state, COUNT(*) AS n FROM topups{where} GROUP BY state",  # noqa: S608 - fixed clauses
        params,
    )
    return {str(r["state"]): int(r["n"]) for r in rows}


def _filter(state: TopupState | None, user_id: int | None) -> tuple[str, tuple[object, ...]]:
    clauses: list[str] = []
    params: list[object] = []
    if state is not None:
        clauses.append("state = ?")
        params.append(state.value)
    if user_id is not None:
        clauses.append("user_id = ?")
        params.append(user_id)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


async def open_links(db: Database, user_id: int, *, now: float) -> list[Topup]:
    """A buyer's links that can still be paid, newest first."""
    rows = await db.fetch_all(
        "SELECT * FROM topups WHERE user_id = ? AND state = ? AND expires_at > ?"
        " ORDER BY created_at DESC",
        (user_id, TopupState.OPEN.value, now),
    )
    return [_topup(r) for r in rows]


async def get(db: Database, topup_id: str) -> Topup | None:
    row = await db.fetch_one("SELECT * FROM topups WHERE id = ?", (topup_id,))
    return _topup(row) if row is not None else None


async def by_remote(db: Database, provider: str, remote_id: str) -> Topup | None:
    row = await db.fetch_one(
        "SELECT * FROM topups WHERE provider = ? AND remote_id = ?", (provider, remote_id)
    )
    return _topup(row) if row is not None else None


async def opened(
    db: Database,
    topup_id: str,
    *,
    remote_id: str,
    url: str,
    expires_at: float | None,
    next_check_at: float,
    now: float | None = None,
) -> None:
    """The provider created the link: the top-up is payable, and reconciliation starts."""
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE topups SET state = ?, remote_id = ?, url = ?, expires_at = ?,"
            " next_check_at = ?, updated_at = ? WHERE id = ? AND state = ?",
            (
                TopupState.OPEN.value,
                remote_id,
                url,
                expires_at,
                next_check_at,
                now,
                topup_id,
                TopupState.CREATING.value,
            ),
        )
        if cur.rowcount != 1:
            raise StaleTopup(topup_id)


async def end(
    db: Database,
    topup_id: str,
    state: TopupState,
    *,
    expect: TopupState,
    now: float | None = None,
    late_check_at: float | None = None,
) -> bool:
    """Close an unpaid top-up (expired, cancelled, failed). False when another path
    moved it first (a payment that landed meanwhile wins). A link that expired or was
    cancelled owes the buyer a DM saying so, in the same transaction; a link never made
    (failed) was refused to the buyer's face. `late_check_at`: reconciliation asks once
    more then (an expired link: a payer mid-checkout at the expiry is captured later)."""
    if state not in (TopupState.EXPIRED, TopupState.CANCELLED, TopupState.FAILED):
        raise ValueError(f"{state} is not an unpaid ending")
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE topups SET state = ?, next_check_at = ?, check_lease_until = NULL,"
            " updated_at = ? WHERE id = ? AND state = ? RETURNING user_id",
            (state.value, late_check_at, now, topup_id, expect.value),
        )
        row = await cur.fetchone()
        if row is None:
            return False
        if state is not TopupState.FAILED:
            await owe_topup_notification_in(
                conn, topup_id, NotificationKind.UNPAID, user_id=int(row[0]), now=now
            )
        return True


@dataclass(frozen=True, slots=True)
class Payment:
    """What the provider says was paid: its payment id, the amount and currency."""

    payment_id: str
    paid: Money


class Credit(StrEnum):
    CREDITED = "credited"
    ALREADY = "already"  # this payment was credited before: nothing written
    # Credited, but the top-up was paid already by another payment (a link paid twice):
    # the money is the buyer's either way, and staff should look.
    EXTRA_PAYMENT = "extra_payment"


async def credit_in(
    conn: aiosqlite.Connection, topup: Topup, payment: Payment, *, now: float
) -> Credit:
    """Inside an open transaction: credit what was paid, once, and mark the top-up paid.
    A top-up that ended unpaid (expired, cancelled) still credits: the buyer's money
    arrived. Paid otherwise than asked (an amount, a currency, a second payment) is
    credited as paid and raises a staff alert in the same transaction."""
    posted = await wallet.post_in(
        conn,
        wallet.Movement(
            user_id=topup.user_id,
            amount=payment.paid,
            kind=wallet.EntryKind.CREDIT,
            actor=ACTOR_PAYMENTS,
            idempotency_key=credit_key(topup.provider, payment.payment_id),
            note=credit_note(topup),
        ),
        now=now,
    )
    if not posted:
        return Credit.ALREADY
    cur = await conn.execute(
        "UPDATE topups SET state = ?, payment_id = ?, paid_minor = ?, paid_currency = ?,"
        " next_check_at = NULL, check_lease_until = NULL, updated_at = ?"
        " WHERE id = ? AND state != ?",
        (
            TopupState.PAID.value,
            payment.payment_id,
            payment.paid.minor,
            payment.paid.currency,
            now,
            topup.id,
            TopupState.PAID.value,
        ),
    )
    result = Credit.CREDITED if cur.rowcount == 1 else Credit.EXTRA_PAYMENT
    crash_point("topup.credited")
    # The buyer's DM with their new balance, owed with the credit (a second payment on
    # one link owes a second DM: `credited-2`).
    base = NotificationKind.CREDITED.value
    count = await count_topup_notifications_in(conn, topup.id, base)
    await owe_topup_notification_in(
        conn,
        topup.id,
        base if count == 0 else f"{base}-{count + 1}",
        user_id=topup.user_id,
        now=now,
    )
    if result is Credit.EXTRA_PAYMENT or payment.paid != topup.amount:
        # Credited as paid, in the same transaction as the staff alert that says so.
        await staff_alerts.raise_alert_in(
            conn,
            alerts.topup_mismatch(
                topup.id,
                topup.user_id,
                topup.provider,
                topup.amount,
                payment.paid,
                payment.payment_id,
            ),
        )
    return result


def credit_note(topup: Topup) -> str:
    return f"top-up {topup.id} ({topup.provider})"


async def credited_for(db: Database, topup: Topup, kind: str) -> Money | None:
    """What the credit a `credited` DM is about put in the wallet: `credited` is the
    top-up's first payment, `credited-2` its second (a link paid twice), …"""
    number = int(kind.rsplit("-", 1)[1]) if "-" in kind else 1
    rows = await db.fetch_all(
        "SELECT amount_minor, currency FROM ledger WHERE user_id = ? AND note = ?"
        " AND idempotency_key LIKE ? ORDER BY id",
        (topup.user_id, credit_note(topup), "topup:%"),
    )
    if len(rows) < number:
        return None
    row = rows[number - 1]
    return Money(int(row["amount_minor"]), str(row["currency"]))


async def credit(
    db: Database, topup: Topup, payment: Payment, *, now: float | None = None
) -> Credit:
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        return await credit_in(conn, topup, payment, now=now)


async def claim_due_checks(
    db: Database, *, now: float, lease_until: float, limit: int, owner: str | None = None
) -> list[Topup]:
    """Lease up to `limit` top-ups whose reconciliation poll is due (open ones, and an
    expired one's late check), oldest due first, skipping rows another process is
    claiming (as the order claims do)."""
    async with db.claiming() as conn:
        async with conn.execute(
            "UPDATE topups SET check_lease_until = ?, lease_owner = ? WHERE id IN ("  # noqa: S608 - a fixed clause only
            " SELECT id FROM topups WHERE state IN (?, ?) AND next_check_at IS NOT NULL"
            " AND next_check_at <= ? AND (check_lease_until IS NULL OR check_lease_until < ?)"
            f" ORDER BY next_check_at LIMIT ?{db.skip_locked}) RETURNING *",
            (
                lease_until,
                owner,
                TopupState.OPEN.value,
                TopupState.EXPIRED.value,
                now,
                now,
                limit,
            ),
        ) as cur:
            rows = await cur.fetchall()
    return sorted((_topup(r) for r in rows), key=lambda t: t.next_check_at or 0)


async def stop_checks(db: Database, topup: Topup, *, why: str, now: float | None = None) -> bool:
    """Reconciliation gives up on an open top-up (it can't be settled by asking): no more
    checks, and a staff alert saying why, in one transaction. False when it moved on."""
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE topups SET next_check_at = NULL, check_lease_until = NULL, updated_at = ?"
            " WHERE id = ? AND state = ?",
            (now, topup.id, TopupState.OPEN.value),
        )
        if cur.rowcount != 1:
            return False
        await staff_alerts.raise_alert_in(
            conn, alerts.topup_unresolved(topup.id, topup.user_id, topup.provider, why)
        )
        return True


async def checked(
    db: Database, topup_id: str, *, next_check_at: float | None, now: float | None = None
) -> None:
    """A reconciliation poll found nothing new: ask again at `next_check_at` (None: no
    more checks, e.g. after an expired link's late check)."""
    now = time.time() if now is None else now
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE topups SET next_check_at = ?, check_lease_until = NULL,"
            " checks = checks + 1, updated_at = ? WHERE id = ? AND state IN (?, ?)",
            (next_check_at, now, topup_id, TopupState.OPEN.value, TopupState.EXPIRED.value),
        )


async def by_payment(db: Database, provider: str, payment_id: str) -> Topup | None:
    """The top-up a payment was credited to: its first payment is on the row; a second
    payment on the same link (credited with a mismatch alert) is found by its credit's
    ledger row, whose note names the top-up (`credit_note`)."""
    row = await db.fetch_one(
        "SELECT * FROM topups WHERE provider = ? AND payment_id = ?", (provider, payment_id)
    )
    if row is not None:
        return _topup(row)
    credited = await db.fetch_one(
        "SELECT note FROM ledger WHERE idempotency_key = ?", (credit_key(provider, payment_id),)
    )
    named = re.match(r"top-up (TOP-[0-9A-F]+) ", str(credited[0])) if credited else None
    return await get(db, named[1]) if named else None


async def language_of(db: Database, topup_id: str) -> str | None:
    """The language the buyer asked for the top-up in (its DMs' unless they chose one)."""
    row = await db.fetch_one("SELECT language FROM topups WHERE id = ?", (topup_id,))
    return str(row[0]) if row and row[0] else None
