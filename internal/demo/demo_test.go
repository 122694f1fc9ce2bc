package demo_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/demo"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/platform/blob"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{catalog.Migrations(), inventory.Migrations(), outbox.Migrations()}

func newService(db *sqldb.DB) *catalog.Service {
	return catalog.NewService(db, inventory.NewService(db))
}

func newDisk(t testing.TB) *blob.Disk { return blob.NewDisk(t.TempDir()) }

// allProducts pages through every active and draft product.
func allProducts(t *testing.T, cat *catalog.Service) []catalog.Product {
	t.Helper()
	var out []catalog.Product
	q := catalog.ListQuery{Limit: 100, Statuses: []catalog.Status{catalog.StatusActive, catalog.StatusDraft}, Sort: catalog.SortTitle}
	for {
		page, err := cat.ListProducts(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out
		}
		q.Cursor = *page.NextCursor
	}
}

// fingerprint is what must not change between runs: slugs and SKUs.
func fingerprint(ps []catalog.Product) []string {
	var out []string
	for _, p := range ps {
		for _, v := range p.Variants {
			out = append(out, p.Slug+" "+v.SKU)
		}
	}
	slices.Sort(out)
	return out
}

func TestSeed(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		cat, disk := newService(db), newDisk(t)
		var progress bytes.Buffer
		n, err := demo.Seed(ctx, cat, disk, "EUR", &progress)
		if err != nil {
			t.Fatal(err)
		}
		if n < 200 {
			t.Fatalf("seeded %d products, want at least 200", n)
		}
		if count, err := cat.CountProducts(ctx); err != nil || count != n {
			t.Fatalf("CountProducts = %d, %v; Seed said %d", count, err, n)
		}
		if !strings.Contains(progress.String(), "demo: 25/") || !strings.Contains(progress.String(), "demo: 200/") {
			t.Errorf("progress output:\n%s", progress.String())
		}

		t.Run("categories", func(t *testing.T) {
			cats, err := cat.Categories(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tops, subs := 0, 0
			for _, c := range cats {
				if c.ParentID == nil {
					tops++
				} else {
					subs++
				}
			}
			if tops < 8 || subs < 8 {
				t.Fatalf("%d top-level and %d sub-categories", tops, subs)
			}
			// A top-level category lists its sub-categories' products.
			page, err := cat.ListProducts(ctx, catalog.ListQuery{Category: "apparel", Limit: 100})
			if err != nil || len(page.Items) == 0 {
				t.Fatalf("apparel: %d products, %v", len(page.Items), err)
			}
		})

		products := allProducts(t, cat)
		t.Run("products", func(t *testing.T) {
			if len(products) != n {
				t.Fatalf("listed %d products, seeded %d", len(products), n)
			}
			skus := map[string]bool{}
			var soldOut, low, backorder, featured int
			for _, p := range products {
				if len(p.Variants) == 0 || len(p.Images) == 0 || len(p.CategoryIDs) == 0 {
					t.Fatalf("%s: %d variants, %d images, %d categories", p.Slug, len(p.Variants), len(p.Images), len(p.CategoryIDs))
				}
				if p.Featured {
					featured++
				}
				for _, v := range p.Variants {
					if v.Price.Amount <= 0 || v.Price.Currency != "EUR" {
						t.Errorf("%s: price %v", v.SKU, v.Price)
					}
					if skus[v.SKU] {
						t.Errorf("SKU %s used twice", v.SKU)
					}
					skus[v.SKU] = true
					switch {
					case v.Available == 0:
						soldOut++
					case v.Available <= 5:
						low++
					}
					if v.Backorder {
						backorder++
					}
				}
				for _, img := range p.Images {
					key, ok := strings.CutPrefix(img.URL, "/media/")
					if !ok || img.Alt == "" {
						t.Fatalf("%s: image %+v", p.Slug, img)
					}
					info, err := disk.Stat(ctx, key)
					if err != nil || info.Size == 0 || info.ContentType != "image/svg+xml" {
						t.Fatalf("%s: picture %s: %+v, %v", p.Slug, key, info, err)
					}
				}
			}
			if soldOut == 0 || low == 0 || backorder == 0 || featured == 0 {
				t.Errorf("sold out %d, low %d, backorder %d variants, featured %d products: want some of each", soldOut, low, backorder, featured)
			}
		})

		t.Run("attribute filter", func(t *testing.T) {
			for _, attrs := range []map[string]string{{"colour": "Navy"}, {"brand": "Northbound"}, {"roast": "Light,Dark"}} {
				page, err := cat.ListProducts(ctx, catalog.ListQuery{Attrs: attrs, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Items) == 0 {
					t.Fatalf("no products with %v", attrs)
				}
				for _, p := range page.Items {
					for k, v := range attrs {
						if !slices.Contains(strings.Split(v, ","), p.Attributes[k]) {
							t.Errorf("%s has %s=%q, filtered on %q", p.Slug, k, p.Attributes[k], v)
						}
					}
				}
			}
		})

		t.Run("refuses a second seed", func(t *testing.T) {
			_, err := demo.Seed(ctx, cat, disk, "EUR", nil)
			if !apperr.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "already has") {
				t.Fatalf("second Seed = %v, want Conflict", err)
			}
			if count, _ := cat.CountProducts(ctx); count != n {
				t.Fatalf("%d products after a refused seed, want %d", count, n)
			}
		})

		t.Run("deterministic", func(t *testing.T) {
			var db2 *sqldb.DB
			if db.Dialect() == sqldb.Postgres {
				db2 = sqldbtest.Postgres(t, migrations...)
			} else {
				db2 = sqldbtest.SQLite(t, migrations...)
			}
			cat2 := newService(db2)
			if _, err := demo.Seed(ctx, cat2, newDisk(t), "EUR", nil); err != nil {
				t.Fatal(err)
			}
			a, b := fingerprint(products), fingerprint(allProducts(t, cat2))
			if !slices.Equal(a, b) {
				t.Fatalf("two seeds differ: %d vs %d slug/SKU pairs", len(a), len(b))
			}
		})
	})
}

func TestSeedRefusesABadCurrency(t *testing.T) {
	db := sqldbtest.SQLite(t, migrations...)
	if _, err := demo.Seed(context.Background(), newService(db), newDisk(t), "euro", nil); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("Seed(currency euro) = %v, want Invalid", err)
	}
}

// BenchmarkSeed measures a whole demo seed into a fresh SQLite database
// (go test -run '^$' -bench Seed ./internal/demo).
func BenchmarkSeed(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		db := sqldbtest.SQLite(b, migrations...)
		disk := newDisk(b)
		b.StartTimer()
		if _, err := demo.Seed(ctx, newService(db), disk, "EUR", nil); err != nil {
			b.Fatal(err)
		}
	}
}
