package storefront_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"testing"

	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/demo"
	"github.com/mercato-shop/mercato/internal/platform/blob"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
	"github.com/mercato-shop/mercato/internal/storefront"
)

// demoSite is the storefront over the demo catalog that `mercato serve`
// loads on first start, in a fresh SQLite database.
func demoSite(tb testing.TB) *site {
	tb.Helper()
	media := blob.NewDisk(tb.TempDir())
	return newSite(tb, sqldbtest.SQLite(tb, migrations()...), func(ctx context.Context, cat *catalog.Service) error {
		_, err := demo.Seed(ctx, cat, media, "EUR", nil)
		return err
	})
}

// demoPaths picks the heaviest pages of each kind in the demo catalog: the
// top-level category with the most products (facets are counted over all of
// them), a filtered and sorted view of it, its second page, the product with
// the most variants, a search with many hits.
func demoPaths(tb testing.TB, s *site) map[string]string {
	tb.Helper()
	ctx := context.Background()
	cats, err := s.cat.Categories(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	count := func(q catalog.ListQuery) (n int, first catalog.Page) {
		q.Limit = 100
		for i := 0; ; i++ {
			page, err := s.cat.ListProducts(ctx, q)
			if err != nil {
				tb.Fatal(err)
			}
			if i == 0 {
				first = page
			}
			n += len(page.Items)
			if page.NextCursor == nil {
				return n, first
			}
			q.Cursor = *page.NextCursor
		}
	}
	var top catalog.Category
	topN := -1
	for _, c := range cats {
		if c.ParentID == nil {
			if n, _ := count(catalog.ListQuery{Category: c.ID}); n > topN {
				top, topN = c, n
			}
		}
	}
	_, all := count(catalog.ListQuery{})
	var (
		product catalog.Product
		attrKey string
		attrVal string
	)
	for _, p := range all.Items {
		if len(p.Variants) > len(product.Variants) {
			product = p
		}
	}
	_, inTop := count(catalog.ListQuery{Category: top.ID})
	for _, p := range inTop.Items {
		for k, v := range p.Attributes {
			if attrKey == "" || k < attrKey {
				attrKey, attrVal = k, v
			}
		}
	}
	paths := map[string]string{
		"home":              "/",
		"category":          "/c/" + top.Slug,
		"category_filtered": "/c/" + top.Slug + "?sort=price&attr." + attrKey + "=" + url.QueryEscape(attrVal),
		"product":           "/p/" + product.Slug,
		"search":            "/search?q=classic",
		"not_found":         "/no/such/page",
	}
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(s.get(paths["category"]).body)
	if next == nil {
		tb.Fatalf("%s has no second page", paths["category"])
	}
	paths["category_page2"] = htmlUnescape(next[1])
	tb.Logf("demo catalog: %d products; heaviest category %s has %d; product %s has %d variants", len(all.Items), top.Slug, topN, product.Slug, len(product.Variants))
	return paths
}

// BenchmarkPages measures the server time of each storefront page over the
// demo catalog on SQLite: routing, catalog reads, facet counting, template
// execution, security headers. The budget is 5 ms per page.
//
//	go test -run '^$' -bench Pages -benchmem ./internal/storefront
func BenchmarkPages(b *testing.B) {
	s := demoSite(b)
	paths := demoPaths(b, s)
	names := []string{"home", "category", "category_filtered", "category_page2", "product", "search", "not_found"}
	for _, name := range names {
		path := paths[name]
		b.Run(name, func(b *testing.B) {
			want := http.StatusOK
			if name == "not_found" {
				want = http.StatusNotFound
			}
			if p := s.get(path); p.code != want {
				b.Fatalf("GET %s: %d", path, p.code)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				s.h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
			}
		})
	}
	// The same category with its filter counts recounted on every request
	// (what the first visitor after a minute pays).
	cold := newSite(b, sqldbtest.SQLite(b, migrations()...), func(ctx context.Context, cat *catalog.Service) error {
		_, err := demo.Seed(ctx, cat, blob.NewDisk(b.TempDir()), "EUR", nil)
		return err
	}, func(o *storefront.Options) { o.FacetTTL = -1 })
	b.Run("category_uncached_facets", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			cold.h.ServeHTTP(w, httptest.NewRequest("GET", paths["category"], nil))
		}
	})
	b.Run("sitemap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, httptest.NewRequest("GET", "/sitemap.xml", nil))
		}
	})
}

// TestHomePageWeight keeps the home page light: its HTML with the
// stylesheets and scripts it links must stay under 100 KB (uncompressed,
// pictures not counted), with the demo catalog.
func TestHomePageWeight(t *testing.T) {
	const budget = 100 * 1024
	s := demoSite(t)
	home := s.get("/")
	if home.code != http.StatusOK {
		t.Fatalf("GET /: %d", home.code)
	}
	total := len(home.body)
	t.Logf("/: %d bytes", len(home.body))
	var linked []string
	for _, m := range regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)"|<script src="([^"]+)"`).FindAllStringSubmatch(home.body, -1) {
		linked = append(linked, m[1]+m[2])
	}
	if !slices.ContainsFunc(linked, func(u string) bool { return regexp.MustCompile(`^/static/app\.[0-9a-f]+\.css$`).MatchString(u) }) ||
		!slices.ContainsFunc(linked, func(u string) bool { return regexp.MustCompile(`^/static/app\.[0-9a-f]+\.js$`).MatchString(u) }) {
		t.Fatalf("the home page does not link app.css and app.js: %q", linked)
	}
	for _, u := range linked {
		p := s.get(u)
		if p.code != http.StatusOK {
			t.Fatalf("GET %s: %d", u, p.code)
		}
		t.Logf("%s: %d bytes", u, len(p.body))
		total += len(p.body)
	}
	t.Logf("home page with CSS and JS: %d bytes (budget %d)", total, budget)
	if total >= budget {
		t.Errorf("the home page with its CSS and JS weighs %d bytes, over the %d budget", total, budget)
	}
}
