package app

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// Instances starting together on one empty PostgreSQL database seed the
// demo catalog once: both start (issue 8: the second failed with "slug
// already in use"), and the catalog holds one demo catalog.
func TestInstancesStartingTogetherSeedOnce(t *testing.T) {
	url := sqldbtest.PostgresURL(t)
	ctx := context.Background()
	const instances = 3
	apps := make([]*App, instances)
	for i := range apps {
		db, err := sqldb.Open(ctx, url, "", sqldb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(ctx, Migrations()...); err != nil {
			t.Fatal(err)
		}
		if apps[i], err = Wire(Config{Currency: "EUR", DataDir: t.TempDir(), DefaultCountry: "DE"}, slog.New(slog.DiscardHandler), db); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, instances)
	for i, a := range apps {
		wg.Go(func() { errs[i] = a.seedDemoIfEmpty(ctx, io.Discard) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	n, err := apps[0].Catalog.CountProducts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := apps[1].Catalog.CountProducts(ctx)
	if err != nil || n == 0 || again != n {
		t.Fatalf("products after three seeds: %d (and %d, %v)", n, again, err)
	}
	// A fourth start finds the catalog full and leaves it alone.
	if err := apps[2].seedDemoIfEmpty(ctx, io.Discard); err != nil {
		t.Fatal(err)
	}
	if m, _ := apps[2].Catalog.CountProducts(ctx); m != n {
		t.Fatalf("a later start changed the catalog: %d products, was %d", m, n)
	}
}
