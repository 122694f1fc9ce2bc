package checkout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store keeps the idempotency records, one row of checkout_requests per cart
// and Idempotency-Key. It is private to the checkout service.
type store struct{ db *sqldb.DB }

// request is one idempotency record.
type request struct {
	cartID, key string
	hash        string // sha256 of the request (hex)
	orderID     string // the order id every attempt under the key uses
	accessToken string // the guest access token of that order ("" for keys claimed before migration 004)
	attempt     int    // the attempt that holds the key
	done        bool   // the outcome is stored
	outcome     string // the stored outcome (JSON), when done
	// legacyStatus and legacyBody are the rendered answer of a record
	// stored before migration 002 (outcome is empty then).
	legacyStatus int
	legacyBody   string
}

// attempt is one run under a key: the key, the order id all its attempts
// share, and this attempt's number (its fence).
type attempt struct {
	cartID, key, orderID string
	n                    int
	accessToken          string // of the order to be; "": the order makes one
}

// claim inserts the record of a new key, in progress under orderID and
// its access token (attempt 1) and locked until until. It reports false
// when the key is already recorded.
func (st store) claim(ctx context.Context, cartID, key, hash, orderID, accessToken string, now, until time.Time) (bool, error) {
	_, err := st.db.ExecContext(ctx, `INSERT INTO checkout_requests (cart_id, idem_key, request_hash, order_id, access_token, status, attempt, locked_until, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 'in_progress', 1, ?, ?, ?)`, cartID, key, hash, orderID, accessToken, until, now, now)
	switch {
	case err == nil:
		return true, nil
	case sqldb.IsUniqueViolation(err):
		return false, nil
	}
	return false, fmt.Errorf("claim idempotency key: %w", err)
}

// get returns the record of a key; a key never recorded is sql.ErrNoRows
// (wrapped).
func (st store) get(ctx context.Context, cartID, key string) (request, error) {
	var status string
	r := request{cartID: cartID, key: key}
	err := st.db.QueryRowContext(ctx, `SELECT request_hash, order_id, access_token, attempt, status, outcome, response_status, response_body
		FROM checkout_requests WHERE cart_id = ? AND idem_key = ?`, cartID, key).
		Scan(&r.hash, &r.orderID, &r.accessToken, &r.attempt, &status, &r.outcome, &r.legacyStatus, &r.legacyBody)
	if err != nil {
		return request{}, fmt.Errorf("read idempotency key: %w", err)
	}
	r.done = status == "done"
	return r, nil
}

// takeOver gives an in-progress key whose lock ran out, still held by
// attempt seen, to the next attempt, locked until until. It reports false
// when the key is done, still locked or taken over by someone else.
func (st store) takeOver(ctx context.Context, cartID, key string, seen int, now, until time.Time) (bool, error) {
	ok, err := sqldb.Changed(st.db.ExecContext(ctx, `UPDATE checkout_requests SET attempt = attempt + 1, settled = FALSE, locked_until = ?, updated_at = ?
		WHERE cart_id = ? AND idem_key = ? AND attempt = ? AND status = 'in_progress' AND locked_until < ?`, until, now, cartID, key, seen, now))
	if err != nil {
		return false, fmt.Errorf("take over idempotency key: %w", err)
	}
	return ok, nil
}

// finish stores the outcome under the key, in tx when it is not nil (so
// that it commits with the order), fenced by the attempt number. It reports
// false when the attempt no longer holds the key.
func (st store) finish(ctx context.Context, tx *sqldb.Tx, a attempt, outcome string, now time.Time) (bool, error) {
	var ok bool
	err := st.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		var err error
		ok, err = sqldb.Changed(tx.ExecContext(ctx, `UPDATE checkout_requests SET status = 'done', outcome = ?, updated_at = ?
			WHERE cart_id = ? AND idem_key = ? AND attempt = ? AND status = 'in_progress'`, outcome, now, a.cartID, a.key, a.n))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store checkout outcome: %w", err)
	}
	return ok, nil
}

// forget deletes the in-progress record of a first attempt that did
// nothing.
func (st store) forget(ctx context.Context, a attempt) error {
	_, err := st.db.ExecContext(ctx, `DELETE FROM checkout_requests WHERE cart_id = ? AND idem_key = ? AND attempt = ? AND status = 'in_progress'`,
		a.cartID, a.key, a.n)
	if err != nil {
		return fmt.Errorf("forget idempotency key: %w", err)
	}
	return nil
}

// unlock ends the lock of the attempt at until; settled says whether it
// left nothing held (no reservation, no payment without its answer).
func (st store) unlock(ctx context.Context, a attempt, until time.Time, settled bool) error {
	_, err := st.db.ExecContext(ctx, `UPDATE checkout_requests SET locked_until = ?, settled = ? WHERE cart_id = ? AND idem_key = ? AND attempt = ? AND status = 'in_progress'`,
		until, settled, a.cartID, a.key, a.n)
	if err != nil {
		return fmt.Errorf("unlock idempotency key: %w", err)
	}
	return nil
}

// stale returns up to limit in-progress records whose lock ran out before
// now and that nobody settled: their attempts are dead.
func (st store) stale(ctx context.Context, now time.Time, limit int) ([]request, error) {
	return sqldb.All(ctx, st.db, "find dead checkout attempts", func(row sqldb.Scanner) (request, error) {
		var r request
		return r, row.Scan(&r.cartID, &r.key, &r.orderID, &r.attempt)
	}, `SELECT cart_id, idem_key, order_id, attempt FROM checkout_requests
		WHERE status = 'in_progress' AND settled = FALSE AND locked_until < ? ORDER BY locked_until LIMIT ?`, now, limit)
}

// purge deletes the records created before before that are done, or
// settled and no longer locked (abandoned: nothing is held for them).
func (st store) purge(ctx context.Context, before, now time.Time) (int64, error) {
	res, err := st.db.ExecContext(ctx, `DELETE FROM checkout_requests WHERE created_at < ?
		AND (status = 'done' OR (settled = TRUE AND locked_until < ?))`, before, now)
	if err != nil {
		return 0, fmt.Errorf("purge checkout requests: %w", err)
	}
	return res.RowsAffected()
}

// isNoRows reports whether err says a record does not exist.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
