package shipping

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/country"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store is the shipping module's SQL: the zone table and the module's
// settings. The same statements run on SQLite and PostgreSQL; store_test.go
// runs them on both.
type store struct{ db *sqldb.DB }

// tableRate is a rate of the zone that lists country, or a zone without
// rates (rate nil).
type tableRate struct {
	country, zoneID, zone string
	rate                  *Rate
}

// tableRates returns the rates of the zones that list code or "*", each
// zone's in the order staff gave them, from the read pool.
func (s store) tableRates(ctx context.Context, code string) ([]tableRate, error) {
	return sqldb.All(ctx, s.db.Reader(), "read shipping rates", scanTableRate,
		`SELECT c.country, z.id, z.name, r.id, r.name, r.price_amount, r.currency, r.free_over_amount, r.min_days, r.max_days
		FROM shipping_zone_countries c JOIN shipping_zones z ON z.id = c.zone_id LEFT JOIN shipping_rates r ON r.zone_id = z.id
		WHERE c.country IN (?, ?) ORDER BY c.country, r.position`, code, country.Wildcard)
}

func scanTableRate(row sqldb.Scanner) (tableRate, error) {
	var (
		t                       tableRate
		rateID, name, currency  sql.NullString
		price, minDays, maxDays sql.NullInt64
		freeOver                sql.NullInt64
	)
	if err := row.Scan(&t.country, &t.zoneID, &t.zone, &rateID, &name, &price, &currency, &freeOver, &minDays, &maxDays); err != nil {
		return t, err
	}
	if rateID.Valid {
		t.rate = &Rate{ID: rateID.String, Name: name.String, Price: money.Money{Amount: price.Int64, Currency: currency.String},
			MinDays: int(minDays.Int64), MaxDays: int(maxDays.Int64)}
		if freeOver.Valid {
			t.rate.FreeOver = &money.Money{Amount: freeOver.Int64, Currency: currency.String}
		}
	}
	return t, nil
}

// zones reads all zones, oldest first, or the one with id when id is not ""
// (none when there is no such zone). Countries are sorted ("*" first),
// rates in the order staff gave them.
func (s store) zones(ctx context.Context, q sqldb.Querier, id string) ([]Zone, error) {
	zoneWhere, where, args := "", "", []any{}
	if id != "" {
		zoneWhere, where, args = " WHERE id = ?", " WHERE zone_id = ?", []any{id}
	}
	const what = "list shipping zones"
	out, err := sqldb.All(ctx, q, what, func(row sqldb.Scanner) (Zone, error) {
		z := Zone{Countries: []string{}, Rates: []Rate{}}
		err := row.Scan(&z.ID, &z.Name, &z.CreatedAt, &z.UpdatedAt)
		z.CreatedAt, z.UpdatedAt = z.CreatedAt.UTC(), z.UpdatedAt.UTC()
		return z, err
	}, `SELECT id, name, created_at, updated_at FROM shipping_zones`+zoneWhere+` ORDER BY created_at, id`, args...)
	if err != nil || len(out) == 0 {
		return out, err
	}
	byID := make(map[string]*Zone, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}

	type zoneCountry struct{ zoneID, country string }
	countries, err := sqldb.All(ctx, q, what, func(row sqldb.Scanner) (zoneCountry, error) {
		var c zoneCountry
		return c, row.Scan(&c.zoneID, &c.country)
	}, `SELECT zone_id, country FROM shipping_zone_countries`+where, args...)
	if err != nil {
		return nil, err
	}
	for _, c := range countries {
		if z := byID[c.zoneID]; z != nil {
			z.Countries = append(z.Countries, c.country)
		}
	}

	type zoneRate struct {
		zoneID string
		rate   Rate
	}
	rates, err := sqldb.All(ctx, q, what, func(row sqldb.Scanner) (zoneRate, error) {
		var (
			zr       zoneRate
			freeOver sql.NullInt64
		)
		r := &zr.rate
		if err := row.Scan(&zr.zoneID, &r.ID, &r.Name, &r.Price.Amount, &r.Price.Currency, &freeOver, &r.MinDays, &r.MaxDays); err != nil {
			return zr, err
		}
		if freeOver.Valid {
			r.FreeOver = &money.Money{Amount: freeOver.Int64, Currency: r.Price.Currency}
		}
		return zr, nil
	}, `SELECT zone_id, id, name, price_amount, currency, free_over_amount, min_days, max_days FROM shipping_rates`+where+` ORDER BY zone_id, position`, args...)
	if err != nil {
		return nil, err
	}
	for _, zr := range rates {
		if z := byID[zr.zoneID]; z != nil {
			z.Rates = append(z.Rates, zr.rate)
		}
	}
	for i := range out {
		sort.Strings(out[i].Countries) // "*" first
	}
	return out, nil
}

// insertZone writes a new zone with its countries and rates (each rate with
// its id; positions in slice order). A name or country another zone took
// is a Conflict.
func (s store) insertZone(ctx context.Context, tx *sqldb.Tx, z Zone) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO shipping_zones (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`,
		z.ID, z.Name, z.CreatedAt, z.UpdatedAt); err != nil {
		return fmt.Errorf("create shipping zone: %w", conflictOf(err))
	}
	if err := s.writeCountries(ctx, tx, z); err != nil {
		return err
	}
	for pos, r := range z.Rates {
		if err := s.insertRate(ctx, tx, z.ID, pos, r); err != nil {
			return err
		}
	}
	return nil
}

// updateZone runs fn on zone id, read and locked in tx, and writes back
// what fn left in it: its name, updated_at, countries and rates (a rate fn
// dropped is deleted, one with an id the zone did not have is inserted, the
// others are updated; positions follow the slice). Nothing is written when
// fn returns an error, which updateZone returns. An unknown zone is
// NotFound and fn is not called; a name or country another zone took is a
// Conflict.
func (s store) updateZone(ctx context.Context, tx *sqldb.Tx, id string, fn func(*Zone) error) error {
	lock := ""
	if tx.Dialect() == sqldb.Postgres {
		lock = " FOR UPDATE" // SQLite transactions here are IMMEDIATE: one writer at a time
	}
	var locked string
	err := tx.QueryRowContext(ctx, `SELECT id FROM shipping_zones WHERE id = ?`+lock, id).Scan(&locked)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.NotFoundf("no shipping zone %s", id)
	}
	if err != nil {
		return fmt.Errorf("replace shipping zone %s: %w", id, err)
	}
	zs, err := s.zones(ctx, tx, id)
	if err != nil {
		return err
	}
	before := zs[0]
	after := before
	after.Countries = append([]string(nil), before.Countries...)
	after.Rates = append([]Rate(nil), before.Rates...)
	if err := fn(&after); err != nil {
		return err
	}

	if _, err := tx.ExecContext(ctx, `UPDATE shipping_zones SET name = ?, updated_at = ? WHERE id = ?`, after.Name, after.UpdatedAt, id); err != nil {
		return fmt.Errorf("replace shipping zone %s: %w", id, conflictOf(err))
	}
	if err := s.writeCountries(ctx, tx, after); err != nil {
		return err
	}
	had := make(map[string]bool, len(before.Rates))
	for _, r := range before.Rates {
		had[r.ID] = true
	}
	kept := make(map[string]bool, len(after.Rates))
	for _, r := range after.Rates {
		kept[r.ID] = true
	}
	for _, r := range before.Rates {
		if !kept[r.ID] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM shipping_rates WHERE id = ? AND zone_id = ?`, r.ID, id); err != nil {
				return fmt.Errorf("write shipping zone %s: %w", id, err)
			}
		}
	}
	for pos, r := range after.Rates {
		if !had[r.ID] {
			if err := s.insertRate(ctx, tx, id, pos, r); err != nil {
				return err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE shipping_rates SET position = ?, name = ?, price_amount = ?, currency = ?, free_over_amount = ?,
			min_days = ?, max_days = ? WHERE id = ? AND zone_id = ?`, pos, r.Name, r.Price.Amount, r.Price.Currency, freeOverAmount(r), r.MinDays, r.MaxDays, r.ID, id); err != nil {
			return fmt.Errorf("write shipping zone %s: %w", id, err)
		}
	}
	return nil
}

// writeCountries replaces the countries of zone z.ID with z.Countries.
func (s store) writeCountries(ctx context.Context, tx *sqldb.Tx, z Zone) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM shipping_zone_countries WHERE zone_id = ?`, z.ID); err != nil {
		return fmt.Errorf("write shipping zone %s: %w", z.ID, err)
	}
	for _, c := range z.Countries {
		if _, err := tx.ExecContext(ctx, `INSERT INTO shipping_zone_countries (country, zone_id) VALUES (?, ?)`, c, z.ID); err != nil {
			return fmt.Errorf("write shipping zone %s: %w", z.ID, conflictOf(err))
		}
	}
	return nil
}

func (s store) insertRate(ctx context.Context, tx *sqldb.Tx, zoneID string, pos int, r Rate) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO shipping_rates (id, zone_id, position, name, price_amount, currency, free_over_amount, min_days, max_days)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, zoneID, pos, r.Name, r.Price.Amount, r.Price.Currency, freeOverAmount(r), r.MinDays, r.MaxDays); err != nil {
		return fmt.Errorf("write shipping zone %s: %w", zoneID, err)
	}
	return nil
}

// freeOverAmount is the free_over_amount column of r: NULL for never free.
func freeOverAmount(r Rate) *int64 {
	if r.FreeOver == nil {
		return nil
	}
	return &r.FreeOver.Amount
}

// conflictOf turns a unique violation (a zone that took the same name or
// country in a concurrent transaction) into a Conflict.
func conflictOf(err error) error {
	if sqldb.IsUniqueViolation(err) {
		return apperr.Conflictf("another zone took this name or one of these countries at the same time; reload and try again")
	}
	return err
}

// taken reports what other zones than id hold of a name (case-insensitive)
// and countries: whether the name is taken, and the name of the zone that
// holds each taken country.
func (s store) taken(ctx context.Context, q sqldb.Querier, id, name string, countries []string) (bool, map[string]string, error) {
	var other string
	err := q.QueryRowContext(ctx, `SELECT id FROM shipping_zones WHERE LOWER(name) = LOWER(?) AND id <> ?`, name, id).Scan(&other)
	nameTaken := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, nil, fmt.Errorf("check shipping zone name: %w", err)
	}
	taken := map[string]string{}
	if len(countries) == 0 {
		return nameTaken, taken, nil
	}
	args := []any{id}
	for _, c := range countries {
		args = append(args, c)
	}
	type holder struct{ country, zone string }
	held, err := sqldb.All(ctx, q, "check shipping zone countries", func(row sqldb.Scanner) (holder, error) {
		var h holder
		return h, row.Scan(&h.country, &h.zone)
	}, `SELECT c.country, z.name FROM shipping_zone_countries c JOIN shipping_zones z ON z.id = c.zone_id
		WHERE c.zone_id <> ? AND c.country IN (`+sqldb.Placeholders(len(countries))+`)`, args...)
	if err != nil {
		return false, nil, err
	}
	for _, h := range held {
		taken[h.country] = h.zone
	}
	return nameTaken, taken, nil
}

// deleteZone deletes zone id with its countries and rates; false when
// there is no such zone.
func (s store) deleteZone(ctx context.Context, id string) (bool, error) {
	deleted := false
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		for _, q := range []string{`DELETE FROM shipping_rates WHERE zone_id = ?`, `DELETE FROM shipping_zone_countries WHERE zone_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete shipping zone %s: %w", id, err)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM shipping_zones WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete shipping zone %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("delete shipping zone %s: %w", id, err)
		}
		deleted = n > 0
		return nil
	})
	return deleted, err
}

// setting returns the value of a module setting, and false when it is not set.
func (s store) setting(ctx context.Context, q sqldb.Querier, key string) (string, bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM shipping_settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read shipping setting %s: %w", key, err)
	}
	return v, true, nil
}

// addSetting sets a module setting that must not exist yet: when it does
// (another instance set it first) the error is a unique violation
// (sqldb.IsUniqueViolation).
func (s store) addSetting(ctx context.Context, tx *sqldb.Tx, key, value string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO shipping_settings (key, value) VALUES (?, ?)`, key, value); err != nil {
		return fmt.Errorf("set shipping setting %s: %w", key, err)
	}
	return nil
}
