-- Online top-ups (issue 28): a buyer pays a payment link (Razorpay Payment Links, Stripe
-- Checkout Sessions) and the wallet is credited once. Two paths lead to the credit, a
-- signed webhook and reconciliation by polling; they meet at one ledger key,
-- `topup:<provider>:<payment id>`, so whichever comes second changes nothing.
CREATE TABLE topups (
    id              TEXT PRIMARY KEY,        -- ours (TOP-…): the link's reference id
    user_id         INTEGER NOT NULL,
    guild_id        INTEGER,
    provider        TEXT NOT NULL,           -- 'razorpay', 'stripe'
    remote_id       TEXT,                    -- plink_… / cs_…; NULL until created there
    url             TEXT,                    -- where the buyer pays
    amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),   -- what was asked
    currency        TEXT NOT NULL,
    -- creating: asked the provider (its answer not yet stored); open: payable;
    -- paid: credited; expired / cancelled: ended unpaid; failed: the provider refused
    -- to create it. Every change is a compare-and-set on the state read.
    state           TEXT NOT NULL
                    CHECK (state IN ('creating', 'open', 'paid', 'expired', 'cancelled',
                                     'failed')),
    payment_id      TEXT,                    -- the provider's payment, once paid
    paid_minor      INTEGER,                 -- what the provider says was paid
    paid_currency   TEXT,
    refunded_minor  INTEGER NOT NULL DEFAULT 0,  -- taken back (refunds, disputes)
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    expires_at      REAL,
    -- Reconciliation: the next poll, and a lease so two processes never check one at once.
    next_check_at   REAL,
    check_lease_until REAL,
    lease_owner     TEXT,
    checks          INTEGER NOT NULL DEFAULT 0,
    draft_id        TEXT,                    -- a short-balance Confirm waiting on it
    UNIQUE (provider, remote_id)
);

CREATE INDEX topups_by_member ON topups (user_id, created_at);
CREATE INDEX topups_due_check ON topups (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX topups_by_state ON topups (state, created_at);

-- Every verified webhook event, stored before the 2xx (so an answer given is never work
-- lost) and deduplicated on the provider's event id (Razorpay signs no timestamp, and
-- both providers deliver again and again). The body is kept encrypted: it names the
-- payer (email, phone).
CREATE TABLE payment_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    provider      TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    kind          TEXT NOT NULL,             -- payment_link.paid, charge.refunded, …
    topup_id      TEXT,                      -- ours, when the event names one
    received_at   REAL NOT NULL,
    processed_at  REAL,                      -- NULL: not yet applied (a crash, a retry)
    body_enc      BLOB NOT NULL,
    UNIQUE (provider, event_id)
);

CREATE INDEX payment_events_pending ON payment_events (received_at) WHERE processed_at IS NULL;
