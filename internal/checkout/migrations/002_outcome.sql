-- outcome is how a checkout ended, in domain form (JSON: the order placed,
-- or the refusal's code, message, fields and detail); the HTTP answer is
-- rendered from it, on the first answer and on every replay alike.
-- response_status and response_body hold the rendered answers stored before
-- this migration; they are replayed as they are and no longer written.
ALTER TABLE checkout_requests ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
