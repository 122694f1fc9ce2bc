-- One row per Idempotency-Key (scoped to a cart). order_id is fixed when the
-- key is first seen, so every retry pays and orders under the same reference.
CREATE TABLE checkout_requests (
    cart_id         TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('in_progress', 'done')),
    locked_until    TIMESTAMP NOT NULL,
    response_status INTEGER NOT NULL DEFAULT 0,
    response_body   TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (cart_id, idem_key)
);
CREATE INDEX checkout_requests_created ON checkout_requests (created_at);
