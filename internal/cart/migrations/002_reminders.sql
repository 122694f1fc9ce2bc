-- Abandoned-cart reminders. reminded_at is set once, by the conditional
-- UPDATE that writes the cart.abandoned event in the same transaction, so
-- a cart is reminded at most once whatever the number of instances.
-- restore_token_hash is the SHA-256 (hex) of the secret in the reminder's
-- "restore your cart" link; the link carries the secret, never the cart id.
ALTER TABLE cart_carts ADD COLUMN reminded_at TIMESTAMP;
ALTER TABLE cart_carts ADD COLUMN restore_token_hash TEXT;
CREATE UNIQUE INDEX cart_carts_restore ON cart_carts (restore_token_hash);
CREATE INDEX cart_carts_idle ON cart_carts (status, updated_at);
