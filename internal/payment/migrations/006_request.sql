-- What else the provider was asked with (the shopper's return address, the
-- e-mail and description on the provider's page). A replay of the request
-- (payment.Resolve, after a lost answer) must send the very same
-- parameters: Stripe refuses an idempotency key reused with others.
ALTER TABLE payment_payments ADD COLUMN return_url TEXT NOT NULL DEFAULT '';
ALTER TABLE payment_payments ADD COLUMN payer_email TEXT NOT NULL DEFAULT '';
ALTER TABLE payment_payments ADD COLUMN description TEXT NOT NULL DEFAULT '';
