CREATE TABLE customer_accounts (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,   -- stored lower-cased
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,          -- argon2id, PHC string format
    role          TEXT NOT NULL CHECK (role IN ('customer', 'staff', 'admin')),
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- Bearer tokens for API clients and browser sessions. Only a SHA-256 hash of
-- the secret is stored, so a database leak yields no usable token.
CREATE TABLE customer_tokens (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES customer_accounts(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL CHECK (kind IN ('api', 'session')),
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);
CREATE INDEX customer_tokens_account ON customer_tokens (account_id);
