package tax

import (
	"context"
	"fmt"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store is the tax module's SQL: the rates table. The same statements run
// on SQLite and PostgreSQL; store_test.go runs them on both.
type store struct{ db *sqldb.DB }

func scanRate(row sqldb.Scanner) (Rate, error) {
	var r Rate
	err := row.Scan(&r.Country, &r.RateBP, &r.UpdatedAt)
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r, err
}

// rates returns the rates of the given codes that exist, in no particular
// order, from the read pool.
func (s store) rates(ctx context.Context, codes ...string) ([]Rate, error) {
	args := make([]any, len(codes))
	for i, c := range codes {
		args[i] = c
	}
	return sqldb.All(ctx, s.db.Reader(), "read tax rates", scanRate,
		`SELECT country, rate_bp, updated_at FROM tax_rates WHERE country IN (`+sqldb.Placeholders(len(codes))+`)`, args...)
}

// all returns every rate, in no particular order.
func (s store) all(ctx context.Context) ([]Rate, error) {
	return sqldb.All(ctx, s.db, "list tax rates", scanRate, `SELECT country, rate_bp, updated_at FROM tax_rates`)
}

// put sets the rate of r.Country, adding the row when it is missing.
func (s store) put(ctx context.Context, r Rate) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO tax_rates (country, rate_bp, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (country) DO UPDATE SET rate_bp = excluded.rate_bp, updated_at = excluded.updated_at`, r.Country, r.RateBP, r.UpdatedAt); err != nil {
		return fmt.Errorf("set tax rate of %s: %w", r.Country, err)
	}
	return nil
}
