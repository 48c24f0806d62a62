"""`orderbot backup` on a shop-sized database: what the copy and its checks cost next to a
plain `cp`, and what a writer (the bot) feels while a backup runs beside it.

The database: 20,000 orders, each with an encrypted contact and delivery, and 60,000
ledger rows over 5,000 wallets, written by the bot's own storage code. Measured:
- `cp` of the main file and its -wal (the baseline: fast, and not a backup while the bot
  writes), the online-backup copy alone, and the copy with every check `backup` runs
  (integrity, ledger sums, every secret decrypted);
- a writer process committing one ledger row at a time, as the bot does: its commit
  latency with no backup running (baseline) and while backups run back to back in
  another process.
Figures are ratios against the baselines measured in the same run.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr

from bench.common import write_result
from core.crypto import DeliveryCipher
from core.domain import Delivery
from storage.backup import check_copy, copy_database
from storage.database import Database, open_database

ORDERS = 20_000
WALLETS = 5_000
LEDGER_ROWS = 60_000
REPEATS = 5


async def build(path: Path, cipher: DeliveryCipher) -> None:
    db = await open_database(path)
    try:
        await _fill(db, cipher)
    finally:
        await db.close()


async def _fill(db: Database, cipher: DeliveryCipher) -> None:
    contact = cipher.encrypt_text('{"phone_number": "+919876543210", "name": "Asha"}')
    delivery = cipher.encrypt_delivery(Delivery(text=SecretStr("KEY-1234-5678-ABCD")))
    now = time.time()
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO orders (id, user_id, guild_id, product_key, product_name, provider,"
            " kind, source, quantity, unit_price_minor, total_minor, currency, status,"
            " created_at, updated_at, contact_enc, delivery_enc)"
            " VALUES (?, ?, 1, 'k', 'Key', 'digital_shop', 'digital', 'placed', 1, 500, 500,"
            " 'USD', 'completed', ?, ?, ?, ?)",
            [(f"ORD-{n:08d}", n % WALLETS, now, now, contact, delivery) for n in range(ORDERS)],
        )
        await conn.executemany(
            "INSERT INTO ledger (user_id, currency, amount_minor, kind, actor, created_at,"
            " idempotency_key) VALUES (?, 'USD', 100, 'credit', 'staff:1', ?, ?)",
            [(n % WALLETS, now, f"credit-{n}") for n in range(LEDGER_ROWS)],
        )
        await conn.execute(
            "INSERT INTO wallets (user_id, currency, balance_minor, updated_at)"
            " SELECT user_id, currency, SUM(amount_minor), ? FROM ledger"
            " GROUP BY user_id, currency",
            (now,),
        )


def median_seconds(action: object, repeats: int = REPEATS) -> float:
    assert callable(action)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def writer_process(path: str, seconds: float, results: Any) -> None:
    """The bot's side, in its own process as in production: one ledger row and one wallet
    update per transaction, in bursts, with the bot's pragmas."""
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO ledger (user_id, currency, amount_minor, kind, actor, created_at,"
            " idempotency_key) VALUES (1, 'USD', 1, 'credit', 'bench', 0, ?)",
            (f"w-{os.getpid()}-{n}",),
        )
        conn.execute(
            "UPDATE wallets SET balance_minor = balance_minor + 1 WHERE user_id = 1"
            " AND currency = 'USD'"
        )
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - start)
        n += 1
        time.sleep(0.002)  # the bot writes in bursts, not flat out
    conn.close()
    results.put(latencies)


def measure_writer(path: Path, seconds: float, backups: Path | None) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    writer = context.Process(target=writer_process, args=(str(path), seconds, results))
    writer.start()
    taken = 0
    while writer.is_alive() and results.empty():
        if backups is not None:
            target = backups / f"b{taken}.sqlite3"
            copy_database(path, target)
            target.unlink()
            taken += 1
        else:
            time.sleep(0.05)
    latencies = sorted(results.get(timeout=60))
    writer.join()
    return {
        "commits": len(latencies),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 3),
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 3),
        "max_ms": round(1000 * latencies[-1], 3),
        "backups_taken": taken,
    }


def main() -> None:
    cipher = DeliveryCipher(SecretStr(Fernet.generate_key().decode()))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "shop.sqlite3"
        asyncio.run(build(source, cipher))
        size_mb = source.stat().st_size / 1e6
        n = iter(range(10_000))

        def cp() -> None:
            target = folder / f"cp{next(n)}"
            shutil.copyfile(source, target)
            wal = Path(f"{source}-wal")
            if wal.exists():
                shutil.copyfile(wal, f"{target}-wal")

        def copy_only() -> None:
            copy_database(source, folder / f"copy{next(n)}.sqlite3")

        def backup() -> None:
            target = folder / f"backup{next(n)}.sqlite3"
            copy_database(source, target)
            report = check_copy(target, cipher)
            assert not report.problems and not report.unreadable_orders, report

        cp_s = median_seconds(cp)
        copy_s = median_seconds(copy_only)
        backup_s = median_seconds(backup)
        for leftover in folder.glob("*[0-9]*"):
            if leftover.name != source.name:
                leftover.unlink()
        quiet = measure_writer(source, 3.0, None)
        busy = measure_writer(source, 3.0, folder)
    result = {
        "database_mb": round(size_mb, 1),
        "orders": ORDERS,
        "ledger_rows": LEDGER_ROWS,
        "cp_s": round(cp_s, 4),
        "online_copy_s": round(copy_s, 4),
        "backup_with_checks_s": round(backup_s, 4),
        "online_copy_vs_cp": round(copy_s / cp_s, 2),
        "backup_with_checks_vs_cp": round(backup_s / cp_s, 2),
        "writer_alone": quiet,
        "writer_beside_backups": busy,
        "writer_p99_ratio": round(busy["p99_ms"] / quiet["p99_ms"], 2),
        "writer_max_ratio": round(busy["max_ms"] / quiet["max_ms"], 2),
    }
    write_result("backup", result)
    for key, value in result.items():
        print(f"  {key}: {value}")
