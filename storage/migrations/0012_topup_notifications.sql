-- Top-up DMs (issue 28) go through the same outbox as order DMs, with the same claims,
-- nonces, history checks and closed-DM fallback. A notification is now owed for an order
-- or for a top-up, never both: `order_id` becomes optional and `topup_id` is added.
-- SQLite can't drop a NOT NULL in place, so the table is rebuilt (ids kept: the nonce
-- and the history marker are derived from the subject and kind, not the id, and staff
-- alerts name ids). Nothing references this table, so dropping the old one is safe
-- with foreign keys on.
CREATE TABLE notifications_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id         TEXT REFERENCES orders (id) ON DELETE CASCADE,
    topup_id         TEXT REFERENCES topups (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    user_id          INTEGER NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'sent', 'fallback', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    created_at       REAL NOT NULL,
    sent_at          REAL,
    last_error       TEXT,
    claimed_at       REAL,
    unsure           INTEGER NOT NULL DEFAULT 0,
    notice_tried     INTEGER NOT NULL DEFAULT 0,
    claimed_by       TEXT,
    CHECK ((order_id IS NULL) <> (topup_id IS NULL)),
    UNIQUE (order_id, kind),
    UNIQUE (topup_id, kind)
);

INSERT INTO notifications_new (id, order_id, kind, user_id, state, attempts,
    next_attempt_at, created_at, sent_at, last_error, claimed_at, unsure, notice_tried,
    claimed_by)
SELECT id, order_id, kind, user_id, state, attempts, next_attempt_at, created_at, sent_at,
    last_error, claimed_at, unsure, notice_tried, claimed_by
FROM notifications;

-- The new table's sequence starts at the old one's, not at the highest id left: an id
-- once used (alert dedupe keys name notification ids) is never used again.
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE(
    (SELECT seq FROM sqlite_sequence WHERE name = 'notifications'), 0))
WHERE name = 'notifications_new';

DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
