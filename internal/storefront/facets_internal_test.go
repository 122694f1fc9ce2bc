package storefront

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/catalog"
)

func TestFacetCacheExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newFacetCache(time.Minute)
	c.now = func() time.Time { return now }
	c.put("cat", facetCounts{"color": {"Red": 2}})
	tests := []struct {
		after time.Duration
		hit   bool
	}{{0, true}, {59 * time.Second, true}, {time.Minute, true}, {time.Minute + time.Nanosecond, false}}
	for _, tt := range tests {
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(tt.after)
		if got, ok := c.get("cat"); ok != tt.hit || (ok && got["color"]["Red"] != 2) {
			t.Errorf("after %v: hit %v (%v), want %v", tt.after, ok, got, tt.hit)
		}
	}
	if _, ok := c.get("other"); ok {
		t.Error("hit for a category never counted")
	}
	off := newFacetCache(-1)
	off.put("cat", facetCounts{})
	if _, ok := off.get("cat"); ok {
		t.Error("a negative TTL must disable the cache")
	}
}

// countingCatalog is a Catalog that can count attributes itself; it lists
// no products, so the counts can only come from AttributeCounts.
type countingCatalog struct{ calls int }

func (c *countingCatalog) ListProducts(context.Context, catalog.ListQuery) (catalog.Page, error) {
	return catalog.Page{Items: []catalog.Product{}}, nil
}

func (c *countingCatalog) GetProduct(context.Context, string, bool) (catalog.Product, error) {
	return catalog.Product{}, nil
}

func (c *countingCatalog) Categories(context.Context) ([]catalog.Category, error) { return nil, nil }

func (c *countingCatalog) AttributeCounts(_ context.Context, category string) (map[string]map[string]int, error) {
	c.calls++
	return map[string]map[string]int{"color": {"Red": 2, "Blue": 1}, "fit": {"Slim": 3}}, nil
}

func TestFacetsUseAttributeCounter(t *testing.T) {
	cat := &countingCatalog{}
	s, err := New(cat, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		fs, err := s.facetsOf(context.Background(), "c1", map[string][]string{"color": {"Blue"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 || fs[0].Label != "Color" || len(fs[0].Values) != 2 || fs[0].Values[0].Value != "Blue" || !fs[0].Values[0].Checked || fs[0].Values[1].Count != 2 {
			t.Errorf("facets %+v", fs)
		}
	}
	if cat.calls != 1 {
		t.Errorf("AttributeCounts called %d times, want once (then cached)", cat.calls)
	}
}
