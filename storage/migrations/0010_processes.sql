-- The processes serving this shop (issue 27): the all-in-one `run`, a gateway
-- (`run --no-workers`) and any number of workers (`worker`, PostgreSQL only). Each
-- records a heartbeat and its last successful run of every job, so `/admin workers`
-- shows who is alive and a stalled process raises one staff alert. Rows are runtime
-- state, not shop data: `migrate-data` doesn't copy them, and stopped or dead ones are
-- pruned after a week.
CREATE TABLE processes (
    id            TEXT PRIMARY KEY,              -- random, one per start
    role          TEXT NOT NULL CHECK (role IN ('all', 'gateway', 'worker')),
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    started_at    REAL NOT NULL,
    heartbeat_at  REAL NOT NULL,
    stopped_at    REAL,                          -- a clean stop; NULL while running or dead
    stall_alerted INTEGER NOT NULL DEFAULT 0     -- staff were told it stopped beating
);

-- Request rates shared by every process (issue 27): one row per limit (a provider's
-- polls, the bot's Discord requests), holding the limit's next free slot (GCRA's
-- theoretical arrival time). Each request reserves the next slot in one UPDATE, so N
-- processes together never send faster than the limit.
CREATE TABLE rate_limits (
    name     TEXT PRIMARY KEY,
    next_at  REAL NOT NULL
);

CREATE TABLE process_jobs (
    process_id  TEXT NOT NULL REFERENCES processes (id) ON DELETE CASCADE,
    job         TEXT NOT NULL,
    last_ok_at  REAL NOT NULL,
    PRIMARY KEY (process_id, job)
);

-- Which process holds a claim (a process id above; NULL: none, or a process from before
-- this migration). A claim still ends only by expiring or being recorded: the owner is
-- for people (`/admin workers`) and for tests that must kill the process holding one.
ALTER TABLE orders ADD COLUMN lease_owner TEXT;
ALTER TABLE notifications ADD COLUMN claimed_by TEXT;
