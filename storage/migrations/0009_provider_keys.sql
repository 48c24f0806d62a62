-- What each provider last said about our API key (issue 25): 'accepted' once an
-- authenticated request got past authentication, 'refused' after a 401/403. A refused
-- key closes that provider's products to buyers (nobody pays for an order that can't be
-- placed) until a check, a poll or an order shows the key works again.
ALTER TABLE provider_health ADD COLUMN key_state TEXT NOT NULL DEFAULT 'unchecked'
    CHECK (key_state IN ('unchecked', 'accepted', 'refused'));
ALTER TABLE provider_health ADD COLUMN key_checked_at REAL;  -- when the deciding request was sent
ALTER TABLE provider_health ADD COLUMN key_detail TEXT;     -- our summary (status code)
