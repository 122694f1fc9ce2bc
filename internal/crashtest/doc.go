// Package crashtest is part of the standing proof suite of issue 8: it runs
// the real mercato binary under a checkout load, kills it with SIGKILL at
// random moments, restarts it, lets the shoppers retry with their
// Idempotency-Keys, and then checks the books from the database: every
// order has exactly one captured payment, no checkout was ever charged twice
// (the sandbox provider's own books say so), no payment is stuck without an
// answer, the stock arithmetic equals the ledger with nothing left reserved,
// the outbox drains, and e-mails and sales figures match the orders.
//
// It runs in `make test` on SQLite and PostgreSQL (skipped with -short);
// MERCATO_CRASHTEST_KILLS sets the number of kills per engine (default 10).
package crashtest
