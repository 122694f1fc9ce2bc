package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mercato-shop/mercato/internal/demo"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// Benchmarks of the public catalog handlers through the whole HTTP stack
// (authentication, routing, metrics, JSON, ETag) against the demo catalog,
// on SQLite and PostgreSQL. Figures and the commands that made them are in
// docs/PERFORMANCE.md.
//
//	MERCATO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench . -benchmem ./internal/app/

// benchEnv is an App on a database holding the demo catalog.
type benchEnv struct {
	h     http.Handler
	slugs []string // of every public product
}

func newBenchEnv(b *testing.B, db *sqldb.DB) *benchEnv {
	b.Helper()
	ctx := context.Background()
	a, err := Wire(Config{Currency: "EUR", DataDir: b.TempDir()}, slog.New(slog.NewTextHandler(io.Discard, nil)), db)
	if err != nil {
		b.Fatal(err)
	}
	n, err := demo.Seed(ctx, a.Catalog, a.Blob, "EUR", nil)
	if err != nil {
		b.Fatal(err)
	}
	env := &benchEnv{h: a.Handler()}
	cursor := ""
	for {
		var page productsPage
		env.get(b, "/api/v1/products?limit=100"+cursor, &page)
		for _, p := range page.Items {
			env.slugs = append(env.slugs, p.Slug)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	if len(env.slugs) == 0 {
		b.Fatalf("the demo catalog (%d products) has no public product", n)
	}
	b.Logf("%s: demo catalog of %d products, %d public", db.Dialect(), n, len(env.slugs))
	return env
}

// get serves one request and fails unless it is a 200; v, when not nil, receives the body.
func (e *benchEnv) get(b *testing.B, target string, v any) {
	r := httptest.NewRequest("GET", target, nil)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
	}
	if v != nil {
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBackends runs fn as sub-benchmarks "sqlite" and "postgres" (skipped
// without MERCATO_TEST_POSTGRES_URL), each on its own demo catalog.
func benchBackends(b *testing.B, fn func(b *testing.B, env *benchEnv)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, newBenchEnv(b, sqldbtest.SQLite(b, Migrations()...))) })
	b.Run("postgres", func(b *testing.B) { fn(b, newBenchEnv(b, sqldbtest.Postgres(b, Migrations()...))) })
}

// BenchmarkProductList is GET /api/v1/products: the first page of 20, newest first.
func BenchmarkProductList(b *testing.B) {
	benchBackends(b, func(b *testing.B, env *benchEnv) {
		b.ReportAllocs()
		for b.Loop() {
			env.get(b, "/api/v1/products", nil)
		}
	})
}

// BenchmarkProductListFiltered is a category page sorted by price with an
// attribute filter, as the storefront's facets ask for it.
func BenchmarkProductListFiltered(b *testing.B) {
	benchBackends(b, func(b *testing.B, env *benchEnv) {
		var cats struct {
			Items []struct{ Slug string }
		}
		env.get(b, "/api/v1/categories", &cats)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			env.get(b, "/api/v1/products?limit=24&sort=price&category="+cats.Items[i%len(cats.Items)].Slug, nil)
			i++
		}
	})
}

// BenchmarkProductDetail is GET /api/v1/products/{slug}, going round the catalog.
func BenchmarkProductDetail(b *testing.B) {
	benchBackends(b, func(b *testing.B, env *benchEnv) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			env.get(b, "/api/v1/products/"+env.slugs[i%len(env.slugs)], nil)
			i++
		}
	})
}
