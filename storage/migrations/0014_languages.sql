-- Languages (issue 29). A member's explicit /language choice, and the language each
-- order and top-up was made in: the DMs the poller, the notifier or a worker send later
-- are written in the member's choice, or else in the language recorded here (a member
-- who never chose keeps getting DMs in the language they ordered in).
CREATE TABLE member_languages (
    user_id     INTEGER PRIMARY KEY,
    language    TEXT NOT NULL,
    updated_at  REAL NOT NULL
);

ALTER TABLE orders ADD COLUMN language TEXT;
ALTER TABLE topups ADD COLUMN language TEXT;
