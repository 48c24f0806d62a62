"""Issue 26: a shop moves from its SQLite file to PostgreSQL with `migrate-data`: every
table, counts and ledger sums checked, and a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.seed_shop import seed
from core.crypto import DeliveryCipher
from core.domain import Money
from storage import orders as repo
from storage import wallet
from storage.database import bundled_migrations, open_database
from storage.migrate_data import TABLES, copy_shop, sqlite_tables
from storage.postgres import PostgresDatabase
from storage.wallet import EntryKind, Movement

pytestmark = pytest.mark.postgres

ORDERS = 10_000


async def test_every_table_of_the_schema_is_copied(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "schema.sqlite3")
    try:
        assert sorted(await sqlite_tables(db)) == sorted(TABLES), (
            "a migration added (or dropped) a table: add it to storage.migrate_data.TABLES"
        )
    finally:
        await db.close()
    assert (
        len(bundled_migrations()) == 14
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
