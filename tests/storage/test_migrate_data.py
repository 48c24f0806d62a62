"""Issue 26: a shop moves from its SQLite file to PostgreSQL with `migrate-data`: every
table, counts and ledger sums checked, and a second run changes nothing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from core import alerts
from core.crypto import DeliveryCipher
from core.domain import Money
from storage import orders as repo
from storage import staff_alerts, wallet
from storage.database import Database, bundled_migrations, open_database
from storage.migrate_data import TABLES, copy_shop, sqlite_tables
from storage.postgres import PostgresDatabase
from storage.wallet import EntryKind, Movement

pytestmark = pytest.mark.postgres

ORDERS = 10_000


async def seed(db: Database, cipher: DeliveryCipher, orders: int) -> None:
    """A real-looking shop, fast: rows written as storage writes them (encrypted contact
    and delivery), in a few big transactions."""
    rng = random.Random(26)
    contact = cipher.encrypt_text(json.dumps({"phone_number": "+919876543210"}))
    now = 1_790_000_000.0
    order_rows: list[tuple[object, ...]] = []
    events: list[tuple[object, ...]] = []
    ledger: list[tuple[object, ...]] = []
    balances: dict[int, int] = {}
    for n in range(orders):
        buyer = 1000 + n % 250
        price = rng.randint(1, 50) * 100
        status = rng.choice(["completed", "failed", "submitted", "refunded"])
        order_rows.append(
            (
                f"ORD-M{n:09d}",
                1,
                buyer,
                "boost",
                "Boost",
                "boost",
                "boost",
                "placed",
                1,
                price,
                price,
                "USD",
                status,
                f"remote-{n}",
                f"key-{n}",
                "{}",
                contact,
                now + n,
                now + n,
            )
        )
        events.append((f"ORD-M{n:09d}", now + n, "system", "created", None, status))
        balances[buyer] = balances.get(buyer, 0) + 10_000 - price
        ledger.append((buyer, "USD", 10_000, "credit", None, "staff", None, now, f"c-{n}"))
        ledger.append(
            (
                buyer,
                "USD",
                -price,
                "order_debit",
                f"ORD-M{n:09d}",
                "system",
                None,
                now,
                f"ORD-M{n:09d}:debit",
            )
        )
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO orders (id, guild_id, user_id, product_key, product_name, provider,"
            " kind, source, quantity, unit_price_minor, total_minor, currency, status,"
            " remote_id, idempotency_key, details_json, contact_enc, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            order_rows,
        )
        await conn.executemany(
            "INSERT INTO order_events (order_id, at, actor, kind, old_status, new_status)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            events,
        )
        await conn.executemany(
            "INSERT INTO ledger (user_id, currency, amount_minor, kind, order_id, actor, note,"
            " created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ledger,
        )
        await conn.executemany(
            "INSERT INTO wallets (user_id, currency, balance_minor, updated_at) VALUES (?, 'USD', ?, ?)",
            [(u, b, now) for u, b in balances.items()],
        )
        await conn.executemany(
            "INSERT INTO notifications (order_id, kind, user_id, state, attempts,"
            " next_attempt_at, created_at) VALUES (?, 'final', ?, 'sent', 1, ?, ?)",
            [(row[0], row[2], now, now) for row in order_rows[:500]],
        )
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('paused', '0')")
        await conn.execute(
            "INSERT INTO provider_health (provider, updated_at, key_state) VALUES ('boost', ?, 'accepted')",
            (now,),
        )
        await conn.execute(
            "INSERT INTO provider_requests (provider, minute, requests, failures) VALUES ('boost', 1, 5, 1)"
        )
        await conn.execute(
            "INSERT INTO audit_log (at, actor_id, action, target, detail) VALUES (?, 7, 'shop.pause', NULL, 'x')",
            (now,),
        )
    await staff_alerts.raise_alert(db, alerts.shop_paused(7, "stocktaking", 1))


async def test_every_table_of_the_schema_is_copied(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "schema.sqlite3")
    try:
        assert sorted(await sqlite_tables(db)) == sorted(TABLES), (
            "a migration added (or dropped) a table: add it to storage.migrate_data.TABLES"
        )
    finally:
        await db.close()
    assert (
        len(bundled_migrations()) == 9
    )  # raise this when a migration is added, after the line above


async def test_ten_thousand_orders_move_with_their_ledgers_and_a_second_run_changes_nothing(
    tmp_path: Path, postgres_db: PostgresDatabase, cipher: DeliveryCipher
) -> None:
    source = await open_database(tmp_path / "shop.sqlite3")
    try:
        await seed(source, cipher, ORDERS)
        first = await copy_shop(source, postgres_db)
        assert first.matches, first.differences
        assert first.copied["orders"] == ORDERS and first.copied["ledger"] == 2 * ORDERS
        assert all(first.copied[t] > 0 for t in TABLES), first.copied
        # What storage reads back on PostgreSQL is the shop: an order with its encrypted
        # contact, a balance equal to its ledger.
        order = await repo.get_order(postgres_db, "ORD-M000000042")
        assert order is not None and order.contact(cipher) == {"phone_number": "+919876543210"}
        assert await wallet.balance(postgres_db, 1042, "USD") == await wallet.ledger_sum(
            postgres_db, 1042, "USD"
        )
        # The identity columns go on after the copied ids: the next ledger row is new.
        assert await wallet.post(
            postgres_db,
            Movement(1042, Money(100, "USD"), EntryKind.CREDIT, "staff", "after-move"),
        )

        again = await copy_shop(source, postgres_db)
        assert all(n == 0 for n in again.copied.values()), again.copied
        # The shop on PostgreSQL moved on (one credit more): reported, never hidden.
        assert again.differences == [
            "ledger: 20000 row(s) in SQLite, 20001 in PostgreSQL",
            "the ledger sums per member and currency differ",
            "the wallet balances differ",
        ]
    finally:
        await source.close()
