-- No global counter: outbox_events.seq comes from a sequence, which hands
-- out values without a row lock and without waiting for other transactions
-- (a sequence is not transactional), instead of the outbox_sequence row that
-- every event-writing transaction locked until its commit.
--
-- Values are handed out before the commit, so a lower seq can commit after a
-- higher one; the relay only delivers events below a horizon that no running
-- transaction can still fill (see relay.go). For that horizon to hold, a
-- transaction must own a transaction id before it draws a value:
-- outbox_next_seq() takes one first.
CREATE SEQUENCE outbox_events_seq AS BIGINT CACHE 1 OWNED BY outbox_events.seq;

-- Pending events of an existing deployment keep their numbers and order: new
-- ones continue after the last number the counter handed out.
SELECT setval('outbox_events_seq',
    GREATEST((SELECT value FROM outbox_sequence WHERE name = 'events'),
             (SELECT COALESCE(MAX(seq), 0) FROM outbox_events)) + 1, false);

CREATE FUNCTION outbox_next_seq() RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_current_xact_id(); -- this transaction has its id before it draws
    RETURN nextval('outbox_events_seq');
END
$$;

ALTER TABLE outbox_events ALTER COLUMN seq SET DEFAULT outbox_next_seq();

DROP TABLE outbox_sequence;
