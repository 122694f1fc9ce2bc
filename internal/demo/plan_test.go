package demo

import (
	"bytes"
	"encoding/xml"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/platform/blob"
)

// TestPlan checks the invented catalog without a database: the same every
// time, valid for the catalog, and varied the way the brief asks.
func TestPlan(t *testing.T) {
	cats, products := plan("EUR")
	cats2, products2 := plan("EUR")
	if !reflect.DeepEqual(cats, cats2) || !reflect.DeepEqual(products, products2) {
		t.Fatal("plan is not deterministic")
	}

	leaves, tops := map[string]bool{}, 0
	isParent := map[string]bool{}
	for _, c := range cats {
		if c.parent == "" {
			tops++
		} else {
			isParent[c.parent] = true
		}
	}
	for _, c := range cats {
		if !isParent[c.slug] {
			leaves[c.slug] = true
		}
	}
	if tops < 8 || len(cats)-tops < 8 {
		t.Fatalf("%d top-level and %d sub-categories, want at least 8 of each", tops, len(cats)-tops)
	}
	if len(products) < 200 {
		t.Fatalf("%d products, want at least 200", len(products))
	}

	slugs, skus, keys := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var drafts, featured, soldOut, low, backorder int
	perLeaf := map[string]int{}
	for _, p := range products {
		in := p.input
		t.Run(in.Slug, func(t *testing.T) {
			if err := in.Validate(); err != nil {
				t.Fatalf("invalid product: %v", err)
			}
			if !leaves[p.category] {
				t.Errorf("category %q is not a leaf category", p.category)
			}
			if slugs[in.Slug] {
				t.Errorf("slug used twice")
			}
			if n := len(in.Variants); n < 1 || n > 12 {
				t.Errorf("%d variants, want 1-12", n)
			}
			if in.Slug != catalog.Slugify(in.Title) {
				t.Errorf("slug %q is not the title's %q", in.Slug, catalog.Slugify(in.Title))
			}
			if len(strings.Fields(in.Description)) < 15 {
				t.Errorf("description too short: %q", in.Description)
			}
			if in.Attributes["brand"] == "" && in.Attributes["publisher"] == "" {
				t.Errorf("no brand or publisher: %v", in.Attributes)
			}
			if p.age < 0 || p.age >= 90*24*time.Hour {
				t.Errorf("age %s not within 90 days", p.age)
			}
			for _, v := range in.Variants {
				if skus[v.SKU] {
					t.Errorf("SKU %s used twice", v.SKU)
				}
				skus[v.SKU] = true
				if v.Price.Amount <= 0 || v.Price.Currency != "EUR" {
					t.Errorf("variant %s price %v", v.SKU, v.Price)
				}
				if v.Stock == nil {
					t.Errorf("variant %s without stock", v.SKU)
				}
			}
			if len(p.images) == 0 {
				t.Fatal("no picture")
			}
			for _, img := range p.images {
				if err := blob.ValidateKey(img.key); err != nil || !blob.Immutable(img.key) {
					t.Errorf("picture key %q: %v (immutable %v)", img.key, err, blob.Immutable(img.key))
				}
				if keys[img.key] {
					t.Errorf("picture key %q used twice", img.key)
				}
				keys[img.key] = true
				if img.alt == "" || !strings.Contains(img.alt, in.Title) {
					t.Errorf("alt text %q does not describe %q", img.alt, in.Title)
				}
				checkSVG(t, img.data)
			}
		})
		slugs[in.Slug] = true
		perLeaf[p.category]++
		if in.Status == catalog.StatusDraft {
			drafts++
		}
		if in.Featured {
			featured++
		}
		for _, v := range in.Variants {
			switch {
			case *v.Stock == 0:
				soldOut++
			case *v.Stock <= 5:
				low++
			}
			if v.Backorder != nil && *v.Backorder {
				backorder++
			}
		}
	}
	for leaf := range leaves {
		if perLeaf[leaf] == 0 {
			t.Errorf("leaf category %q has no products", leaf)
		}
	}
	n := len(products)
	if drafts == 0 || drafts > n/10 {
		t.Errorf("%d drafts of %d, want a few", drafts, n)
	}
	if featured < n/10 || featured > n/4 {
		t.Errorf("%d featured of %d, want about 15%%", featured, n)
	}
	if soldOut == 0 || low == 0 || backorder == 0 {
		t.Errorf("sold out %d, low %d, backorder %d variants: want some of each", soldOut, low, backorder)
	}
	t.Logf("%d categories, %d products, %d variants (%d sold out, %d low, %d on backorder), %d drafts, %d featured, %d pictures",
		len(cats), n, len(skus), soldOut, low, backorder, drafts, featured, len(keys))
}

// checkSVG parses the picture as XML and checks its root.
func checkSVG(t *testing.T, data []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	var root xml.StartElement
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("picture is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root.Name.Local == "" {
			root = se
		}
	}
	if root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element %v, want svg", root.Name)
	}
}

func TestPlanPricesFollowTheCurrency(t *testing.T) {
	_, eur := plan("EUR")
	tests := []struct {
		currency string
		factor   int64
	}{
		{"USD", 1},
		{"JPY", 1}, // 1999 JPY where 19.99 EUR
		{"KWD", 10},
	}
	for _, tt := range tests {
		t.Run(tt.currency, func(t *testing.T) {
			_, got := plan(tt.currency)
			for i := range got {
				for j, v := range got[i].input.Variants {
					want := eur[i].input.Variants[j]
					if v.SKU != want.SKU || v.Price.Currency != tt.currency || v.Price.Amount != want.Price.Amount*tt.factor {
						t.Fatalf("%s: %v, want %d x %v", v.SKU, v.Price, tt.factor, want.Price)
					}
				}
			}
		})
	}
}

func TestCharm(t *testing.T) {
	tests := []struct{ in, want int64 }{
		{890, 899}, {1234, 1299}, {2100, 1999}, {3400, 3499}, {9800, 9999}, {12345, 11900}, {19900, 19900},
	}
	for _, tt := range tests {
		if got := charm(tt.in); got != tt.want {
			t.Errorf("charm(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSKUPart(t *testing.T) {
	tests := map[string]string{
		"Heather grey": "HEATGREY", "EU 42": "EU42", "250 g": "250G", "iPhone 15 Pro": "IPHO15PRO",
		"Cedar & Sage": "CEDASAGE", "0.5 m": "05M", "Colombia Nariño": "COLONARI",
	}
	for in, want := range tests {
		if got := skuPart(in); got != want {
			t.Errorf("skuPart(%q) = %q, want %q", in, got, want)
		}
	}
}
