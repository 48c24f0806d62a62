"""`orderbot migrate` and `orderbot rotate-key`: the schema and the encryption of the
stored secrets, each refused beside a running bot."""

from __future__ import annotations

import asyncio
import sys

from bot.cli_output import EXIT_OK, EXIT_RUNTIME, clear_leftovers, config_failure, in_use
from bot.config import ConfigError, load_key_settings, load_storage_settings
from bot.logging_setup import SecretRedactingFilter
from core.crypto import DeliveryCipher
from storage import lock as database_lock
from storage.database import DatabaseUnusable
from storage.key_rotation import RotationReport
from storage.lock import DatabaseLockError


async def _migrate(path: str) -> list[int]:
    from storage.database import open_database

    db = await open_database(path, migrate=False)
    try:
        return await db.migrate()
    finally:
        await db.close()


async def _migrate_postgres(url: str) -> list[int]:
    """On PostgreSQL the one-gateway lock plays the file lock's part: refused while a bot
    runs against the database."""
    from storage.postgres import hold_database, open_postgres

    async with hold_database(url, what="migrate"):
        db = await open_postgres(url, migrate=False)
        try:
            return await db.migrate()
        finally:
            await db.close()


def cmd_migrate() -> int:
    try:
        settings = load_storage_settings()
    except ConfigError as exc:
        return config_failure(exc)
    postgres = settings.postgres_url()
    if postgres is not None:
        try:
            applied = asyncio.run(_migrate_postgres(postgres))
        except DatabaseUnusable as exc:
            return in_use(exc)
        print(
            f"Applied migrations {applied} to PostgreSQL" if applied else "PostgreSQL is up to date"
        )
        return EXIT_OK
    # Migrations change the schema under a running bot's feet: refused while one runs.
    try:
        with database_lock.exclusive(settings.database_path):
            clear_leftovers(settings.database_path)
            applied = asyncio.run(_migrate(str(settings.database_path)))
    except (DatabaseLockError, DatabaseUnusable) as exc:
        return in_use(exc)
    if applied:
        print(f"Applied migrations {applied} to {settings.database_path}")
    else:
        print(f"{settings.database_path} is up to date")
    return EXIT_OK


def _progress(order_id: str) -> None:
    print(f"  ... up to order {order_id}")


async def _rotate(path: str, cipher: DeliveryCipher) -> RotationReport:
    from storage.database import open_database
    from storage.key_rotation import rotate_key

    db = await open_database(path)
    try:
        return await rotate_key(db, cipher, after_batch=_progress)
    finally:
        await db.close()


async def _rotate_postgres(url: str, cipher: DeliveryCipher) -> RotationReport:
    """Refused while a bot runs against the database (the one-gateway lock), as on
    SQLite: a running bot could write a row the rotation has just passed."""
    from storage.key_rotation import rotate_key
    from storage.postgres import hold_database, open_postgres

    async with hold_database(url, what="rotate-key"):
        db = await open_postgres(url)
        try:
            return await rotate_key(db, cipher, after_batch=_progress)
        finally:
            await db.close()


def cmd_rotate_key(redactor: SecretRedactingFilter) -> int:
    try:
        settings = load_key_settings()
    except ConfigError as exc:
        return config_failure(exc)
    redactor.add_secrets([settings.delivery_encryption_key.get_secret_value()])
    cipher = DeliveryCipher(settings.delivery_encryption_key)
    postgres = settings.postgres_url()
    try:
        if postgres is not None:
            report = asyncio.run(_rotate_postgres(postgres, cipher))
        else:
            with database_lock.exclusive(settings.database_path):
                report = asyncio.run(_rotate(str(settings.database_path), cipher))
    except (DatabaseLockError, DatabaseUnusable) as exc:
        return in_use(exc)
    resumed = f" (resumed after order {report.resumed_after})" if report.resumed_after else ""
    events = f" and {report.events} stored payment event(s)" if report.events else ""
    print(
        f"Re-encrypted the secrets of {report.rows} order(s){events} with the first key{resumed}."
    )
    if report.unreadable:
        shown = ", ".join(report.unreadable[:20])
        print(
            f"{len(report.unreadable)} row(s) can't be decrypted with any configured key "
            f"and were left as they are: {shown}. Keep the key they need, or accept losing "
            "their contact, delivery or payment event.",
            file=sys.stderr,
        )
        return EXIT_RUNTIME
    print("Every stored secret now uses the first key: the others can be removed.")
    return EXIT_OK
