-- attempt numbers the attempts under a key: the first is 1, each takeover
-- (a retry after the holder's lock ran out, or the reconciler settling a
-- dead attempt) adds one, and only the attempt holding the number may store
-- the answer. order_id no longer changes on a takeover: every attempt under
-- a key pays and reserves under the same reference, so a retry finds (and
-- uses) what a crashed attempt paid instead of paying again.
-- settled is set once the reconciler has released a dead attempt's stock
-- and resolved its payments; a new attempt clears it.
ALTER TABLE checkout_requests ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE checkout_requests ADD COLUMN settled BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX checkout_requests_stale ON checkout_requests (status, settled, locked_until);
