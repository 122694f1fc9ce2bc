-- Domain events written in the same transaction as the change that caused
-- them; the relay publishes them after commit (at least once, in order).
CREATE TABLE outbox_events (
    seq          BIGINT PRIMARY KEY,      -- delivery order, from outbox_sequence
    id           TEXT NOT NULL UNIQUE,
    topic        TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    payload      TEXT NOT NULL,           -- JSON
    created_at   TIMESTAMP NOT NULL,
    published_at TIMESTAMP,
    claimed_until TIMESTAMP,              -- a relay's lease while it publishes
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_events_pending ON outbox_events (published_at, seq);

CREATE TABLE outbox_sequence (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO outbox_sequence (name, value) VALUES ('events', 0);

-- What each consumer has processed: consumers insert here in the same
-- transaction as their own effects, so a redelivered event is a no-op.
CREATE TABLE outbox_processed (
    consumer     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
