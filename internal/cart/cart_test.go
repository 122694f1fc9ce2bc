package cart_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// The cart's rules, on SQLite and PostgreSQL, with the catalog, the stock
// and the pricing (shipping and tax) faked here: what the cart does with
// their answers is what is tested. The HTTP contract of the cart routes is
// tested in internal/app.

var migrations = []sqldb.Migrations{cart.Migrations()}

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

// shop is the catalog and the stock of a test: variants by id.
type shop struct {
	mu       sync.Mutex
	variants map[string]catalog.VariantInfo
	levels   map[string]catalog.StockLevel
}

func newShop() *shop {
	return &shop{variants: map[string]catalog.VariantInfo{}, levels: map[string]catalog.StockLevel{}}
}

// add puts an active variant with id (also its SKU) on sale at price with
// stock available, and returns id.
func (s *shop) add(id string, price, stock int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.variants[id] = catalog.VariantInfo{ID: id, SKU: id, Title: "M", Options: map[string]string{"size": "M"}, Price: eur(price),
		ProductID: "p-" + id, ProductSlug: "product-" + strings.ToLower(id), ProductTitle: "Product " + id, ProductStatus: catalog.StatusActive}
	s.levels[id] = catalog.StockLevel{Available: stock}
	return id
}

func (s *shop) change(id string, f func(*catalog.VariantInfo, *catalog.StockLevel)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, l := s.variants[id], s.levels[id]
	f(&v, &l)
	s.variants[id], s.levels[id] = v, l
}

func (s *shop) Variants(ctx context.Context, ids []string) (map[string]catalog.VariantInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]catalog.VariantInfo{}
	for _, id := range ids {
		if v, ok := s.variants[id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

func (s *shop) Levels(ctx context.Context, ids []string) (map[string]catalog.StockLevel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]catalog.StockLevel{}
	for _, id := range ids {
		out[id] = s.levels[id]
	}
	return out, nil
}

// pricing ships to DE (Standard 4.90, free from 50.00; Express 9.90) and
// FR (EU 9.90), nowhere else, and taxes DE at 19% and FR at 20%, included
// in prices or on top.
type pricing struct{ inclusive bool }

func (p pricing) ShippingOptions(ctx context.Context, country string, subtotal money.Money) ([]cart.ShippingOption, error) {
	switch country {
	case "", "DE":
		std := eur(490)
		if subtotal.Amount >= 5000 {
			std = eur(0)
		}
		return []cart.ShippingOption{{ID: "de-std", Name: "Standard", Price: std}, {ID: "de-exp", Name: "Express", Price: eur(990)}}, nil
	case "FR":
		return []cart.ShippingOption{{ID: "eu-std", Name: "EU", Price: eur(990)}}, nil
	}
	return nil, apperr.Field("country", "we do not ship to "+country)
}

func (p pricing) ShippingOption(ctx context.Context, id, country string, subtotal money.Money) (cart.ShippingOption, error) {
	opts, err := p.ShippingOptions(ctx, country, subtotal)
	if err != nil {
		return cart.ShippingOption{}, err
	}
	for _, o := range opts {
		if o.ID == id {
			return o, nil
		}
	}
	return cart.ShippingOption{}, apperr.Field("shipping_method_id", "is not a shipping method to "+country)
}

func (p pricing) Tax(ctx context.Context, country string, taxable money.Money) (cart.TaxResult, error) {
	bp := int64(1900)
	if country == "FR" {
		bp = 2000
	}
	den := int64(10000)
	if p.inclusive {
		den += bp
	}
	return cart.TaxResult{Tax: money.Money{Amount: (taxable.Amount*bp + den/2) / den, Currency: taxable.Currency}, Inclusive: p.inclusive}, nil
}

// env is a cart service on one database with its fakes.
type env struct {
	t    *testing.T
	db   *sqldb.DB
	shop *shop
	svc  *cart.Service
}

func newEnv(t *testing.T, db *sqldb.DB, inclusive bool) *env {
	s := newShop()
	return &env{t: t, db: db, shop: s, svc: cart.NewService(db, s, s, pricing{inclusive: inclusive}, "EUR")}
}

// as is a context signed in as customer id ("" for a guest).
func as(id string) context.Context {
	if id == "" {
		return context.Background()
	}
	return auth.With(context.Background(), auth.Principal{AccountID: id, Role: auth.RoleCustomer})
}

var guest = as("")

func (e *env) newCart(ctx context.Context) cart.Cart {
	e.t.Helper()
	c, err := e.svc.Create(ctx, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) add(ctx context.Context, cartID, variantID string, qty int64) cart.Cart {
	e.t.Helper()
	c, err := e.svc.AddItem(ctx, cartID, variantID, qty)
	if err != nil {
		e.t.Fatalf("add %d of %s: %v", qty, variantID, err)
	}
	return c
}

func (e *env) get(ctx context.Context, id string) cart.Cart {
	e.t.Helper()
	c, err := e.svc.Get(ctx, id)
	if err != nil {
		e.t.Fatalf("get cart %s: %v", id, err)
	}
	return c
}

// wantErr asserts an error of code naming field (when field is not "").
func wantErr(t *testing.T, err error, code apperr.Code, field string) *apperr.Error {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("error %v, want %s on %q", err, code, field)
	}
	var e *apperr.Error
	errors.As(err, &e)
	if field == "" {
		return e
	}
	var fields []string
	for _, f := range e.Fields {
		if f.Field == field {
			return e
		}
		fields = append(fields, f.Field)
	}
	t.Fatalf("error %v names %q, want %q", err, fields, field)
	return nil
}

func wantTotals(t *testing.T, what string, got cart.Totals, subtotal, shipping, tax, total int64) {
	t.Helper()
	want := cart.Totals{Subtotal: eur(subtotal), Discount: eur(0), Shipping: eur(shipping), Tax: eur(tax), GiftCard: eur(0), Total: eur(total)}
	if got != want {
		t.Fatalf("%s totals %+v, want %+v", what, got, want)
	}
}

// quantities is SKU -> quantity of a cart's lines.
func quantities(c cart.Cart) map[string]int64 {
	out := map[string]int64{}
	for _, it := range c.Items {
		out[it.SKU] = it.Quantity
	}
	return out
}

func TestGuestCart(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		a, b := e.shop.add("GUEST-A", 1000, 5), e.shop.add("GUEST-B", 250, 3)

		c := e.newCart(guest)
		if c.Currency != "EUR" || c.Status != "active" || len(c.Items) != 0 || c.Items == nil || c.CustomerID != "" ||
			!strings.HasPrefix(c.ID, "cart_") || c.Shipping != nil || c.PriceChanged {
			t.Fatalf("new cart %+v", c)
		}
		wantTotals(t, "empty cart", c.Totals, 0, 0, 0, 0)
		if !c.TaxIncluded {
			t.Fatal("an empty cart does not say that prices include tax")
		}
		if other := e.newCart(guest); other.ID == c.ID {
			t.Fatal("two carts with one id")
		}

		// Two variants; adding one again raises its line.
		e.add(guest, c.ID, a, 1)
		e.add(guest, c.ID, b, 1)
		c = e.add(guest, c.ID, a, 1)
		if len(c.Items) != 2 || c.Items[0].VariantID != a || c.Items[0].Quantity != 2 || c.Items[1].VariantID != b || c.Items[1].Quantity != 1 {
			t.Fatalf("lines %+v", c.Items)
		}
		it := c.Items[0]
		if it.ID == "" || it.SKU != "GUEST-A" || it.Title != "Product GUEST-A" || it.VariantTitle != "M" || it.ProductID != "p-GUEST-A" ||
			it.ProductSlug != "product-guest-a" || it.Options["size"] != "M" || it.UnitPrice != eur(1000) || it.LineTotal != eur(2000) ||
			it.Available != 5 || it.Backorder || !it.Purchasable || it.PriceChanged || it.PreviousUnitPrice != nil {
			t.Fatalf("line %+v", it)
		}
		// 22.50 of goods, Standard to Germany 4.90, 19% VAT included.
		if c.Shipping == nil || c.Shipping.ID != "de-std" || c.Shipping.Price != eur(490) || !c.TaxIncluded {
			t.Fatalf("estimate %+v, tax included %v", c.Shipping, c.TaxIncluded)
		}
		wantTotals(t, "cart", c.Totals, 2250, 490, 437, 2740)
		if got := e.get(guest, c.ID); got.Totals != c.Totals || len(got.Items) != 2 {
			t.Fatalf("read back %+v", got)
		}
		// Anybody who holds a guest cart's id may use it, signed in or not.
		if err := e.svc.Access(as("carl"), c.ID); err != nil {
			t.Fatal(err)
		}
		e.add(as("carl"), c.ID, b, 1)
		if got := e.get(guest, c.ID); got.CustomerID != "" || quantities(got)["GUEST-B"] != 2 {
			t.Fatalf("a signed-in customer's add made the guest cart theirs: %+v", got)
		}

		// The shop sells in one currency.
		_, err := e.svc.Create(guest, "USD")
		wantErr(t, err, apperr.Invalid, "currency")
		if c, err := e.svc.Create(guest, "EUR"); err != nil || c.Currency != "EUR" {
			t.Fatalf("create in EUR: %+v %v", c, err)
		}
	})
}

func TestUpdateAndRemove(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		a, b := e.shop.add("UPD-A", 1000, 10), e.shop.add("UPD-B", 500, 10)
		c := e.newCart(guest)
		e.add(guest, c.ID, a, 1)
		c = e.add(guest, c.ID, b, 2)
		lineA, lineB := c.Items[0].ID, c.Items[1].ID

		c, err := e.svc.SetQuantity(guest, c.ID, lineA, 4)
		if err != nil || quantities(c)["UPD-A"] != 4 || quantities(c)["UPD-B"] != 2 || c.Items[0].ID != lineA {
			t.Fatalf("set quantity: %+v %v", c.Items, err)
		}
		wantTotals(t, "after raising", c.Totals, 5000, 0, tax19(5000), 5000) // free Standard from 50.00
		c, err = e.svc.SetQuantity(guest, c.ID, lineA, 1)
		if err != nil || quantities(c)["UPD-A"] != 1 {
			t.Fatalf("lower quantity: %+v %v", c.Items, err)
		}
		c, err = e.svc.SetQuantity(guest, c.ID, lineB, 0)
		if err != nil || len(c.Items) != 1 || c.Items[0].ID != lineA {
			t.Fatalf("quantity 0 removes the line: %+v %v", c.Items, err)
		}
		c, err = e.svc.RemoveItem(guest, c.ID, lineA)
		if err != nil || len(c.Items) != 0 || c.Shipping != nil {
			t.Fatalf("remove: %+v %v", c, err)
		}
		wantTotals(t, "emptied cart", c.Totals, 0, 0, 0, 0)
		// A removed line is gone; the variant can be added again as a new line.
		_, err = e.svc.RemoveItem(guest, c.ID, lineA)
		wantErr(t, err, apperr.NotFound, "")
		c = e.add(guest, c.ID, a, 2)
		if len(c.Items) != 1 || c.Items[0].ID == lineA || c.Items[0].Quantity != 2 {
			t.Fatalf("added again: %+v", c.Items)
		}
	})
}

func TestBadInput(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		v := e.shop.add("BAD-A", 1000, 5000)
		draft := e.shop.add("BAD-DRAFT", 1000, 5)
		e.shop.change(draft, func(vi *catalog.VariantInfo, _ *catalog.StockLevel) { vi.ProductStatus = catalog.StatusDraft })
		usd := e.shop.add("BAD-USD", 1000, 5)
		e.shop.change(usd, func(vi *catalog.VariantInfo, _ *catalog.StockLevel) { vi.Price.Currency = "USD" })
		c := e.newCart(guest)
		c = e.add(guest, c.ID, v, 998)
		line := c.Items[0].ID

		for _, tt := range []struct {
			name    string
			variant string
			qty     int64
			code    apperr.Code
			field   string
		}{
			{"zero", v, 0, apperr.Invalid, "quantity"},
			{"negative", v, -1, apperr.Invalid, "quantity"},
			{"above the limit", v, cart.MaxQuantity + 1, apperr.Invalid, "quantity"},
			{"line above the limit", v, 2, apperr.Invalid, "quantity"},
			{"no variant", "", 1, apperr.Invalid, "variant_id"},
			{"implausible variant id", "a b", 1, apperr.Invalid, "variant_id"},
			{"NUL in the variant id", "a\x00b", 1, apperr.Invalid, "variant_id"},
			{"unknown variant", "no-such-variant", 1, apperr.Invalid, "variant_id"},
			{"product not for sale", draft, 1, apperr.Invalid, "variant_id"},
			{"priced in another currency", usd, 1, apperr.Unprocessable, "variant_id"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.svc.AddItem(guest, c.ID, tt.variant, tt.qty)
				wantErr(t, err, tt.code, tt.field)
			})
		}
		for _, q := range []int64{-1, cart.MaxQuantity + 1} {
			_, err := e.svc.SetQuantity(guest, c.ID, line, q)
			wantErr(t, err, apperr.Invalid, "quantity")
		}
		_, err := e.svc.SetQuantity(guest, c.ID, "no-such-line", 1)
		wantErr(t, err, apperr.NotFound, "")
		// The limit itself is allowed.
		if c = e.add(guest, c.ID, v, 1); c.Items[0].Quantity != cart.MaxQuantity {
			t.Fatalf("at the limit: %+v", c.Items)
		}
		if got := e.get(guest, c.ID); len(got.Items) != 1 || got.Items[0].Quantity != cart.MaxQuantity {
			t.Fatalf("refused adds changed the cart: %+v", got.Items)
		}

		// At most MaxLines different items.
		c = e.newCart(guest)
		for i := range cart.MaxLines {
			e.add(guest, c.ID, e.shop.add(fmt.Sprintf("LINE-%03d", i), 100, 10), 1)
		}
		_, err = e.svc.AddItem(guest, c.ID, e.shop.add("ONE-TOO-MANY", 100, 10), 1)
		wantErr(t, err, apperr.Invalid, "variant_id")
		c = e.add(guest, c.ID, "LINE-000", 1) // more of a line it has is fine
		if len(c.Items) != cart.MaxLines || c.Items[0].Quantity != 2 {
			t.Fatalf("%d lines, first %+v", len(c.Items), c.Items[0])
		}
	})
}

func TestStock(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		a, b := e.shop.add("OOS-A", 500, 2), e.shop.add("OOS-B", 500, 0)
		c := e.newCart(guest)

		// More than is available is a Conflict naming the quantity and the shortage.
		_, err := e.svc.AddItem(guest, c.ID, a, 3)
		ae := wantErr(t, err, apperr.Conflict, "quantity")
		want := []map[string]any{{"sku": "OOS-A", "requested": int64(3), "available": int64(2)}}
		if d, ok := ae.Detail.(map[string]any); !ok || fmt.Sprint(d["shortages"]) != fmt.Sprint(want) {
			t.Fatalf("detail %#v", ae.Detail)
		}
		c = e.add(guest, c.ID, a, 2)
		if c.Items[0].Available != 2 {
			t.Fatalf("available %d", c.Items[0].Available)
		}
		// What the cart already holds counts.
		_, err = e.svc.AddItem(guest, c.ID, a, 1)
		wantErr(t, err, apperr.Conflict, "quantity")
		_, err = e.svc.SetQuantity(guest, c.ID, c.Items[0].ID, 3)
		wantErr(t, err, apperr.Conflict, "quantity")
		_, err = e.svc.AddItem(guest, c.ID, b, 1)
		ae = wantErr(t, err, apperr.Conflict, "quantity")
		if !strings.Contains(ae.Message, "only 0 of OOS-B") {
			t.Fatalf("message %q", ae.Message)
		}

		// Lowering is always allowed, even when the stock is gone meanwhile.
		e.shop.change(a, func(_ *catalog.VariantInfo, l *catalog.StockLevel) { l.Available = -1 })
		c, err = e.svc.SetQuantity(guest, c.ID, c.Items[0].ID, 1)
		if err != nil || c.Items[0].Quantity != 1 || c.Items[0].Available != -1 {
			t.Fatalf("lower with no stock: %+v %v", c.Items, err)
		}
		// A backorderable variant sells beyond its stock.
		e.shop.change(b, func(_ *catalog.VariantInfo, l *catalog.StockLevel) { l.Backorder = true })
		c = e.add(guest, c.ID, b, 5)
		if it := c.Items[1]; it.Quantity != 5 || !it.Backorder || it.Available != 0 {
			t.Fatalf("backorder line %+v", it)
		}
	})
}

func TestTotals(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		incl, excl := newEnv(t, db, true), newEnv(t, db, false)
		for _, e := range []*env{incl, excl} {
			e.shop.add("NET-1", 2600, 10)
			e.shop.add("NET-2", 1000, 10)
		}
		ctx := guest
		ci := incl.add(ctx, incl.newCart(ctx).ID, "NET-1", 1)
		ce := excl.add(ctx, excl.newCart(ctx).ID, "NET-1", 1)
		// 26.00 + 4.90: 19% included is 4.93; on top 5.871 → 5.87.
		wantTotals(t, "gross cart", ci.Totals, 2600, 490, 493, 3090)
		wantTotals(t, "net cart", ce.Totals, 2600, 490, 587, 3677)
		if !ci.TaxIncluded || ce.TaxIncluded {
			t.Fatalf("tax_included %v / %v", ci.TaxIncluded, ce.TaxIncluded)
		}
		// 52.00 reaches the free Standard threshold (50.00).
		ce = excl.add(ctx, ce.ID, "NET-1", 1)
		wantTotals(t, "free shipping", ce.Totals, 5200, 0, 988, 6188)
		if ce.Shipping == nil || ce.Shipping.Name != "Standard" || ce.Shipping.Price != eur(0) {
			t.Fatalf("estimate %+v", ce.Shipping)
		}

		for _, tt := range []struct {
			name, country, method string
			shipping, tax, total  int64
			methodName            string
			errCode               apperr.Code
			errField              string
		}{
			{"express to Germany", "DE", "de-exp", 990, 1176, 7366, "Express", "", ""}, // 61.90 * 19%
			{"default country, cheapest", "", "", 0, 988, 6188, "Standard", "", ""},    // free
			{"to France, French VAT", "FR", "eu-std", 990, 1238, 7428, "EU", "", ""},   // 61.90 * 20%
			{"cheapest to France", "FR", "", 990, 1238, 7428, "EU", "", ""},            //
			{"a German method to France", "FR", "de-std", 0, 0, 0, "", apperr.Invalid, "shipping_method_id"},
			{"a country not served", "US", "", 0, 0, 0, "", apperr.Invalid, "country"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				q, err := excl.svc.Quote(ctx, ce.ID, tt.country, tt.method)
				if tt.errCode != "" {
					wantErr(t, err, tt.errCode, tt.errField)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if q.Method == nil || q.Method.Name != tt.methodName || q.Cart.Shipping == nil || *q.Cart.Shipping != *q.Method {
					t.Fatalf("method %+v, cart shipping %+v", q.Method, q.Cart.Shipping)
				}
				wantTotals(t, tt.name, q.Cart.Totals, 5200, tt.shipping, tt.tax, tt.total)
			})
		}

		// Shipping options for the cart's subtotal, per destination.
		ms, err := excl.svc.ShippingOptions(ctx, ce.ID, "DE")
		if err != nil || len(ms) != 2 || ms[0].Price != eur(0) || ms[1].Price != eur(990) {
			t.Fatalf("options to DE: %+v %v", ms, err)
		}
		if ms, err := excl.svc.ShippingOptions(ctx, ce.ID, "FR"); err != nil || len(ms) != 1 || ms[0].Name != "EU" {
			t.Fatalf("options to FR: %+v %v", ms, err)
		}
		_, err = excl.svc.ShippingOptions(ctx, ce.ID, "DEU")
		wantErr(t, err, apperr.Invalid, "country")

		// A line that can no longer be bought is shown but not counted.
		ce = excl.add(ctx, ce.ID, "NET-2", 1)
		wantTotals(t, "two lines", ce.Totals, 6200, 0, 1178, 7378)
		excl.shop.change("NET-2", func(v *catalog.VariantInfo, _ *catalog.StockLevel) { v.ProductStatus = catalog.StatusArchived })
		ce = excl.get(ctx, ce.ID)
		if len(ce.Items) != 2 || ce.Items[1].Purchasable || !ce.Items[0].Purchasable || ce.Items[1].LineTotal != eur(1000) {
			t.Fatalf("withdrawn line %+v", ce.Items)
		}
		wantTotals(t, "withdrawn line", ce.Totals, 5200, 0, 988, 6188)
		// One whose variant is gone from the catalog is priced at zero.
		excl.shop.mu.Lock()
		delete(excl.shop.variants, "NET-2")
		excl.shop.mu.Unlock()
		ce = excl.get(ctx, ce.ID)
		if it := ce.Items[1]; it.Purchasable || it.UnitPrice != eur(0) || it.SKU != "" || it.Options == nil {
			t.Fatalf("vanished variant %+v", it)
		}
		wantTotals(t, "vanished variant", ce.Totals, 5200, 0, 988, 6188)
	})
}

// tax19 is the German VAT included in a gross amount.
func tax19(gross int64) int64 { return (gross*1900 + 11900/2) / 11900 }

func TestPriceChange(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		v, w := e.shop.add("PRICE-1", 3000, 5), e.shop.add("PRICE-2", 1000, 5)
		c := e.newCart(guest)
		e.add(guest, c.ID, v, 1)
		e.add(guest, c.ID, w, 1)
		e.shop.change(v, func(vi *catalog.VariantInfo, _ *catalog.StockLevel) { vi.Price = eur(3500) })

		c = e.get(guest, c.ID)
		it := c.Items[0]
		if !c.PriceChanged || !it.PriceChanged || it.PreviousUnitPrice == nil || *it.PreviousUnitPrice != eur(3000) ||
			it.UnitPrice != eur(3500) || it.LineTotal != eur(3500) || c.Items[1].PriceChanged {
			t.Fatalf("cart after a price change: %+v", c.Items)
		}
		wantTotals(t, "new price", c.Totals, 4500, 490, tax19(4990), 4990)

		// Acknowledged: the cart no longer flags it.
		if err := e.svc.AcknowledgePrices(guest, c); err != nil {
			t.Fatal(err)
		}
		c = e.get(guest, c.ID)
		if c.PriceChanged || c.Items[0].PriceChanged || c.Items[0].PreviousUnitPrice != nil || c.Items[0].UnitPrice != eur(3500) {
			t.Fatalf("after acknowledging: %+v", c.Items[0])
		}
		// A cart without changes acknowledges nothing.
		if err := e.svc.AcknowledgePrices(guest, c); err != nil {
			t.Fatal(err)
		}

		// Adding more of a line, or raising it, takes the current price as
		// seen; lowering it keeps the flag.
		e.shop.change(v, func(vi *catalog.VariantInfo, _ *catalog.StockLevel) { vi.Price = eur(2000) })
		e.shop.change(w, func(vi *catalog.VariantInfo, _ *catalog.StockLevel) { vi.Price = eur(900) })
		c = e.add(guest, c.ID, v, 1)
		if c.Items[0].PriceChanged || !c.Items[1].PriceChanged || !c.PriceChanged {
			t.Fatalf("after adding more: %+v", c.Items)
		}
		c, err := e.svc.SetQuantity(guest, c.ID, c.Items[1].ID, 2)
		if err != nil || c.PriceChanged || c.Items[1].UnitPrice != eur(900) {
			t.Fatalf("after raising: %+v %v", c.Items, err)
		}
		e.shop.change(w, func(vi *catalog.VariantInfo, _ *catalog.StockLevel) { vi.Price = eur(950) })
		c, err = e.svc.SetQuantity(guest, c.ID, c.Items[1].ID, 1)
		if err != nil || !c.PriceChanged || *c.Items[1].PreviousUnitPrice != eur(900) {
			t.Fatalf("after lowering: %+v %v", c.Items, err)
		}
	})
}

func TestCustomerCartAccess(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		v := e.shop.add("AUTH-A", 700, 10)
		alice, bob := as("alice"), as("bob")
		staff := auth.With(context.Background(), auth.Principal{AccountID: "stella", Role: auth.RoleStaff})

		c := e.newCart(alice)
		if c.CustomerID != "alice" {
			t.Fatalf("cart of a signed-in customer: customer_id %q", c.CustomerID)
		}
		c = e.add(alice, c.ID, v, 1)
		item := c.Items[0].ID
		if err := e.svc.Access(alice, c.ID); err != nil {
			t.Fatal(err)
		}
		for who, ctx := range map[string]context.Context{"another customer": bob, "a guest": guest, "staff": staff} {
			t.Run(who, func(t *testing.T) {
				// Exactly what an unknown cart answers.
				for name, err := range map[string]error{
					"Access":          e.svc.Access(ctx, c.ID),
					"Get":             second(e.svc.Get(ctx, c.ID)),
					"Quote":           second(e.svc.Quote(ctx, c.ID, "DE", "de-exp")),
					"AddItem":         second(e.svc.AddItem(ctx, c.ID, v, 1)),
					"SetQuantity":     second(e.svc.SetQuantity(ctx, c.ID, item, 5)),
					"RemoveItem":      second(e.svc.RemoveItem(ctx, c.ID, item)),
					"ShippingOptions": second(e.svc.ShippingOptions(ctx, c.ID, "DE")),
				} {
					if ae := wantErr(t, err, apperr.NotFound, ""); ae.Message != "cart not found" {
						t.Fatalf("%s: %q, want it to look like an unknown cart", name, ae.Message)
					}
				}
			})
		}
		if got := e.get(alice, c.ID); len(got.Items) != 1 || got.Items[0].Quantity != 1 {
			t.Fatalf("refused calls changed the cart: %+v", got.Items)
		}
		// A customer's cart stays theirs whatever its status.
		if err := e.svc.MarkConverted(context.Background(), nil, c.ID, "order-1"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Access(alice, c.ID); err != nil {
			t.Fatal(err)
		}
		wantErr(t, e.svc.Access(bob, c.ID), apperr.NotFound, "")
	})
}

func second[T any](_ T, err error) error { return err }

func TestUnknownAndImplausibleIDs(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		v := e.shop.add("ID-A", 100, 10)
		for _, id := range []string{"", "cart_unknown", "0b9d1c52-2a4f-4f7e-9d0e-3f1b1c2d3e4f", "a\x00b", "../carts", "cart unknown",
			strings.Repeat("a", 65), "ünïcode"} {
			t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
				for name, err := range map[string]error{
					"Access":          e.svc.Access(guest, id),
					"Get":             second(e.svc.Get(guest, id)),
					"Quote":           second(e.svc.Quote(guest, id, "", "")),
					"AddItem":         second(e.svc.AddItem(guest, id, v, 1)),
					"SetQuantity":     second(e.svc.SetQuantity(guest, id, "x", 1)),
					"ShippingOptions": second(e.svc.ShippingOptions(guest, id, "DE")),
					"AcknowledgePrices": e.svc.AcknowledgePrices(guest, cart.Cart{ID: id,
						Items: []cart.Item{{ID: "x", PriceChanged: true, UnitPrice: eur(1)}}}),
				} {
					if ae := wantErr(t, err, apperr.NotFound, ""); ae.Message != "cart not found" {
						t.Fatalf("%s: %q", name, ae.Message)
					}
				}
				wantErr(t, e.svc.MarkConverted(context.Background(), nil, id, "order-1"), apperr.Conflict, "")
				if err := e.svc.Claim(context.Background(), "carl", id); err != nil {
					t.Fatalf("Claim: %v", err)
				}
			})
		}
		// An unknown line of a real cart.
		c := e.newCart(guest)
		for _, item := range []string{"", "no-such-line", "a\x00b"} {
			_, err := e.svc.SetQuantity(guest, c.ID, item, 1)
			wantErr(t, err, apperr.NotFound, "")
		}
	})
}

func TestMarkConverted(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		v := e.shop.add("CONV-A", 100, 10)
		c := e.add(guest, e.newCart(guest).ID, v, 1)
		ctx := context.Background()

		// In the caller's transaction: its rollback leaves the cart open.
		boom := errors.New("the order could not be stored")
		err := db.InTx(ctx, func(tx *sqldb.Tx) error {
			if err := e.svc.MarkConverted(ctx, tx, c.ID, "order-1"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: %v", err)
		}
		if got := e.get(guest, c.ID); got.Status != "active" {
			t.Fatalf("cart %s after a rolled-back conversion", got.Status)
		}
		c = e.add(guest, c.ID, v, 1)

		// Committed with the caller's transaction.
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { return e.svc.MarkConverted(ctx, tx, c.ID, "order-2") }); err != nil {
			t.Fatal(err)
		}
		got := e.get(guest, c.ID)
		if got.Status != "converted" || len(got.Items) != 1 || got.Items[0].Quantity != 2 {
			t.Fatalf("converted cart %+v", got)
		}
		// Once only; and a converted cart no longer changes.
		wantErr(t, e.svc.MarkConverted(ctx, nil, c.ID, "order-3"), apperr.Conflict, "")
		_, err = e.svc.AddItem(guest, c.ID, v, 1)
		wantErr(t, err, apperr.Conflict, "")
		_, err = e.svc.SetQuantity(guest, c.ID, c.Items[0].ID, 1)
		wantErr(t, err, apperr.Conflict, "")
		_, err = e.svc.RemoveItem(guest, c.ID, c.Items[0].ID)
		wantErr(t, err, apperr.Conflict, "")
		if after := e.get(guest, c.ID); len(after.Items) != 1 || after.Items[0].Quantity != 2 {
			t.Fatalf("converted cart changed: %+v", after.Items)
		}

		// Without a transaction of the caller's, in one of its own.
		d := e.add(guest, e.newCart(guest).ID, v, 1)
		if err := e.svc.MarkConverted(ctx, nil, d.ID, "order-4"); err != nil {
			t.Fatal(err)
		}
		if got := e.get(guest, d.ID); got.Status != "converted" {
			t.Fatalf("status %s", got.Status)
		}
	})
}

func TestClaim(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		a, b, c := e.shop.add("CLAIM-A", 100, 5000), e.shop.add("CLAIM-B", 200, 50), e.shop.add("CLAIM-C", 300, 50)
		carl := as("carl")
		ctx := context.Background()

		older := e.newCart(carl)
		e.add(carl, older.ID, a, 1)
		older = e.add(carl, older.ID, b, 1)
		lineB := older.Items[1].ID
		g := e.newCart(guest)
		e.add(guest, g.ID, a, 2)
		g = e.add(guest, g.ID, c, 1)
		if id, err := e.svc.ActiveCartOf(ctx, "carl"); err != nil || id != older.ID {
			t.Fatalf("active cart before sign-in: %q %v", id, err)
		}

		if err := e.svc.Claim(ctx, "carl", g.ID); err != nil {
			t.Fatal(err)
		}
		merged := e.get(carl, g.ID)
		q := quantities(merged)
		if merged.CustomerID != "carl" || merged.Status != "active" || len(merged.Items) != 3 || q["CLAIM-A"] != 3 || q["CLAIM-B"] != 1 || q["CLAIM-C"] != 1 {
			t.Fatalf("claimed cart %+v (quantities %v)", merged, q)
		}
		if i := slices.IndexFunc(merged.Items, func(it cart.Item) bool { return it.SKU == "CLAIM-B" }); merged.Items[i].ID != lineB {
			t.Fatalf("the moved line has id %s, want %s", merged.Items[i].ID, lineB)
		}
		wantTotals(t, "merged cart", merged.Totals, 800, 490, tax19(800+490), 800+490)
		old := e.get(carl, older.ID)
		if old.Status != "merged" || len(old.Items) != 1 || old.Items[0].SKU != "CLAIM-A" {
			t.Fatalf("older cart %+v", old)
		}
		_, err := e.svc.AddItem(carl, older.ID, a, 1)
		wantErr(t, err, apperr.Conflict, "")
		// The guest's id no longer opens the cart without the account.
		_, err = e.svc.Get(guest, g.ID)
		wantErr(t, err, apperr.NotFound, "")
		if id, err := e.svc.ActiveCartOf(ctx, "carl"); err != nil || id != g.ID {
			t.Fatalf("active cart after sign-in: %q %v", id, err)
		}
		if id, err := e.svc.ActiveCartOf(ctx, "nobody"); err != nil || id != "" {
			t.Fatalf("active cart of nobody: %q %v", id, err)
		}

		// Quantities add up to MaxQuantity at most.
		e.add(carl, g.ID, a, 900)
		h := e.add(guest, e.newCart(guest).ID, a, 500)
		if err := e.svc.Claim(ctx, "carl", h.ID); err != nil {
			t.Fatal(err)
		}
		if q := quantities(e.get(carl, h.ID)); q["CLAIM-A"] != cart.MaxQuantity || q["CLAIM-B"] != 1 || q["CLAIM-C"] != 1 {
			t.Fatalf("capped merge %v", q)
		}

		// Claiming one's own cart again, someone else's cart, an unknown, an
		// empty or a converted cart changes nothing and is no error.
		if err := e.svc.Claim(ctx, "carl", h.ID); err != nil {
			t.Fatal(err)
		}
		dora := e.newCart(as("dora"))
		dora = e.add(as("dora"), dora.ID, b, 4)
		done := e.add(guest, e.newCart(guest).ID, a, 1)
		if err := e.svc.MarkConverted(ctx, nil, done.ID, "order-1"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{dora.ID, "cart_unknown", "", done.ID} {
			if err := e.svc.Claim(ctx, "carl", id); err != nil {
				t.Fatalf("claim %q: %v", id, err)
			}
		}
		if got := e.get(as("dora"), dora.ID); got.CustomerID != "dora" || len(got.Items) != 1 || got.Items[0].Quantity != 4 {
			t.Fatalf("dora's cart changed by someone else's sign-in: %+v", got)
		}
		if got := e.get(guest, done.ID); got.CustomerID != "" || got.Status != "converted" {
			t.Fatalf("a converted guest cart was claimed: %+v", got)
		}
		if q := quantities(e.get(carl, h.ID)); q["CLAIM-A"] != cart.MaxQuantity {
			t.Fatalf("claims that changed nothing changed carl's cart: %v", q)
		}
		// A first sign-in (no other cart) just takes the guest cart.
		first := e.add(guest, e.newCart(guest).ID, c, 2)
		if err := e.svc.Claim(ctx, "erin", first.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.get(as("erin"), first.ID); got.CustomerID != "erin" || quantities(got)["CLAIM-C"] != 2 {
			t.Fatalf("erin's cart %+v", got)
		}
	})
}

// TestConcurrentAdds: adds of one variant to one cart at the same time all
// count, and never exceed the limit.
func TestConcurrentAdds(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		v := e.shop.add("RACE-A", 100, 10000)
		c := e.newCart(guest)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.svc.AddItem(guest, c.ID, v, 1)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := e.get(guest, c.ID); len(got.Items) != 1 || got.Items[0].Quantity != n {
			t.Fatalf("after %d concurrent adds: %+v", n, got.Items)
		}
	})
}
