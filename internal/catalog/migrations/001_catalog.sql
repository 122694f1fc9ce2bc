CREATE TABLE catalog_categories (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    parent_id  TEXT REFERENCES catalog_categories(id),
    position   INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE catalog_products (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
    images      TEXT NOT NULL,           -- JSON array of {url, alt}
    search_text TEXT NOT NULL,           -- lower-cased title, description, SKUs, attribute values
    min_price   BIGINT NOT NULL,         -- smallest variant price, for sorting
    currency    TEXT NOT NULL,
    featured    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX catalog_products_newest ON catalog_products (status, created_at, id);
CREATE INDEX catalog_products_price ON catalog_products (status, min_price, id);
CREATE INDEX catalog_products_title ON catalog_products (status, title, id);

CREATE TABLE catalog_variants (
    id         TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES catalog_products(id) ON DELETE CASCADE,
    sku        TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL,
    options    TEXT NOT NULL,            -- JSON object option -> value
    price      BIGINT NOT NULL,
    currency   TEXT NOT NULL,
    position   INTEGER NOT NULL
);
CREATE INDEX catalog_variants_product ON catalog_variants (product_id, position);

CREATE TABLE catalog_product_categories (
    product_id  TEXT NOT NULL REFERENCES catalog_products(id) ON DELETE CASCADE,
    category_id TEXT NOT NULL REFERENCES catalog_categories(id),
    PRIMARY KEY (product_id, category_id)
);
CREATE INDEX catalog_product_categories_category ON catalog_product_categories (category_id, product_id);

CREATE TABLE catalog_product_attributes (
    product_id TEXT NOT NULL REFERENCES catalog_products(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (product_id, key)
);
CREATE INDEX catalog_product_attributes_kv ON catalog_product_attributes (key, value, product_id);
