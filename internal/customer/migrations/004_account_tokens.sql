-- When the account's current e-mail address was confirmed by following a
-- link mailed to it; NULL until then (accounts made before this migration
-- included). A confirmed change of address confirms the new one.
ALTER TABLE customer_accounts ADD COLUMN email_verified_at TIMESTAMP;

-- Single-use links mailed to an account holder: a password reset, the
-- verification of the address, a change of address. Only the SHA-256 (hex)
-- of the link's secret is stored. email is the address the link was sent
-- to: for a reset or a verification the account's address at the time (the
-- link is refused once the account has another), for a change the new
-- address. A used link keeps its row (used_at) until it expires, so a
-- second use is told so; a periodic purge deletes expired rows.
CREATE TABLE customer_account_tokens (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES customer_accounts(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('password_reset', 'verify_email', 'change_email')),
    token_hash TEXT NOT NULL UNIQUE,
    email      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX customer_account_tokens_account ON customer_account_tokens (account_id, purpose);
CREATE INDEX customer_account_tokens_expiry ON customer_account_tokens (expires_at);
