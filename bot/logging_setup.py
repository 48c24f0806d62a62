"""Logging is configured here, once, by the entry point.

Every handler gets a `SecretRedactingFilter`: a second line of defence that replaces any
known secret (tokens, API keys, encryption keys) in a formatted message or traceback
with `[redacted]`. The first line of defence is that secrets are `SecretStr` and delivery
data is wrapped so its repr never shows it.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

REDACTED = "[redacted]"


class SecretRedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        merged = set(self._secrets) | {s for s in secrets if s}
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(merged, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


# Under systemd, journald reads a "<N>" prefix on each stderr line as its priority (so
# `journalctl -p warning` finds the bot's warnings) and stamps the time itself.
JOURNAL_FORMAT = "%(name)s: %(message)s"
JOURNAL_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class JournalFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        priority = JOURNAL_PRIORITY.get(record.levelno, 6)
        # Every line of a traceback gets the prefix, or journald files it as info.
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def stderr_is_the_journal() -> bool:
    """systemd sets JOURNAL_STREAM to the device:inode of the stream it connected to
    stderr; anything else (a terminal, a pipe, a child process) is not the journal."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        info = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{info.st_dev}:{info.st_ino}"


class JournalStderr(io.TextIOBase):
    """stderr under journald. The CLI's own lines (its one-line errors, PROBLEM: and
    WARNING: lines) are printed, not logged: they get priority 3 (err), or 4 for a
    warning, so `journalctl -p warning` shows a failed backup too. Lines that already
    carry a priority (the log's) pass as they are."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self._at_line_start = True

    def write(self, text: str) -> int:
        out: list[str] = []
        for piece in text.splitlines(keepends=True):
            if self._at_line_start and not _HAS_PRIORITY.match(piece):
                piece = ("<4>" if piece.startswith("WARNING") else "<3>") + piece
            out.append(piece)
            self._at_line_start = piece.endswith("\n")
        self._stream.write("".join(out))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True


_HAS_PRIORITY = re.compile(r"<[0-7]>")


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> SecretRedactingFilter:
    """Install one stderr handler on the root logger. Returns the redaction filter so
    secrets learned later (e.g. once settings load) can be added."""
    redactor = SecretRedactingFilter(secrets)
    journal = stderr_is_the_journal()
    if journal and not isinstance(sys.stderr, JournalStderr):
        sys.stderr = JournalStderr(sys.stderr)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JournalFormatter() if journal else logging.Formatter(LOG_FORMAT))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    hold_back_libraries()
    return redactor


LOG_FILE_MAX_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5


class OwnerOnlyRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Every file it opens, the first and each one after a rotation, is created 0600
    whatever the umask, and never through a symlink."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(
            self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600
        )
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def add_log_file(path: Path, redactor: SecretRedactingFilter) -> logging.Handler:
    """Also log to `path`, rotated at LOG_FILE_MAX_BYTES with LOG_FILE_BACKUPS old files,
    through the same redaction as stderr (raises OSError for a path that can't be
    written)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = OwnerOnlyRotatingFileHandler(
        path, maxBytes=LOG_FILE_MAX_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(redactor)
    logging.getLogger().addHandler(handler)
    _log_files.append(handler)
    return handler


_log_files: list[logging.Handler] = []
_cli = logging.getLogger("bot.cli")


def record_in_log_files(message: str, level: int = logging.ERROR) -> None:
    """The CLI prints its one-line failures on stderr (no timestamp, no logger name: they
    are for a person). A LOG_FILE gets them too, or it wouldn't say why the bot stopped."""
    record = _cli.makeRecord(_cli.name, level, "(cli)", 0, message, (), None)
    for handler in _log_files:
        handler.handle(record)


# Libraries whose DEBUG output carries personal data or secrets, held at these levels
# whatever LOG_LEVEL says, so LOG_LEVEL=DEBUG is safe in production:
# - discord.gateway logs every event in full at DEBUG: interactions with their tokens,
#   modal fields (phone, email, name); discord.http logs every REST body, including the
#   DM that carries a buyer's credentials; discord.state / discord.client likewise.
# - aiosqlite logs every statement with its parameters.
# - httpcore logs each request's steps; httpx at INFO logs every URL.
HELD_BACK = {
    "discord": logging.INFO,
    "aiosqlite": logging.WARNING,
    "httpcore": logging.WARNING,
    "httpx": logging.WARNING,
    # A skipped overlapping run is by design (max_instances=1), not worth a warning.
    "apscheduler": logging.ERROR,
}


def hold_back_libraries() -> None:
    for name, floor in HELD_BACK.items():
        logging.getLogger(name).setLevel(floor)
    for child in ("discord.http", "discord.gateway", "discord.state", "discord.client"):
        # Their own level, if someone set one, must not be lower than the parent's.
        logging.getLogger(child).setLevel(logging.NOTSET)
