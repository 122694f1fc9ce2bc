-- The affiliate programme: applications and approved affiliates with their
-- codes, the carts their links referred, the commission ledger and payouts.
-- Ids of other modules (accounts, carts, orders) are kept as plain text: no
-- foreign keys across modules.

CREATE TABLE affiliate_affiliates (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL UNIQUE,     -- the customer account that applied
    email         TEXT NOT NULL,            -- the account's address (kept current from customer.email_changed)
    name          TEXT NOT NULL,
    code          TEXT NOT NULL UNIQUE,     -- upper case, what ?ref= carries
    status        TEXT NOT NULL,            -- pending, approved, rejected
    rate_bp       INTEGER,                  -- commission in basis points (1000 = 10 %); NULL: the shop's default
    note          TEXT NOT NULL DEFAULT '', -- what the applicant wrote
    clicks        BIGINT NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    decided_at    TIMESTAMP
);
CREATE INDEX affiliate_affiliates_status ON affiliate_affiliates (status, id);

-- One row per code, client and hour that counted a click: a second click
-- from the same client within the hour counts nothing. Rows of past hours
-- are purged.
CREATE TABLE affiliate_click_marks (
    affiliate_id TEXT NOT NULL,
    client       TEXT NOT NULL,   -- a hash of the client's address (IPv6 by /64)
    hour         BIGINT NOT NULL, -- Unix time / 3600
    PRIMARY KEY (affiliate_id, client, hour)
);
CREATE INDEX affiliate_click_marks_hour ON affiliate_click_marks (hour);

-- The affiliate that referred a cart (the last click before or after the
-- cart was made wins). Purged once the attribution window has passed.
CREATE TABLE affiliate_referrals (
    cart_id      TEXT PRIMARY KEY,
    affiliate_id TEXT NOT NULL,
    clicked_at   TIMESTAMP NOT NULL, -- when the visitor followed the link (or the cart named the code)
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX affiliate_referrals_clicked ON affiliate_referrals (clicked_at);

-- The ledger: one commission per referred order. amount is what was earned
-- when the order was placed; reversed what refunds and cancellations took
-- back (never more than amount). pending -> approved once the return window
-- has passed -> paid by a payout; reversed when all of it was taken back
-- before it was paid.
CREATE TABLE affiliate_commissions (
    id            TEXT PRIMARY KEY,
    affiliate_id  TEXT NOT NULL,
    order_id      TEXT NOT NULL UNIQUE,
    order_number  TEXT NOT NULL,
    currency      TEXT NOT NULL,
    order_total   BIGINT NOT NULL, -- what the customer paid, for proportional reversals
    net           BIGINT NOT NULL, -- subtotal - discount, without tax and shipping
    rate_bp       INTEGER NOT NULL,
    amount        BIGINT NOT NULL,
    reversed      BIGINT NOT NULL DEFAULT 0,
    status        TEXT NOT NULL,   -- pending, approved, paid, reversed
    approve_after TIMESTAMP NOT NULL,
    paid_amount   BIGINT NOT NULL DEFAULT 0,
    payout_id     TEXT,
    placed_at     TIMESTAMP NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX affiliate_commissions_affiliate ON affiliate_commissions (affiliate_id, status);
CREATE INDEX affiliate_commissions_due ON affiliate_commissions (status, approve_after);

-- What a refund took back from a commission already paid: deducted from
-- the affiliate's next payout (payout_id set then).
CREATE TABLE affiliate_clawbacks (
    id            TEXT PRIMARY KEY,
    affiliate_id  TEXT NOT NULL,
    commission_id TEXT NOT NULL,
    currency      TEXT NOT NULL,
    amount        BIGINT NOT NULL,
    payout_id     TEXT,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX affiliate_clawbacks_affiliate ON affiliate_clawbacks (affiliate_id, payout_id);

-- Payouts staff recorded: amount = gross (the approved commissions paid)
-- - clawback (earlier refunds deducted).
CREATE TABLE affiliate_payouts (
    id           TEXT PRIMARY KEY,
    affiliate_id TEXT NOT NULL,
    currency     TEXT NOT NULL,
    gross        BIGINT NOT NULL,
    clawback     BIGINT NOT NULL,
    amount       BIGINT NOT NULL,
    commissions  INTEGER NOT NULL,
    reference    TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX affiliate_payouts_affiliate ON affiliate_payouts (affiliate_id, created_at);

-- Every change of an affiliate's own rate (rate_bp NULL: back to the
-- default), so that an order earns the rate of the moment it was placed,
-- however late its event is processed.
CREATE TABLE affiliate_rate_changes (
    affiliate_id TEXT NOT NULL,
    changed_at   TIMESTAMP NOT NULL,
    rate_bp      INTEGER,
    PRIMARY KEY (affiliate_id, changed_at)
);
