"""Wallets and their ledger (migration 0007). Raw SQL, one transaction per movement.

`post_in` is the one way money moves: it appends a ledger row and changes the balance
in the caller's transaction. A repeated idempotency key changes nothing (an interaction
Discord delivers twice credits once; an order is debited once, refunded once), and a
movement that would take a balance below zero writes nothing and raises.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum

import aiosqlite

from core.domain import Money
from storage.database import Database


class EntryKind(StrEnum):
    CREDIT = "credit"  # staff added store credit (after a payment)
    ORDER_DEBIT = "order_debit"  # an order was paid
    REFUND = "refund"  # an order's payment (or part of it) came back
    ADJUSTMENT = "adjustment"  # staff corrected a balance (either sign)


class InsufficientBalance(Exception):
    def __init__(self, balance: Money, needed: Money) -> None:
        super().__init__(f"balance {balance.format()} is less than {needed.format()}")
        self.balance = balance
        self.needed = needed


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    user_id: int
    amount: Money
    kind: EntryKind
    order_id: str | None
    actor: str
    note: str | None
    created_at: float
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Movement:
    """What to append. `amount` is signed: negative takes money out."""

    user_id: int
    amount: Money
    kind: EntryKind
    actor: str
    idempotency_key: str
    order_id: str | None = None
    note: str | None = None


async def post_in(conn: aiosqlite.Connection, movement: Movement, *, now: float) -> bool:
    """Inside an open transaction: append the movement and apply it to the balance.
    Returns False (and writes nothing) when its idempotency key was already used.
    Raises InsufficientBalance (writing nothing) when the balance would go below zero."""
    amount = movement.amount
    if amount.minor == 0:
        raise ValueError("a ledger movement can't be zero")
    # A savepoint: a refused movement leaves nothing behind even if the caller catches
    # the exception and goes on with its transaction.
    await conn.execute("SAVEPOINT wallet_post")
    try:
        posted = await _post(conn, movement, now)
    except BaseException as exc:
        await conn.execute("ROLLBACK TO wallet_post")
        await conn.execute("RELEASE wallet_post")
        if isinstance(exc, _Overdraft):
            # Read after the rollback: PostgreSQL runs nothing more in a failed savepoint.
            balance = await balance_in(conn, movement.user_id, amount.currency)
            raise InsufficientBalance(balance, Money(-amount.minor, amount.currency)) from None
        raise
    await conn.execute("RELEASE wallet_post")
    return posted


class _Overdraft(Exception):
    """The balance's CHECK refused a movement (post_in turns it into InsufficientBalance)."""


async def _post(conn: aiosqlite.Connection, movement: Movement, now: float) -> bool:
    amount = movement.amount
    cur = await conn.execute(
        "INSERT INTO ledger (user_id, currency, amount_minor, kind, order_id, actor, note,"
        " created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (idempotency_key) DO NOTHING",
        (
            movement.user_id,
            amount.currency,
            amount.minor,
            movement.kind.value,
            movement.order_id,
            movement.actor,
            movement.note,
            now,
            movement.idempotency_key,
        ),
    )
    if cur.rowcount != 1:
        return False
    try:
        # (Not an upsert: SQLite checks the CHECK on the would-be inserted row first.)
        cur = await conn.execute(
            "UPDATE wallets SET balance_minor = balance_minor + ?, updated_at = ?"
            " WHERE user_id = ? AND currency = ?",
            (amount.minor, now, movement.user_id, amount.currency),
        )
        if cur.rowcount == 0:
            await conn.execute(
                "INSERT INTO wallets (user_id, currency, balance_minor, updated_at)"
                " VALUES (?, ?, ?, ?)",
                (movement.user_id, amount.currency, amount.minor, now),
            )
    except sqlite3.IntegrityError:
        # The CHECK (balance >= 0) refused it; post_in rolls the ledger row back.
        raise _Overdraft from None
    return True


async def post(db: Database, movement: Movement) -> bool:
    async with db.transaction() as conn:
        return await post_in(conn, movement, now=time.time())


async def balance_in(conn: aiosqlite.Connection, user_id: int, currency: str) -> Money:
    async with conn.execute(
        "SELECT balance_minor FROM wallets WHERE user_id = ? AND currency = ?",
        (user_id, currency),
    ) as cur:
        row = await cur.fetchone()
    return Money(int(row[0]) if row else 0, currency)


async def balance(db: Database, user_id: int, currency: str) -> Money:
    async with db.reading() as conn:
        return await balance_in(conn, user_id, currency)


async def balances(db: Database, user_id: int) -> list[Money]:
    rows = await db.fetch_all(
        "SELECT currency, balance_minor FROM wallets WHERE user_id = ? ORDER BY currency",
        (user_id,),
    )
    return [Money(int(r["balance_minor"]), r["currency"]) for r in rows]


async def entries(db: Database, user_id: int, *, limit: int = 10, offset: int = 0) -> list[Entry]:
    rows = await db.fetch_all(
        "SELECT * FROM ledger WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
        (user_id, limit, offset),
    )
    return [_entry(r) for r in rows]


async def count_entries(db: Database, user_id: int) -> int:
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM ledger WHERE user_id = ?", (user_id,))
    return int(row["n"]) if row else 0


async def entry_by_key_in(conn: aiosqlite.Connection, key: str) -> Entry | None:
    async with conn.execute("SELECT * FROM ledger WHERE idempotency_key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return _entry(row) if row else None


async def order_entries(db: Database, order_id: str) -> list[Entry]:
    rows = await db.fetch_all("SELECT * FROM ledger WHERE order_id = ? ORDER BY id", (order_id,))
    return [_entry(r) for r in rows]


async def ledger_sum(db: Database, user_id: int, currency: str) -> Money:
    row = await db.fetch_one(
        "SELECT COALESCE(SUM(amount_minor), 0) AS total FROM ledger"
        " WHERE user_id = ? AND currency = ?",
        (user_id, currency),
    )
    return Money(int(row["total"]) if row else 0, currency)


def _entry(row: aiosqlite.Row) -> Entry:
    return Entry(
        id=row["id"],
        user_id=row["user_id"],
        amount=Money(int(row["amount_minor"]), row["currency"]),
        kind=EntryKind(row["kind"]),
        order_id=row["order_id"],
        actor=row["actor"],
        note=row["note"],
        created_at=row["created_at"],
        idempotency_key=row["idempotency_key"],
    )
