package shipping

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/country"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{Migrations()}

func eur(a int64) money.Money   { return money.Money{Amount: a, Currency: "EUR"} }
func eurp(a int64) *money.Money { m := eur(a); return &m }

// wantErr asserts an error of code naming field (when field is not "").
func wantErr(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("error %v, want %s on %q", err, code, field)
	}
	if field == "" {
		return
	}
	var e *apperr.Error
	errors.As(err, &e)
	var fields []string
	for _, f := range e.Fields {
		if f.Field == field {
			return
		}
		fields = append(fields, f.Field)
	}
	t.Fatalf("error %v names %q, want %q", err, fields, field)
}

// summary is "name=price" of each method, in order.
func summary(ms []Method) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = fmt.Sprintf("%s=%d", m.Name, m.Price.Amount)
	}
	return out
}

func zoneByName(t *testing.T, svc *Service, name string) Zone {
	t.Helper()
	zs, err := svc.Zones(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range zs {
		if z.Name == name {
			return z
		}
	}
	t.Fatalf("no zone %q", name)
	return Zone{}
}

func TestDefaults(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := NewService(db, Options{}) // DE, EUR
		zs, err := svc.Zones(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, z := range zs {
			names = append(names, z.Name)
		}
		if !slices.Equal(names, []string{"Domestic", "EU", "World"}) {
			t.Fatalf("zones %v", names)
		}
		dom, eu, world := zs[0], zs[1], zs[2]
		if !slices.Equal(dom.Countries, []string{"DE"}) || len(eu.Countries) != 26 || slices.Contains(eu.Countries, "DE") ||
			!slices.Contains(eu.Countries, "FR") || !slices.Equal(world.Countries, []string{"*"}) {
			t.Fatalf("countries: %v / %v / %v", dom.Countries, eu.Countries, world.Countries)
		}
		if !slices.IsSorted(eu.Countries) {
			t.Fatalf("EU countries not sorted: %v", eu.Countries)
		}
		want := []Rate{
			{Name: "Standard", Price: eur(490), FreeOver: eurp(5000), MinDays: 2, MaxDays: 4},
			{Name: "Express", Price: eur(990), MinDays: 1, MaxDays: 2},
		}
		if len(dom.Rates) != 2 {
			t.Fatalf("domestic rates %+v", dom.Rates)
		}
		for i, r := range dom.Rates {
			if r.ID == "" || r.Name != want[i].Name || r.Price != want[i].Price || !equalMoney(r.FreeOver, want[i].FreeOver) ||
				r.MinDays != want[i].MinDays || r.MaxDays != want[i].MaxDays {
				t.Errorf("domestic rate %d = %+v, want %+v", i, r, want[i])
			}
		}
		if len(eu.Rates) != 1 || eu.Rates[0].Price != eur(990) || !equalMoney(eu.Rates[0].FreeOver, eurp(10000)) {
			t.Fatalf("EU rates %+v", eu.Rates)
		}
		if len(world.Rates) != 1 || world.Rates[0].Name != "International" || world.Rates[0].Price != eur(1990) || world.Rates[0].FreeOver != nil {
			t.Fatalf("world rates %+v", world.Rates)
		}
		if dom.CreatedAt.IsZero() || dom.UpdatedAt.Location().String() != "UTC" {
			t.Fatalf("timestamps %v %v", dom.CreatedAt, dom.UpdatedAt)
		}

		// Defaults are made once: deleting a zone does not bring it back,
		// not even for a new service (a restart).
		if err := svc.DeleteZone(ctx, world.ID); err != nil {
			t.Fatal(err)
		}
		again, err := NewService(db, Options{}).Zones(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 2 {
			t.Fatalf("%d zones after deleting World and restarting, want 2", len(again))
		}
	})
}

func equalMoney(a, b *money.Money) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func TestDefaultsFollowConfig(t *testing.T) {
	tests := []struct {
		name, country, currency string
		domestic, euLen         int
		standard, free          int64
	}{
		{"France in USD", "FR", "USD", 1, 26, 490, 5000},
		{"Switzerland: all 27 EU states in the EU zone", "CH", "CHF", 1, 27, 490, 5000},
		{"Japan in yen (no minor unit)", "JP", "JPY", 1, 27, 5, 50},
		{"Kuwait in dinar (three decimals)", "KW", "KWD", 1, 27, 4900, 50000},
		{"lower-case country", "at", "EUR", 1, 26, 490, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			svc := NewService(sqldbtest.SQLite(t, migrations...), Options{DefaultCountry: tt.country, Currency: tt.currency})
			zs, err := svc.Zones(ctx)
			if err != nil {
				t.Fatal(err)
			}
			home := country.Normalize(tt.country)
			if !slices.Equal(zs[0].Countries, []string{home}) || len(zs[1].Countries) != tt.euLen || slices.Contains(zs[1].Countries, home) {
				t.Fatalf("zones %+v", zs)
			}
			std := zs[0].Rates[0]
			if std.Price != (money.Money{Amount: tt.standard, Currency: tt.currency}) || std.FreeOver.Amount != tt.free || std.FreeOver.Currency != tt.currency {
				t.Fatalf("standard rate %+v", std)
			}
			ms, err := svc.Methods(ctx, "", money.Money{Amount: 1, Currency: tt.currency})
			if err != nil || len(ms) != 2 || ms[0].Zone != "Domestic" {
				t.Fatalf("methods to the default country: %+v %v", ms, err)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := NewService(db, Options{DefaultCountry: "DE", Currency: "EUR"})
		tests := []struct {
			name     string
			country  string
			subtotal int64
			want     []string
		}{
			{"domestic, just below free-over", "DE", 4999, []string{"Standard=490", "Express=990"}},
			{"domestic, at free-over", "DE", 5000, []string{"Standard=0", "Express=990"}},
			{"domestic, above free-over", "DE", 5001, []string{"Standard=0", "Express=990"}},
			{"domestic, empty cart", "DE", 0, []string{"Standard=490", "Express=990"}},
			{"default country", "", 4999, []string{"Standard=490", "Express=990"}},
			{"lower case", " de", 5000, []string{"Standard=0", "Express=990"}},
			{"EU, just below free-over", "FR", 9999, []string{"Standard=990"}},
			{"EU, at free-over", "FR", 10000, []string{"Standard=0"}},
			{"EU, above free-over", "AT", 10001, []string{"Standard=0"}},
			{"world", "US", 100000, []string{"International=1990"}},
			{"world, not EU", "CH", 1, []string{"International=1990"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ms, err := svc.Methods(ctx, tt.country, eur(tt.subtotal))
				if err != nil {
					t.Fatal(err)
				}
				if got := summary(ms); !slices.Equal(got, tt.want) {
					t.Fatalf("Methods(%q, %d) = %v, want %v", tt.country, tt.subtotal, got, tt.want)
				}
				for _, m := range ms {
					if m.ID == "" || m.Carrier != CarrierFlat || m.ZoneID == "" || m.Zone == "" || m.Price.Currency != "EUR" || m.RegularPrice.Amount < m.Price.Amount {
						t.Errorf("method %+v", m)
					}
				}
			})
		}

		// Cheapest first, whatever order staff gave.
		dom := zoneByName(t, svc, "Domestic")
		if _, err := svc.ReplaceZone(ctx, dom.ID, ZoneInput{Name: "Domestic", Countries: []string{"DE"}, Rates: []RateInput{
			{Name: "Express", Price: eur(990)}, {Name: "Pickup", Price: eur(0)}, {Name: "Standard", Price: eur(490), FreeOver: eurp(5000)},
		}}); err != nil {
			t.Fatal(err)
		}
		ms, err := svc.Methods(ctx, "DE", eur(100))
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(ms); !slices.Equal(got, []string{"Pickup=0", "Standard=490", "Express=990"}) {
			t.Fatalf("order %v", got)
		}
		ms, _ = svc.Methods(ctx, "DE", eur(5000))
		if got := summary(ms); !slices.Equal(got, []string{"Pickup=0", "Standard=0", "Express=990"}) {
			t.Fatalf("order at free-over %v (ties keep staff's order)", got)
		}
	})
}

func TestCountryNotServed(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := NewService(db, Options{})
		for _, c := range []string{"XX", "UK", "DEU", "*", "D", "🇩🇪"} {
			_, err := svc.Methods(ctx, c, eur(100))
			wantErr(t, err, apperr.Invalid, "country")
			_, err = svc.Method(ctx, "any", c, eur(100))
			wantErr(t, err, apperr.Invalid, "country")
		}
		_, err := svc.Methods(ctx, "DE", money.Money{Amount: 100, Currency: "USD"})
		wantErr(t, err, apperr.Invalid, "currency")

		// A zone without rates stops shipping to its countries.
		if _, err := svc.CreateZone(ctx, ZoneInput{Name: "No delivery", Countries: []string{"KP", "AQ"}}); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Methods(ctx, "KP", eur(100))
		wantErr(t, err, apperr.Invalid, "country")
		if ms, err := svc.Methods(ctx, "US", eur(100)); err != nil || len(ms) != 1 {
			t.Fatalf("US still served by World: %v %v", ms, err)
		}

		// Without the "*" zone, only listed countries are served.
		if err := svc.DeleteZone(ctx, zoneByName(t, svc, "World").ID); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Methods(ctx, "US", eur(100))
		wantErr(t, err, apperr.Invalid, "country")
		if _, err := svc.Methods(ctx, "FR", eur(100)); err != nil {
			t.Fatalf("FR still served by EU: %v", err)
		}
	})
}

func TestMethod(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := NewService(db, Options{})
		dom := zoneByName(t, svc, "Domestic")
		standard, express := dom.Rates[0].ID, dom.Rates[1].ID
		world := zoneByName(t, svc, "World").Rates[0].ID

		m, err := svc.Method(ctx, standard, "DE", eur(5000))
		if err != nil || m.Name != "Standard" || m.Price != eur(0) || m.RegularPrice != eur(490) || !equalMoney(m.FreeOver, eurp(5000)) || m.Zone != "Domestic" {
			t.Fatalf("Method standard at 50.00: %+v %v", m, err)
		}
		if m, err = svc.Method(ctx, standard, "", eur(4999)); err != nil || m.Price != eur(490) {
			t.Fatalf("Method standard to the default country at 49.99: %+v %v", m, err)
		}
		if m, err = svc.Method(ctx, world, "JP", eur(1)); err != nil || m.Price != eur(1990) {
			t.Fatalf("Method international to JP: %+v %v", m, err)
		}
		for _, tt := range []struct{ name, id, country string }{
			{"domestic express to France", express, "FR"},
			{"international to Germany", world, "DE"},
			{"unknown id", "no-such-method", "DE"},
			{"empty id", "", "DE"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := svc.Method(ctx, tt.id, tt.country, eur(100))
				wantErr(t, err, apperr.Invalid, "shipping_method_id")
			})
		}
		// A deleted rate is no longer a method.
		if _, err := svc.ReplaceZone(ctx, dom.ID, ZoneInput{Name: "Domestic", Countries: []string{"DE"}, Rates: []RateInput{{ID: standard, Name: "Standard", Price: eur(590)}}}); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Method(ctx, express, "DE", eur(100))
		wantErr(t, err, apperr.Invalid, "shipping_method_id")
		if m, err = svc.Method(ctx, standard, "DE", eur(100000)); err != nil || m.Price != eur(590) || m.FreeOver != nil {
			t.Fatalf("kept rate, new price, no longer free: %+v %v", m, err)
		}
	})
}

// carrier is a fake carrier adapter: the point is that one plugs in without
// the cart noticing.
type carrier struct{ calls []Quote }

func (c *carrier) Rates(ctx context.Context, q Quote) ([]Method, error) {
	c.calls = append(c.calls, q)
	if q.Country != "DE" {
		return nil, nil
	}
	p := money.Money{Amount: 650, Currency: q.Subtotal.Currency}
	return []Method{{ID: "parcelco:next-day", Name: "ParcelCo next day", Price: p, RegularPrice: p, Carrier: "parcelco", MinDays: 1, MaxDays: 1}}, nil
}

func TestCarrierProvider(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := &carrier{}
		svc := NewService(db, Options{Carriers: []RateProvider{c}})
		ms, err := svc.Methods(ctx, "", eur(1000))
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(ms); !slices.Equal(got, []string{"Standard=490", "ParcelCo next day=650", "Express=990"}) {
			t.Fatalf("methods %v", got)
		}
		if len(c.calls) != 1 || c.calls[0] != (Quote{Country: "DE", Subtotal: eur(1000)}) {
			t.Fatalf("carrier asked %+v", c.calls)
		}
		m, err := svc.Method(ctx, "parcelco:next-day", "de", eur(1000))
		if err != nil || m.Carrier != "parcelco" {
			t.Fatalf("carrier method: %+v %v", m, err)
		}
		_, err = svc.Method(ctx, "parcelco:next-day", "FR", eur(1000))
		wantErr(t, err, apperr.Invalid, "shipping_method_id")
	})
}

func TestZoneValidation(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := NewService(db, Options{})
		dom := zoneByName(t, svc, "Domestic")
		world := zoneByName(t, svc, "World")
		ok := func() ZoneInput {
			return ZoneInput{Name: "Nordics", Countries: []string{"NO", "IS"}, Rates: []RateInput{{Name: "Standard", Price: eur(1490), FreeOver: eurp(15000), MinDays: 3, MaxDays: 6}}}
		}
		with := func(f func(*ZoneInput)) ZoneInput { in := ok(); f(&in); return in }
		rates := func(n int) []RateInput {
			out := make([]RateInput, n)
			for i := range out {
				out[i] = RateInput{Name: fmt.Sprint("Rate ", i), Price: eur(100)}
			}
			return out
		}
		long := string(make([]rune, 101))
		tests := []struct {
			name  string
			in    ZoneInput
			code  apperr.Code
			field string
		}{
			{"no name", with(func(in *ZoneInput) { in.Name = "  " }), apperr.Invalid, "name"},
			{"long name", with(func(in *ZoneInput) { in.Name = long }), apperr.Invalid, "name"},
			{"no countries", with(func(in *ZoneInput) { in.Countries = nil }), apperr.Invalid, "countries"},
			{"bad country", with(func(in *ZoneInput) { in.Countries = []string{"NO", "XX"} }), apperr.Invalid, "countries[1]"},
			{"three-letter country", with(func(in *ZoneInput) { in.Countries = []string{"NOR"} }), apperr.Invalid, "countries[0]"},
			{"empty country", with(func(in *ZoneInput) { in.Countries = []string{""} }), apperr.Invalid, "countries[0]"},
			{"country twice", with(func(in *ZoneInput) { in.Countries = []string{"NO", "no"} }), apperr.Invalid, "countries[1]"},
			{"too many countries", with(func(in *ZoneInput) { in.Countries = make([]string, 251) }), apperr.Invalid, "countries"},
			{"negative price", with(func(in *ZoneInput) { in.Rates[0].Price = eur(-1) }), apperr.Invalid, "rates[0].price.amount"},
			{"huge price", with(func(in *ZoneInput) { in.Rates[0].Price = eur(money.MaxAmount + 1) }), apperr.Invalid, "rates[0].price.amount"},
			{"price without currency", with(func(in *ZoneInput) { in.Rates[0].Price = money.Money{Amount: 100} }), apperr.Invalid, "rates[0].price.currency"},
			{"price in another currency", with(func(in *ZoneInput) { in.Rates[0].Price.Currency = "USD" }), apperr.Invalid, "rates[0].price.currency"},
			{"threshold currency mismatch", with(func(in *ZoneInput) { in.Rates[0].FreeOver = &money.Money{Amount: 100, Currency: "USD"} }), apperr.Invalid, "rates[0].free_over.currency"},
			{"negative threshold", with(func(in *ZoneInput) { in.Rates[0].FreeOver = eurp(-1) }), apperr.Invalid, "rates[0].free_over.amount"},
			{"rate without name", with(func(in *ZoneInput) { in.Rates[0].Name = "" }), apperr.Invalid, "rates[0].name"},
			{"rate names twice", with(func(in *ZoneInput) { in.Rates = append(in.Rates, RateInput{Name: "STANDARD", Price: eur(1)}) }), apperr.Invalid, "rates[1].name"},
			{"negative days", with(func(in *ZoneInput) { in.Rates[0].MinDays = -1 }), apperr.Invalid, "rates[0].min_days"},
			{"max below min", with(func(in *ZoneInput) { in.Rates[0].MaxDays = 2 }), apperr.Invalid, "rates[0].max_days"},
			{"days above a year", with(func(in *ZoneInput) { in.Rates[0].MaxDays = 366 }), apperr.Invalid, "rates[0].max_days"},
			{"too many rates", with(func(in *ZoneInput) { in.Rates = rates(21) }), apperr.Invalid, "rates"},
			{"rate id of another zone", with(func(in *ZoneInput) { in.Rates[0].ID = dom.Rates[0].ID }), apperr.Invalid, "rates[0].id"},
			{"unknown rate id", with(func(in *ZoneInput) { in.Rates[0].ID = "nope" }), apperr.Invalid, "rates[0].id"},
			{"country of another zone", with(func(in *ZoneInput) { in.Countries = []string{"NO", "DE"} }), apperr.Conflict, "countries[1]"},
			{"second wildcard", with(func(in *ZoneInput) { in.Countries = []string{"*"} }), apperr.Conflict, "countries[0]"},
			{"name of another zone", with(func(in *ZoneInput) { in.Name = "domestic" }), apperr.Conflict, "name"},
		}
		before, err := svc.Zones(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := svc.CreateZone(ctx, tt.in)
				wantErr(t, err, tt.code, tt.field)
				if tt.field == "rates[0].id" {
					return // on replace, the zone's own rate ids are valid
				}
				_, err = svc.ReplaceZone(ctx, world.ID, tt.in)
				if tt.field == "countries[0]" && tt.code == apperr.Conflict {
					if err != nil { // World itself holds "*": replacing it with "*" is fine
						t.Fatalf("replace World with *: %v", err)
					}
					if _, err := svc.ReplaceZone(ctx, world.ID, ZoneInput{Name: world.Name, Countries: world.Countries, Rates: []RateInput{{Name: "International", Price: eur(1990), MinDays: 5, MaxDays: 14}}}); err != nil {
						t.Fatal(err)
					}
					return
				}
				wantErr(t, err, tt.code, tt.field)
			})
		}
		after, _ := svc.Zones(ctx)
		if len(after) != len(before) {
			t.Fatalf("refused input created zones: %d -> %d", len(before), len(after))
		}
		_, err = svc.ReplaceZone(ctx, "no-such-zone", ok())
		wantErr(t, err, apperr.NotFound, "")
		wantErr(t, svc.DeleteZone(ctx, "no-such-zone"), apperr.NotFound, "")
		_, err = svc.Zone(ctx, "no-such-zone")
		wantErr(t, err, apperr.NotFound, "")

		// Several problems are reported together.
		_, err = svc.CreateZone(ctx, ZoneInput{Countries: []string{"XX"}, Rates: []RateInput{{Price: eur(-5)}}})
		for _, f := range []string{"name", "countries[0]", "rates[0].name", "rates[0].price.amount"} {
			wantErr(t, err, apperr.Invalid, f)
		}
	})
}

func TestZoneLifecycle(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := NewService(db, Options{})
		z, err := svc.CreateZone(ctx, ZoneInput{Name: " Nordics ", Countries: []string{"no", "IS"},
			Rates: []RateInput{{Name: "Standard", Price: eur(1490), FreeOver: eurp(15000), MinDays: 3, MaxDays: 6}, {Name: "Express", Price: eur(2990)}}})
		if err != nil {
			t.Fatal(err)
		}
		if z.ID == "" || z.Name != "Nordics" || !slices.Equal(z.Countries, []string{"IS", "NO"}) || len(z.Rates) != 2 || z.Rates[0].Name != "Standard" {
			t.Fatalf("created %+v", z)
		}
		if ms, err := svc.Methods(ctx, "NO", eur(15000)); err != nil || !slices.Equal(summary(ms), []string{"Standard=0", "Express=2990"}) {
			t.Fatalf("Norway: %v %v", summary(ms), err)
		}

		// Replace: keep Standard (same id), drop Express, add Economy, move
		// Iceland out and Finland in (from the EU zone, which must give it up first).
		eu := zoneByName(t, svc, "EU")
		_, err = svc.ReplaceZone(ctx, z.ID, ZoneInput{Name: "Nordics", Countries: []string{"NO", "FI"}, Rates: []RateInput{{Name: "Standard", Price: eur(1)}}})
		wantErr(t, err, apperr.Conflict, "countries[1]")
		var rest []string
		for _, c := range eu.Countries {
			if c != "FI" {
				rest = append(rest, c)
			}
		}
		if _, err := svc.ReplaceZone(ctx, eu.ID, ZoneInput{Name: "EU", Countries: rest, Rates: []RateInput{{ID: eu.Rates[0].ID, Name: "Standard", Price: eur(990), FreeOver: eurp(10000)}}}); err != nil {
			t.Fatal(err)
		}
		z2, err := svc.ReplaceZone(ctx, z.ID, ZoneInput{Name: "Nordic countries", Countries: []string{"NO", "FI"},
			Rates: []RateInput{{Name: "Economy", Price: eur(990)}, {ID: z.Rates[0].ID, Name: "Standard", Price: eur(1590), FreeOver: eurp(20000)}}})
		if err != nil {
			t.Fatal(err)
		}
		if z2.Name != "Nordic countries" || !slices.Equal(z2.Countries, []string{"FI", "NO"}) || len(z2.Rates) != 2 ||
			z2.Rates[0].Name != "Economy" || z2.Rates[1].ID != z.Rates[0].ID || z2.Rates[1].Price != eur(1590) || !z2.UpdatedAt.After(z.UpdatedAt) && !z2.UpdatedAt.Equal(z.UpdatedAt) {
			t.Fatalf("replaced %+v", z2)
		}
		if ms, _ := svc.Methods(ctx, "FI", eur(100)); !slices.Equal(summary(ms), []string{"Economy=990", "Standard=1590"}) {
			t.Fatalf("Finland now Nordic: %v", summary(ms))
		}
		if ms, _ := svc.Methods(ctx, "IS", eur(100)); !slices.Equal(summary(ms), []string{"International=1990"}) {
			t.Fatalf("Iceland back to World: %v", summary(ms))
		}

		// Delete: its countries fall back to the "*" zone.
		if err := svc.DeleteZone(ctx, z.ID); err != nil {
			t.Fatal(err)
		}
		if ms, _ := svc.Methods(ctx, "FI", eur(100)); !slices.Equal(summary(ms), []string{"International=1990"}) {
			t.Fatalf("Finland after delete: %v", summary(ms))
		}
		wantErr(t, svc.DeleteZone(ctx, z.ID), apperr.NotFound, "")
		// The name and countries are free again.
		if _, err := svc.CreateZone(ctx, ZoneInput{Name: "Nordic countries", Countries: []string{"FI"}}); err != nil {
			t.Fatal(err)
		}
	})
}

// Instances that start together on a fresh database create the defaults once.
func TestDefaultsOnceUnderConcurrency(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := NewService(db, Options{}).Methods(ctx, "DE", eur(100))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		zs, err := NewService(db, Options{}).Zones(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(zs) != 3 {
			t.Fatalf("%d zones, want the 3 defaults once", len(zs))
		}
	})
}
