-- Indexes that cost the relay the same whatever the table holds.
--
-- Pending events: the relay reads them in seq order. With the index on
-- (published_at, seq), PostgreSQL cannot take "published_at IS NULL" as a
-- constant for that order, so it walked the primary key from the first
-- event ever written, skipping every published one (15 ms per claim with
-- 200,000 published events, growing forever). This index holds the pending
-- events only, in seq order: the claim, the lag on /metrics (the oldest
-- pending event) and counting them read nothing else. It replaces the old
-- index, which nothing else used.
CREATE INDEX outbox_events_unpublished ON outbox_events (seq) WHERE published_at IS NULL;
DROP INDEX outbox_events_pending;

-- Leased events: a claim looks up the aggregates that have an event leased
-- to another round, so that it takes none of their later events. That read
-- every pending event, in every claim, under the lock that serialises
-- claims (4 ms with a backlog of 50,000). This index holds the leased rows
-- only (the batches being published).
CREATE INDEX outbox_events_leased ON outbox_events (claimed_until, aggregate_id, seq)
    WHERE published_at IS NULL AND claimed_until IS NOT NULL;
