-- Shipping zones: a named set of destination countries with its rates.
CREATE TABLE shipping_zones (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX shipping_zones_name ON shipping_zones (LOWER(name));

-- A country (ISO 3166-1 alpha-2, or '*' for every country no zone names)
-- belongs to at most one zone.
CREATE TABLE shipping_zone_countries (
    country TEXT PRIMARY KEY,
    zone_id TEXT NOT NULL REFERENCES shipping_zones(id) ON DELETE CASCADE
);
CREATE INDEX shipping_zone_countries_zone ON shipping_zone_countries (zone_id);

-- Flat rates: one shipping method of a zone, free from a subtotal on when
-- free_over_amount is set. Amounts are minor units of currency.
CREATE TABLE shipping_rates (
    id               TEXT PRIMARY KEY,
    zone_id          TEXT NOT NULL REFERENCES shipping_zones(id) ON DELETE CASCADE,
    position         BIGINT NOT NULL,
    name             TEXT NOT NULL,
    price_amount     BIGINT NOT NULL CHECK (price_amount >= 0),
    currency         TEXT NOT NULL,
    free_over_amount BIGINT CHECK (free_over_amount >= 0),
    min_days         BIGINT NOT NULL DEFAULT 0,
    max_days         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX shipping_rates_zone ON shipping_rates (zone_id, position);

-- Module state, e.g. that the default zones were created.
CREATE TABLE shipping_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
