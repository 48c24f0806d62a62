-- As ../0012_topup_notifications.sql: a notification is owed for an order or for a
-- top-up, never both. PostgreSQL changes the table in place, so its wake-up trigger
-- (0010) stays.
ALTER TABLE notifications ALTER COLUMN order_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN topup_id TEXT REFERENCES topups (id) ON DELETE CASCADE;
ALTER TABLE notifications ADD CONSTRAINT notifications_one_subject
    CHECK ((order_id IS NULL) <> (topup_id IS NULL));
ALTER TABLE notifications ADD CONSTRAINT notifications_topup_id_kind_key UNIQUE (topup_id, kind);
