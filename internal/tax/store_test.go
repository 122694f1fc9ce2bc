package tax

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestStore: the rate table's SQL on both engines: lookups of some codes,
// the whole list, and the upsert.
func TestStore(t *testing.T) {
	sqldbtest.ForEach(t, []sqldb.Migrations{Migrations()}, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := store{db: db}
		got, err := s.ratesOf(ctx, "DE", "*")
		if err != nil || len(got) != 2 || got["DE"] != 1900 || got["*"] != 0 {
			t.Fatalf("ratesOf(DE, *) = %v %v", got, err)
		}
		if got, err = s.ratesOf(ctx, "US", "CA"); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("rates of codes without rows = %#v %v, want an empty map", got, err)
		}
		if got, err = s.ratesOf(ctx, "FR"); err != nil || len(got) != 1 || got["FR"] != 2000 {
			t.Fatalf("ratesOf(FR) = %v %v", got, err)
		}

		// put adds a row, then replaces it.
		at := time.Date(2026, 3, 1, 12, 0, 0, 123000, time.UTC)
		if err := s.put(ctx, Rate{Country: "US", RateBP: 725, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
		if err := s.put(ctx, Rate{Country: "US", RateBP: 800, UpdatedAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ratesOf(ctx, "US"); err != nil || got["US"] != 800 {
			t.Fatalf("US after two puts: %v %v", got, err)
		}
		all, err := s.all(ctx)
		i := slices.IndexFunc(all, func(r Rate) bool { return r.Country == "US" })
		if err != nil || len(all) != 29 || i < 0 || all[i] != (Rate{Country: "US", RateBP: 800, UpdatedAt: at.Add(time.Hour)}) {
			t.Fatalf("all: %d rates %v", len(all), err)
		}
		for _, r := range all {
			if r.UpdatedAt.Location() != time.UTC {
				t.Fatalf("%s updated_at in %v", r.Country, r.UpdatedAt.Location())
			}
		}
		// A rate outside 0..100% is refused by the table itself.
		if err := s.put(ctx, Rate{Country: "GB", RateBP: 10001, UpdatedAt: at}); err == nil {
			t.Fatal("the table took a rate above 100%")
		}
	})
}
