"""Moving a shop from its SQLite file to PostgreSQL (`orderbot migrate-data`, issue 26).

Every table is copied, row for row, in batches, parents before children (orders before
their events and notifications). Each row keeps its primary key, so a second run
inserts nothing (`ON CONFLICT DO NOTHING`) and is safe after an interruption; identity
columns then continue after the highest id copied. Afterwards the two databases are
compared: every table's row count, and every member's ledger sum and balance per
currency. A difference is reported, never papered over.

The caller holds both databases against a running bot (the SQLite file lock, the
PostgreSQL gateway lock): a shop that changes while it is copied would be copied half.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storage.database import Database
from storage.postgres import PostgresDatabase

# Every table of the schema, parents first. tests/storage/test_migrate_data.py fails
# when a migration adds a table that is not here.
TABLES: tuple[str, ...] = (
    "orders",
    "order_events",
    "shop_state",
    "staff_alerts",
    "audit_log",
    "provider_health",
    "provider_requests",
    "ledger",
    "wallets",
    "topups",
    "payment_reversals",
    "notifications",
    "payment_events",
    "member_languages",
)
# Tables whose `id` is generated (AUTOINCREMENT / identity): its sequence is moved on.
IDENTITY_TABLES = (
    "order_events",
    "notifications",
    "staff_alerts",
    "audit_log",
    "ledger",
    "payment_events",
)
# What SQLite keeps for itself, the migrations' own bookkeeping (the target is migrated
# by its own `migrate`), and runtime state: the registry of running processes (they
# register themselves when they start) and the shared request-rate slots.
NOT_SHOP_DATA = (
    "sqlite_sequence",
    "schema_migrations",
    "processes",
    "process_jobs",
    "rate_limits",
)
BATCH = 2000


@dataclass
class MigrationReport:
    copied: dict[str, int] = field(default_factory=dict)  # rows inserted by this run
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # (source, target)
    differences: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.differences


async def sqlite_tables(source: Database) -> list[str]:
    rows = await source.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    )
    return [str(r[0]) for r in rows if str(r[0]) not in NOT_SHOP_DATA]


async def _columns(source: Database, table: str) -> list[str]:
    rows = await source.fetch_all(f'PRAGMA table_info("{table}")')
    return [str(r["name"]) for r in rows]


async def copy_shop(
    source: Database,
    target: PostgresDatabase,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> MigrationReport:
    """Copy every table of `source` (SQLite) into `target` (migrated, same schema
    version), then compare them."""
    unknown = sorted(set(await sqlite_tables(source)) - set(TABLES))
    if unknown:
        raise ValueError(f"tables migrate-data doesn't know: {', '.join(unknown)}")
    if await source.schema_version() != await target.schema_version():
        raise ValueError(
            f"the SQLite database is at schema {await source.schema_version()} and "
            f"PostgreSQL at {await target.schema_version()}: run `orderbot migrate` on both"
        )
    report = MigrationReport()
    for table in TABLES:
        columns = await _columns(source, table)
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        insert = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608 - names from the schema
        copied = 0
        last_rowid = 0
        while True:
            rows = await source.fetch_all(
                f"SELECT rowid AS _rowid_, {names} FROM {table} WHERE rowid > ?"  # noqa: S608
                " ORDER BY rowid LIMIT ?",
                (last_rowid, BATCH),
            )
            if not rows:
                break
            last_rowid = int(rows[-1]["_rowid_"])
            values = [tuple(_value(row[c]) for c in columns) for row in rows]
            async with target.transaction() as conn:
                before = await _count_in(conn, table)
                await conn.executemany(insert, values)
                copied += await _count_in(conn, table) - before
            if progress is not None:
                progress(table, copied)
        report.copied[table] = copied
    async with target.transaction() as conn:
        for table in IDENTITY_TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                f" COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
    await compare(source, target, report)
    return report


def _value(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


async def _count_in(conn: Any, table: str) -> int:
    cur = await conn.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - a known table
    row = await cur.fetchone()
    return int(row[0])


async def compare(source: Database, target: Database, report: MigrationReport) -> None:
    """Row counts of every table, and every member's ledger sum and balance per currency."""
    for table in TABLES:
        counts = []
        for db in (source, target):
            row = await db.fetch_one(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            counts.append(int(row[0]) if row else 0)
        report.counts[table] = (counts[0], counts[1])
        if counts[0] != counts[1]:
            report.differences.append(
                f"{table}: {counts[0]} row(s) in SQLite, {counts[1]} in PostgreSQL"
            )
    sums = []
    for db in (source, target):
        ledger = {
            (int(r[0]), str(r[1])): int(r[2])
            for r in await db.fetch_all(
                "SELECT user_id, currency, SUM(amount_minor) FROM ledger GROUP BY user_id, currency"
            )
        }
        wallets = {
            (int(r[0]), str(r[1])): int(r[2])
            for r in await db.fetch_all("SELECT user_id, currency, balance_minor FROM wallets")
        }
        sums.append((ledger, wallets))
    if sums[0][0] != sums[1][0]:
        report.differences.append("the ledger sums per member and currency differ")
    if sums[0][1] != sums[1][1]:
        report.differences.append("the wallet balances differ")
