package shipping

import (
	"context"
	"fmt"
	"sort"
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
	store     store
	country   string
	currency  string
	providers []RateProvider
	now       func() time.Time

	seedMu sync.Mutex
	seeded atomic.Bool
}

// NewService returns the shipping service on db.
func NewService(db *sqldb.DB, opt Options) *Service {
	s := &Service{db: db, store: store{db: db}, country: country.Normalize(opt.DefaultCountry), currency: opt.Currency,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
	if s.country == "" {
		s.country = DefaultCountry
	}
	if s.currency == "" {
		s.currency = DefaultCurrency
	}
	s.providers = append([]RateProvider{flatRates{store: s.store}}, opt.Carriers...)
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
type flatRates struct{ store store }

// Rates returns the rates of the zone that lists q.Country, or else of the
// zone that lists "*". A zone without rates serves nobody: listing a
// country in an empty zone stops shipping there.
func (f flatRates) Rates(ctx context.Context, q Quote) ([]Method, error) {
	rows, err := f.store.tableRates(ctx, q.Country)
	if err != nil {
		return nil, err
	}
	var own, wildcard []Method
	ownZone := false
	for _, t := range rows {
		if t.country == q.Country {
			ownZone = true
		}
		r := t.rate
		if r == nil {
			continue
		}
		if r.Price.Currency != q.Subtotal.Currency {
			return nil, fmt.Errorf("rate %s is in %s but the subtotal in %s (was MERCATO_CURRENCY changed?): %w",
				r.ID, r.Price.Currency, q.Subtotal.Currency, money.ErrCurrencyMismatch)
		}
		m := Method{ID: r.ID, Name: r.Name, Carrier: CarrierFlat, ZoneID: t.zoneID, Zone: t.zone,
			RegularPrice: r.Price, Price: r.Price, FreeOver: r.FreeOver, MinDays: r.MinDays, MaxDays: r.MaxDays}
		if r.FreeOver != nil && q.Subtotal.Amount >= r.FreeOver.Amount {
			m.Price.Amount = 0
		}
		if t.country == q.Country {
			own = append(own, m)
		} else {
			wildcard = append(wildcard, m)
		}
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
	return s.store.zones(ctx, s.db, "")
}

// Zone returns one zone; NotFound when there is none with that id.
func (s *Service) Zone(ctx context.Context, id string) (Zone, error) {
	if err := s.ensureDefaults(ctx); err != nil {
		return Zone{}, err
	}
	zs, err := s.store.zones(ctx, s.db, id)
	if err != nil {
		return Zone{}, err
	}
	if len(zs) == 0 {
		return Zone{}, apperr.NotFoundf("no shipping zone %s", id)
	}
	return zs[0], nil
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
	now := s.now()
	z := Zone{ID: ids.New(), Name: in.Name, Countries: in.Countries, Rates: in.rates(nil), CreatedAt: now, UpdatedAt: now}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.checkConflicts(ctx, tx, z.ID, in); err != nil {
			return err
		}
		return s.store.insertZone(ctx, tx, z)
	})
	if err != nil {
		return Zone{}, err
	}
	return s.Zone(ctx, z.ID)
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
		return s.store.updateZone(ctx, tx, id, func(z *Zone) error {
			existing := map[string]bool{}
			for _, r := range z.Rates {
				existing[r.ID] = true
			}
			if err := checkRateIDs(in, existing); err != nil {
				return err
			}
			if err := s.checkConflicts(ctx, tx, id, in); err != nil {
				return err
			}
			z.Name, z.Countries, z.Rates, z.UpdatedAt = in.Name, in.Countries, in.rates(existing), s.now()
			return nil
		})
	})
	if err != nil {
		return Zone{}, err
	}
	return s.Zone(ctx, id)
}

// checkConflicts refuses a name or countries that another zone than id has
// (Conflict naming "name" and each "countries[i]").
func (s *Service) checkConflicts(ctx context.Context, tx *sqldb.Tx, id string, in ZoneInput) error {
	nameTaken, taken, err := s.store.taken(ctx, tx, id, in.Name, in.Countries)
	if err != nil {
		return err
	}
	var fields []apperr.FieldError
	if nameTaken {
		fields = append(fields, apperr.FieldError{Field: "name", Message: "another zone is named " + in.Name})
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

// rates turns the input's rates into a zone's: a rate with the id of one
// of the zone's existing rates keeps it (checkRateIDs has checked that the
// ids are among them), a new one gets a new id.
func (in ZoneInput) rates(existing map[string]bool) []Rate {
	out := make([]Rate, len(in.Rates))
	for i, r := range in.Rates {
		id := r.ID
		if id == "" || !existing[id] {
			id = ids.New()
		}
		out[i] = Rate{ID: id, Name: r.Name, Price: r.Price, FreeOver: r.FreeOver, MinDays: r.MinDays, MaxDays: r.MaxDays}
	}
	return out
}

// DeleteZone deletes a zone and its rates; its countries are then served by
// the "*" zone, if any. NotFound when there is no such zone.
func (s *Service) DeleteZone(ctx context.Context, id string) error {
	if err := s.ensureDefaults(ctx); err != nil {
		return err
	}
	deleted, err := s.store.deleteZone(ctx, id)
	if err != nil {
		return err
	}
	if !deleted {
		return apperr.NotFoundf("no shipping zone %s", id)
	}
	return nil
}
