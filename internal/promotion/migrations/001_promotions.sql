-- Promotions: discount codes (code set, upper case) and automatic
-- promotions (code NULL). used counts the uses held by checkouts and those
-- of placed orders (reserved + committed redemptions): the checkout takes a
-- use with a conditional UPDATE (used < usage_limit), so a limit is never
-- exceeded, whatever the number of concurrent checkouts and instances.
-- product_ids and category_ids are JSON arrays. A deleted promotion keeps
-- its row (its redemptions refer to it) and frees its code.
CREATE TABLE promotion_promotions (
    id                       TEXT PRIMARY KEY,
    name                     TEXT NOT NULL,
    code                     TEXT,
    kind                     TEXT NOT NULL CHECK (kind IN ('percentage', 'fixed', 'free_shipping', 'buy_x_get_y')),
    value                    BIGINT NOT NULL,
    buy_quantity             BIGINT NOT NULL DEFAULT 0,
    get_quantity             BIGINT NOT NULL DEFAULT 0,
    min_subtotal             BIGINT NOT NULL DEFAULT 0,
    product_ids              TEXT NOT NULL,
    category_ids             TEXT NOT NULL,
    first_order              BOOLEAN NOT NULL,
    exclusive                BOOLEAN NOT NULL,
    active                   BOOLEAN NOT NULL,
    starts_at                TIMESTAMP,
    ends_at                  TIMESTAMP,
    usage_limit              BIGINT,
    usage_limit_per_customer BIGINT,
    used                     BIGINT NOT NULL DEFAULT 0 CHECK (used >= 0),
    created_at               TIMESTAMP NOT NULL,
    updated_at               TIMESTAMP NOT NULL,
    deleted_at               TIMESTAMP
);
CREATE UNIQUE INDEX promotion_promotions_code ON promotion_promotions (code) WHERE deleted_at IS NULL;
CREATE INDEX promotion_promotions_live ON promotion_promotions (deleted_at, active, created_at);

-- Uses per customer and promotion, counted like promotion_promotions.used
-- under two keys: 'c:<account id>' for a signed-in customer and
-- 'e:<e-mail>' for every order, so a per-customer limit holds whether the
-- customer signs in or not.
CREATE TABLE promotion_customer_uses (
    promotion_id TEXT NOT NULL REFERENCES promotion_promotions(id),
    customer_key TEXT NOT NULL,
    used         BIGINT NOT NULL CHECK (used >= 0),
    PRIMARY KEY (promotion_id, customer_key)
);

-- One row per order and promotion: reserved by a checkout (until
-- expires_at), committed with the order, released when the checkout failed
-- or died, returned when the order was cancelled or fully refunded. Only
-- reserved and committed rows count in used.
CREATE TABLE promotion_redemptions (
    order_id     TEXT NOT NULL,
    promotion_id TEXT NOT NULL REFERENCES promotion_promotions(id),
    code         TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    email        TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('reserved', 'committed', 'released', 'returned')),
    expires_at   TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (order_id, promotion_id)
);
CREATE INDEX promotion_redemptions_promotion ON promotion_redemptions (promotion_id, created_at);
CREATE INDEX promotion_redemptions_expiry ON promotion_redemptions (status, expires_at);
