"""Small readers for end-to-end assertions: the bot's SQLite file and emulator messages."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import socket
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any, cast

import asyncpg

from demo.stack import LocalStack
from storage.postgres import translate

EPHEMERAL = 64


async def run_bot(
    stack: LocalStack, args: list[str], env: dict[str, str], within: float = 40
) -> tuple[int, str]:
    """`python -m bot ARGS` beside the stack's emulator and sandboxes: (status, output)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=stack.workdir,
        env={**stack.bot_env(), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, out.decode()


def problem_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("PROBLEM: ")]


def assert_only_its_own_lines(output: str) -> None:
    """check-config prints its own lines only: no library's log lines (discord.py's
    intent and voice warnings) and no timestamped INFO lines among the PROBLEM lines."""
    logged = [line for line in output.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert logged == [], output
    assert "PyNaCl" not in output and "intent" not in output.lower(), output


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embed_field(message: dict[str, Any], name: str) -> str:
    """The value of the embed field called `name` (fails when there is none)."""
    for embed in message.get("embeds") or []:
        for f in embed.get("fields") or []:
            if f["name"] == name:
                return str(f["value"])
    raise AssertionError(f"no field {name!r} in {embed_text(message)}")


def db_rows(stack: LocalStack, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Read the bot's real database: the SQLite file (WAL readers don't block the bot),
    or its PostgreSQL schema, through a connection of the test's own."""
    url = stack.extra_env.get("DATABASE_URL")
    if url is not None:
        return cast(list[sqlite3.Row], postgres_rows(url, sql, params))
    with sqlite3.connect(f"file:{stack.database_path}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, params))


def database_bytes(stack: LocalStack) -> bytes:
    """Everything the bot's database holds, as bytes to search for plaintext: the SQLite
    file and its write-ahead log, or every value of every table of its PostgreSQL schema
    (bytea also as hex, as `psql` or a dump would show it)."""
    url = stack.extra_env.get("DATABASE_URL")
    if url is None:
        files = [
            stack.database_path,
            stack.database_path.with_name(stack.database_path.name + "-wal"),
        ]
        return b"".join(p.read_bytes() for p in files if p.exists())
    found = b""
    tables = postgres_rows(
        url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
        (),
    )
    for table in tables:
        for row in postgres_rows(url, f'SELECT * FROM "{table[0]}"', ()):  # noqa: S608
            for value in row:
                if isinstance(value, bytes):
                    found += value + value.hex().encode()
                else:
                    found += str(value).encode()
    assert found, "the database holds nothing"
    return found


def postgres_rows(url: str, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """A query on PostgreSQL from synchronous test code: in a thread with its own loop,
    so it never runs inside the test's loop (where an in-process bot may be waiting)."""

    async def fetch() -> list[Any]:
        conn = await asyncpg.connect(url)
        try:
            return list(await conn.fetch(translate(sql), *params))
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fetch()).result()


# SQLite refuses to record a DM as sent (a full disk, say) until the trigger is dropped.
REFUSE_SENT_TRIGGER = (
    "CREATE TRIGGER refuse_sent BEFORE UPDATE OF state ON notifications"
    " WHEN NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
)


async def write_outside(stack: LocalStack, sql: str) -> None:
    """A change to the bot's database from outside, in a thread: it waits its turn behind
    the bot's own writes (up to a minute on a loaded machine) without holding up the event
    loop. Run in the loop, a blocked connect would stall an in-process bot in the middle
    of its own transaction, and both would wait out the timeout."""

    def run() -> None:
        with sqlite3.connect(stack.database_path, timeout=60) as raw:
            raw.execute(sql)

    await asyncio.to_thread(run)


def button_ids(message: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for row in message.get("components") or []:
        for comp in row.get("components") or []:
            if "custom_id" in comp:
                ids.append(comp["custom_id"])
    return ids


def button(message: dict[str, Any], prefix: str) -> str:
    matches = [cid for cid in button_ids(message) if cid.startswith(prefix)]
    assert len(matches) == 1, (prefix, button_ids(message))
    return matches[0]


def embed_text(message: dict[str, Any]) -> str:
    parts: list[str] = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        for field in embed.get("fields") or []:
            parts += [field.get("name") or "", field.get("value") or ""]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


def requests_to(stack: LocalStack, provider: str, method: str = "POST") -> list[Any]:
    return [r for r in stack.sandbox.state(provider).requests if r.method == method]


async def _poll(check: Callable[[], Any], within: float, failure: Callable[[], str]) -> Any:
    """The bot is another process: re-read its state (file, log) until `check` gives a
    truthy value, or fail with `failure()` after `within` seconds."""
    deadline = time.monotonic() + within
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(failure())
        await asyncio.sleep(0.05)
    return found


async def wait_until(
    check: Callable[[], object], within: float, failure: Callable[[], str]
) -> None:
    """Re-read state (the sandbox's request log, an interaction's answers) until `check`
    holds; `within` only bounds how long a failure takes."""
    await _poll(check, within, failure)


def polls_of(stack: LocalStack, provider: str, remote_id: str) -> int:
    """How many times the bot has asked `provider` about one of its orders (GETs of it, as
    the sandbox logged them on arrival)."""
    return sum(
        1
        for r in stack.sandbox.state(provider).requests
        if r.method == "GET" and r.path.endswith(f"/{remote_id}")
    )


async def polled_again(
    stack: LocalStack, provider: str, remote_id: str, times: int = 2, within: float = 30.0
) -> None:
    """Wait until the bot has asked `provider` about `remote_id` `times` more times from
    now. A run of a provider's poll job asks about an order once (more only when it
    retries a failed request), so this proves the job has run again since: with
    `times=2`, at least one run started after this call."""
    seen = polls_of(stack, provider, remote_id)
    await wait_until(
        lambda: polls_of(stack, provider, remote_id) >= seen + times,
        within,
        lambda: (
            f"{provider} was asked about {remote_id} {polls_of(stack, provider, remote_id) - seen}"
            f" more time(s), not {times}"
        ),
    )


async def wait_for_row(
    stack: LocalStack, sql: str, params: tuple[Any, ...], predicate: Any, within: float = 10.0
) -> sqlite3.Row:
    """The bot writes its bookkeeping just after the Discord call we observed; wait for it."""

    def matching() -> sqlite3.Row | None:
        rows = db_rows(stack, sql, params)
        return rows[0] if rows and predicate(rows[0]) else None

    row: sqlite3.Row = await _poll(
        matching,
        within,
        lambda: f"row never matched: {[dict(r) for r in db_rows(stack, sql, params)]}",
    )
    return row


async def wait_for_log(stack: LocalStack, text: str, within: float = 30.0) -> None:
    """Wait until the bot's log says `text` (it got that far)."""
    await _poll(
        lambda: text in stack.bot_log(),
        within,
        lambda: f"the bot never logged {text!r}:\n{stack.bot_log()[-2000:]}",
    )


async def nothing_owed(stack: LocalStack, order_id: str, within: float = 60.0) -> None:
    """Wait until the bot owes this order no DM: none of its notifications is pending or
    being sent. From then on no DM about it can go out again (a row is sent once, by a
    compare-and-set, and a new one is a new kind), so a count taken now is final."""
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS owed FROM notifications"
        " WHERE order_id = ? AND state IN ('pending', 'sending')",
        (order_id,),
        lambda r: r["owed"] == 0,
        within=within,
    )


async def order_ended(stack: LocalStack, order_id: str, status: str, within: float = 30.0) -> None:
    """Wait until the order has ended in `status`, out of the poll job's reach (no poll
    scheduled, none in flight: a run claims only open orders with a next poll), and its
    DM is sent. The move that ended it settled its payment and owed that DM in one
    transaction, once (a compare-and-set), so nothing more happens to it by itself."""
    await wait_for_row(
        stack,
        "SELECT status, next_poll_at, poll_lease_until FROM orders WHERE id = ?",
        (order_id,),
        lambda r: (
            r["status"] == status and r["next_poll_at"] is None and r["poll_lease_until"] is None
        ),
        within=within,
    )
    await nothing_owed(stack, order_id)


async def assert_exactly_one_dm(stack: LocalStack, user_id: int, order_id: str) -> dict[str, Any]:
    """The DM about `order_id` arrived, and once nothing more is owed it is still the only
    one: stricter than watching for a while, and as fast as the bot settles."""
    emu = stack.emulator
    dm = await emu.wait_for_dm(user_id, timeout=30, predicate=lambda m: order_id in embed_text(m))
    await nothing_owed(stack, order_id)
    matching = [m for m in emu.dms(user_id) if order_id in embed_text(m)]
    assert len(matching) == 1, matching
    return dm
