-- Promotions and gift cards (issue 11). gift_card is what gift cards paid
-- beside the card payment (total), gift_card_refunded the part of refunded
-- that went back to them (a refund goes to the gift cards first). An item's
-- discount is its share of the order's discounts (allocated by the
-- promotion module, the parts summing exactly), refunded_quantity the units
-- refunded by line. order_discounts lists the promotions the order got.
ALTER TABLE order_orders ADD COLUMN gift_card BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_orders ADD COLUMN gift_card_refunded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN discount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN refunded_quantity BIGINT NOT NULL DEFAULT 0;

CREATE TABLE order_discounts (
    order_id      TEXT NOT NULL REFERENCES order_orders(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    promotion_id  TEXT NOT NULL,
    code          TEXT NOT NULL,
    label         TEXT NOT NULL,
    amount        BIGINT NOT NULL,
    free_shipping BOOLEAN NOT NULL,
    PRIMARY KEY (order_id, position)
);
