"""(f) `migrate-data` (issue 26): a shop of ORDERS orders moved from SQLite to PostgreSQL.

A throwaway PostgreSQL server (.ci/postgres.py, as `make test` starts it). The shop is
seeded with bench/seed_shop.py: ORDERS orders with encrypted contacts, one event each, a
credit and a debit each in the ledger, wallets, and a row in every other table.

- migrate: `copy_shop` (batches of INSERT … ON CONFLICT DO NOTHING through storage, then
  the comparison of counts, ledger sums and balances), into an empty schema;
- baseline: the same rows of the same tables with asyncpg's `copy_records_to_table`
  (PostgreSQL's COPY, the fastest way in), into another empty schema, same run;
- again: a second `copy_shop` over the copied shop (what a re-run costs).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import SecretStr

from bench.seed_shop import seed
from core.crypto import DeliveryCipher
from storage.database import open_database
from storage.migrate_data import TABLES, copy_shop
from storage.postgres import empty_schema, open_postgres

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".ci"))
from postgres import PostgresServer

ORDERS = 100_000
RESULTS = Path(__file__).with_name("results") / "migrate_data.json"


async def run(dsn: str, folder: Path) -> dict[str, float]:
    cipher = DeliveryCipher(SecretStr(Fernet.generate_key().decode()))
    source = await open_database(folder / "shop.sqlite3")
    try:
        started = time.perf_counter()
        await seed(source, cipher, ORDERS)
        seeded = time.perf_counter() - started

        await empty_schema(dsn, "baseline")
        base = await open_postgres(dsn, schema="baseline")
        started = time.perf_counter()
        async with base.pool.acquire() as conn:
            for table in TABLES:
                rows = await source.fetch_all(f"SELECT * FROM {table}")  # noqa: S608
                if rows:
                    await conn.copy_records_to_table(
                        table,
                        records=[tuple(r) for r in rows],
                        columns=list(rows[0].keys()),
                        schema_name="baseline",
                    )
        baseline = time.perf_counter() - started
        await base.close()

        await empty_schema(dsn, "moved")
        target = await open_postgres(dsn, schema="moved")
        try:
            started = time.perf_counter()
            report = await copy_shop(source, target)
            migrate = time.perf_counter() - started
            assert report.matches, report.differences
            started = time.perf_counter()
            again = await copy_shop(source, target)
            rerun = time.perf_counter() - started
            assert again.matches and not any(again.copied.values())
        finally:
            await target.close()
        size = (folder / "shop.sqlite3").stat().st_size
    finally:
        await source.close()
    return {
        "orders": ORDERS,
        "ledger_rows": 2 * ORDERS,
        "sqlite_mb": size / 1e6,
        "seed_s": seeded,
        "baseline_copy_s": baseline,
        "migrate_s": migrate,
        "migrate_ratio": migrate / baseline,
        "rerun_s": rerun,
        "rerun_ratio": rerun / baseline,
    }


def main() -> None:
    with PostgresServer.start() as server, tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(server.create_database("bench"), Path(tmp)))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"{ORDERS:,} orders ({result['sqlite_mb']:.0f} MB of SQLite): migrate-data "
        f"{result['migrate_s']:.1f} s, {result['migrate_ratio']:.1f}x a bare COPY of the same "
        f"rows ({result['baseline_copy_s']:.1f} s); a second run {result['rerun_s']:.1f} s "
        f"({result['rerun_ratio']:.1f}x)"
    )


if __name__ == "__main__":
    main()
