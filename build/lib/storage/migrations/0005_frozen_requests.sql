-- The create request of an order, frozen when the buyer confirms: what the provider is
-- sent, the first time and on every re-send, whatever happens to the catalog after.
-- Fernet ciphertext (it carries contact details), like contact_enc and delivery_enc.
ALTER TABLE orders ADD COLUMN request_enc BLOB;
