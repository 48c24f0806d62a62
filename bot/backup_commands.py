"""`orderbot backup DEST` and `orderbot restore SRC`.

A backup is taken beside a running bot (SQLite's online backup API, see storage.backup)
and checked before it is called one. A restore never runs beside a bot, checks the copy
and the configured key before it replaces anything, and keeps the database it replaces.

Wallets are money the shop owes its buyers, so both refuse a copy whose ledger doesn't
add up to its balances. And a backup is half of what is needed: contacts and deliveries
in it are encrypted with DELIVERY_ENCRYPTION_KEY, so the key must be kept with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import time
from pathlib import Path

from bot.config import ConfigError, StorageSettings, load_key_settings, load_storage_settings
from core.crypto import DeliveryCipher
from storage import lock as database_lock
from storage.backup import (
    BackupError,
    CopyReport,
    check_copy,
    copy_database,
    partial_copy,
    prune_backups,
    prune_failed_copies,
    publish,
    remove_stale_temporaries,
    sidecars,
    timestamped_path,
    unique_name,
)
from storage.database import DatabaseUnusable, open_database
from storage.lock import DatabaseLockError, lock_path_for, real_database_path

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_CONFIG = 2

KEY_REMINDER = (
    "Keep DELIVERY_ENCRYPTION_KEY with this backup (key fingerprint {fingerprint}), "
    "somewhere else than the backup itself: without it the buyers' contacts and "
    "deliveries in it can't be read. After `rotate-key`, keep the old key for as long as "
    "backups made with it exist."
)


def _fail(message: str, status: int = EXIT_CONFIG) -> int:
    print(message, file=sys.stderr)
    return status


def _optional_cipher() -> DeliveryCipher | None:
    """The configured key, if there is a usable one: a backup is still taken without it
    (a backup must never be blocked by a settings problem), with a louder reminder."""
    try:
        return DeliveryCipher(load_key_settings().delivery_encryption_key)
    except ConfigError:
        return None


def on_postgres_refused(settings: StorageSettings, command: str) -> int | None:
    """`backup` and `restore` work on the SQLite file; on PostgreSQL they refuse with one
    line that names PostgreSQL's own tools, as docs/operations.md shows."""
    if settings.postgres_url() is None:
        return None
    return _fail(
        f"`orderbot {command}` works on a SQLite file only: use pg_dump and pg_restore, "
        'as docs/operations.md ("PostgreSQL") shows.'
    )


def cmd_backup(given: str, *, keep: int | None = None) -> int:
    dest = Path(given)
    try:
        settings = load_storage_settings()
    except ConfigError as exc:
        return _fail(exc.render())
    refused = on_postgres_refused(settings, "backup")
    if refused is not None:
        return refused
    if keep is not None and keep < 1:
        return _fail("--keep must be 1 or more: it is how many backups to keep.")
    source = settings.database_path
    if not source.is_file():
        return _fail(f"DATABASE_PATH={source} doesn't exist: there is nothing to back up yet.")
    folder = dest if dest.is_dir() else None
    if folder is None and given.endswith(("/", os.sep)):
        return _fail(f"{given} is not a folder: create it first (the backup timer needs it too).")
    if folder is not None:
        remove_stale_temporaries(folder)
        target = timestamped_path(folder)
    else:
        if keep is not None:
            return _fail("--keep needs DEST to be a folder (backups are named by time in it).")
        if dest.exists() or dest.is_symlink():
            return _fail(f"{dest} exists: the bot never overwrites a file. Pick a new name.")
        if not dest.parent.is_dir():
            return _fail(f"{dest.parent} is not a folder: create it first, or pick another DEST.")
        target = dest
    cipher = _optional_cipher()
    next_name = None if folder is None else (lambda _: timestamped_path(folder))
    try:
        # Checked before it gets its name: a copy that can't be trusted, or a backup
        # killed while it is checked, is never left where it would be taken for one.
        with partial_copy(source, target) as partial:
            report = check_copy(partial, cipher)
            if report.problems:
                bad = publish(
                    partial, target.with_name(target.name + ".failed"), next_name=unique_name
                )
            else:
                target = publish(partial, target, next_name=next_name)
    except BackupError as exc:
        return _fail(f"backup failed, no backup was made: {exc}", EXIT_RUNTIME)
    if report.problems:
        if folder is not None:
            # While the live ledger is off every scheduled run fails: the newest failed
            # copy is kept for inspection, not one a day until the disk is full.
            prune_failed_copies(folder, newest=bad)
        return _fail(
            f"backup of {source} is NOT usable: {'; '.join(report.problems)}. "
            f"The copy is kept as {bad} for inspection; the database was not changed.",
            EXIT_RUNTIME,
        )
    print(f"Backed up {source} to {target} ({report.summary()}; integrity ok, ledger balanced).")
    if folder is not None and keep is not None:
        for old in prune_backups(folder, keep, newest=target):
            print(f"removed the old backup {old} (keeping the newest {keep})")
    if cipher is None:
        print(
            "WARNING: no usable DELIVERY_ENCRYPTION_KEY is configured here, so the copy's "
            "secrets were not checked. Keep the bot's key with this backup: without it the "
            "buyers' contacts and deliveries in it can't be read.",
            file=sys.stderr,
        )
        return EXIT_OK
    print(KEY_REMINDER.format(fingerprint=cipher.primary_fingerprint))
    if report.unreadable_orders:
        print(
            f"WARNING: {len(report.unreadable_orders)} order(s) in it can't be decrypted "
            f"with the configured key(s) ({_ids(report)}): the key they were written with "
            "is not configured. Find it and keep it with this backup.",
            file=sys.stderr,
        )
    return EXIT_OK


def _ids(report: CopyReport) -> str:
    shown = ", ".join(report.unreadable_orders[:10])
    more = len(report.unreadable_orders) - 10
    return shown + (f" and {more} more" if more > 0 else "")


def cmd_restore(source: Path) -> int:
    try:
        settings = load_key_settings()
    except ConfigError as exc:
        return _fail(exc.render())
    refused = on_postgres_refused(settings, "restore")
    if refused is not None:
        return refused
    cipher = DeliveryCipher(settings.delivery_encryption_key)
    # The file itself, not a symlink to it: replacing the link would leave the database
    # it points to (and anything else that uses that path) untouched.
    target = real_database_path(settings.database_path)
    if not source.is_file():
        return _fail(f"{source} is not a file: give the path of a backup to restore.")
    if target.exists() and os.path.samefile(source, target):
        return _fail(f"{source} is the database itself: give the path of a backup.")
    try:
        with database_lock.exclusive(target):
            try:
                return _restore_locked(source, target, cipher)
            finally:
                # Run as root, the lock file it created is root's even when the restore
                # was refused: the bot's user must still be able to take it.
                _give_to_the_bots_user(lock_path_for(target), target)
    except DatabaseLockError as exc:
        return _fail(str(exc))


def _restore_locked(source: Path, target: Path, cipher: DeliveryCipher) -> int:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    remove_stale_temporaries(target.parent)  # a killed restore's or backup's leftovers
    staged = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    _remove_database_files(staged)
    try:
        copy_database(source, staged)
    except BackupError as exc:
        return _fail(f"restore failed, nothing was changed: {exc}", EXIT_RUNTIME)
    try:
        report = check_copy(staged, cipher)
        if report.problems:
            return _fail(
                f"{source} can't be restored, nothing was changed: {'; '.join(report.problems)}."
            )
        if report.unreadable_orders:
            return _fail(
                f"{source} can't be restored, nothing was changed: the configured "
                f"DELIVERY_ENCRYPTION_KEY doesn't decrypt {len(report.unreadable_orders)} "
                f"order(s) in it ({_ids(report)}). Add the key it was made with after the "
                "current one (DELIVERY_ENCRYPTION_KEY=new,old) and run restore again."
            )
        try:
            applied = asyncio.run(_migrate(staged))
        except DatabaseUnusable as exc:
            return _fail(f"{source} can't be restored, nothing was changed: {exc}")
        _give_to_the_bots_user(staged, target)
        kept = _set_aside(target)
        if kept is not None:
            _give_to_the_bots_user(kept, target)
        # A -wal left beside the target belongs to the database being replaced: SQLite
        # would replay its frames onto the restored file. Folded into the file first (so
        # a restore killed right here loses nothing), then removed with any stale one.
        _checkpoint(target)
        for stale in sidecars(target):
            stale.unlink(missing_ok=True)
        os.replace(staged, target)
    finally:
        _remove_database_files(staged)
    migrated = f", migrated to schema {applied[-1]}" if applied else ""
    print(
        f"Restored {source} to {target} ({report.summary()}{migrated}; integrity ok, ledger balanced)."
    )
    if kept is not None:
        print(f"The database it replaced is kept as {kept}.")
    print("Start the bot again (`orderbot run`, or `systemctl start orderbot`).")
    return EXIT_OK


async def _migrate(path: Path) -> list[int]:
    db = await open_database(path, migrate=False)
    try:
        applied = await db.migrate()
        # Folded back into the file: the staged copy moves alone, without a -wal.
        await db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return applied
    finally:
        await db.close()


def _give_to_the_bots_user(path: Path, target: Path) -> None:
    """Run as root (`sudo orderbot restore`, forgetting `runuser -u orderbot`), the new
    file would be root's and the bot couldn't open it: it gets the owner of the database
    it replaces, or of the folder it goes in."""
    if os.geteuid() != 0:
        return
    owner = (target if target.exists() else target.parent).stat()
    with contextlib.suppress(FileNotFoundError):
        os.chown(path, owner.st_uid, owner.st_gid)


def _set_aside(target: Path) -> Path | None:
    """Copy the database being replaced (its -wal included) to a dated file beside it."""
    if not target.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    kept = target.with_name(f"{target.name}.before-restore-{stamp}")
    try:
        return copy_database(target, kept, next_name=unique_name)
    except BackupError:
        # Unreadable (often why it is being restored) or no room for a copy: kept as it
        # is, files and all, under a name nothing else has.
        kept = unique_name(kept)
        for file, moved in zip(sidecars(target), sidecars(kept), strict=True):
            if file.exists():
                os.rename(file, moved)
        os.rename(target, kept)
        return kept


def _checkpoint(path: Path) -> None:
    if not path.exists():
        return
    with contextlib.suppress(sqlite3.Error):
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()


def _remove_database_files(path: Path) -> None:
    for file in (path, *sidecars(path)):
        file.unlink(missing_ok=True)
