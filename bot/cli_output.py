"""What every command prints when it fails, and the exit statuses (bot/__main__.py,
bot/database_commands.py, bot/backup_commands.py share them)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from bot.config import ConfigError
from bot.logging_setup import record_in_log_files
from storage import lock as database_lock
from storage.database import DatabaseBusy, DatabaseUnusable
from storage.lock import DatabaseLockError

log = logging.getLogger("bot")

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_CONFIG = 2


def config_failure(exc: ConfigError) -> int:
    say(exc.render())
    return EXIT_CONFIG


def say(message: str) -> None:
    """A failure for the person at the terminal (stderr), and for LOG_FILE if it is set."""
    print(message, file=sys.stderr)
    record_in_log_files(message)


def clear_leftovers(database: Path) -> None:
    """A restore killed midway leaves a full hidden copy of a database (secrets and all)
    beside it; under the lock nothing is using it any more."""
    from storage.backup import remove_stale_temporaries

    for path in remove_stale_temporaries(database_lock.real_database_path(database).parent):
        log.info("removed %s, left by a restore or backup that was stopped midway", path)


def in_use(exc: DatabaseLockError | DatabaseUnusable) -> int:
    """One line, and exit 2: a restart can't fix it. Except a database another process
    holds locked (exit 1): that ends, and a service manager should try again."""
    say(str(exc))
    return EXIT_RUNTIME if isinstance(exc, DatabaseBusy) else EXIT_CONFIG
