"""Settings and catalog problems as the lines an owner reads: `ConfigError`, and what
turns a pydantic error, an unreadable or non-UTF-8 file, or an unusable DATABASE_PATH
into one line that names the setting and says what to do. `bot.config` re-exports
`ConfigError`, which every caller imports from there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings

GEN_KEY_HINT = "generate one with `python -m bot gen-key` and put it in .env"


class ConfigError(Exception):
    """Settings or catalog are unusable. `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def render(self) -> str:
        lines = [f"Invalid {self.source} ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def database_url_problem(url: str) -> str | None:
    """DATABASE_URL: `sqlite:///path` or `postgresql://…`, said in one line (never
    echoing the URL, which may hold a password)."""
    if url.startswith("sqlite:///"):
        return database_path_problem(Path(url.removeprefix("sqlite:///")).expanduser())
    if url.startswith(("postgresql://", "postgres://")):
        return None
    return (
        "must start with sqlite:/// (a file, e.g. sqlite:///data/shop.sqlite3) or "
        "postgresql:// (e.g. postgresql://orderbot:PASSWORD@localhost/orderbot)"
    )


def database_path_problem(path: Path) -> str | None:
    """What makes DATABASE_PATH unusable that shows without opening anything: it is a
    folder, or a part of its folder is a file. (A file that isn't a database is found when
    it is opened, by storage.database.)"""
    try:
        if path.is_dir():
            return (
                f"DATABASE_PATH={path} is a folder: point it at a file in it, such as "
                f"{path / 'orderbot.sqlite3'}"
            )
        for folder in path.parents:
            if folder.exists():
                if folder.is_dir():
                    return None
                return (
                    f"DATABASE_PATH={path} is inside {folder}, which is a file, not a folder: "
                    "point it at a file inside a folder (or move that file away)"
                )
    except OSError:
        return None  # e.g. a folder on the way can't be looked into: opening it will say
    return None


def _env_files(cls: type[BaseSettings], overrides: dict[str, Any]) -> list[Path]:
    files = overrides.get("_env_file", cls.model_config.get("env_file"))
    if files is None:
        return []
    if isinstance(files, str | os.PathLike):
        files = [files]
    return [Path(f) for f in files]


def env_file_problem(
    cls: type[BaseSettings], overrides: dict[str, Any], exc: BaseException
) -> str | None:
    """The line to show when reading the .env file failed with `exc`; None when `exc`
    didn't come from a .env file."""
    for path in _env_files(cls, overrides):
        if isinstance(exc, OSError):
            if exc.filename is None or Path(exc.filename) != path:
                continue
            if isinstance(exc, PermissionError):
                return f"{path} can't be read (permission denied): let the bot's user read it"
            return f"{path} can't be read ({exc.strerror or exc})"
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        try:
            decode_utf8(raw, "settings", str(path))
        except ConfigError as bad:
            return bad.problems[0]
    return None


def decode_utf8(raw: bytes, source: str, named: str) -> str:
    """A settings or catalog file's bytes as text: UTF-8, with or without a leading
    byte-order mark; else a ConfigError whose line says `named` is not UTF-8, and where."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(source, [f"{named} is UTF-16 text: save it as UTF-8"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            source, [f"{named} is not UTF-8 text (line {line}): save it as UTF-8"]
        ) from None


def describe_validation_error(exc: ValidationError, *, env_style: bool) -> list[str]:
    problems: list[str] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        if env_style:
            if not loc:
                problems.append(msg)
                continue
            name = loc[0].upper()
            if msg.startswith(f"{name}="):
                problems.append(msg)  # the validator's line names the setting and its value
            elif err["type"] == "missing":
                hint = f"; {GEN_KEY_HINT}" if name == "DELIVERY_ENCRYPTION_KEY" else ""
                problems.append(f"{name} is missing{hint}")
            else:
                problems.append(f"{name} {_lower_first(msg)}")
        else:
            problems.append(f"{'.'.join(loc)}: {msg}")
    return problems


def _lower_first(text: str) -> str:
    if text.startswith(("is ", "must ")):
        return text
    return "is invalid: " + text[:1].lower() + text[1:]
