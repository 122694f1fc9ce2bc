-- Gift cards. balance is what the card holds (the ledger's sum), held the
-- part set aside for checkouts in progress; balance - held is what it can
-- still pay. Every hold is one conditional UPDATE ... WHERE balance - held >= ?.
CREATE TABLE giftcard_cards (
    id              TEXT PRIMARY KEY,
    code_hash       TEXT NOT NULL,            -- SHA-256 of the normalized code; the code is not stored
    last4           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    initial_amount  BIGINT NOT NULL CHECK (initial_amount > 0),
    balance         BIGINT NOT NULL CHECK (balance >= 0),
    held            BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= balance),
    status          TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    expires_at      TIMESTAMP,
    recipient_email TEXT NOT NULL DEFAULT '',
    note            TEXT NOT NULL DEFAULT '',
    order_id        TEXT NOT NULL DEFAULT '', -- the order that sold it
    issue_key       TEXT,                     -- a staff form's key: a resubmitted form issues nothing
    issued_by       TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    disabled_at     TIMESTAMP,
    disabled_reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX giftcard_cards_code ON giftcard_cards (code_hash);
CREATE UNIQUE INDEX giftcard_cards_issue_key ON giftcard_cards (issue_key);
CREATE INDEX giftcard_cards_order ON giftcard_cards (order_id);

-- The ledger: every change of balance or held, with the result.
CREATE TABLE giftcard_ledger (
    id            TEXT PRIMARY KEY,
    card_id       TEXT NOT NULL REFERENCES giftcard_cards (id),
    seq           BIGINT NOT NULL,            -- the card's entries in order: 1, 2, ...
    kind          TEXT NOT NULL CHECK (kind IN ('issue', 'hold', 'capture', 'release', 'credit', 'adjustment')),
    amount        BIGINT NOT NULL,            -- change of balance
    held_change   BIGINT NOT NULL,            -- change of held
    balance_after BIGINT NOT NULL,
    held_after    BIGINT NOT NULL,
    reference     TEXT NOT NULL DEFAULT '',
    actor         TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX giftcard_ledger_card ON giftcard_ledger (card_id, seq);

-- Money set aside on a card for a reference (an order id) until captured,
-- released or expired. credited is what refunds gave back of a captured hold.
CREATE TABLE giftcard_holds (
    id         TEXT PRIMARY KEY,
    card_id    TEXT NOT NULL REFERENCES giftcard_cards (id),
    reference  TEXT NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount > 0),
    credited   BIGINT NOT NULL DEFAULT 0 CHECK (credited >= 0 AND credited <= amount),
    status     TEXT NOT NULL CHECK (status IN ('active', 'captured', 'released', 'expired', 'replaced')),
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX giftcard_holds_reference ON giftcard_holds (reference);
CREATE INDEX giftcard_holds_expiry ON giftcard_holds (status, expires_at);
CREATE UNIQUE INDEX giftcard_holds_active ON giftcard_holds (reference, card_id) WHERE status = 'active';

-- The cards applied to a cart, in the order applied (seq).
CREATE TABLE giftcard_cart_cards (
    cart_id    TEXT NOT NULL,
    card_id    TEXT NOT NULL REFERENCES giftcard_cards (id),
    seq        BIGINT NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    PRIMARY KEY (cart_id, card_id)
);

-- Order lines that sell gift cards (order.placed), issued when the order is
-- paid (order.paid), voided when it is cancelled or refunded first.
CREATE TABLE giftcard_sales (
    order_id     TEXT NOT NULL,
    line         BIGINT NOT NULL,
    order_number TEXT NOT NULL,
    sku          TEXT NOT NULL,
    title        TEXT NOT NULL,
    quantity     BIGINT NOT NULL CHECK (quantity > 0),
    unit_amount  BIGINT NOT NULL CHECK (unit_amount > 0),
    currency     TEXT NOT NULL,
    order_total  BIGINT NOT NULL,
    email        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'issued', 'cancelled')),
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (order_id, line)
);

-- Look-ups of codes per client address (hashed), a fixed window each.
CREATE TABLE giftcard_lookup_limits (
    limit_key  TEXT PRIMARY KEY,
    attempts   BIGINT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
