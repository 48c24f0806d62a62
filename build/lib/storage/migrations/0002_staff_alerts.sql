-- Staff alerts are an outbox too: an alert is recorded in the same transaction as the
-- thing it reports, then posted to the staff channel. `dedupe_key` makes "tell staff
-- once" (e.g. once per order and unknown provider status) a database guarantee.

CREATE TABLE staff_alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    TEXT REFERENCES orders (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,               -- new_order, needs_review, unknown_status, ...
    dedupe_key  TEXT NOT NULL UNIQUE,
    message     TEXT NOT NULL,               -- never delivery data or contact details
    created_at  REAL NOT NULL,
    posted_at   REAL,
    attempts    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX staff_alerts_unposted ON staff_alerts (created_at) WHERE posted_at IS NULL;
