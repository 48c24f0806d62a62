-- Money a payment provider took back after a top-up's credit (issue 28): one row per
-- refund or dispute, keyed by the provider's own id for it. The row is the once-marker:
-- a refund announced twice, listed again in a later event, or reported failed before it
-- was seen, is found here and changes nothing more (it used to be a staff alert's dedupe
-- key, which retention deletes after 30 days).
CREATE TABLE payment_reversals (
    provider     TEXT NOT NULL,
    reference    TEXT NOT NULL,                 -- the refund's or the dispute's id
    topup_id     TEXT NOT NULL REFERENCES topups (id) ON DELETE CASCADE,
    payment_id   TEXT NOT NULL,
    what         TEXT NOT NULL,                 -- 'refunded', 'disputed'
    asked_minor  INTEGER NOT NULL,              -- what the provider took back
    taken_minor  INTEGER NOT NULL,              -- what came off the wallet (its balance allowed)
    currency     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('taken', 'undone', 'failed')),
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (provider, reference)
);

CREATE INDEX payment_reversals_by_payment ON payment_reversals (provider, payment_id);
