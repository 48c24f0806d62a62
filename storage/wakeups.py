"""LISTEN/NOTIFY wake-ups on PostgreSQL (issue 27).

Triggers (migration 0010, PostgreSQL's file) send `orderbot_wake` with the payload
`<schema>:<job>` when a DM is owed or a staff alert is raised; the notification goes out
at commit. A process that runs the background jobs listens on one connection of its own
and runs that job at once. If the connection drops, nothing is lost: every job still
runs on its interval, and `keep_listening` (each heartbeat) connects again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from storage.postgres import PostgresDatabase

log = logging.getLogger(__name__)

CHANNEL = "orderbot_wake"


class WakeListener:
    def __init__(self, db: PostgresDatabase, on_wake: Callable[[str], None]) -> None:
        self.db = db
        self.on_wake = on_wake
        self._conn: asyncpg.Connection[Any] | None = None
        self._schema = ""
        self.woken = 0  # wake-ups received for this shop (a test proves they fire)

    async def keep_listening(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            return
        settings = {"search_path": self.db.schema} if self.db.schema else {}
        conn = await asyncpg.connect(self.db.url, server_settings=settings)
        try:
            self._schema = str(await conn.fetchval("SELECT current_schema()"))
            await conn.add_listener(CHANNEL, self._heard)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        log.info("listening for wake-ups")

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        schema, _, job = str(payload).rpartition(":")
        if schema != self._schema:
            return  # another shop in the same database
        self.woken += 1
        self.on_wake(job)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
