"""bot.self_check's permission rule, and `orderbot init`'s file handling."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.init_command import cmd_init
from bot.self_check import READ_MESSAGE_HISTORY, SEND_MESSAGES, VIEW_CHANNEL, channel_permissions

GUILD = {"id": "1", "owner_id": "99"}
ROLES = [{"id": "1", "permissions": str(VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY)}]


def member(**extra: object) -> dict[str, object]:
    return {"user": {"id": "5"}, "roles": [], **extra}


def test_a_timed_out_bot_can_read_but_not_post() -> None:
    channel = {"id": "7", "permission_overwrites": []}
    assert channel_permissions(GUILD, ROLES, member(), channel) & SEND_MESSAGES
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    timed_out = channel_permissions(
        GUILD, ROLES, member(communication_disabled_until=later), channel
    )
    assert not timed_out & SEND_MESSAGES and timed_out & VIEW_CHANNEL
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (
        channel_permissions(GUILD, ROLES, member(communication_disabled_until=earlier), channel)
        & SEND_MESSAGES
    )


def test_init_never_writes_through_a_symlink(tmp_path: Path) -> None:
    folder, outside = tmp_path / "shop", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    (folder / ".env").symlink_to(outside / "stolen.env")  # dangling: exists() is False
    assert cmd_init(folder, "orderbot") == 0
    assert not (outside / "stolen.env").exists()
    assert (folder / "catalog.toml").exists()


def test_init_creates_the_env_owner_only_before_the_key_is_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[int] = []
    real_fdopen = os.fdopen

    def spy(fd: int, *args: object, **kwargs: object) -> None:
        modes.append(os.fstat(fd).st_mode & 0o777)
        return real_fdopen(fd, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "fdopen", spy)
    old = os.umask(0o022)
    try:
        cmd_init(tmp_path, "orderbot")
    finally:
        os.umask(old)
    env_text = (tmp_path / ".env").read_text()
    assert "\nDELIVERY_ENCRYPTION_KEY=\n" not in env_text  # a key was written
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    assert 0o600 in modes  # the file was owner-only when its key went in
