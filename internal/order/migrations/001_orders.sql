CREATE TABLE order_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO order_counters (name, value) VALUES ('number', 1000);

CREATE TABLE order_orders (
    id                 TEXT PRIMARY KEY,
    number             TEXT NOT NULL UNIQUE,
    customer_id        TEXT,
    email              TEXT NOT NULL,
    access_token_hash  TEXT NOT NULL,       -- SHA-256 of the guest's access token
    status             TEXT NOT NULL,
    payment_status     TEXT NOT NULL,
    fulfillment_status TEXT NOT NULL,
    currency           TEXT NOT NULL,
    subtotal           BIGINT NOT NULL,
    discount           BIGINT NOT NULL,
    shipping           BIGINT NOT NULL,
    tax                BIGINT NOT NULL,
    total              BIGINT NOT NULL,
    tax_included       BOOLEAN NOT NULL,
    refunded           BIGINT NOT NULL DEFAULT 0,
    shipping_address   TEXT NOT NULL,       -- JSON
    shipping_method_id TEXT NOT NULL,
    shipping_method    TEXT NOT NULL,
    payment_id         TEXT NOT NULL,
    cart_id            TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX order_orders_customer ON order_orders (customer_id, created_at);
CREATE INDEX order_orders_status ON order_orders (status, created_at);
CREATE INDEX order_orders_created ON order_orders (created_at, id);

CREATE TABLE order_items (
    id            TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL REFERENCES order_orders(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    variant_id    TEXT NOT NULL,
    product_id    TEXT NOT NULL,
    sku           TEXT NOT NULL,
    title         TEXT NOT NULL,
    variant_title TEXT NOT NULL,
    quantity      BIGINT NOT NULL CHECK (quantity > 0),
    fulfilled     BIGINT NOT NULL DEFAULT 0 CHECK (fulfilled >= 0 AND fulfilled <= quantity),
    restocked     BIGINT NOT NULL DEFAULT 0 CHECK (restocked >= 0 AND restocked <= quantity),
    unit_price    BIGINT NOT NULL,
    line_total    BIGINT NOT NULL
);
CREATE INDEX order_items_order ON order_items (order_id, position);

CREATE TABLE order_fulfillments (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES order_orders(id) ON DELETE CASCADE,
    tracking_number TEXT NOT NULL,
    items           TEXT NOT NULL,         -- JSON [{item_id, quantity}]
    shipped_at      TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX order_fulfillments_order ON order_fulfillments (order_id);

-- The timeline: every action on an order, with who did it.
CREATE TABLE order_timeline (
    id         TEXT PRIMARY KEY,
    order_id   TEXT NOT NULL REFERENCES order_orders(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX order_timeline_order ON order_timeline (order_id, created_at);
