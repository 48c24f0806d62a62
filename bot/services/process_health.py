"""Each process's part in the registry of the shop's processes (issue 27;
storage/processes.py): it registers at start, beats, reports which jobs ran to the end,
watches the others, and marks itself stopped on a clean stop.

Job successes are kept in memory and written with the next heartbeat: one transaction
every few seconds, not one per job run (the poll jobs run every second per provider).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from core import alerts
from core.kinds import ProcessRole
from storage import processes, staff_alerts
from storage.database import Database
from storage.liveness import LivenessLock, void_dead_claims
from storage.postgres import PostgresDatabase
from storage.processes import ProcessRecord

log = logging.getLogger(__name__)


class ProcessHealth:
    def __init__(
        self,
        db: Database,
        role: ProcessRole,
        *,
        clock: Callable[[], float],
        stall_after: float,
        takeover_grace: float = 0.0,
    ) -> None:
        self.db = db
        self.role = role
        self.clock = clock
        self.stall_after = stall_after
        # How long after a dead process's last heartbeat its claims are taken over: the
        # longest one of its requests may still take (storage/liveness.py).
        self.takeover_grace = takeover_grace
        self.process_id = processes.new_process_id()
        self._ok: dict[str, float] = {}
        # On PostgreSQL: held for this process's life, so others can tell it is alive.
        self.liveness: LivenessLock | None = None

    async def register(self) -> None:
        await processes.register(self.db, self.role, now=self.clock(), process_id=self.process_id)
        if isinstance(self.db, PostgresDatabase):
            if self.liveness is not None:
                await self.liveness.release()
            self.liveness = LivenessLock(self.db, self.process_id)
            await self.liveness.hold()
        log.info("registered as %s process %s", self.role.value, self.process_id)
        await self.take_over_from_the_dead()

    async def take_over_from_the_dead(self) -> None:
        """On PostgreSQL: the claims of processes proven dead are released now, not when
        they expire (storage/liveness.py)."""
        if isinstance(self.db, PostgresDatabase):
            await void_dead_claims(self.db, now=self.clock(), grace=self.takeover_grace)

    def job_ok(self, job: str) -> None:
        self._ok[job] = self.clock()

    async def beat(self) -> None:
        done, self._ok = self._ok, {}
        if not await processes.beat(self.db, self.process_id, now=self.clock(), jobs=done):
            # The row went (pruned after a week of silence: this process hung that long),
            # so this is a new start as far as anybody else can tell.
            self.process_id = processes.new_process_id()
            await self.register()
            await processes.beat(self.db, self.process_id, now=self.clock(), jobs=done)

    async def watch(self) -> int:
        """Report each process that went silent without stopping, once, whoever watches;
        take over the claims of the dead."""
        await self.take_over_from_the_dead()
        now = self.clock()
        stalled = await processes.claim_stalled(self.db, now=now, stale_after=self.stall_after)
        for record in stalled:
            log.warning("%s has not beaten for %.0f s", record.name, now - record.heartbeat_at)
            await staff_alerts.raise_alert(
                self.db, alerts.process_stalled(record.name, record.id, record.heartbeat_at, now)
            )
        return len(stalled)

    async def stop(self) -> None:
        await self.beat()  # the last jobs' successes
        await processes.stopped(self.db, self.process_id, now=self.clock())
        if self.liveness is not None:
            await self.liveness.release()

    async def report(self) -> list[ProcessRecord]:
        """Processes alive now or seen in the last hour, for `/admin workers`."""
        now = self.clock()
        return await processes.list_processes(self.db, since=now - 3600, now=now)
