CREATE TABLE inventory_locations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);

-- One row per variant per location. available = on_hand - reserved, never
-- below zero unless backorder is allowed: every decrement is a conditional
-- UPDATE ... WHERE on_hand - reserved >= ?.
CREATE TABLE inventory_stock (
    variant_id          TEXT NOT NULL,
    location_id         TEXT NOT NULL REFERENCES inventory_locations(id),
    sku                 TEXT NOT NULL,
    on_hand             BIGINT NOT NULL CHECK (on_hand >= 0),
    reserved            BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    backorder           BOOLEAN NOT NULL DEFAULT FALSE,
    low_stock_threshold BIGINT NOT NULL DEFAULT 5,
    updated_at          TIMESTAMP NOT NULL,
    PRIMARY KEY (variant_id, location_id)
);
CREATE UNIQUE INDEX inventory_stock_sku ON inventory_stock (sku, location_id);

CREATE TABLE inventory_reservations (
    id          TEXT PRIMARY KEY,
    reference   TEXT NOT NULL,            -- who holds it, e.g. a checkout id
    variant_id  TEXT NOT NULL,
    location_id TEXT NOT NULL,
    sku         TEXT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    status      TEXT NOT NULL CHECK (status IN ('active', 'committed', 'released')),
    expires_at  TIMESTAMP NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX inventory_reservations_reference ON inventory_reservations (reference);
CREATE INDEX inventory_reservations_expiry ON inventory_reservations (status, expires_at);

-- The ledger: every change of on_hand or reserved, with who, why and when.
CREATE TABLE inventory_movements (
    id             TEXT PRIMARY KEY,
    variant_id     TEXT NOT NULL,
    location_id    TEXT NOT NULL,
    sku            TEXT NOT NULL,
    delta_on_hand  BIGINT NOT NULL,
    delta_reserved BIGINT NOT NULL,
    on_hand_after  BIGINT NOT NULL,
    reserved_after BIGINT NOT NULL,
    reason         TEXT NOT NULL,
    reference      TEXT NOT NULL,
    actor          TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX inventory_movements_sku ON inventory_movements (sku, created_at);

INSERT INTO inventory_locations (id, name, is_default, created_at) VALUES ('default', 'Main warehouse', TRUE, CURRENT_TIMESTAMP);
