-- As ../0010_processes.sql, and on PostgreSQL the wake-ups of LISTEN/NOTIFY (issue 27):
-- a DM owed (a completion, a staff action) or a staff alert raised wakes the workers at once
-- instead of at their next poll. The notification is sent at commit, so a worker never
-- wakes before the row it is woken for can be seen. The payload names the schema (one
-- database may hold several shops) and the job to run.
CREATE TABLE processes (
    id            TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('all', 'gateway', 'worker')),
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    started_at    REAL NOT NULL,
    heartbeat_at  REAL NOT NULL,
    stopped_at    REAL,
    stall_alerted INTEGER NOT NULL DEFAULT 0
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

CREATE FUNCTION orderbot_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('orderbot_wake', current_schema() || ':' || TG_ARGV[0]);
    RETURN NULL;
END
$$;
CREATE TRIGGER wake_notify AFTER INSERT ON notifications
FOR EACH STATEMENT EXECUTE FUNCTION orderbot_wake('notify');
CREATE TRIGGER wake_staff_log AFTER INSERT ON staff_alerts
FOR EACH STATEMENT EXECUTE FUNCTION orderbot_wake('staff-log');

-- Which process holds a claim (a process id above; NULL: none, or a process from before
-- this migration). A claim still ends only by expiring or being recorded: the owner is
-- for people (`/admin workers`) and for tests that must kill the process holding one.
ALTER TABLE orders ADD COLUMN lease_owner TEXT;
ALTER TABLE notifications ADD COLUMN claimed_by TEXT;
