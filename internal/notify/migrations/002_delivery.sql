-- Delivery by SMTP. An e-mail is queued until a worker claims it (status
-- 'sending', with a lease: lease_token and lease_until) by a conditional
-- UPDATE, sends it, and marks it sent, or queued again for a later attempt
-- (next_attempt_at, exponential backoff), or failed (with the server's
-- reason in last_error); cancelled when it is no longer wanted (the
-- recipient unsubscribed, the cart was checked out). generation counts
-- staff's resends: it is part of the Message-ID, so a resent copy is not
-- taken for a duplicate, while a retry keeps the same one.
ALTER TABLE notify_emails ADD COLUMN status TEXT NOT NULL DEFAULT 'queued';
ALTER TABLE notify_emails ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notify_emails ADD COLUMN next_attempt_at TIMESTAMP;
ALTER TABLE notify_emails ADD COLUMN queued_at TIMESTAMP;
ALTER TABLE notify_emails ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE notify_emails ADD COLUMN lease_token TEXT;
ALTER TABLE notify_emails ADD COLUMN lease_until TIMESTAMP;
ALTER TABLE notify_emails ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notify_emails ADD COLUMN cart_id TEXT NOT NULL DEFAULT '';          -- abandoned-cart reminders: the cart
ALTER TABLE notify_emails ADD COLUMN unsubscribe_url TEXT NOT NULL DEFAULT '';  -- List-Unsubscribe, for reminders
UPDATE notify_emails SET next_attempt_at = created_at, queued_at = created_at;
CREATE INDEX notify_emails_due ON notify_emails (status, next_attempt_at);

-- Addresses that get reminders: token is the secret of their unsubscribe
-- link; unsubscribed_at, once set, stops every further reminder.
CREATE TABLE notify_recipients (
    email           TEXT PRIMARY KEY,
    token           TEXT NOT NULL UNIQUE,
    unsubscribed_at TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);
