-- Sales counters per UTC day and currency, incremented by the analytics
-- consumer (one upsert per event: atomic on both engines).
CREATE TABLE analytics_daily_sales (
    day           TEXT NOT NULL,              -- YYYY-MM-DD, UTC
    currency      TEXT NOT NULL,
    orders        BIGINT NOT NULL DEFAULT 0,  -- orders placed
    revenue       BIGINT NOT NULL DEFAULT 0,  -- gross: order totals, minor units
    refunds       BIGINT NOT NULL DEFAULT 0,  -- amount refunded, minor units
    cancellations BIGINT NOT NULL DEFAULT 0,  -- orders cancelled
    PRIMARY KEY (day, currency)
);

-- The currency of each order seen placed, so that a cancellation (whose
-- event names no currency) counts under its order's currency.
CREATE TABLE analytics_orders (
    order_id  TEXT PRIMARY KEY,
    currency  TEXT NOT NULL,
    placed_on TEXT NOT NULL
);
