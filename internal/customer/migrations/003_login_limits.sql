-- Sign-in attempt counters, shared by every instance (customer.Rule says how
-- they are used). limit_key is the SHA-256 (hex) of what is counted: a
-- client address, an account tried from unknown devices, an account tried
-- from one known device or network, a session re-entering its password; so
-- the table holds no e-mail or address. A row is forgotten at expires_at
-- (a periodic purge deletes it; until then the next attempt starts over).
CREATE TABLE customer_login_limits (
    limit_key  TEXT PRIMARY KEY,
    attempts   BIGINT NOT NULL,      -- attempts counted since the count started
    last_at    TIMESTAMP NOT NULL,   -- the latest counted attempt
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX customer_login_limits_expiry ON customer_login_limits (expires_at);

-- Where an account has signed in successfully: a known device (the SHA-256
-- of the secret in its mercato_device cookie) or a known network (the
-- SHA-256 of the client address, IPv6 by /64). Attempts from a known source
-- are counted apart from everyone else's, so strangers cannot lock the owner
-- out. source is 'device:<hex>' or 'net:<hex>'.
CREATE TABLE customer_login_sources (
    account_id TEXT NOT NULL REFERENCES customer_accounts(id) ON DELETE CASCADE,
    source     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, source)
);
CREATE INDEX customer_login_sources_expiry ON customer_login_sources (expires_at);
