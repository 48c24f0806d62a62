"""A throwaway PostgreSQL server for the test suite: started by `make test`, stopped after.

Standard library only (it runs before any venv exists). The server lives in a temporary
directory and listens on a unix socket only (`listen_addresses=''`): nothing on any TCP
port. `initdb` and `pg_ctl` refuse to run as root, so as root the directory is given to
the `postgres` user and they run through `runuser`. The binaries are found through
`pg_config --bindir`, then PATH. On a Debian machine without them, CI installs the server
package first (`ensure_installed`); a developer without PostgreSQL gets the SQLite half
of the suite and a line saying what was left out.

Used as a context manager by .ci/pythons.py:

    with PostgresServer.start() as server:
        dsn = server.create_database("orderbot_test_3_11")
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

SUPERUSER = "postgres"


class PostgresUnavailable(Exception):
    """No PostgreSQL server binaries here (the message says what to install)."""


def bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        folder = Path(out.stdout.strip())
        if out.returncode == 0 and (folder / "initdb").exists():
            return folder
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def ensure_installed() -> None:
    """CI on a Debian machine without the server: install it (apt, after an update)."""
    apt = shutil.which("apt-get")
    if bindir() is not None or apt is None or os.geteuid() != 0:
        return
    print("PostgreSQL is not installed: installing Debian's postgresql package", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-qq"], check=True, env=env)
    subprocess.run(
        [apt, "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
        check=True,
        env=env,
    )


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SUPERUSER, "--", *argv] if os.geteuid() == 0 else argv


class PostgresServer:
    def __init__(self, root: Path, binaries: Path) -> None:
        self.root = root
        self.bin = binaries
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.user = SUPERUSER if os.geteuid() == 0 else os.environ.get("USER", "postgres")

    @classmethod
    def start(cls) -> PostgresServer:
        binaries = bindir()
        if binaries is None:
            raise PostgresUnavailable(
                "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
                "`apt-get install postgresql` (Debian) adds them"
            )
        root = Path(tempfile.mkdtemp(prefix="orderbot-pg-"))
        server = cls(root, binaries)
        try:
            server._init_and_run()
        except BaseException:
            server.stop()
            raise
        return server

    def _init_and_run(self) -> None:
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, SUPERUSER)
            shutil.chown(self.socket_dir, SUPERUSER)
        subprocess.run(
            _as_owner(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        options = (
            f"-c listen_addresses='' -k {self.socket_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as_owner(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            text=True,
        )

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}"

    def create_database(self, name: str) -> str:
        psql = self.bin / "psql"
        command = shutil.which("psql") if not psql.exists() else str(psql)
        assert command is not None
        for attempt in range(50):
            done = subprocess.run(
                [
                    command,
                    "-h",
                    str(self.socket_dir),
                    "-U",
                    self.user,
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-q",
                    "-c",
                    f'DROP DATABASE IF EXISTS "{name}"',
                    "-c",
                    f'CREATE DATABASE "{name}"',
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0:
                return self.dsn(name)
            if attempt == 49:
                raise RuntimeError(f"creating database {name} failed: {done.stderr.strip()}")
            time.sleep(0.1)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                _as_owner(
                    [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
                ),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        # `python .ci/postgres.py CMD ARGS…`: run CMD beside a throwaway server, with its
        # DSN in ORDERBOT_TEST_POSTGRES (`make soak`); its exit status is ours.
        ensure_installed()
        with PostgresServer.start() as running:
            dsn = running.create_database("orderbot_soak")
            done = subprocess.run(sys.argv[1:], env={**os.environ, "ORDERBOT_TEST_POSTGRES": dsn})
        sys.exit(done.returncode)
    # `python .ci/postgres.py`: start one, print a DSN, wait for Enter, stop it.
    with PostgresServer.start() as running:
        print(running.create_database("orderbot_dev"), flush=True)
        sys.stdin.readline()
