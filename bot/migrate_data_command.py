"""`orderbot migrate-data [--from sqlite:///FILE] [--to postgresql://…]`: move a shop from
its SQLite file to PostgreSQL (storage/migrate_data.py does the copying and checking).

Both ends are held against a running bot for the whole copy: the SQLite file lock and
the PostgreSQL gateway lock. Exit 0 when every table's count and every member's ledger
sum and balance match; 1 when they don't (each difference is one line); 2 for a setting
or an argument to fix.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.config import ConfigError, load_storage_settings
from bot.config_problems import database_url_problem
from storage import lock as database_lock
from storage.database import DatabaseUnusable, open_database
from storage.lock import DatabaseLockError

EXIT_OK, EXIT_DIFFERENT, EXIT_CONFIG = 0, 1, 2


def _fail(message: str, status: int = EXIT_CONFIG) -> int:
    print(message, file=sys.stderr)
    return status


def cmd_migrate_data(source: str | None, target: str | None) -> int:
    try:
        settings = load_storage_settings()
    except ConfigError as exc:
        return _fail(exc.render())
    if source is None:
        path = settings.database_path
    elif source.startswith("sqlite:///"):
        problem = database_url_problem(source)
        if problem is not None:
            return _fail(f"--from {problem}")
        path = Path(source.removeprefix("sqlite:///")).expanduser()
    else:
        return _fail("--from must be the SQLite file to move, as sqlite:///path/to/shop.sqlite3")
    url = target if target is not None else settings.postgres_url()
    if url is None or not url.startswith(("postgresql://", "postgres://")):
        return _fail(
            "--to must be the PostgreSQL database to move to, postgresql://USER:PASSWORD@HOST/DB "
            "(or set DATABASE_URL to it)"
        )
    if not path.is_file():
        return _fail(f"{path} doesn't exist: there is no SQLite shop to move.")
    try:
        with database_lock.exclusive(path):
            return asyncio.run(_move(path, url))
    except (DatabaseLockError, DatabaseUnusable) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"migrate-data refused: {exc}")


async def _move(path: Path, url: str) -> int:
    from storage.migrate_data import copy_shop
    from storage.postgres import hold_database, open_postgres

    async with hold_database(url, what="migrate-data"):
        source = await open_database(path)
        try:
            target = await open_postgres(url)
            try:
                print(f"Moving {path} to PostgreSQL…", flush=True)
                report = await copy_shop(source, target)
            finally:
                await target.close()
        finally:
            await source.close()
    for table, (here, there) in report.counts.items():
        print(
            f"  {table:18} {report.copied[table]:>9,} copied now; {here:,} in SQLite, {there:,} in PostgreSQL"
        )
    if not report.matches:
        for line in report.differences:
            print(f"DIFFERENT: {line}", file=sys.stderr)
        return EXIT_DIFFERENT
    print(
        "OK: every table's rows and every member's ledger and balance match. Set DATABASE_URL "
        "to the PostgreSQL database (and remove DATABASE_PATH), then `orderbot run`."
    )
    return EXIT_OK
