package sqldb

import (
	"context"
	"database/sql"
	"fmt"
)

// Scanner is what a row offers: *sql.Row and *sql.Rows both implement it,
// so one scan function serves a single-row and a many-row query.
type Scanner interface {
	Scan(dest ...any) error
}

// Within runs fn in tx when the caller already has a transaction (tx is not
// nil), and in a transaction of its own otherwise. It is the one idiom for a
// service method that may join its caller's transaction: the work commits
// or rolls back with the caller's, or on its own.
func (db *DB) Within(ctx context.Context, tx *Tx, fn func(tx *Tx) error) error {
	if tx != nil {
		return fn(tx)
	}
	return db.InTx(ctx, fn)
}

// Querier returns tx when it is not nil and db's write pool otherwise, for
// reads that must see the caller's uncommitted writes when there are any.
func (db *DB) Querier(tx *Tx) Querier {
	if tx != nil {
		return tx
	}
	return db
}

// All runs query on q and scans every row with scan. It returns an empty,
// non-nil slice when there are no rows (so a JSON list is [] and not null),
// and the first error of the query, a scan or the iteration, wrapped with
// what: sqldb.All(ctx, q, "list orders", scanOrder, `SELECT …`, args...).
func All[T any](ctx context.Context, q Querier, what string, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return Collect(rows, what, scan)
}

// Collect scans every row of rows with scan and closes rows; see All.
func Collect[T any](rows *sql.Rows, what string, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Changed reports whether a statement changed any row, passing on its
// error: ok, err := sqldb.Changed(tx.ExecContext(ctx, `UPDATE … WHERE …`)).
// A conditional update that matched nothing is (false, nil).
func Changed(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
