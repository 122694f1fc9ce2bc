-- The refunds of each order, under the payment module's refund id: the
-- order's own (staff refunds, cancellations of paid orders) and those made
-- at the payment provider. A payment.refunded event whose refund id is here
-- has been applied already (or was the order's own).
CREATE TABLE order_refunds (
    id         TEXT PRIMARY KEY,
    order_id   TEXT NOT NULL REFERENCES order_orders(id) ON DELETE CASCADE,
    amount     BIGINT NOT NULL CHECK (amount > 0),
    at_provider BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX order_refunds_order ON order_refunds (order_id);
