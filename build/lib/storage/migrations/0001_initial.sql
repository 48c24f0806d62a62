-- Orders, their timeline, and the outbox of notifications owed to buyers.
-- Times are UNIX epoch seconds (REAL) so "due" queries are plain comparisons.

CREATE TABLE orders (
    id                TEXT PRIMARY KEY,            -- our id, e.g. ORD-7K2M9X4QPA
    guild_id          INTEGER,
    user_id           INTEGER NOT NULL,            -- the buyer (owner of the delivery)
    product_key       TEXT NOT NULL,
    product_name      TEXT NOT NULL,
    provider          TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('boost', 'digital')),
    source            TEXT NOT NULL DEFAULT 'placed' CHECK (source IN ('placed', 'linked')),
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor  INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    total_minor       INTEGER NOT NULL CHECK (total_minor >= 0),
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL,
    raw_status        TEXT,                        -- the provider's own word, always kept
    status_message    TEXT,
    remote_id         TEXT,                        -- the provider's order id
    remote_price      TEXT,                        -- what the provider charged, as it said it
    idempotency_key   TEXT UNIQUE,                 -- derived from the confirming interaction
    details_json      TEXT NOT NULL DEFAULT '{}',  -- non-secret request details (invite code, ...)
    contact_enc       BLOB,                        -- Fernet ciphertext of buyer contact details
    delivery_enc      BLOB,                        -- Fernet ciphertext of delivery data
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL,
    -- poll bookkeeping
    next_poll_at      REAL,                        -- NULL = not polled (terminal, or cannot poll)
    last_polled_at    REAL,
    poll_count        INTEGER NOT NULL DEFAULT 0,
    unchanged_polls   INTEGER NOT NULL DEFAULT 0,  -- drives the exponential backoff
    poll_failures     INTEGER NOT NULL DEFAULT 0,
    poll_lease_until  REAL,                        -- an in-flight poll owns the row until then
    UNIQUE (provider, remote_id)
);

CREATE INDEX orders_due_poll ON orders (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC);
CREATE INDEX orders_by_status ON orders (status, created_at DESC);

CREATE TABLE order_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    at          REAL NOT NULL,
    actor       TEXT NOT NULL,                     -- 'system', 'provider', or a staff member's id
    kind        TEXT NOT NULL,                     -- created, status, note, delivery, alert, ...
    old_status  TEXT,
    new_status  TEXT,
    raw_status  TEXT,
    detail      TEXT                               -- never delivery data
);

CREATE INDEX order_events_by_order ON order_events (order_id, id);

CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id         TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,                -- e.g. 'final' (the order finished)
    user_id          INTEGER NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'sent', 'fallback', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    created_at       REAL NOT NULL,
    sent_at          REAL,
    last_error       TEXT,
    UNIQUE (order_id, kind)                        -- the same notification is never owed twice
);

CREATE INDEX notifications_due ON notifications (state, next_attempt_at);

-- Small shop-wide switches (paused, synced command hash, ...).
CREATE TABLE shop_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
