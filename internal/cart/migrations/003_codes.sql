-- The discount codes applied to a cart (normalised: upper case). The
-- promotion module decides whether each takes effect whenever the cart is
-- priced; a cart holds at most one code (applying another replaces it).
CREATE TABLE cart_codes (
    cart_id    TEXT NOT NULL REFERENCES cart_carts(id) ON DELETE CASCADE,
    code       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (cart_id, code)
);
