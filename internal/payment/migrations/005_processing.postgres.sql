-- processing: the provider took the payment in hand and decides later (3-D
-- Secure, a bank transfer, an invoice the shopper pays on the provider's
-- page); its webhook tells the outcome. next_action is what the shopper
-- must do (JSON, e.g. Stripe's client secret or a redirect URL).
ALTER TABLE payment_payments DROP CONSTRAINT payment_payments_status_check;
ALTER TABLE payment_payments ADD CONSTRAINT payment_payments_status_check
    CHECK (status IN ('pending', 'processing', 'authorized', 'captured', 'declined', 'voided', 'refunded', 'partially_refunded', 'failed'));
ALTER TABLE payment_payments ADD COLUMN next_action TEXT NOT NULL DEFAULT '';
CREATE INDEX payment_payments_provider_ref ON payment_payments (provider, provider_ref);
