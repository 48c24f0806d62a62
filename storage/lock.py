"""One bot per database file: an exclusive `flock` on `<database, resolved>.lock`.

A second `python -m bot run` on the same file would treat the first one's live sends as
crash leftovers, re-send its checkouts, void its poll leases and post every staff alert
twice. The lock is taken before anything is read or written, and the kernel drops it
when the process dies, however it dies (kill -9 included): no stale lock to clean up.

- **The file, not the path.** The lock is named from the database's real path, every
  symlink resolved: `DATABASE_PATH=/srv/shop.db` and a symlink to it take the same lock.
  (A hard link is another name for the same inode and is not caught; nothing here makes
  one.)
- **Never through a symlink.** The lock file is opened with `O_NOFOLLOW`: a symlink
  planted at `<database>.lock` is refused, rather than followed and its target truncated
  to hold our process id.

SQLite's own exclusive locking mode is not used: staff tools and tests still read the
database file while the bot runs.

POSIX only (`fcntl`): Linux is tested in CI; on Windows the bot runs under WSL. The
import is deferred so that `--help` and the error message work everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path


class DatabaseLockError(Exception):
    """The database's lock can't be taken: the message says why and what to do."""


class DatabaseInUse(DatabaseLockError):
    """Another process holds the database's lock."""

    def __init__(self, database: Path, holder: str | None) -> None:
        who = f"process {holder}" if holder else "another process"
        super().__init__(
            f"{database} is in use by {who} (another `orderbot run` or the orderbot service, "
            "or a `migrate` / `rotate-key` / `restore` in progress). Only one bot may use a "
            "database at a time: stop the other one first. (Its lock is released when it "
            "exits, even if it is killed.)"
        )
        self.database = database
        self.holder = holder


class UnsafeLockFile(DatabaseLockError):
    """The lock file is a symlink (or otherwise not a file we may open)."""


class UnsupportedSystem(DatabaseLockError):
    """No flock(2) here: not a POSIX system."""


def _why(path: Path, exc: OSError) -> str:
    try:
        owner = path.stat().st_uid
    except OSError:
        owner = os.geteuid()
    if isinstance(exc, PermissionError) and owner != os.geteuid():
        return (
            f"it belongs to {_user(owner)}, not to the user the bot runs as (a command run "
            "as root?). `chown` it and the database to the bot's user."
        )
    return f"{exc.strerror}. Check that its folder is writable by the user the bot runs as."


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name}"
    except (ImportError, KeyError):
        return f"uid {uid}"


def real_database_path(database: Path) -> Path:
    """The database's path with every symlink resolved (the file itself may not exist
    yet: a first run creates it)."""
    return Path(os.path.realpath(database.expanduser()))


def lock_path_for(database: Path) -> Path:
    real = real_database_path(database)
    return real.with_name(real.name + ".lock")


@contextlib.contextmanager
def exclusive(database: Path) -> Iterator[None]:
    """Hold the database's lock for the duration, or raise a DatabaseLockError at once."""
    try:
        import fcntl
    except ImportError:
        raise UnsupportedSystem(
            "orderbot needs a POSIX system (Linux or macOS) for its one-bot-per-database "
            "lock. On Windows, run it under WSL."
        ) from None
    real = real_database_path(database)
    path = lock_path_for(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UnsafeLockFile(
            f"DATABASE_PATH={database}: its folder {path.parent} can't be created "
            f"({exc.strerror}). Set DATABASE_PATH to a file in a folder the bot's user may "
            "write (an absolute path: a relative one is taken from the current folder)."
        ) from None
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeLockFile(
                f"{path} is a symlink: the bot never writes through one. Remove it "
                f"(`rm {path}`) and start again."
            ) from None
        raise UnsafeLockFile(f"can't open the lock file {path}: {_why(path, exc)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeLockFile(
                f"{path} is not a regular file (a FIFO, a device…): remove it "
                f"(`rm {path}`) and start again."
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or None
            raise DatabaseInUse(real, holder) from None
        # Who holds it, for the message the next one prints: a nicety, so a full disk
        # here doesn't stop the bot (the lock is what matters, and it is held).
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
