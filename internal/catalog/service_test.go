package catalog_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{outbox.Migrations(), catalog.Migrations(), inventory.Migrations()}

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }
func ptr[T any](v T) *T       { return &v }

func newService(db *sqldb.DB) *catalog.Service {
	return catalog.NewService(db, inventory.NewService(db))
}

func product(title string, price int64, sku string) catalog.ProductInput {
	return catalog.ProductInput{Title: title, Status: catalog.StatusActive,
		Variants: []catalog.VariantInput{{SKU: sku, Price: eur(price), Stock: ptr[int64](3)}}}
}

func TestCreateAndGet(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db)
		cat, err := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Shirts"})
		if err != nil {
			t.Fatal(err)
		}
		in := catalog.ProductInput{
			Title: "Linen Shirt", Description: "Cool in summer.", Status: catalog.StatusActive,
			Images:      []catalog.Image{{URL: "/media/shirt.svg", Alt: "A linen shirt"}},
			Attributes:  map[string]string{"material": "linen", "colour": "white"},
			CategoryIDs: []string{cat.ID},
			Variants: []catalog.VariantInput{
				{SKU: "LS-S", Options: map[string]string{"size": "S"}, Price: eur(4900), Stock: ptr[int64](4)},
				{SKU: "LS-M", Options: map[string]string{"size": "M"}, Price: eur(5200), Backorder: ptr(true)},
			},
		}
		p, err := svc.CreateProduct(ctx, in, "test")
		if err != nil {
			t.Fatal(err)
		}
		if p.Slug != "linen-shirt" || len(p.Variants) != 2 || p.Variants[0].Title != "S" {
			t.Fatalf("created %+v", p)
		}
		if p.Variants[0].Available != 4 || p.Variants[1].Available != 0 || !p.Variants[1].Backorder {
			t.Fatalf("stock not recorded: %+v", p.Variants)
		}
		for _, key := range []string{p.ID, p.Slug} {
			got, err := svc.GetProduct(ctx, key, true)
			if err != nil {
				t.Fatalf("get %s: %v", key, err)
			}
			if got.ID != p.ID || got.Attributes["material"] != "linen" || !slices.Equal(got.CategoryIDs, []string{cat.ID}) || got.Images[0].Alt != "A linen shirt" {
				t.Fatalf("get %s = %+v", key, got)
			}
		}
		if _, err := svc.GetProduct(ctx, "nope", true); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("get unknown: %v", err)
		}

		// A second product with the same title gets a distinct slug; an
		// explicit duplicate slug or SKU is a conflict.
		p2, err := svc.CreateProduct(ctx, product("Linen Shirt", 100, "LS2"), "test")
		if err != nil || p2.Slug == p.Slug {
			t.Fatalf("same title: slug %q, err %v", p2.Slug, err)
		}
		dup := product("Other", 100, "X1")
		dup.Slug = "linen-shirt"
		if _, err := svc.CreateProduct(ctx, dup, "test"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate slug: %v", err)
		}
		if _, err := svc.CreateProduct(ctx, product("Other", 100, "LS-S"), "test"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate SKU: %v", err)
		}
		if n, _ := svc.CountProducts(ctx); n != 2 {
			t.Fatalf("failed creates left rows behind: %d products", n)
		}
	})
}

func TestValidation(t *testing.T) {
	ok := product("Fine", 100, "OK-1")
	tests := []struct {
		name  string
		edit  func(*catalog.ProductInput)
		field string
	}{
		{"no title", func(p *catalog.ProductInput) { p.Title = "" }, "title"},
		{"no variants", func(p *catalog.ProductInput) { p.Variants = nil }, "variants"},
		{"bad status", func(p *catalog.ProductInput) { p.Status = "live" }, "status"},
		{"bad slug", func(p *catalog.ProductInput) { p.Slug = "Not A Slug" }, "slug"},
		{"negative price", func(p *catalog.ProductInput) { p.Variants[0].Price.Amount = -1 }, "variants[0].price.amount"},
		{"huge price", func(p *catalog.ProductInput) { p.Variants[0].Price.Amount = money.MaxAmount + 1 }, "variants[0].price.amount"},
		{"bad currency", func(p *catalog.ProductInput) { p.Variants[0].Price.Currency = "euro" }, "variants[0].price.currency"},
		{"bad sku", func(p *catalog.ProductInput) { p.Variants[0].SKU = "has space" }, "variants[0].sku"},
		{"negative stock", func(p *catalog.ProductInput) { p.Variants[0].Stock = ptr[int64](-1) }, "variants[0].stock"},
		{"relative image", func(p *catalog.ProductInput) { p.Images = []catalog.Image{{URL: "img.png"}} }, "images[0].url"},
		{"bad attribute key", func(p *catalog.ProductInput) { p.Attributes = map[string]string{"Bad Key": "x"} }, "attributes.Bad Key"},
		{"invalid utf-8", func(p *catalog.ProductInput) { p.Title = "bad \xff" }, "title"},
		{"unknown category", func(p *catalog.ProductInput) { p.CategoryIDs = []string{"nope"} }, "category_ids[0]"},
		{"mixed currencies", func(p *catalog.ProductInput) {
			p.Variants = append(p.Variants, catalog.VariantInput{SKU: "OK-2", Price: money.Money{Amount: 1, Currency: "USD"}})
		}, "variants[1].price.currency"},
	}
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		svc := newService(db)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := ok
				in.Variants = slices.Clone(ok.Variants)
				tt.edit(&in)
				_, err := svc.CreateProduct(context.Background(), in, "test")
				e, isApp := err.(*apperr.Error)
				if !isApp || e.Code != apperr.Invalid {
					t.Fatalf("err = %v, want invalid", err)
				}
				if !slices.ContainsFunc(e.Fields, func(f apperr.FieldError) bool { return f.Field == tt.field }) {
					t.Fatalf("fields = %+v, want %s", e.Fields, tt.field)
				}
			})
		}
		if n, _ := svc.CountProducts(context.Background()); n != 0 {
			t.Fatalf("invalid input created %d products", n)
		}
	})
}

// TestCategoryPositionRange: catalog_categories.position is an INTEGER, so
// a position beyond 32 bits is Invalid (it was an internal error on
// PostgreSQL); the limits themselves are stored.
func TestCategoryPositionRange(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		svc := newService(db)
		ctx := context.Background()
		for _, pos := range []int{math.MaxInt32 + 1, math.MinInt32 - 1, 3_000_000_000} {
			_, err := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Far", Position: pos})
			e, isApp := err.(*apperr.Error)
			if !isApp || e.Code != apperr.Invalid || !slices.ContainsFunc(e.Fields, func(f apperr.FieldError) bool { return f.Field == "position" }) {
				t.Fatalf("position %d: %v, want Invalid naming position", pos, err)
			}
		}
		for _, pos := range []int{math.MaxInt32, math.MinInt32} {
			if _, err := svc.CreateCategory(ctx, catalog.CategoryInput{Name: fmt.Sprint("At ", pos), Position: pos}); err != nil {
				t.Fatalf("position %d: %v", pos, err)
			}
		}
		cats, err := svc.Categories(ctx)
		if err != nil || len(cats) != 2 || cats[0].Position != math.MinInt32 || cats[1].Position != math.MaxInt32 {
			t.Fatalf("categories = %+v, %v", cats, err)
		}
	})
}

func TestListPaginationSortFilter(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db)
		parent, _ := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Clothing"})
		child, _ := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Socks", ParentID: &parent.ID})
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		const n = 23
		for i := range n {
			in := product(fmt.Sprintf("Item %02d", (i*7)%n), int64(100+(i*37)%n*10), fmt.Sprintf("SKU-%02d", i))
			in.CreatedAt = base.Add(time.Duration(i%5) * time.Hour) // ties on created_at
			in.Attributes = map[string]string{"colour": []string{"red", "blue"}[i%2]}
			if i%3 == 0 {
				in.CategoryIDs = []string{child.ID}
			}
			if i == 0 {
				in.Status = catalog.StatusDraft
			}
			if _, err := svc.CreateProduct(ctx, in, "test"); err != nil {
				t.Fatal(err)
			}
		}
		less := map[catalog.Sort]func(a, b catalog.Product) bool{
			catalog.SortNewest:    func(a, b catalog.Product) bool { return !a.CreatedAt.Before(b.CreatedAt) },
			catalog.SortPrice:     func(a, b catalog.Product) bool { return a.Variants[0].Price.Amount <= b.Variants[0].Price.Amount },
			catalog.SortPriceDesc: func(a, b catalog.Product) bool { return a.Variants[0].Price.Amount >= b.Variants[0].Price.Amount },
			catalog.SortTitle:     func(a, b catalog.Product) bool { return a.Title <= b.Title },
		}
		for _, sort := range catalog.Sorts {
			t.Run(string(sort), func(t *testing.T) {
				var all []catalog.Product
				seen := map[string]bool{}
				q := catalog.ListQuery{Limit: 4, Sort: sort}
				for pages := 0; ; pages++ {
					if pages > 10 {
						t.Fatal("pagination does not end")
					}
					page, err := svc.ListProducts(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range page.Items {
						if seen[p.ID] {
							t.Fatalf("%s seen twice", p.Title)
						}
						seen[p.ID] = true
					}
					all = append(all, page.Items...)
					if page.NextCursor == nil {
						break
					}
					q.Cursor = *page.NextCursor
				}
				if len(all) != n-1 {
					t.Fatalf("walked %d products, want %d active", len(all), n-1)
				}
				for i := 1; i < len(all); i++ {
					if !less[sort](all[i-1], all[i]) {
						t.Fatalf("out of order at %d: %s then %s", i, all[i-1].Title, all[i].Title)
					}
				}
			})
		}
		count := func(q catalog.ListQuery) int {
			t.Helper()
			q.Limit = 100
			page, err := svc.ListProducts(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			return len(page.Items)
		}
		if got := count(catalog.ListQuery{Category: parent.Slug}); got != 7 { // i = 3,6,...,21 (0 is draft)
			t.Errorf("parent category (includes child): %d products, want 7", got)
		}
		if got := count(catalog.ListQuery{Category: child.ID}); got != 7 {
			t.Errorf("child category: %d, want 7", got)
		}
		if got := count(catalog.ListQuery{Attrs: map[string]string{"colour": "red"}}); got != 11 {
			t.Errorf("colour=red: %d, want 11", got)
		}
		if got := count(catalog.ListQuery{Attrs: map[string]string{"colour": "red,blue"}}); got != 22 {
			t.Errorf("colour=red,blue: %d, want 22", got)
		}
		if got := count(catalog.ListQuery{Q: "item 05"}); got != 2 { // title "Item 05" and SKU-05
			t.Errorf("q=item 05: %d, want 2", got)
		}
		if got := count(catalog.ListQuery{Q: "sku-1"}); got != 10 {
			t.Errorf("q=sku-1 (matches SKUs): %d, want 10", got)
		}
		if got := count(catalog.ListQuery{Q: "100%_"}); got != 0 {
			t.Errorf("LIKE wildcards must be literal: %d results", got)
		}
		if got := count(catalog.ListQuery{Statuses: []catalog.Status{catalog.StatusDraft}}); got != 1 {
			t.Errorf("drafts: %d, want 1", got)
		}
		for _, bad := range []catalog.ListQuery{{Limit: 101}, {Limit: -1}, {Sort: "random"}, {Cursor: "!!!"}, {Cursor: "e30"}, {Category: "nope"}} {
			if _, err := svc.ListProducts(ctx, bad); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("ListProducts(%+v): err = %v, want invalid", bad, err)
			}
		}
		page, _ := svc.ListProducts(ctx, catalog.ListQuery{Limit: 2, Sort: catalog.SortPrice})
		if _, err := svc.ListProducts(ctx, catalog.ListQuery{Cursor: *page.NextCursor, Sort: catalog.SortTitle}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("cursor reused with another sort: err = %v", err)
		}
	})
}

func TestUpdateAndArchive(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db)
		p, err := svc.CreateProduct(ctx, product("Mug", 1200, "MUG-1"), "test")
		if err != nil {
			t.Fatal(err)
		}
		other, _ := svc.CreateProduct(ctx, product("Cup", 900, "CUP-1"), "test")
		got, err := svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{
			Title: ptr("Big Mug"),
			Variants: []catalog.VariantInput{
				{ID: p.Variants[0].ID, Price: eur(1500)},
				{SKU: "MUG-2", Options: map[string]string{"size": "XL"}, Price: eur(1800), Stock: ptr[int64](9)},
			},
		}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "Big Mug" || got.Slug != "mug" || len(got.Variants) != 2 || got.Variants[0].Price.Amount != 1500 || got.Variants[1].Available != 9 {
			t.Fatalf("patched = %+v", got)
		}
		if _, err := svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Variants: []catalog.VariantInput{{ID: p.Variants[0].ID, SKU: "CUP-1", Price: eur(1)}}}, "test"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("SKU taken by another product: %v", err)
		}
		if _, err := svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Slug: &other.Slug}, "test"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("slug taken: %v", err)
		}
		if _, err := svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Variants: []catalog.VariantInput{{ID: other.Variants[0].ID, Price: eur(1)}}}, "test"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("variant of another product: %v", err)
		}
		if _, err := svc.UpdateProduct(ctx, "nope", catalog.ProductPatch{Title: ptr("x")}, "test"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("patch unknown: %v", err)
		}
		if _, err := svc.ArchiveProduct(ctx, p.ID, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.GetProduct(ctx, p.ID, true); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("archived product still public: %v", err)
		}
		if a, err := svc.GetProduct(ctx, p.ID, false); err != nil || a.Status != catalog.StatusArchived {
			t.Fatalf("staff view of archived: %+v %v", a, err)
		}
		vs, err := svc.Variants(ctx, []string{got.Variants[1].ID, "nope"})
		if err != nil || len(vs) != 1 || vs[got.Variants[1].ID].ProductTitle != "Big Mug" || vs[got.Variants[1].ID].SKU != "MUG-2" {
			t.Fatalf("Variants = %+v, %v", vs, err)
		}
	})
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Blue T-Shirt (L)": "blue-t-shirt-l",
		"  Crème Brûlée ":  "creme-brulee",
		"Straße 100%":      "strasse-100",
		"---":              "",
	} {
		if got := catalog.Slugify(in); got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAttributeCountsMatchListing(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db)
		parent, _ := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Home"})
		child, _ := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Mugs", ParentID: &parent.ID})
		other, _ := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Books"})
		for i := range 30 {
			in := product(fmt.Sprintf("Thing %d", i), 100, fmt.Sprintf("T-%d", i))
			in.Attributes = map[string]string{"colour": []string{"red", "blue", "green"}[i%3], "material": []string{"clay", "glass"}[i%2]}
			in.CategoryIDs = []string{[]string{parent.ID, child.ID, other.ID}[i%3]}
			if i%7 == 0 {
				in.Status = catalog.StatusDraft // not counted
			}
			if _, err := svc.CreateProduct(ctx, in, "test"); err != nil {
				t.Fatal(err)
			}
		}
		for _, cat := range []string{parent.Slug, child.ID, other.ID} {
			want := map[string]map[string]int{}
			page, err := svc.ListProducts(ctx, catalog.ListQuery{Category: cat, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page.Items {
				for k, v := range p.Attributes {
					if want[k] == nil {
						want[k] = map[string]int{}
					}
					want[k][v]++
				}
			}
			got, err := svc.AttributeCounts(ctx, cat)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
				t.Errorf("category %s: counts %v, listing says %v", cat, got, want)
			}
		}
		if _, err := svc.AttributeCounts(ctx, "nope"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("unknown category: %v", err)
		}
	})
}

func TestProductCategories(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db)
		clothing, _ := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Clothing"})
		shoes, _ := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Shoes", ParentID: &clothing.ID})
		boots, _ := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Boots", ParentID: &shoes.ID})
		sale, _ := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Sale"})
		in := product("Boot", 100, "BOOT-1")
		in.CategoryIDs = []string{boots.ID, sale.ID}
		boot, err := svc.CreateProduct(ctx, in, "test")
		if err != nil {
			t.Fatal(err)
		}
		plain, err := svc.CreateProduct(ctx, product("Plain", 100, "PLAIN-1"), "test")
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.ProductCategories(ctx, []string{boot.ID, plain.ID, "nope", boot.ID})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{boots.ID, shoes.ID, clothing.ID, sale.ID}
		slices.Sort(want)
		b := slices.Sorted(slices.Values(got[boot.ID]))
		if !slices.Equal(b, want) || len(got) != 1 {
			t.Fatalf("categories %v, want %v for the boot only", got, want)
		}
	})
}
