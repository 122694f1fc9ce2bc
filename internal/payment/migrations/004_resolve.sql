-- capture is what the checkout asked of the provider (take the money, or
-- only authorize it). The reconciler replays an attempt whose answer was
-- never recorded with the same parameters and idempotency key, and the
-- provider answers as it did the first time.
ALTER TABLE payment_payments ADD COLUMN capture BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX payment_payments_unresolved ON payment_payments (status, created_at);

-- The sandbox provider's own books, as a real provider keeps them on its
-- side: one charge per idempotency key (so a replay after a crash gets the
-- same answer, never a second charge) and one refund per refund key. They
-- survive restarts like a real provider's, and the crash test reads them to
-- prove that no checkout was ever charged twice.
CREATE TABLE payment_sandbox_charges (
    idem_key        TEXT PRIMARY KEY,
    provider_ref    TEXT NOT NULL,
    reference       TEXT NOT NULL,
    method          TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL,  -- authorized, captured, voided, declined
    refunded_amount BIGINT NOT NULL DEFAULT 0,
    decline_code    TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX payment_sandbox_charges_ref ON payment_sandbox_charges (provider_ref);
CREATE INDEX payment_sandbox_charges_reference ON payment_sandbox_charges (reference);

CREATE TABLE payment_sandbox_refunds (
    idem_key     TEXT PRIMARY KEY,
    provider_ref TEXT NOT NULL,
    refund_ref   TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
