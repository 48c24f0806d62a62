-- Staff actions that touch no single order (pause, wallet credits, ...) are audited here;
-- actions on an order are order_events rows whose actor is the staff member's id.
-- `buyer_name` is the buyer's display name when the order was created, so staff can find
-- an order by name (autocomplete) without asking Discord for every row.

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        REAL NOT NULL,
    actor_id  INTEGER NOT NULL,               -- the staff member
    action    TEXT NOT NULL,                  -- e.g. shop.pause, order.reveal
    target    TEXT,                           -- what it acted on (an order id, a member id)
    detail    TEXT                            -- never delivery data or contact details
);

CREATE INDEX audit_log_by_time ON audit_log (at DESC);

ALTER TABLE orders ADD COLUMN buyer_name TEXT;
-- PostgreSQL has no NOCASE collation: the index is on the lower-cased name.
CREATE INDEX orders_by_buyer_name ON orders (lower(buyer_name));
