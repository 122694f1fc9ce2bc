CREATE TABLE cart_carts (
    id          TEXT PRIMARY KEY,         -- unguessable: a guest proves ownership by knowing it
    customer_id TEXT,
    currency    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'converted', 'merged')),
    order_id    TEXT,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX cart_carts_customer ON cart_carts (customer_id, status, updated_at);

CREATE TABLE cart_items (
    id          TEXT PRIMARY KEY,
    cart_id     TEXT NOT NULL REFERENCES cart_carts(id) ON DELETE CASCADE,
    variant_id  TEXT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    seen_price  BIGINT NOT NULL,           -- the unit price the customer last saw
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (cart_id, variant_id)
);
