-- processing: the provider took the payment in hand and decides later (3-D
-- Secure, a bank transfer, an invoice the shopper pays on the provider's
-- page); its webhook tells the outcome. next_action is what the shopper
-- must do (JSON, e.g. Stripe's client secret or a redirect URL).
-- SQLite cannot change a CHECK constraint in place: both tables are copied
-- (refunds too, so that their foreign key follows the renamed table).
CREATE TABLE payment_payments_v2 (
    id              TEXT PRIMARY KEY,
    reference       TEXT NOT NULL,
    order_id        TEXT,
    provider        TEXT NOT NULL,
    provider_ref    TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'authorized', 'captured', 'declined', 'voided', 'refunded', 'partially_refunded', 'failed')),
    captured_amount BIGINT NOT NULL DEFAULT 0,
    refunded_amount BIGINT NOT NULL DEFAULT 0,
    decline_code    TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    capture         BOOLEAN NOT NULL DEFAULT TRUE,
    next_action     TEXT NOT NULL DEFAULT ''
);
INSERT INTO payment_payments_v2 (id, reference, order_id, provider, provider_ref, method, amount, currency, status, captured_amount, refunded_amount, decline_code, message, created_at, updated_at, capture)
    SELECT id, reference, order_id, provider, provider_ref, method, amount, currency, status, captured_amount, refunded_amount, decline_code, message, created_at, updated_at, capture FROM payment_payments;
CREATE TABLE payment_refunds_v2 (
    id           TEXT PRIMARY KEY,
    payment_id   TEXT NOT NULL REFERENCES payment_payments_v2(id),
    amount       BIGINT NOT NULL CHECK (amount > 0),
    provider_ref TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    status       TEXT NOT NULL DEFAULT 'succeeded'
);
INSERT INTO payment_refunds_v2 (id, payment_id, amount, provider_ref, reason, created_at, status)
    SELECT id, payment_id, amount, provider_ref, reason, created_at, status FROM payment_refunds;
DROP TABLE payment_refunds;
DROP TABLE payment_payments;
ALTER TABLE payment_payments_v2 RENAME TO payment_payments;
ALTER TABLE payment_refunds_v2 RENAME TO payment_refunds;
CREATE INDEX payment_payments_reference ON payment_payments (reference);
CREATE INDEX payment_payments_orphans ON payment_payments (status, order_id, created_at);
CREATE INDEX payment_payments_unresolved ON payment_payments (status, created_at);
CREATE INDEX payment_refunds_payment ON payment_refunds (payment_id);
CREATE INDEX payment_refunds_pending ON payment_refunds (status, created_at);
CREATE INDEX payment_payments_provider_ref ON payment_payments (provider, provider_ref);
