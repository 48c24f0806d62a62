-- Provider health lives here, not in one process's memory: staff see it with
-- /admin providers, it survives a restart (a Retry-After hold is still honoured), and
-- several worker processes will share it.

CREATE TABLE provider_health (
    provider              TEXT PRIMARY KEY,
    circuit               TEXT NOT NULL DEFAULT 'closed'
                          CHECK (circuit IN ('closed', 'open', 'half_open')),
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    open_until            REAL NOT NULL DEFAULT 0,   -- circuit open: no polls until then
    opened_times          INTEGER NOT NULL DEFAULT 0,  -- drives the doubling cooldown
    hold_until            REAL NOT NULL DEFAULT 0,   -- Retry-After: no requests until then
    last_success_at       REAL,
    last_error_at         REAL,
    last_error_kind       TEXT,                      -- unavailable, rate_limited, auth, ...
    last_error            TEXT,                      -- our summary (status code, kind)
    updated_at            REAL NOT NULL
);

-- Requests per provider per minute, for "requests in the last hour". Old minutes are
-- pruned by the poller.
CREATE TABLE provider_requests (
    provider  TEXT NOT NULL,
    minute    INTEGER NOT NULL,                      -- UNIX time // 60
    requests  INTEGER NOT NULL DEFAULT 0,
    failures  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, minute)
);

-- Alerts are claimed before they are posted, so a retry or a second process never posts
-- one twice, and one that keeps failing is retried later without blocking the others.
-- `group_key` gathers alerts of one kind and provider into a digest during a storm.
ALTER TABLE staff_alerts ADD COLUMN group_key TEXT;
ALTER TABLE staff_alerts ADD COLUMN claimed_until REAL;
ALTER TABLE staff_alerts ADD COLUMN next_attempt_at REAL NOT NULL DEFAULT 0;
ALTER TABLE staff_alerts ADD COLUMN failed_at REAL;   -- gave up after too many attempts
ALTER TABLE staff_alerts ADD COLUMN digest_id INTEGER; -- posted inside this alert's digest
