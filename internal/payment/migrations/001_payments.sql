-- Every payment attempt, declined ones included.
CREATE TABLE payment_payments (
    id              TEXT PRIMARY KEY,
    reference       TEXT NOT NULL,            -- the order id the checkout reserved
    order_id        TEXT,                     -- set once the order committed
    provider        TEXT NOT NULL,
    provider_ref    TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'authorized', 'captured', 'declined', 'voided', 'refunded', 'partially_refunded', 'failed')),
    captured_amount BIGINT NOT NULL DEFAULT 0,
    refunded_amount BIGINT NOT NULL DEFAULT 0,
    decline_code    TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX payment_payments_reference ON payment_payments (reference);
CREATE INDEX payment_payments_orphans ON payment_payments (status, order_id, created_at);

CREATE TABLE payment_refunds (
    id           TEXT PRIMARY KEY,
    payment_id   TEXT NOT NULL REFERENCES payment_payments(id),
    amount       BIGINT NOT NULL CHECK (amount > 0),
    provider_ref TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX payment_refunds_payment ON payment_refunds (payment_id);
