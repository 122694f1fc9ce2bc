-- Provider notifications already applied (providers deliver at least once).
CREATE TABLE payment_webhook_events (
    id          TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    type        TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
