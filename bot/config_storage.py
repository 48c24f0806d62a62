"""The part of the settings every command needs, `migrate` included: where the database
is and how to log. `Settings` (bot/config.py) builds on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config_problems import database_path_problem, database_url_problem


class StorageSettings(BaseSettings):
    """The part of the settings `migrate` needs; the full bot needs `Settings`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        # `KEY=` in .env (as copied from .env.example) means "not set".
        env_ignore_empty=True,
    )

    database_path: Path = Path("data/orderbot.sqlite3")
    # `sqlite:///path` (the same as DATABASE_PATH) or `postgresql://user:pass@host/db`:
    # a secret, since a PostgreSQL URL may carry its password.
    database_url: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_path")
    @classmethod
    def _database_path(cls, value: Path) -> Path:
        # `~/shop.sqlite3` in .env means the home folder, as in a shell (and the lock,
        # named from the resolved path, must agree with the file that is opened).
        value = value.expanduser()
        problem = database_path_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            problem = database_url_problem(value.get_secret_value())
            if problem is not None:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_database(self) -> StorageSettings:
        if self.database_url is not None and "database_path" in self.model_fields_set:
            raise ValueError(
                "DATABASE_URL and DATABASE_PATH are both set: remove DATABASE_PATH (for "
                "SQLite, DATABASE_URL=sqlite:///path says the same)"
            )
        # DATABASE_URL=sqlite:///path is DATABASE_PATH=path: the rest of the bot reads
        # database_path for SQLite.
        self.database_path = self.sqlite_path()
        return self

    def postgres_url(self) -> str | None:
        """The PostgreSQL URL when DATABASE_URL names one (else the shop is on SQLite)."""
        url = self.database_url.get_secret_value() if self.database_url else ""
        return url if url.startswith(("postgresql://", "postgres://")) else None

    def sqlite_path(self) -> Path:
        """The SQLite file: DATABASE_URL=sqlite:///path, else DATABASE_PATH."""
        url = self.database_url.get_secret_value() if self.database_url else ""
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///")).expanduser()
        return self.database_path

    # Logs always go to stderr (journald keeps them under systemd). LOG_FILE also writes
    # them to a file, rotated at 10 MiB with 5 old files kept, for hosts without journald.
    log_file: Path | None = None

    @field_validator("log_file")
    @classmethod
    def _expand_log_file(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value
