-- No global counter: outbox_events.seq comes from a sequence, which hands
-- out numbers without a row lock and without waiting for other transactions
-- (a sequence is not transactional), instead of the outbox_sequence row that
-- every event-writing transaction locked until its commit.
--
-- Numbers are handed out before the commit, so a lower one can commit after
-- a higher one; the relay only delivers events below a horizon that no
-- running transaction can still fill (see Flush in relay.go). It finds those
-- transactions by the lock nextval takes on the sequence, which PostgreSQL
-- holds until the end of the drawing transaction.
CREATE SEQUENCE outbox_events_seq AS BIGINT CACHE 1 OWNED BY outbox_events.seq;

-- Pending events of an existing deployment keep their numbers and order: new
-- ones continue after the last number the counter handed out.
SELECT setval('outbox_events_seq',
    GREATEST((SELECT value FROM outbox_sequence WHERE name = 'events'),
             (SELECT COALESCE(MAX(seq), 0) FROM outbox_events)) + 1, false);

ALTER TABLE outbox_events ALTER COLUMN seq SET DEFAULT nextval('outbox_events_seq');

DROP TABLE outbox_sequence;
