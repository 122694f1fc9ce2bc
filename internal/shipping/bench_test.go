package shipping

import (
	"context"
	"testing"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// BenchmarkMethods measures a quote (the zone lookup and its rates) as the
// cart asks for it on every view, on both engines, in parallel.
func BenchmarkMethods(b *testing.B) {
	for _, open := range []struct {
		name string
		open func(testing.TB, ...sqldb.Migrations) *sqldb.DB
	}{{"sqlite", sqldbtest.SQLite}, {"postgres", sqldbtest.Postgres}} {
		b.Run(open.name, func(b *testing.B) {
			svc := NewService(open.open(b, migrations...), Options{})
			ctx := context.Background()
			if _, err := svc.Methods(ctx, "DE", eur(1)); err != nil { // creates the defaults
				b.Fatal(err)
			}
			dests := []string{"DE", "FR", "US", ""}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := svc.Methods(ctx, dests[i%len(dests)], eur(int64(i%20000))); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}
