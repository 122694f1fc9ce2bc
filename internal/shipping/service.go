package shipping

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/country"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Defaults for Options left empty.
const (
	DefaultCountry  = "DE"
	DefaultCurrency = "EUR"
)

// Options configure the service.
type Options struct {
	// DefaultCountry is the shop's own country: the destination of
	// estimates before an address is known, and the "Domestic" zone of the
	// defaults. "" means DefaultCountry.
	DefaultCountry string
	// Currency is the shop currency: rates are kept in it and subtotals must
	// be in it. "" means DefaultCurrency.
	Currency string
	// Carriers quote methods beside the zone table (live carrier rates).
	Carriers []RateProvider
}

// Service offers shipping methods and keeps the zone table.
type Service struct {
	db        *sqldb.DB
	country   string
	currency  string
	providers []RateProvider
	now       func() time.Time

	seedMu sync.Mutex
	seeded atomic.Bool
}

// NewService returns the shipping service on db.
func NewService(db *sqldb.DB, opt Options) *Service {
	s := &Service{db: db, country: country.Normalize(opt.DefaultCountry), currency: opt.Currency,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
	if s.country == "" {
		s.country = DefaultCountry
	}
	if s.currency == "" {
		s.currency = DefaultCurrency
	}
	s.providers = append([]RateProvider{flatRates{db: db}}, opt.Carriers...)
	return s
}

// DefaultCountry returns the shop's country.
func (s *Service) DefaultCountry() string { return s.country }

// Currency returns the shop currency.
func (s *Service) Currency() string { return s.currency }

// Methods returns the methods available for a destination country (ISO
// 3166-1 alpha-2, case-insensitive) and a cart subtotal, cheapest first.
// country "" means the shop's default country (for estimates before an
// address is known). A malformed or unserved country is Invalid on
// "country"; a subtotal not in the shop currency is Invalid on "currency".
func (s *Service) Methods(ctx context.Context, dest string, subtotal money.Money) ([]Method, error) {
	c, ms, err := s.quote(ctx, dest, subtotal)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, apperr.Field("country", "we do not ship to "+c)
	}
	return ms, nil
}

// Method returns one method priced for country and subtotal; a method that
// does not exist or does not serve that country is Invalid on
// "shipping_method_id" (a malformed country is Invalid on "country").
func (s *Service) Method(ctx context.Context, id, dest string, subtotal money.Money) (Method, error) {
	c, ms, err := s.quote(ctx, dest, subtotal)
	if err != nil {
		return Method{}, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return Method{}, apperr.Field("shipping_method_id", "is not a shipping method to "+c)
}

// quote asks every provider, cheapest first (ties keep the providers' order).
func (s *Service) quote(ctx context.Context, dest string, subtotal money.Money) (string, []Method, error) {
	c := country.Normalize(dest)
	if c == "" {
		c = s.country
	}
	if !country.Valid(c) {
		return c, nil, apperr.Field("country", "must be an ISO 3166-1 alpha-2 country code such as DE")
	}
	if subtotal.Currency != s.currency {
		return c, nil, apperr.Field("currency", "must be "+s.currency+", the shop currency")
	}
	if err := s.ensureDefaults(ctx); err != nil {
		return c, nil, err
	}
	q := Quote{Country: c, Subtotal: subtotal}
	var out []Method
	for _, p := range s.providers {
		ms, err := p.Rates(ctx, q)
		if err != nil {
			return c, nil, fmt.Errorf("quote shipping to %s: %w", c, err)
		}
		out = append(out, ms...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Price.Amount < out[j].Price.Amount })
	return c, out, nil
}

// flatRates is the zone table as a RateProvider.
type flatRates struct{ db *sqldb.DB }

// Rates returns the rates of the zone that lists q.Country, or else of the
// zone that lists "*". A zone without rates serves nobody: listing a
// country in an empty zone stops shipping there.
func (f flatRates) Rates(ctx context.Context, q Quote) ([]Method, error) {
	rows, err := f.db.Reader().QueryContext(ctx, `SELECT c.country, z.id, z.name, r.id, r.name, r.price_amount, r.currency, r.free_over_amount, r.min_days, r.max_days
		FROM shipping_zone_countries c JOIN shipping_zones z ON z.id = c.zone_id LEFT JOIN shipping_rates r ON r.zone_id = z.id
		WHERE c.country IN (?, ?) ORDER BY r.position`, q.Country, country.Wildcard)
	if err != nil {
		return nil, fmt.Errorf("read shipping rates: %w", err)
	}
	defer rows.Close()
	var own, wildcard []Method
	ownZone := false
	for rows.Next() {
		var (
			code, zoneID, zoneName  string
			rateID, name, currency  sql.NullString
			price, minDays, maxDays sql.NullInt64
			freeOver                sql.NullInt64
		)
		if err := rows.Scan(&code, &zoneID, &zoneName, &rateID, &name, &price, &currency, &freeOver, &minDays, &maxDays); err != nil {
			return nil, fmt.Errorf("read shipping rates: %w", err)
		}
		if code == q.Country {
			ownZone = true
		}
		if !rateID.Valid {
			continue
		}
		if currency.String != q.Subtotal.Currency {
			return nil, fmt.Errorf("rate %s is in %s but the subtotal in %s (was MERCATO_CURRENCY changed?): %w",
				rateID.String, currency.String, q.Subtotal.Currency, money.ErrCurrencyMismatch)
		}
		m := Method{ID: rateID.String, Name: name.String, Carrier: CarrierFlat, ZoneID: zoneID, Zone: zoneName,
			RegularPrice: money.Money{Amount: price.Int64, Currency: currency.String}, MinDays: int(minDays.Int64), MaxDays: int(maxDays.Int64)}
		m.Price = m.RegularPrice
		if freeOver.Valid {
			m.FreeOver = &money.Money{Amount: freeOver.Int64, Currency: currency.String}
			if q.Subtotal.Amount >= freeOver.Int64 {
				m.Price.Amount = 0
			}
		}
		if code == q.Country {
			own = append(own, m)
		} else {
			wildcard = append(wildcard, m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read shipping rates: %w", err)
	}
	if ownZone {
		return own, nil
	}
	return wildcard, nil
}

// Zones lists every zone with its countries and rates, oldest first.
func (s *Service) Zones(ctx context.Context) ([]Zone, error) {
	if err := s.ensureDefaults(ctx); err != nil {
		return nil, err
	}
	return s.zones(ctx, s.db, "")
}

// Zone returns one zone; NotFound when there is none with that id.
func (s *Service) Zone(ctx context.Context, id string) (Zone, error) {
	if err := s.ensureDefaults(ctx); err != nil {
		return Zone{}, err
	}
	zs, err := s.zones(ctx, s.db, id)
	if err != nil {
		return Zone{}, err
	}
	if len(zs) == 0 {
		return Zone{}, apperr.NotFoundf("no shipping zone %s", id)
	}
	return zs[0], nil
}

// zones reads all zones, or the one with id when id is not "".
func (s *Service) zones(ctx context.Context, q sqldb.Querier, id string) ([]Zone, error) {
	where, args := "", []any{}
	if id != "" {
		where, args = " WHERE zone_id = ?", []any{id}
	}
	zoneWhere := strings.Replace(where, "zone_id", "id", 1)
	rows, err := q.QueryContext(ctx, `SELECT id, name, created_at, updated_at FROM shipping_zones`+zoneWhere+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list shipping zones: %w", err)
	}
	out := []Zone{}
	byID := map[string]*Zone{}
	for rows.Next() {
		z := Zone{Countries: []string{}, Rates: []Rate{}}
		if err := rows.Scan(&z.ID, &z.Name, &z.CreatedAt, &z.UpdatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list shipping zones: %w", err)
		}
		z.CreatedAt, z.UpdatedAt = z.CreatedAt.UTC(), z.UpdatedAt.UTC()
		out = append(out, z)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list shipping zones: %w", err)
	}
	for i := range out {
		byID[out[i].ID] = &out[i]
	}

	rows, err = q.QueryContext(ctx, `SELECT zone_id, country FROM shipping_zone_countries`+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list shipping zones: %w", err)
	}
	for rows.Next() {
		var zoneID, c string
		if err := rows.Scan(&zoneID, &c); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list shipping zones: %w", err)
		}
		if z := byID[zoneID]; z != nil {
			z.Countries = append(z.Countries, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list shipping zones: %w", err)
	}

	rows, err = q.QueryContext(ctx, `SELECT zone_id, id, name, price_amount, currency, free_over_amount, min_days, max_days
		FROM shipping_rates`+where+` ORDER BY zone_id, position`, args...)
	if err != nil {
		return nil, fmt.Errorf("list shipping zones: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			zoneID   string
			r        Rate
			freeOver sql.NullInt64
		)
		if err := rows.Scan(&zoneID, &r.ID, &r.Name, &r.Price.Amount, &r.Price.Currency, &freeOver, &r.MinDays, &r.MaxDays); err != nil {
			return nil, fmt.Errorf("list shipping zones: %w", err)
		}
		if freeOver.Valid {
			r.FreeOver = &money.Money{Amount: freeOver.Int64, Currency: r.Price.Currency}
		}
		if z := byID[zoneID]; z != nil {
			z.Rates = append(z.Rates, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list shipping zones: %w", err)
	}
	for i := range out {
		sort.Strings(out[i].Countries) // "*" first
	}
	return out, nil
}

// CreateZone adds a zone. Invalid input is Invalid naming each field
// ("countries[2]", "rates[0].free_over.currency"); a name or a country that
// another zone already has is a Conflict naming the field.
func (s *Service) CreateZone(ctx context.Context, in ZoneInput) (Zone, error) {
	in, err := in.validate(s.currency)
	if err != nil {
		return Zone{}, err
	}
	if err := s.ensureDefaults(ctx); err != nil {
		return Zone{}, err
	}
	if err := checkRateIDs(in, nil); err != nil {
		return Zone{}, err
	}
	id := ids.New()
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.checkConflicts(ctx, tx, id, in); err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO shipping_zones (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`, id, in.Name, now, now); err != nil {
			return fmt.Errorf("create shipping zone: %w", conflictOf(err))
		}
		return s.writeZone(ctx, tx, id, in, nil)
	})
	if err != nil {
		return Zone{}, err
	}
	return s.Zone(ctx, id)
}

// ReplaceZone replaces a zone's name, countries and rates (see RateInput for
// how rate ids are kept). NotFound when there is no such zone; otherwise the
// errors of CreateZone, and Invalid on "rates[i].id" for an id that is not
// one of this zone's rates.
func (s *Service) ReplaceZone(ctx context.Context, id string, in ZoneInput) (Zone, error) {
	in, err := in.validate(s.currency)
	if err != nil {
		return Zone{}, err
	}
	if err := s.ensureDefaults(ctx); err != nil {
		return Zone{}, err
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE shipping_zones SET updated_at = ? WHERE id = ?`, s.now(), id)
		if err != nil {
			return fmt.Errorf("replace shipping zone %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("replace shipping zone %s: %w", id, err)
		} else if n == 0 {
			return apperr.NotFoundf("no shipping zone %s", id)
		}
		existing := map[string]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM shipping_rates WHERE zone_id = ?`, id)
		if err != nil {
			return fmt.Errorf("replace shipping zone %s: %w", id, err)
		}
		for rows.Next() {
			var rid string
			if err := rows.Scan(&rid); err != nil {
				rows.Close()
				return fmt.Errorf("replace shipping zone %s: %w", id, err)
			}
			existing[rid] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("replace shipping zone %s: %w", id, err)
		}
		if err := checkRateIDs(in, existing); err != nil {
			return err
		}
		if err := s.checkConflicts(ctx, tx, id, in); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE shipping_zones SET name = ? WHERE id = ?`, in.Name, id); err != nil {
			return fmt.Errorf("replace shipping zone %s: %w", id, conflictOf(err))
		}
		return s.writeZone(ctx, tx, id, in, existing)
	})
	if err != nil {
		return Zone{}, err
	}
	return s.Zone(ctx, id)
}

// checkConflicts refuses a name or countries that another zone has.
func (s *Service) checkConflicts(ctx context.Context, tx *sqldb.Tx, id string, in ZoneInput) error {
	var fields []apperr.FieldError
	var other string
	err := tx.QueryRowContext(ctx, `SELECT id FROM shipping_zones WHERE LOWER(name) = LOWER(?) AND id <> ?`, in.Name, id).Scan(&other)
	switch {
	case err == nil:
		fields = append(fields, apperr.FieldError{Field: "name", Message: "another zone is named " + in.Name})
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("check shipping zone name: %w", err)
	}
	args := []any{id}
	for _, c := range in.Countries {
		args = append(args, c)
	}
	rows, err := tx.QueryContext(ctx, `SELECT c.country, z.name FROM shipping_zone_countries c JOIN shipping_zones z ON z.id = c.zone_id
		WHERE c.zone_id <> ? AND c.country IN (`+sqldb.Placeholders(len(in.Countries))+`)`, args...)
	if err != nil {
		return fmt.Errorf("check shipping zone countries: %w", err)
	}
	taken := map[string]string{}
	for rows.Next() {
		var c, zone string
		if err := rows.Scan(&c, &zone); err != nil {
			rows.Close()
			return fmt.Errorf("check shipping zone countries: %w", err)
		}
		taken[c] = zone
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check shipping zone countries: %w", err)
	}
	for i, c := range in.Countries {
		if zone, ok := taken[c]; ok {
			fields = append(fields, apperr.FieldError{Field: fmt.Sprintf("countries[%d]", i), Message: fmt.Sprintf("%s is already in the zone %q", c, zone)})
		}
	}
	if len(fields) > 0 {
		return &apperr.Error{Code: apperr.Conflict, Message: "a zone name or country is already taken", Fields: fields}
	}
	return nil
}

// checkRateIDs refuses rate ids that are not among the zone's existing ones.
func checkRateIDs(in ZoneInput, existing map[string]bool) error {
	var v apperr.Validator
	for i, r := range in.Rates {
		v.Check(r.ID == "" || existing[r.ID], fmt.Sprintf("rates[%d].id", i), "is not a rate of this zone (leave it out for a new rate)")
	}
	return v.Err()
}

// writeZone replaces the countries and rates of zone id. existing holds the
// ids of the zone's current rates (nil for a new zone); checkRateIDs has
// checked that the input's rate ids are among them.
func (s *Service) writeZone(ctx context.Context, tx *sqldb.Tx, id string, in ZoneInput, existing map[string]bool) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM shipping_zone_countries WHERE zone_id = ?`, id); err != nil {
		return fmt.Errorf("write shipping zone %s: %w", id, err)
	}
	for _, c := range in.Countries {
		if _, err := tx.ExecContext(ctx, `INSERT INTO shipping_zone_countries (country, zone_id) VALUES (?, ?)`, c, id); err != nil {
			return fmt.Errorf("write shipping zone %s: %w", id, conflictOf(err))
		}
	}
	kept := map[string]bool{}
	for _, r := range in.Rates {
		kept[r.ID] = r.ID != ""
	}
	for rid := range existing {
		if !kept[rid] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM shipping_rates WHERE id = ?`, rid); err != nil {
				return fmt.Errorf("write shipping zone %s: %w", id, err)
			}
		}
	}
	for pos, r := range in.Rates {
		var freeOver *int64
		if r.FreeOver != nil {
			freeOver = &r.FreeOver.Amount
		}
		if r.ID != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE shipping_rates SET position = ?, name = ?, price_amount = ?, currency = ?, free_over_amount = ?,
				min_days = ?, max_days = ? WHERE id = ? AND zone_id = ?`, pos, r.Name, r.Price.Amount, r.Price.Currency, freeOver, r.MinDays, r.MaxDays, r.ID, id); err != nil {
				return fmt.Errorf("write shipping zone %s: %w", id, err)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO shipping_rates (id, zone_id, position, name, price_amount, currency, free_over_amount, min_days, max_days)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ids.New(), id, pos, r.Name, r.Price.Amount, r.Price.Currency, freeOver, r.MinDays, r.MaxDays); err != nil {
			return fmt.Errorf("write shipping zone %s: %w", id, err)
		}
	}
	return nil
}

// conflictOf turns a unique violation (a zone that took the same name or
// country in a concurrent transaction) into a Conflict.
func conflictOf(err error) error {
	if sqldb.IsUniqueViolation(err) {
		return apperr.Conflictf("another zone took this name or one of these countries at the same time; reload and try again")
	}
	return err
}

// DeleteZone deletes a zone and its rates; its countries are then served by
// the "*" zone, if any. NotFound when there is no such zone.
func (s *Service) DeleteZone(ctx context.Context, id string) error {
	if err := s.ensureDefaults(ctx); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		for _, q := range []string{`DELETE FROM shipping_rates WHERE zone_id = ?`, `DELETE FROM shipping_zone_countries WHERE zone_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete shipping zone %s: %w", id, err)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM shipping_zones WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete shipping zone %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete shipping zone %s: %w", id, err)
		} else if n == 0 {
			return apperr.NotFoundf("no shipping zone %s", id)
		}
		return nil
	})
}
