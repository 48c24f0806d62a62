-- Store credit: a wallet per member and currency, and the append-only ledger it is
-- derived from. Every movement of money is one ledger row; the balance beside it is
-- changed in the same transaction and can never go below zero (CHECK), so the two can
-- never disagree and an overdraft can't be written, whatever the caller does.

CREATE TABLE ledger (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    amount_minor     INTEGER NOT NULL CHECK (amount_minor != 0),   -- signed, minor units
    kind             TEXT NOT NULL
                     CHECK (kind IN ('credit', 'order_debit', 'refund', 'adjustment')),
    order_id         TEXT,                         -- for order_debit and refund
    actor            TEXT NOT NULL,                -- a staff id, or 'system'
    note             TEXT,
    created_at       REAL NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE          -- e.g. the order id for its debit
);

CREATE INDEX ledger_by_member ON ledger (user_id, currency, id);
CREATE INDEX ledger_by_order ON ledger (order_id) WHERE order_id IS NOT NULL;

-- Append-only: a wrong entry is corrected by another entry, never edited or deleted.
-- (PostgreSQL: a trigger calls a function; the rule is the same as SQLite's.)
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the ledger is append-only'; END
$$;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
-- TRUNCATE skips row triggers: refused as well.
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

CREATE TABLE wallets (
    user_id        INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    balance_minor  INTEGER NOT NULL DEFAULT 0 CHECK (balance_minor >= 0),
    updated_at     REAL NOT NULL,
    PRIMARY KEY (user_id, currency)
);
