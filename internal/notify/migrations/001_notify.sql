-- E-mails rendered from domain events, one per event. Nothing sends them
-- yet (sent_at stays NULL until an SMTP sender arrives); staff read them in
-- the admin API.
CREATE TABLE notify_emails (
    id         TEXT PRIMARY KEY,          -- UUIDv7: sorts by creation
    event_id   TEXT NOT NULL UNIQUE,      -- the outbox event it was rendered from
    template   TEXT NOT NULL,             -- welcome, order_placed, ...
    to_addr    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    sent_at    TIMESTAMP
);

-- Low-stock alerts, one per stock.low event.
CREATE TABLE notify_low_stock_alerts (
    id         TEXT PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    variant_id TEXT NOT NULL,
    sku        TEXT NOT NULL,
    available  BIGINT NOT NULL,
    threshold  BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
