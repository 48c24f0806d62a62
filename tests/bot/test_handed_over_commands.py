"""`orderbot demo …` and `orderbot playground …` hand everything after their name to
programs of their own (`python -m demo`, `python -m demo.playground`), options included."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.__main__ import parse
from demo import playground


@pytest.mark.parametrize("command", ["demo", "playground"])
def test_options_after_the_name_are_handed_over(command: str) -> None:
    args = parse([command, "--workdir", "here", "--catalog", "my.toml"])
    assert args.command == command
    assert getattr(args, f"{command}_args") == ["--workdir", "here", "--catalog", "my.toml"]


def test_other_commands_are_parsed_as_before() -> None:
    assert parse(["backup", "out.db"]).command == "backup"


def test_a_missing_catalog_is_one_line_and_nothing_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = playground.main(["--catalog", str(tmp_path / "nope.toml"), "--workdir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert "nope.toml" in err and "Traceback" not in err
    assert not (tmp_path / "bot.log").exists()


def test_a_port_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert playground.main(["--port", "70000"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err


def test_a_port_in_use_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = playground.main(["--port", str(port), "--workdir", str(tmp_path)])
    out = capsys.readouterr()
    assert status == 1
    assert f"port {port}" in out.err and "Traceback" not in out.err + out.out
