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

// ratesOf returns code -> rate in basis points of those of the given codes
// that have a rate, from the read pool. It reads only what Calculate needs
// (no timestamps: parsing them doubled its cost on SQLite).
func (s store) ratesOf(ctx context.Context, codes ...string) (map[string]int64, error) {
	type rate struct {
		code string
		bp   int64
	}
	args := make([]any, len(codes))
	for i, c := range codes {
		args[i] = c
	}
	rows, err := sqldb.All(ctx, s.db.Reader(), "read tax rates", func(row sqldb.Scanner) (rate, error) {
		var r rate
		return r, row.Scan(&r.code, &r.bp)
	}, `SELECT country, rate_bp FROM tax_rates WHERE country IN (`+sqldb.Placeholders(len(codes))+`)`, args...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.code] = r.bp
	}
	return out, nil
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
