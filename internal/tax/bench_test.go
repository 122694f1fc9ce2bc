package tax

import (
	"context"
	"testing"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// BenchmarkCalculate measures the rate lookup and arithmetic the checkout
// runs for every total, on both engines, in parallel.
func BenchmarkCalculate(b *testing.B) {
	for _, open := range []struct {
		name string
		open func(testing.TB, ...sqldb.Migrations) *sqldb.DB
	}{{"sqlite", sqldbtest.SQLite}, {"postgres", sqldbtest.Postgres}} {
		b.Run(open.name, func(b *testing.B) {
			svc := NewService(open.open(b, Migrations()), Options{PricesIncludeTax: true})
			ctx := context.Background()
			dests := []string{"DE", "FR", "US", ""}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := svc.Calculate(ctx, dests[i%len(dests)], eur(int64(i))); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

func BenchmarkCompute(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		Compute(eur(int64(i)), 1900, i%2 == 0)
	}
}
