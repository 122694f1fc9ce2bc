package shipping

import (
	"context"
	"fmt"
	"strings"

	"github.com/mercato-shop/mercato/internal/country"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// seededKey marks, in shipping_settings, that the default zones were created
// once; deleting them later does not bring them back.
const seededKey = "defaults_seeded_at"

// DefaultZones returns the zones a new shop starts with, priced in currency:
// "Domestic" (the shop's country: Standard 4.90, free from 50.00, and
// Express 9.90), "EU" (the other EU member states: Standard 9.90, free from
// 100.00) and "World" (every other country: International 19.90).
func DefaultZones(home, currency string) []ZoneInput {
	price := func(hundredths int64) money.Money {
		return money.Money{Amount: minorUnits(hundredths, currency), Currency: currency}
	}
	free := func(hundredths int64) *money.Money { m := price(hundredths); return &m }
	var eu []string
	for _, c := range country.EU() {
		if c != home {
			eu = append(eu, c)
		}
	}
	return []ZoneInput{
		{Name: "Domestic", Countries: []string{home}, Rates: []RateInput{
			{Name: "Standard", Price: price(490), FreeOver: free(5000), MinDays: 2, MaxDays: 4},
			{Name: "Express", Price: price(990), MinDays: 1, MaxDays: 2},
		}},
		{Name: "EU", Countries: eu, Rates: []RateInput{
			{Name: "Standard", Price: price(990), FreeOver: free(10000), MinDays: 3, MaxDays: 7},
		}},
		{Name: "World", Countries: []string{country.Wildcard}, Rates: []RateInput{
			{Name: "International", Price: price(1990), MinDays: 5, MaxDays: 14},
		}},
	}
}

// minorUnits converts hundredths of a major unit (490 = 4.90) to the minor
// units of currency: 490 for EUR, 5 for JPY (no minor unit), 4900 for KWD.
func minorUnits(hundredths int64, currency string) int64 {
	_, frac, _ := strings.Cut(money.Money{Amount: 1, Currency: currency}.Decimal(), ".")
	switch exp := len(frac); {
	case exp < 2:
		div := int64(1)
		for range 2 - exp {
			div *= 10
		}
		return (hundredths + div/2) / div
	default:
		for range exp - 2 {
			hundredths *= 10
		}
		return hundredths
	}
}

// ensureDefaults creates the default zones the first time the module is
// used on a database (every public method calls it first). Instances that
// start together create them once: the marker row's primary key decides.
func (s *Service) ensureDefaults(ctx context.Context) error {
	if s.seeded.Load() {
		return nil
	}
	s.seedMu.Lock()
	defer s.seedMu.Unlock()
	if s.seeded.Load() {
		return nil
	}
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if _, done, err := s.store.setting(ctx, tx, seededKey); err != nil || done {
			return err
		}
		now := s.now()
		if err := s.store.addSetting(ctx, tx, seededKey, now.Format("2006-01-02T15:04:05.999999Z")); err != nil {
			return err
		}
		for _, z := range DefaultZones(s.country, s.currency) {
			in, err := z.validate(s.currency)
			if err != nil {
				return fmt.Errorf("default zone %s: %w", z.Name, err)
			}
			zone := Zone{ID: ids.New(), Name: in.Name, Countries: in.Countries, Rates: in.rates(nil), CreatedAt: now, UpdatedAt: now}
			if err := s.store.insertZone(ctx, tx, zone); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !sqldb.IsUniqueViolation(err) { // a unique violation: another instance created them just now
		return fmt.Errorf("create default shipping zones: %w", err)
	}
	s.seeded.Store(true)
	return nil
}
