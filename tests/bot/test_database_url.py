"""Issue 26: DATABASE_URL chooses the engine; what the CLI does with each, as a process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from storage import lock as database_lock
from storage.postgres import GATEWAY_LOCK, PROCESSES_LOCK
from tests.bot.helpers import run_bot
from tests.support import empty_schema, postgres_dsn

pytestmark = pytest.mark.subprocess


def test_a_url_that_is_neither_engine_is_one_line_that_never_echoes_it(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**bot_env, "DATABASE_URL": "mysql://shop:hunter2-SECRET@db/shop"}
    env.pop("DATABASE_PATH")
    result = run_bot(["check-config"], env, tmp_path)
    assert result.returncode == 2
    assert "must start with sqlite:/// (a file" in result.stderr
    assert "hunter2-SECRET" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_both_settings_say_which_to_remove(bot_env: dict[str, str], tmp_path: Path) -> None:
    env = {**bot_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}"}
    result = run_bot(["check-config"], env, tmp_path)
    assert result.returncode == 2
    assert "DATABASE_URL and DATABASE_PATH are both set: remove DATABASE_PATH" in result.stderr


def test_a_sqlite_url_is_the_same_as_database_path(bot_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "shop" / "via-url.sqlite3"
    env = {**bot_env, "DATABASE_URL": f"sqlite:///{target}"}
    env.pop("DATABASE_PATH")
    result = run_bot(["migrate"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert target.is_file() and str(target) in result.stdout


@pytest.mark.parametrize(
    "args", [["worker"], ["run", "--no-workers"]], ids=["worker", "no-workers"]
)
def test_workers_and_a_gateway_alone_are_refused_on_sqlite_with_one_line(
    bot_env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    result = run_bot(args, bot_env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"bot {' '.join(args)}` needs PostgreSQL" in result.stderr
    assert "bot run` (docs/scaling.md" in result.stderr
    assert not Path(bot_env["DATABASE_PATH"]).exists()  # nothing was opened or created


@pytest.mark.postgres
def test_on_postgres_migrate_works_backup_names_the_recipe_and_a_running_bot_blocks_migrate(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    dsn = postgres_dsn()
    assert dsn is not None
    schema = f"cli_{tmp_path.name[-20:].replace('-', '_')}"

    asyncio.run(empty_schema(dsn, schema))
    url = f"{dsn}&search_path={schema}"
    env = {**bot_env, "DATABASE_URL": url}
    env.pop("DATABASE_PATH")
    first = run_bot(["migrate"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert (
        "Applied migrations [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14] to PostgreSQL"
        in first.stdout
    )
    assert "up to date" in run_bot(["migrate"], env, tmp_path).stdout

    backup = run_bot(["backup", str(tmp_path / "b")], env, tmp_path)
    assert backup.returncode == 2
    assert "pg_dump and pg_restore" in backup.stderr and "docs/operations.md" in backup.stderr

    async def migrate_beside_a_running_bot() -> str:
        # What `run` holds for its whole life: the gateway lock of this shop's schema.
        holder = await asyncpg.connect(url)
        try:
            assert await holder.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))", GATEWAY_LOCK
            )
            result = await asyncio.to_thread(run_bot, ["migrate"], env, tmp_path)
            assert result.returncode == 2
            return result.stderr
        finally:
            await holder.close()

    said = asyncio.run(migrate_beside_a_running_bot())
    assert "migrate refused: another orderbot run is using this PostgreSQL database" in said
    assert "Traceback" not in said

    async def beside_a_worker_then_during_maintenance() -> tuple[str, str]:
        # What a worker holds for its whole life: the processes lock, shared.
        holder = await asyncpg.connect(url)
        try:
            assert await holder.fetchval(
                "SELECT pg_try_advisory_lock_shared($1, hashtext(current_schema()))",
                PROCESSES_LOCK,
            )
            migrate = await asyncio.to_thread(run_bot, ["migrate"], env, tmp_path)
            await holder.execute("SELECT pg_advisory_unlock_all()")
            # What maintenance holds: the same lock, exclusively. A worker can't start.
            assert await holder.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))", PROCESSES_LOCK
            )
            worker = await asyncio.to_thread(run_bot, ["worker"], env, tmp_path)
        finally:
            await holder.close()
        # Refused beside a worker: stop it first (2). A worker during maintenance: try
        # again later (1, so systemd restarts it once the migration is done).
        assert migrate.returncode == 2 and worker.returncode == 1
        return migrate.stderr, worker.stderr

    migrate_said, worker_said = asyncio.run(beside_a_worker_then_during_maintenance())
    assert "migrate refused: orderbot workers are using this PostgreSQL database" in migrate_said
    assert "worker refused: `migrate` (or `migrate-data`, `rotate-key`) is working" in worker_said
    assert "Traceback" not in migrate_said + worker_said


@pytest.mark.postgres
def test_migrate_data_moves_a_shop_once_and_refuses_beside_a_running_bot(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    dsn = postgres_dsn()
    assert dsn is not None
    schema = f"move_{tmp_path.name[-20:].replace('-', '_')}"
    asyncio.run(empty_schema(dsn, schema))
    url = f"{dsn}&search_path={schema}"
    shop = Path(bot_env["DATABASE_PATH"])
    made = run_bot(["migrate"], bot_env, tmp_path)
    assert made.returncode == 0, made.stderr
    args = ["migrate-data", "--from", f"sqlite:///{shop}", "--to", url]

    first = run_bot(args, bot_env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "OK: every table's rows and every member's ledger and balance match" in first.stdout
    again = run_bot(args, bot_env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "orders                     0 copied now" in again.stdout

    # Beside a running bot on either end: refused, one line.
    with database_lock.exclusive(shop):
        refused = run_bot(args, bot_env, tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().count("\n") == 0, refused.stderr

    async def beside_a_running_bot_on_postgres() -> str:
        holder = await asyncpg.connect(url)
        try:
            assert await holder.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))", GATEWAY_LOCK
            )
            result = await asyncio.to_thread(run_bot, args, bot_env, tmp_path)
            assert result.returncode == 2
            return result.stderr
        finally:
            await holder.close()

    said = asyncio.run(beside_a_running_bot_on_postgres())
    assert "migrate-data refused: another orderbot run is using this PostgreSQL database" in said
    assert dsn not in said  # never the URL (it may hold a password)
