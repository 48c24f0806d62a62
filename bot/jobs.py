"""A process's background jobs: which run where (by role), each guarded so one bad run
never kills the schedule, woken early when PostgreSQL says there is work, and drained
on a graceful stop.

- `run` (ProcessRole.ALL) and `worker` run every job; `run --no-workers` runs the
  heartbeat, the watch over the other processes, and posts the staff alerts no worker
  has posted within `process_stall_after` (so staff hear that the workers went silent
  even when none is left to tell them).
- Every job is `max_instances=1` and coalesced: a run never overlaps itself, and runs
  missed while one was slow become one.
- On PostgreSQL a worker LISTENs (bot/wake.py): a DM owed or an alert raised runs its
  job now instead of at the next interval. Polling stays the safety net.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from storage import processes, retention

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[Any]]


def guarded(
    job: Job,
    label: str,
    *,
    stopping: Callable[[], bool],
    running: set[asyncio.Task[Any]],
    succeeded: Callable[[], None] | None = None,
) -> Job:
    """A job that logs its own failures: one bad run must not kill the schedule. A run
    that ends without an error is reported (`succeeded`: the process registry's "last
    good run")."""

    async def run() -> None:
        if stopping():
            return
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
        try:
            await job()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                log.exception("%s job failed; it will run again", label)
                return
            # Another process (a `sqlite3` shell, a bulk import) held the database past
            # the busy timeout: nothing is wrong with the bot, and the job's next run
            # picks up where this one stopped.
            log.warning(
                "%s job waited too long for the database (locked by another process, "
                "a `sqlite3` shell?); it will run again",
                label,
            )
        except Exception:
            log.exception("%s job failed; it will run again", label)
        else:
            if succeeded is not None:
                succeeded()
        finally:
            if task is not None:
                running.discard(task)

    run.__name__ = f"job_{label.replace(' ', '_')}"
    return run


class JobSchedule:
    def __init__(self, bot: OrderBot) -> None:
        self.bot = bot
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        # Job runs in progress: a graceful stop waits for them.
        self.running: set[asyncio.Task[Any]] = set()

    def add(self, job_id: str, job: Job, label: str, seconds: float) -> None:
        bot = self.bot
        health = bot.process_health
        self.scheduler.add_job(
            guarded(
                job,
                label,
                stopping=lambda: bot.is_closed() or bot.closing,
                running=self.running,
                succeeded=(lambda: health.job_ok(job_id)) if health is not None else None,
            ),
            "interval",
            seconds=seconds,
            id=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=30,
        )

    def schedule(self) -> None:
        bot = self.bot
        timings = bot.settings.timings
        if bot.process_health is not None:
            health = bot.process_health
            self.add("heartbeat", health.beat, "heartbeat", timings.heartbeat_interval)
            self.add("process-watch", health.watch, "process watch", timings.heartbeat_interval)
        staff_log = bot.staff_log
        assert staff_log is not None
        if bot.role.runs_jobs:
            self.add("staff-log", staff_log.post_pending, "staff log", timings.staff_log_interval)
        else:
            # The gateway posts an alert no worker has posted within process_stall_after
            # (claimed, so each is posted once): staff hear that the workers went silent
            # even when none is left to tell them.
            self.add(
                "staff-log",
                lambda: staff_log.post_pending(waited=timings.process_stall_after),
                "staff log (fallback)",
                timings.staff_log_interval,
            )
            return
        if bot.wakeups is not None:
            # A dropped LISTEN connection is made again (the intervals cover the gap).
            self.add(
                "listen", bot.wakeups.keep_listening, "wake-up listener", timings.heartbeat_interval
            )
        assert bot.staff_log is not None and bot.poller is not None and bot.notifier is not None
        # One polling job per provider: a job can't overlap itself, so with one job for all
        # of them a hanging provider held every other provider's polls too.
        for name in bot.poller.gates:
            self.add(
                f"poll:{name}",
                functools.partial(bot.poller.poll_provider, name),
                f"poll {name}",
                timings.poll_interval,
            )
        self.add("notify", bot.notifier.send_due, "notify", timings.notify_interval)
        self.add(
            "dm-reconciliation",
            bot.notifier.reconciler.reconcile_stale,
            "DM reconciliation",
            timings.dm_reconcile_interval,
        )
        self.add(
            "resubmit",
            lambda: bot.ordering.recovery.recover_submitting(at_startup=False),
            "resubmit",
            timings.resubmit_interval,
        )
        self.add(
            "stuck-orders",
            bot.watchdog.alert_stuck_orders,
            "stuck orders",
            # Often enough for short thresholds, never more than every 30 s.
            min(timings.stuck_check_interval, max(1.0, bot.settings.stuck_order_minutes * 15)),
        )
        self.add(
            "key-checks",
            lambda: bot.ordering.keys.check_refused_again(),
            "key checks",
            timings.key_recheck_interval,
        )
        self.add("pruning", self.prune, "pruning", timings.prune_interval)
        if bot.topups is not None:
            for job_id, job, label in bot.topups.jobs:
                self.add(job_id, job, label, timings.topup_check_interval)

    def wake(self, job_id: str) -> None:
        """Run a job now rather than at its next interval (a LISTEN/NOTIFY wake-up). A
        run in progress is not doubled: the job coalesces, and the next interval catches
        whatever it missed."""
        job = self.scheduler.get_job(job_id)
        if job is not None and self.scheduler.running and not self.bot.closing:
            job.modify(next_run_time=datetime.now(UTC))

    async def prune(self) -> None:
        now = time.time()
        pruned = await retention.prune_expired(self.bot.db, now=now)
        pruned["processes"] = await processes.prune(self.bot.db, now=now)
        if any(pruned.values()):
            log.info("pruned expired rows: %s", ", ".join(f"{k} {v}" for k, v in pruned.items()))
