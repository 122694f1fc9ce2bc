-- No global counter: outbox_events.seq becomes the rowid
-- (INTEGER PRIMARY KEY AUTOINCREMENT), numbered by the engine at the insert,
-- instead of the outbox_sequence row. SQLite has one writer, so rowid order
-- is commit order; AUTOINCREMENT never hands out a number twice. SQLite
-- cannot change a primary key in place: the table is copied, and pending
-- events keep their numbers and order (new ones follow the highest kept).
CREATE TABLE outbox_events_v2 (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT, -- delivery order, by the engine
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
INSERT INTO outbox_events_v2 (seq, id, topic, aggregate_id, payload, created_at, published_at, claimed_until, attempts, last_error)
    SELECT seq, id, topic, aggregate_id, payload, created_at, published_at, claimed_until, attempts, last_error FROM outbox_events;
DROP TABLE outbox_events;
ALTER TABLE outbox_events_v2 RENAME TO outbox_events;
CREATE INDEX outbox_events_pending ON outbox_events (published_at, seq);

DROP TABLE outbox_sequence;
