package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// Benchmarks of the buying path through the whole HTTP handler (routing,
// authentication, metrics, JSON, the real shipping, tax, inventory and
// sandbox payment modules) on SQLite and PostgreSQL. Figures and the
// commands that made them are in docs/PERFORMANCE.md.
//
//	MERCATO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench 'Shop' -benchtime 2000x ./internal/app/

// shopBench is an App for the shop benchmarks.
type shopBench struct {
	a        *App
	h        http.Handler
	body     []byte // a checkout body: guest, Standard to Germany, a card that succeeds
	products int
}

func newShopBench(b *testing.B, db *sqldb.DB, relay bool) *shopBench {
	b.Helper()
	cfg := shopConfig(b)
	a, err := Wire(cfg, slog.New(slog.NewTextHandler(tlogWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn})), db)
	if err != nil {
		b.Fatal(err)
	}
	a.checkoutLimit = ratelimit.NewMemory(1<<30, time.Minute) // every request comes from one address
	if relay {
		// As in `mercato serve`: the relay publishes the checkouts' events
		// to notify and analytics while the benchmark runs.
		stop := a.Start(context.Background())
		b.Cleanup(stop)
	}
	ms, err := a.Shipping.Methods(context.Background(), "DE", eur(1))
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"email":              "bench@example.com",
		"shipping_address":   map[string]any{"name": "Ben Chmark", "line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
		"shipping_method_id": ms[0].ID,
		"payment_method":     "pm_card_visa",
	})
	return &shopBench{a: a, h: a.Handler(), body: body}
}

// product adds an active product with one variant and returns the variant id.
func (s *shopBench) product(b *testing.B, stock int64) string {
	b.Helper()
	s.products++
	p, err := s.a.Catalog.CreateProduct(context.Background(), catalog.ProductInput{Title: fmt.Sprintf("Bench product %d", s.products), Status: catalog.StatusActive,
		Variants: []catalog.VariantInput{{SKU: fmt.Sprintf("BENCH-%d", s.products), Price: eur(1999), Stock: &stock}}}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return p.Variants[0].ID
}

// cart makes a guest cart holding one of variant (set-up, not measured).
func (s *shopBench) cart(b *testing.B, variant string) string {
	b.Helper()
	ctx := context.Background()
	c, err := s.a.Carts.Create(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	if variant != "" {
		if _, err := s.a.Carts.AddItem(ctx, c.ID, variant, 1); err != nil {
			b.Fatal(err)
		}
	}
	return c.ID
}

// serve sends one request and reports an unexpected status (safe from any goroutine).
func (s *shopBench) serve(b *testing.B, method, target string, body []byte, want int, key string) bool {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	if w.Code != want {
		b.Errorf("%s %s: %d, want %d: %.300s", method, target, w.Code, want, w.Body)
		return false
	}
	return true
}

// shopBackends runs fn as sub-benchmarks "sqlite" and "postgres" (skipped
// without MERCATO_TEST_POSTGRES_URL); open gives a fresh, migrated database
// each time it is called.
func shopBackends(b *testing.B, fn func(b *testing.B, open func(b *testing.B) *sqldb.DB)) {
	b.Run("sqlite", func(b *testing.B) {
		fn(b, func(b *testing.B) *sqldb.DB { return sqldbtest.SQLite(b, Migrations()...) })
	})
	b.Run("postgres", func(b *testing.B) {
		fn(b, func(b *testing.B) *sqldb.DB { return sqldbtest.Postgres(b, Migrations()...) })
	})
}

// BenchmarkShopAddToCart is POST /api/v1/carts/{id}/items: ten different
// variants into each cart, one request per line.
func BenchmarkShopAddToCart(b *testing.B) {
	shopBackends(b, func(b *testing.B, open func(b *testing.B) *sqldb.DB) {
		s := newShopBench(b, open(b), false)
		var variants []string
		for range 10 {
			variants = append(variants, s.product(b, 1_000_000))
		}
		carts := make([]string, (b.N+9)/10)
		for i := range carts {
			carts[i] = s.cart(b, "")
		}
		bodies := make([][]byte, len(variants))
		for i, v := range variants {
			bodies[i], _ = json.Marshal(map[string]any{"variant_id": v, "quantity": 1})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if !s.serve(b, "POST", "/api/v1/carts/"+carts[i/10]+"/items", bodies[i%10], http.StatusOK, "") {
				b.FailNow()
			}
		}
	})
}

// BenchmarkShopCheckout is POST /api/v1/carts/{id}/checkout, one client:
// validate, price, reserve, pay (sandbox), and commit order, stock, payment
// and cart in one transaction.
func BenchmarkShopCheckout(b *testing.B) {
	shopBackends(b, func(b *testing.B, open func(b *testing.B) *sqldb.DB) {
		s := newShopBench(b, open(b), false)
		v := s.product(b, 1_000_000)
		carts := make([]string, b.N)
		for i := range carts {
			carts[i] = s.cart(b, v)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if !s.serve(b, "POST", "/api/v1/carts/"+carts[i]+"/checkout", s.body, http.StatusCreated, "k") {
				b.FailNow()
			}
		}
	})
}

// BenchmarkShopCheckoutThroughput runs b.N checkouts from a fixed number of
// concurrent clients with the outbox relay running, and reports
// checkouts/s: every cart buying the same SKU (hot-sku: one stock row
// every checkout updates), or each its own SKU (many-skus). Beside it: the
// share of the run's events the relay has not published when the last
// checkout is answered (%unpublished), and the checkouts per second counted
// until it has (published-checkouts/s).
func BenchmarkShopCheckoutThroughput(b *testing.B) {
	shopBackends(b, func(b *testing.B, open func(b *testing.B) *sqldb.DB) {
		for _, workload := range []string{"hot-sku", "many-skus"} {
			for _, clients := range []int{8, 32} {
				b.Run(fmt.Sprintf("%s/clients=%d", workload, clients), func(b *testing.B) {
					db := open(b)
					s := newShopBench(b, db, true)
					carts := make([]string, b.N)
					hot := s.product(b, 1_000_000)
					for i := range carts {
						v := hot
						if workload == "many-skus" {
							v = s.product(b, 10)
						}
						carts[i] = s.cart(b, v)
					}
					var seq0 int64 // the events before the run (catalog set-up) do not count
					if err := db.QueryRowContext(context.Background(), `SELECT COALESCE(MAX(seq), 0) FROM outbox_events`).Scan(&seq0); err != nil {
						b.Fatal(err)
					}
					var next, failed atomic.Int64
					var wg sync.WaitGroup
					b.ResetTimer()
					start := time.Now()
					for range clients {
						wg.Go(func() {
							for {
								i := next.Add(1) - 1
								if i >= int64(len(carts)) {
									return
								}
								if !s.serve(b, "POST", "/api/v1/carts/"+carts[i]+"/checkout", s.body, http.StatusCreated, "k") {
									failed.Add(1)
								}
							}
						})
					}
					wg.Wait()
					elapsed := time.Since(start)
					b.StopTimer()
					if failed.Load() > 0 {
						b.Fatalf("%d of %d checkouts failed", failed.Load(), b.N)
					}
					b.ReportMetric(float64(b.N)/elapsed.Seconds(), "checkouts/s")
					// How far the relay is behind when the last checkout is answered:
					// the share of the run's events not yet published.
					var written, unpublished int
					if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*), COUNT(*) - COUNT(published_at) FROM outbox_events WHERE seq > ?`, seq0).Scan(&written, &unpublished); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(100*float64(unpublished)/float64(max(written, 1)), "%unpublished")
					// Checkouts per second counted until their events are all
					// published: what the shop sustains with its e-mails and
					// sales figures keeping up.
					for unpublished > 0 {
						if time.Since(start) > 10*time.Minute {
							b.Fatalf("%d events still unpublished after 10 minutes", unpublished)
						}
						time.Sleep(20 * time.Millisecond)
						if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox_events WHERE seq > ? AND published_at IS NULL`, seq0).Scan(&unpublished); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "published-checkouts/s")
					if l, err := s.a.Inventory.Get(context.Background(), "BENCH-1"); workload == "hot-sku" && (err != nil || l.Reserved != 0 || l.OnHand != 1_000_000-int64(b.N)) {
						b.Fatalf("hot SKU after %d checkouts: %+v, %v", b.N, l, err)
					}
					var active int
					if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM inventory_reservations WHERE status = 'active'`).Scan(&active); err != nil || active != 0 {
						b.Fatalf("%d reservations left active (%v)", active, err)
					}
				})
			}
		}
	})
}
