"""Provider health in the database: the circuit, the Retry-After hold, the last success and
error, and requests per minute. Staff read it with /admin providers; a restarted bot
restores it, so a hold the provider asked for is still honoured."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.database import Database

REQUEST_HISTORY_SECONDS = 2 * 3600


@dataclass(slots=True)
class HealthRow:
    provider: str
    circuit: str = "closed"
    consecutive_failures: int = 0
    open_until: float = 0.0
    opened_times: int = 0
    hold_until: float = 0.0
    last_success_at: float | None = None
    last_error_at: float | None = None
    last_error_kind: str | None = None
    last_error: str | None = None
    updated_at: float = 0.0
    key_state: str = "unchecked"  # unchecked, accepted, refused (bot.providers.models.KeyState)
    key_checked_at: float | None = None
    key_detail: str | None = None


async def save(db: Database, row: HealthRow, *, requests: int = 0, failures: int = 0) -> None:
    """Write a provider's state, and count its requests in this minute, in one go."""
    now = time.time()
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO provider_health (provider, circuit, consecutive_failures, open_until,"
            " opened_times, hold_until, last_success_at, last_error_at, last_error_kind,"
            " last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (provider) DO UPDATE SET circuit = excluded.circuit,"
            " consecutive_failures = excluded.consecutive_failures,"
            " open_until = excluded.open_until, opened_times = excluded.opened_times,"
            # A hold only ends by expiring: a create's 429 may have set a later one.
            " hold_until = MAX(provider_health.hold_until, excluded.hold_until),"
            " last_success_at = COALESCE(excluded.last_success_at, provider_health.last_success_at),"
            " last_error_at = COALESCE(excluded.last_error_at, provider_health.last_error_at),"
            " last_error_kind = COALESCE(excluded.last_error_kind, provider_health.last_error_kind),"
            " last_error = COALESCE(excluded.last_error, provider_health.last_error),"
            " updated_at = excluded.updated_at",
            (
                row.provider,
                row.circuit,
                row.consecutive_failures,
                row.open_until,
                row.opened_times,
                row.hold_until,
                row.last_success_at,
                row.last_error_at,
                row.last_error_kind,
                row.last_error,
                now,
            ),
        )
        if requests or failures:
            await conn.execute(
                "INSERT INTO provider_requests (provider, minute, requests, failures)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (provider, minute) DO UPDATE SET"
                " requests = provider_requests.requests + excluded.requests,"
                " failures = provider_requests.failures + excluded.failures",
                (row.provider, int(now // 60), requests, failures),
            )


async def record_submission(
    db: Database, provider: str, *, error_kind: str | None = None, error: str | None = None
) -> None:
    """One request outside the poller (a submission): counted, and its outcome kept as the
    provider's last success or last error (the circuit is the poller's business)."""
    now = time.time()
    failed = error_kind is not None
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO provider_requests (provider, minute, requests, failures)"
            " VALUES (?, ?, 1, ?) ON CONFLICT (provider, minute) DO UPDATE SET"
            " requests = provider_requests.requests + 1,"
            " failures = provider_requests.failures + excluded.failures",
            (provider, int(now // 60), int(failed)),
        )
        await conn.execute(
            "INSERT INTO provider_health (provider, updated_at, last_success_at, last_error_at,"
            " last_error_kind, last_error) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (provider) DO UPDATE SET updated_at = excluded.updated_at,"
            " last_success_at = COALESCE(excluded.last_success_at, provider_health.last_success_at),"
            " last_error_at = COALESCE(excluded.last_error_at, provider_health.last_error_at),"
            " last_error_kind = COALESCE(excluded.last_error_kind, provider_health.last_error_kind),"
            " last_error = COALESCE(excluded.last_error, provider_health.last_error)",
            (
                provider,
                now,
                None if failed else now,
                now if failed else None,
                error_kind,
                (error or "")[:200] if failed else None,
            ),
        )


async def record_check_failure(db: Database, provider: str, message: str) -> None:
    """The start-up self-check couldn't reach a provider: shown as its last error by
    /admin providers, without touching its circuit or hold."""
    now = time.time()
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO provider_health (provider, last_error_at, last_error_kind, last_error,"
            " updated_at) VALUES (?, ?, 'unavailable', ?, ?) ON CONFLICT (provider) DO UPDATE"
            " SET last_error_at = excluded.last_error_at, last_error_kind = 'unavailable',"
            " last_error = excluded.last_error, updated_at = excluded.updated_at",
            (provider, now, message[:300], now),
        )


async def set_key_state(
    db: Database, provider: str, state: str, detail: str | None, *, asked_at: float
) -> str | None:
    """Record what the provider said about our key, in answer to a request sent at
    `asked_at`. Returns the state before when this changed it (so the caller tells staff
    once per change), else None. Checked and written in one transaction: two requests
    answering at once change it once, and an answer to a request sent before the one
    already recorded changes nothing (a slow success must not reopen products that a
    newer refusal closed)."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "SELECT key_state, key_checked_at FROM provider_health WHERE provider = ?",
            (provider,),
        )
        row = await cur.fetchone()
        before = str(row[0]) if row else "unchecked"
        if row is not None and row[1] is not None and asked_at < float(row[1]):
            return None
        await conn.execute(
            "INSERT INTO provider_health (provider, key_state, key_checked_at, key_detail,"
            " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider) DO UPDATE SET"
            " key_state = excluded.key_state, key_checked_at = excluded.key_checked_at,"
            " key_detail = excluded.key_detail, updated_at = excluded.updated_at",
            (provider, state, asked_at, (detail or "")[:200] or None, time.time()),
        )
    return before if before != state else None


async def key_state(db: Database, provider: str) -> str:
    """The provider's last word on our key: unchecked, accepted or refused."""
    row = await db.fetch_one(
        "SELECT key_state FROM provider_health WHERE provider = ?", (provider,)
    )
    return str(row[0]) if row else "unchecked"


async def refused_keys(db: Database) -> set[str]:
    rows = await db.fetch_all("SELECT provider FROM provider_health WHERE key_state = 'refused'")
    return {str(r[0]) for r in rows}


async def load_all(db: Database) -> dict[str, HealthRow]:
    rows = await db.fetch_all("SELECT * FROM provider_health")
    return {
        r["provider"]: HealthRow(
            provider=r["provider"],
            circuit=r["circuit"],
            consecutive_failures=r["consecutive_failures"],
            open_until=r["open_until"],
            opened_times=r["opened_times"],
            hold_until=r["hold_until"],
            last_success_at=r["last_success_at"],
            last_error_at=r["last_error_at"],
            last_error_kind=r["last_error_kind"],
            last_error=r["last_error"],
            updated_at=r["updated_at"],
            key_state=r["key_state"],
            key_checked_at=r["key_checked_at"],
            key_detail=r["key_detail"],
        )
        for r in rows
    }


async def requests_since(db: Database, since: float) -> dict[str, tuple[int, int]]:
    """Requests and failures per provider since then (minute resolution)."""
    rows = await db.fetch_all(
        "SELECT provider, SUM(requests) AS requests, SUM(failures) AS failures"
        " FROM provider_requests WHERE minute >= ? GROUP BY provider",
        (int(since // 60),),
    )
    return {r["provider"]: (int(r["requests"]), int(r["failures"])) for r in rows}


async def prune_requests(db: Database, *, now: float) -> int:
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM provider_requests WHERE minute < ?",
            (int((now - REQUEST_HISTORY_SECONDS) // 60),),
        )
        return cur.rowcount


async def hold_until(db: Database, provider: str) -> float:
    """Until when the provider asked us not to call it (0 when it didn't)."""
    row = await db.fetch_one(
        "SELECT hold_until FROM provider_health WHERE provider = ?", (provider,)
    )
    return float(row[0]) if row else 0.0


async def set_hold(db: Database, provider: str, until: float) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO provider_health (provider, hold_until, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (provider) DO UPDATE SET"
            " hold_until = MAX(provider_health.hold_until, excluded.hold_until),"
            " updated_at = excluded.updated_at",
            (provider, until, time.time()),
        )
