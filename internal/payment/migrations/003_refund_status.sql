-- A refund is recorded (pending) in the transaction that decides it and sent
-- to the provider after that transaction commits, so money never moves for a
-- decision that rolled back; pending refunds are retried until the provider
-- confirms (with the refund id as idempotency key, so never twice).
ALTER TABLE payment_refunds ADD COLUMN status TEXT NOT NULL DEFAULT 'succeeded';
CREATE INDEX payment_refunds_pending ON payment_refunds (status, created_at);
