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
	hash    string // sha256 of the request (hex)
	orderID string // the order id of the attempt that holds the key
	done    bool   // the outcome is stored
	outcome string // the stored outcome (JSON), when done
	// legacyStatus and legacyBody are the rendered answer of a record
	// stored before migration 002 (outcome is empty then).
	legacyStatus int
	legacyBody   string
}

// claim inserts the record of a new key, in progress under orderID and
// locked until until. It reports false when the key is already recorded.
func (st store) claim(ctx context.Context, cartID, key, hash, orderID string, now, until time.Time) (bool, error) {
	_, err := st.db.ExecContext(ctx, `INSERT INTO checkout_requests (cart_id, idem_key, request_hash, order_id, status, locked_until, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'in_progress', ?, ?, ?)`, cartID, key, hash, orderID, until, now, now)
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
	var (
		r      request
		status string
	)
	err := st.db.QueryRowContext(ctx, `SELECT request_hash, order_id, status, outcome, response_status, response_body
		FROM checkout_requests WHERE cart_id = ? AND idem_key = ?`, cartID, key).
		Scan(&r.hash, &r.orderID, &status, &r.outcome, &r.legacyStatus, &r.legacyBody)
	if err != nil {
		return request{}, fmt.Errorf("read idempotency key: %w", err)
	}
	r.done = status == "done"
	return r, nil
}

// takeOver gives an in-progress key whose lock ran out to a new attempt
// under orderID. It reports false when the key is done or still locked.
func (st store) takeOver(ctx context.Context, cartID, key, orderID string, now, until time.Time) (bool, error) {
	res, err := st.db.ExecContext(ctx, `UPDATE checkout_requests SET order_id = ?, locked_until = ?, updated_at = ?
		WHERE cart_id = ? AND idem_key = ? AND status = 'in_progress' AND locked_until < ?`, orderID, until, now, cartID, key, now)
	if err != nil {
		return false, fmt.Errorf("take over idempotency key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take over idempotency key: %w", err)
	}
	return n == 1, nil
}

// finish stores the outcome under the key, in tx when it is not nil (so
// that it commits with the order), fenced by the attempt's order id. It
// reports false when the attempt no longer holds the key.
func (st store) finish(ctx context.Context, tx *sqldb.Tx, cartID, key, orderID, outcome string, now time.Time) (bool, error) {
	var n int64
	err := st.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE checkout_requests SET status = 'done', outcome = ?, updated_at = ?
			WHERE cart_id = ? AND idem_key = ? AND order_id = ? AND status = 'in_progress'`, outcome, now, cartID, key, orderID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store checkout outcome: %w", err)
	}
	return n == 1, nil
}

// forget deletes the in-progress record of the attempt under orderID.
func (st store) forget(ctx context.Context, cartID, key, orderID string) error {
	_, err := st.db.ExecContext(ctx, `DELETE FROM checkout_requests WHERE cart_id = ? AND idem_key = ? AND order_id = ? AND status = 'in_progress'`,
		cartID, key, orderID)
	if err != nil {
		return fmt.Errorf("forget idempotency key: %w", err)
	}
	return nil
}

// unlock ends the lock of the in-progress attempt under orderID at until.
func (st store) unlock(ctx context.Context, cartID, key, orderID string, until time.Time) error {
	_, err := st.db.ExecContext(ctx, `UPDATE checkout_requests SET locked_until = ? WHERE cart_id = ? AND idem_key = ? AND order_id = ? AND status = 'in_progress'`,
		until, cartID, key, orderID)
	if err != nil {
		return fmt.Errorf("unlock idempotency key: %w", err)
	}
	return nil
}

// purge deletes the done records created before before.
func (st store) purge(ctx context.Context, before time.Time) (int64, error) {
	res, err := st.db.ExecContext(ctx, `DELETE FROM checkout_requests WHERE created_at < ? AND status = 'done'`, before)
	if err != nil {
		return 0, fmt.Errorf("purge checkout requests: %w", err)
	}
	return res.RowsAffected()
}

// isNoRows reports whether err says a record does not exist.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
