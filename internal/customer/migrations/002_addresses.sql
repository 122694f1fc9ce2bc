-- A customer's saved addresses. At most one per account is the default
-- (the partial unique index guards it against concurrent changes).
CREATE TABLE customer_addresses (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES customer_accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    line1       TEXT NOT NULL,
    line2       TEXT NOT NULL DEFAULT '',
    city        TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    country     TEXT NOT NULL,            -- ISO 3166-1 alpha-2, upper case
    phone       TEXT NOT NULL DEFAULT '',
    is_default  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX customer_addresses_account ON customer_addresses (account_id, created_at);
CREATE UNIQUE INDEX customer_addresses_one_default ON customer_addresses (account_id) WHERE is_default;

-- Staff and customer listings page by role, newest first.
CREATE INDEX customer_accounts_role ON customer_accounts (role, id);
