-- access_token is the guest access token of the order to be, chosen when
-- the key is first claimed, so that every attempt under the key gives the
-- payment provider the same return address (the order page with the
-- token) and the order that is finally created opens with it. It is as
-- secret as the stored outcome (which holds the order with its token) and
-- is purged with it.
ALTER TABLE checkout_requests ADD COLUMN access_token TEXT NOT NULL DEFAULT '';
