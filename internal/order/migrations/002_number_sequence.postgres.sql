-- PostgreSQL numbers orders from a sequence: nextval takes no row lock, so
-- concurrent checkouts no longer queue on order_counters for the whole of
-- their commit transaction. Numbers stay increasing; a checkout that rolls
-- back after taking one leaves a gap. SQLite (one writer) keeps the counter.
CREATE SEQUENCE order_number_seq;
SELECT setval('order_number_seq', (SELECT value FROM order_counters WHERE name = 'number'));
