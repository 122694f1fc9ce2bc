package cart

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Cart statuses as stored.
const (
	statusActive    = "active"
	statusConverted = "converted"
	statusMerged    = "merged"
)

// record is a cart as stored: its row and its lines, without prices. The
// service prices it (price) and decides what may change; the store only
// reads and writes it.
type record struct {
	id, customerID, currency, status, orderID string
	createdAt, updatedAt                      time.Time
	lines                                     []line   // in the order they were added
	codes                                     []string // discount codes, in the order they were applied
}

// line is one stored cart line; seen is the unit price (minor units) the
// customer last saw for it.
type line struct {
	id, variantID string
	qty, seen     int64
	createdAt     time.Time
}

// lineOf returns the index of the line holding variantID, or -1.
func (r *record) lineOf(variantID string) int {
	for i := range r.lines {
		if r.lines[i].variantID == variantID {
			return i
		}
	}
	return -1
}

// store is the cart module's SQL. The same statements run on SQLite and
// PostgreSQL; cart_test.go runs the service, and so the store, on both.
type store struct{ db *sqldb.DB }

// errCartNotFound is the one answer for a cart that does not exist or is
// not the caller's, so that ids of other people's carts are not confirmed.
func errCartNotFound() error { return apperr.NotFoundf("cart not found") }

// get reads cart id with its lines; NotFound when there is no such cart.
func (s store) get(ctx context.Context, q sqldb.Querier, id string) (record, error) {
	return s.read(ctx, q, id, "")
}

// read is get with a suffix for the cart's SELECT (" FOR UPDATE").
func (s store) read(ctx context.Context, q sqldb.Querier, id, lock string) (record, error) {
	var (
		r             record
		cust, orderID sql.NullString
	)
	err := q.QueryRowContext(ctx, `SELECT id, customer_id, currency, status, order_id, created_at, updated_at FROM cart_carts WHERE id = ?`+lock, id).
		Scan(&r.id, &cust, &r.currency, &r.status, &orderID, &r.createdAt, &r.updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errCartNotFound()
	}
	if err != nil {
		return r, fmt.Errorf("load cart: %w", err)
	}
	r.customerID, r.orderID = cust.String, orderID.String
	r.createdAt, r.updatedAt = r.createdAt.UTC(), r.updatedAt.UTC()
	r.lines, err = sqldb.All(ctx, q, "load cart items", scanLine,
		`SELECT id, variant_id, quantity, seen_price, created_at FROM cart_items WHERE cart_id = ? ORDER BY created_at, id`, id)
	if err != nil {
		return r, err
	}
	r.codes, err = sqldb.All(ctx, q, "load cart codes", scanID,
		`SELECT code FROM cart_codes WHERE cart_id = ? ORDER BY created_at, code`, id)
	return r, err
}

func scanLine(row sqldb.Scanner) (line, error) {
	var l line
	err := row.Scan(&l.id, &l.variantID, &l.qty, &l.seen, &l.createdAt)
	l.createdAt = l.createdAt.UTC()
	return l, err
}

// customerOf returns the customer who owns cart id ("" for a guest cart),
// reading one row; NotFound when there is no such cart.
func (s store) customerOf(ctx context.Context, id string) (string, error) {
	var cust sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT customer_id FROM cart_carts WHERE id = ?`, id).Scan(&cust)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errCartNotFound()
	}
	if err != nil {
		return "", fmt.Errorf("load cart: %w", err)
	}
	return cust.String, nil
}

// create inserts a cart without lines.
func (s store) create(ctx context.Context, r record) error {
	var cust any
	if r.customerID != "" {
		cust = r.customerID
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO cart_carts (id, customer_id, currency, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.id, cust, r.currency, r.status, r.createdAt, r.updatedAt); err != nil {
		return fmt.Errorf("create cart: %w", err)
	}
	return nil
}

// update runs fn on cart id, read and locked in tx (or in a transaction of
// its own when tx is nil) so that concurrent updates of one cart take turns,
// and writes back what fn changed: the cart's customer, status, order and
// updated_at, and its lines (a line fn removed is deleted, one whose id the
// cart did not have is inserted with that id, a changed one is updated).
// Nothing is written when fn returns an error, which update returns. An
// unknown cart is NotFound and fn is not called.
func (s store) update(ctx context.Context, tx *sqldb.Tx, id string, fn func(*record) error) error {
	return s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		lock := ""
		if tx.Dialect() == sqldb.Postgres {
			lock = " FOR UPDATE" // SQLite transactions here are IMMEDIATE: one writer at a time
		}
		before, err := s.read(ctx, tx, id, lock)
		if err != nil {
			return err
		}
		after := before
		after.lines = append([]line(nil), before.lines...)
		after.codes = append([]string(nil), before.codes...)
		if err := fn(&after); err != nil {
			return err
		}
		return s.save(ctx, tx, before, after)
	})
}

// save writes the difference between two states of one cart.
func (s store) save(ctx context.Context, tx *sqldb.Tx, before, after record) error {
	if after.customerID != before.customerID || after.status != before.status || after.orderID != before.orderID || !after.updatedAt.Equal(before.updatedAt) {
		var cust, orderID any
		if after.customerID != "" {
			cust = after.customerID
		}
		if after.orderID != "" {
			orderID = after.orderID
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cart_carts SET customer_id = ?, status = ?, order_id = ?, updated_at = ? WHERE id = ?`,
			cust, after.status, orderID, after.updatedAt, before.id); err != nil {
			return fmt.Errorf("update cart: %w", err)
		}
	}
	if !slices.Equal(before.codes, after.codes) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM cart_codes WHERE cart_id = ?`, before.id); err != nil {
			return fmt.Errorf("remove cart codes: %w", err)
		}
		for _, c := range after.codes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cart_codes (cart_id, code, created_at) VALUES (?, ?, ?)`, before.id, c, after.updatedAt); err != nil {
				return fmt.Errorf("add cart code: %w", err)
			}
		}
	}
	old := make(map[string]line, len(before.lines))
	for _, l := range before.lines {
		old[l.id] = l
	}
	kept := make(map[string]bool, len(after.lines))
	for _, l := range after.lines {
		kept[l.id] = true
	}
	// Deletes first, so that a variant removed and added again does not
	// meet itself in the (cart_id, variant_id) unique index.
	for _, l := range before.lines {
		if !kept[l.id] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM cart_items WHERE id = ? AND cart_id = ?`, l.id, before.id); err != nil {
				return fmt.Errorf("remove cart item: %w", err)
			}
		}
	}
	for _, l := range after.lines {
		o, ok := old[l.id]
		switch {
		case !ok:
			if _, err := tx.ExecContext(ctx, `INSERT INTO cart_items (id, cart_id, variant_id, quantity, seen_price, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
				l.id, before.id, l.variantID, l.qty, l.seen, l.createdAt); err != nil {
				return fmt.Errorf("add cart item: %w", err)
			}
		case o.qty != l.qty || o.seen != l.seen:
			if _, err := tx.ExecContext(ctx, `UPDATE cart_items SET quantity = ?, seen_price = ? WHERE id = ? AND cart_id = ?`,
				l.qty, l.seen, l.id, before.id); err != nil {
				return fmt.Errorf("update cart item: %w", err)
			}
		}
	}
	return nil
}

// convert sets an active cart's status to converted with its order, in one
// conditional statement. It reports false when cart id is unknown or not
// active (then nothing changed).
func (s store) convert(ctx context.Context, tx *sqldb.Tx, id, orderID string, at time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE cart_carts SET status = ?, order_id = ?, updated_at = ? WHERE id = ? AND status = ?`,
		statusConverted, orderID, at, id, statusActive)
	if err != nil {
		return false, fmt.Errorf("close cart: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("close cart: %w", err)
	}
	return n == 1, nil
}

// activeOf lists the ids of a customer's active carts, newest (by
// updated_at) first, leaving out except.
func (s store) activeOf(ctx context.Context, q sqldb.Querier, customerID, except string) ([]string, error) {
	return sqldb.All(ctx, q, "list active carts", scanID,
		`SELECT id FROM cart_carts WHERE customer_id = ? AND status = ? AND id <> ? ORDER BY updated_at DESC, id`, customerID, statusActive, except)
}

// newestActive returns the id of a customer's active cart updated last, or
// "" when there is none.
func (s store) newestActive(ctx context.Context, customerID string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM cart_carts WHERE customer_id = ? AND status = ? ORDER BY updated_at DESC, id LIMIT 1`,
		customerID, statusActive).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find active cart: %w", err)
	}
	return id, nil
}

func scanID(row sqldb.Scanner) (string, error) {
	var id string
	err := row.Scan(&id)
	return id, err
}

// idle lists active customer carts with items, never reminded, whose last
// change lies between notBefore and before: the reminder candidates,
// oldest first, at most limit.
func (s store) idle(ctx context.Context, before, notBefore time.Time, limit int) ([]string, error) {
	return sqldb.All(ctx, s.db, "list idle carts", scanID,
		`SELECT c.id FROM cart_carts c
		WHERE c.status = ? AND c.updated_at < ? AND c.updated_at >= ? AND c.reminded_at IS NULL AND c.customer_id IS NOT NULL
		AND EXISTS (SELECT 1 FROM cart_items i WHERE i.cart_id = c.id)
		ORDER BY c.updated_at, c.id LIMIT ?`, statusActive, before, notBefore, limit)
}

// remind marks cart id reminded at now, with the hash of its restore token
// (nil for none), if it is still active, unreminded and unchanged since
// updatedAt, in one conditional statement. It reports whether it did.
func (s store) remind(ctx context.Context, tx *sqldb.Tx, id string, updatedAt, now time.Time, tokenHash *string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE cart_carts SET reminded_at = ?, restore_token_hash = ?
		WHERE id = ? AND status = ? AND reminded_at IS NULL AND updated_at = ?`, now, tokenHash, id, statusActive, updatedAt)
	if err != nil {
		return false, fmt.Errorf("mark cart reminded: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark cart reminded: %w", err)
	}
	return n == 1, nil
}

// byRestoreHash finds the active cart whose restore token has hash.
func (s store) byRestoreHash(ctx context.Context, hash string) (id, customerID string, ok bool, err error) {
	var cust sql.NullString
	err = s.db.QueryRowContext(ctx, `SELECT id, customer_id FROM cart_carts WHERE restore_token_hash = ? AND status = ?`, hash, statusActive).Scan(&id, &cust)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("find cart by restore link: %w", err)
	}
	return id, cust.String, true, nil
}
