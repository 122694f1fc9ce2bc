package tax

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

func TestCompute(t *testing.T) {
	tests := []struct {
		name      string
		amount    int64
		bp        int64
		inclusive bool
		want      int64
	}{
		{"19.99 at 19% inclusive", 1999, 1900, true, 319},  // 319.16
		{"19.99 at 19% exclusive", 1999, 1900, false, 380}, // 379.81
		{"119.00 at 19% inclusive", 11900, 1900, true, 1900},
		{"100.00 at 19% exclusive", 10000, 1900, false, 1900},
		{"half up inclusive", 3, 2000, true, 1},           // 3 * 0.2/1.2 = 0.5
		{"half up exclusive", 50, 1900, false, 10},        // 9.5
		{"below half inclusive", 2, 2000, true, 0},        // 0.333
		{"just below half exclusive", 26, 1900, false, 5}, // 4.94
		{"half away from zero, negative", -3, 2000, true, -1},
		{"negative exclusive", -50, 1900, false, -10},
		{"zero amount", 0, 1900, true, 0},
		{"zero rate", 1999, 0, true, 0},
		{"25.5% inclusive", 12550, 2550, true, 2550},
		{"100% inclusive", 10000, 10000, true, 5000},
		{"100% exclusive", 10000, 10000, false, 10000},
		{"rate above 100% is clamped", 10000, 20000, false, 10000},
		{"huge amount, no overflow", math.MaxInt64, 2500, false, 2305843009213693952}, // (2^63-1)/4 = 2^61-0.25
		{"most negative amount", math.MinInt64, 10000, false, math.MinInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compute(eur(tt.amount), tt.bp, tt.inclusive)
			if got.Tax != eur(tt.want) || got.Inclusive != tt.inclusive {
				t.Fatalf("Compute(%d, %d, %v) = %+v, want tax %d", tt.amount, tt.bp, tt.inclusive, got, tt.want)
			}
		})
	}
}

func TestCalculate(t *testing.T) {
	sqldbtest.ForEach(t, []sqldb.Migrations{Migrations()}, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		incl := NewService(db, Options{DefaultCountry: "FR", PricesIncludeTax: true})
		excl := NewService(db, Options{PricesIncludeTax: false}) // default country: DE
		tests := []struct {
			name    string
			svc     *Service
			country string
			amount  int64
			want    Breakdown
		}{
			{"DE inclusive 19.99", incl, "DE", 1999, Breakdown{eur(319), true, 1900}},
			{"DE exclusive 19.99", excl, "DE", 1999, Breakdown{eur(380), false, 1900}},
			{"lower case code", incl, " de ", 1999, Breakdown{eur(319), true, 1900}},
			{"FR 20%", incl, "FR", 12000, Breakdown{eur(2000), true, 2000}},
			{"NL 21%", excl, "NL", 10000, Breakdown{eur(2100), false, 2100}},
			{"IT 22%", excl, "IT", 10000, Breakdown{eur(2200), false, 2200}},
			{"ES 21%", excl, "ES", 10000, Breakdown{eur(2100), false, 2100}},
			{"AT 20%", excl, "AT", 10000, Breakdown{eur(2000), false, 2000}},
			{"BE 21%", excl, "BE", 10000, Breakdown{eur(2100), false, 2100}},
			{"HU 27%", excl, "HU", 10000, Breakdown{eur(2700), false, 2700}},
			{"FI 25.5%", excl, "FI", 10000, Breakdown{eur(2550), false, 2550}},
			{"LU 17%", excl, "LU", 10000, Breakdown{eur(1700), false, 1700}},
			{"outside the EU: the * rate", excl, "US", 10000, Breakdown{eur(0), false, 0}},
			{"Switzerland: the * rate", incl, "CH", 10000, Breakdown{eur(0), true, 0}},
			{"default country FR", incl, "", 12000, Breakdown{eur(2000), true, 2000}},
			{"default country DE", excl, "", 10000, Breakdown{eur(1900), false, 1900}},
			{"other currency", excl, "DE", 10000, Breakdown{money.Money{Amount: 1900, Currency: "USD"}, false, 1900}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				taxable := eur(tt.amount)
				if tt.want.Tax.Currency != "EUR" {
					taxable.Currency = tt.want.Tax.Currency
				}
				got, err := tt.svc.Calculate(ctx, tt.country, taxable)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Fatalf("Calculate(%q, %d) = %+v, want %+v", tt.country, tt.amount, got, tt.want)
				}
			})
		}

		for _, bad := range []struct{ country, currency, field string }{
			{"XX", "EUR", "country"}, {"DEU", "EUR", "country"}, {"*", "EUR", "country"}, {"UK", "EUR", "country"},
			{"DE", "", "currency"}, {"DE", "eur", "currency"},
		} {
			_, err := incl.Calculate(ctx, bad.country, money.Money{Amount: 100, Currency: bad.currency})
			wantField(t, err, bad.field)
		}

		// Rates change what Calculate answers, at once.
		if _, err := incl.SetRate(ctx, "DE", 700); err != nil {
			t.Fatal(err)
		}
		if got, _ := excl.Calculate(ctx, "DE", eur(10000)); got.Tax != eur(700) {
			t.Fatalf("after setting DE to 7%%: %+v", got)
		}
		if _, err := incl.SetRate(ctx, "*", 1000); err != nil {
			t.Fatal(err)
		}
		if got, _ := excl.Calculate(ctx, "US", eur(10000)); got.Tax != eur(1000) || got.RateBP != 1000 {
			t.Fatalf("after setting * to 10%%: %+v", got)
		}
		if _, err := incl.SetRate(ctx, "us", 0); err != nil { // a new row, lower case accepted
			t.Fatal(err)
		}
		if got, _ := excl.Calculate(ctx, "US", eur(10000)); got.Tax != eur(0) {
			t.Fatalf("after adding US at 0: %+v", got)
		}
		if got, _ := excl.Calculate(ctx, "CA", eur(10000)); got.Tax != eur(1000) {
			t.Fatalf("CA still takes the * rate: %+v", got)
		}
	})
}

func TestRates(t *testing.T) {
	sqldbtest.ForEach(t, []sqldb.Migrations{Migrations()}, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := NewService(db, Options{PricesIncludeTax: true})
		rates, err := svc.Rates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rates) != 28 || rates[0].Country != "*" || rates[0].RateBP != 0 || rates[1].Country != "AT" || rates[27].Country != "SK" {
			t.Fatalf("default rates: %d rows, first %+v", len(rates), rates[:2])
		}
		for _, r := range rates {
			if r.UpdatedAt.IsZero() || r.UpdatedAt.Location().String() != "UTC" {
				t.Errorf("%s updated_at %v", r.Country, r.UpdatedAt)
			}
		}
		tests := []struct {
			name    string
			country string
			bp      int64
			field   string
		}{
			{"unknown country", "XX", 1900, "country"},
			{"three letters", "DEU", 1900, "country"},
			{"empty", "", 1900, "country"},
			{"negative rate", "DE", -1, "rate_bp"},
			{"above 100%", "DE", 10001, "rate_bp"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := svc.SetRate(ctx, tt.country, tt.bp)
				wantField(t, err, tt.field)
			})
		}
		_, err = svc.setRate(ctx, "nope", nil)
		wantField(t, err, "country")
		wantField(t, err, "rate_bp")

		r, err := svc.SetRate(ctx, "gb", 2000)
		if err != nil || r.Country != "GB" || r.RateBP != 2000 {
			t.Fatalf("SetRate GB: %+v %v", r, err)
		}
		if r, err = svc.SetRate(ctx, "GB", 0); err != nil || r.RateBP != 0 {
			t.Fatalf("SetRate GB again: %+v %v", r, err)
		}
		rates, _ = svc.Rates(ctx)
		if len(rates) != 29 {
			t.Fatalf("%d rates after adding GB, want 29", len(rates))
		}
	})
}

// wantField asserts an Invalid error naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("error %v, want Invalid on %q", err, field)
	}
	var e *apperr.Error
	errors.As(err, &e)
	for _, f := range e.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("error %v does not name %q", err, field)
}
