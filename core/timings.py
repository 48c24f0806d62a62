"""Every interval, delay and backoff the bot waits on, in one object.

The defaults are what a shop runs with. An owner tunes the few that matter to a shop
through their own settings (POLL_INTERVAL_SECONDS, NOTIFY_INTERVAL_SECONDS,
RESUBMIT_DELAYS_SECONDS, DM_RECONCILE_AFTER_SECONDS, BREAKER_COOLDOWN_SECONDS,
POLL_LEASE_SECONDS: see .env.example). The rest are internal: they can be changed with
one variable, ``TIMINGS="staff_log_interval=0.1,first_poll_delay=0.1"``, which is how the
test stack makes a journey take a second instead of a minute without changing what the
bot does.

Kept in ``core`` because services, the scheduler in ``bot.app`` and the settings all read
it, and it depends on nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timings:
    # --- scheduled jobs (bot.app) -------------------------------------------------------
    poll_interval: float = 1.0  # each provider's poll job
    notify_interval: float = 1.0  # DMs due
    staff_log_interval: float = 2.0  # alerts to the staff channel
    resubmit_interval: float = 5.0  # orders whose send is due again
    dm_reconcile_interval: float = 10.0  # DMs left `sending`: a cheap SELECT when none
    stuck_check_interval: float = 30.0  # open orders past STUCK_ORDER_MINUTES
    prune_interval: float = 300.0  # expired rows
    # A provider that refused our key is asked again this often (its products reopen
    # as soon as it accepts the key).
    key_recheck_interval: float = 300.0
    # On SIGTERM, in-flight work (a provider send, a DM, a poll batch) gets this long to
    # finish before the process disconnects; whatever is cut off is recovered at the next
    # start, never lost or doubled.
    shutdown_grace: float = 10.0
    # Every process records a heartbeat this often (bot.services.process_health); one
    # silent for `process_stall_after` without a clean stop is reported to staff once.
    heartbeat_interval: float = 5.0
    process_stall_after: float = 60.0
    # Online top-ups (bot.services.topups): the reconciliation job, a link's first check
    # after it is made, then every `topup_check_every` while it stays open.
    topup_check_interval: float = 5.0
    topup_first_check: float = 20.0
    topup_check_every: float = 60.0
    # A stored webhook event younger than this is left to the request that stored it (it
    # applies it right after its 2xx); older and unapplied, the process died first.
    topup_event_grace: float = 5.0

    # --- polling one order (bot.services.schedule) ---------------------------------------
    first_poll_delay: float = 2.0  # after submission: buyers want news fast
    poll_after_change: float = 3.0  # right after a status change (changes cluster)
    poll_pending_cap: float = 90.0  # submitted / pending at the provider
    poll_processing_cap: float = 15.0  # work is underway: completion is near
    poll_failure_base: float = 5.0  # first wait after a failed poll, doubled per failure
    poll_failure_cap: float = 300.0
    poll_min_delay: float = 0.5  # never sooner than this, whatever the jitter says
    poll_lease: float = 120.0  # how long a claimed order belongs to the run polling it
    # Added to the slowest possible batch when the lease is raised to it: the time to
    # record the batch. A dead process's polls are taken over after at least this long.
    poll_lease_margin: float = 30.0
    breaker_cooldown: float = 30.0  # an open circuit waits this long before a probe

    # --- sending (bot.services.submission, recovery) -------------------------------------
    # The checkout API is idempotent: the same request is sent again after these waits.
    resubmit_delays: tuple[float, ...] = (5.0, 15.0, 45.0, 120.0, 300.0)
    stuck_submitting_after: float = 120.0  # a send this old, unanswered, is recovered

    # --- DMs (bot.services.notifier, dm_reconciliation) ----------------------------------
    dm_retry_base: float = 5.0  # first wait after a failed DM, doubled per failure
    dm_retry_cap: float = 600.0
    dm_reconcile_after: float = 60.0  # a DM `sending` this long was interrupted
    # An interrupted DM whose history still can't be read this long after its claim:
    # staff are told (once).
    dm_history_alert_after: float = 900.0

    # --- the staff channel (bot.services.staff_log) --------------------------------------
    staff_channel_retry: float = 10.0  # the channel itself failed: everything waits
    # The first digest of a group can follow a minute after its first alerts; each further
    # digest in the window waits twice as long (1, 2, 4, 8, … min, at most 30): a long
    # outage stays a handful of messages per hour, not one a minute.
    staff_digest_interval: float = 60.0
    staff_digest_interval_max: float = 1800.0

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: float | tuple[float, ...]) -> Timings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


# Set by the owner's own settings; TIMINGS may not set these (one place per knob).
OWNER_TUNED: dict[str, str] = {
    "poll_interval": "POLL_INTERVAL_SECONDS",
    "notify_interval": "NOTIFY_INTERVAL_SECONDS",
    "resubmit_delays": "RESUBMIT_DELAYS_SECONDS",
    "dm_reconcile_after": "DM_RECONCILE_AFTER_SECONDS",
    "breaker_cooldown": "BREAKER_COOLDOWN_SECONDS",
    "poll_lease": "POLL_LEASE_SECONDS",
}


def parse_timing_overrides(text: str) -> dict[str, float]:
    """``"name=seconds,name=seconds"`` → {name: seconds}; ValueError with one readable
    line naming what is wrong."""
    known = set(Timings.names()) - set(OWNER_TUNED)
    found: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            raise ValueError(f"{part.strip()!r} is not name=seconds")
        if name in OWNER_TUNED:
            raise ValueError(f"{name} is set with {OWNER_TUNED[name]}, not here")
        if name not in known:
            raise ValueError(f"{name!r} is not a timing (one of: {', '.join(sorted(known))})")
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds") from None
        if not 0 < seconds <= 86_400:
            raise ValueError(f"{name} must be over 0 and at most 86400 seconds")
        found[name] = seconds
    return found
