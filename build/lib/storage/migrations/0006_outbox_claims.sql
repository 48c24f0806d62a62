-- The outbox keeps what a sender needs to never DM twice:
-- claimed_at: when a row went to 'sending'. A row left 'sending' longer than any send can
--   take was interrupted (a crash, a failed write after the send) and is reconciled
--   against the channel's history by a scheduled job, not only at startup.
-- unsure: an earlier attempt may have reached Discord (a 5xx, a timeout, an error after
--   the request left): the history is checked before the next send.
ALTER TABLE notifications ADD COLUMN claimed_at REAL;
ALTER TABLE notifications ADD COLUMN unsure INTEGER NOT NULL DEFAULT 0;
-- notice_tried: a fallback notice (DMs closed) was attempted, so the notices channel is
--   part of the history to check; otherwise only the DM channel is.
ALTER TABLE notifications ADD COLUMN notice_tried INTEGER NOT NULL DEFAULT 0;
