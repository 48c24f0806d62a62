-- How each order is paid (issue 15). `payment` is fixed at the draft: 'wallet' (Confirm
-- debits store credit in the same transaction as draft -> submitting), 'approval' (staff
-- check the payment, then approve) or 'free'. NULL: linked orders and orders from before
-- payments existed; nothing was taken for them and nothing is given back.
ALTER TABLE orders ADD COLUMN payment TEXT
    CHECK (payment IS NULL OR payment IN ('wallet', 'approval', 'free'));
-- When the buyer confirmed (left draft): the day a daily spending limit counts it in.
ALTER TABLE orders ADD COLUMN confirmed_at REAL;

CREATE INDEX orders_by_user_confirmed ON orders (user_id, confirmed_at)
    WHERE confirmed_at IS NOT NULL;

-- A draft from before this migration has no payment mode, and its Confirm button survives
-- the restart: confirmed now, it would be sent with nothing paid. Drafts are not orders
-- yet (nothing was sent or charged), so they go; Confirm then tells the buyer to start
-- again.
DELETE FROM orders WHERE status = 'draft';
