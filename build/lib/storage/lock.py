"""One bot per database file: an exclusive `flock` on `<database>.lock`.

A second `python -m bot run` on the same file would treat the first one's live sends as
crash leftovers, re-send its checkouts, void its poll leases and post every staff alert
twice. The lock is taken before anything is read or written, and the kernel drops it
when the process dies, however it dies (kill -9 included): no stale lock to clean up.

SQLite's own exclusive locking mode is not used: staff tools and tests still read the
database file while the bot runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


class DatabaseInUse(Exception):
    """Another process holds the database's lock."""

    def __init__(self, database: Path, holder: str | None) -> None:
        who = f"process {holder}" if holder else "another process"
        super().__init__(
            f"{database} is in use by {who} (another `python -m bot run`, or a `migrate` / "
            "`rotate-key` in progress). Only one bot may use a database at a time: stop the "
            "other one first. (Its lock is released when it exits, even if it is killed.)"
        )
        self.database = database
        self.holder = holder


def lock_path_for(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def exclusive(database: Path) -> Iterator[None]:
    """Hold the database's lock for the duration, or raise DatabaseInUse at once."""
    path = lock_path_for(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or None
            raise DatabaseInUse(database, holder) from None
        # Who holds it, for the message the next one prints.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
