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
		codes := func(rs []Rate) []string {
			out := make([]string, len(rs))
			for i, r := range rs {
				out[i] = r.Country
			}
			slices.Sort(out)
			return out
		}

		got, err := s.rates(ctx, "DE", "*")
		if err != nil || !slices.Equal(codes(got), []string{"*", "DE"}) {
			t.Fatalf("rates(DE, *) = %+v %v", got, err)
		}
		if got, err = s.rates(ctx, "US", "CA"); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("rates of codes without rows = %#v %v, want an empty list", got, err)
		}
		if got, err = s.rates(ctx, "FR"); err != nil || len(got) != 1 || got[0].RateBP != 2000 || got[0].UpdatedAt.Location() != time.UTC {
			t.Fatalf("rates(FR) = %+v %v", got, err)
		}

		// put adds a row, then replaces it.
		at := time.Date(2026, 3, 1, 12, 0, 0, 123000, time.UTC)
		if err := s.put(ctx, Rate{Country: "US", RateBP: 725, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
		if err := s.put(ctx, Rate{Country: "US", RateBP: 800, UpdatedAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got, err = s.rates(ctx, "US")
		if err != nil || len(got) != 1 || got[0] != (Rate{Country: "US", RateBP: 800, UpdatedAt: at.Add(time.Hour)}) {
			t.Fatalf("US after two puts: %+v %v", got, err)
		}
		all, err := s.all(ctx)
		if err != nil || len(all) != 29 || !slices.Contains(codes(all), "US") {
			t.Fatalf("all: %d rates %v", len(all), err)
		}
		// A rate outside 0..100% is refused by the table itself.
		if err := s.put(ctx, Rate{Country: "GB", RateBP: 10001, UpdatedAt: at}); err == nil {
			t.Fatal("the table took a rate above 100%")
		}
	})
}
