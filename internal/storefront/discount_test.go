package storefront_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
	"github.com/mercato-shop/mercato/internal/promotion"
)

// TestDiscountCodeOnTheCartPage: a shopper enters a code on the cart page
// (a plain form), sees the discount with its label in the totals, is told
// why a bad code does not work, removes the code, and the order page shows
// the discount of the order placed with it.
func TestDiscountCodeOnTheCartPage(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db, false)
		ctx := context.Background()
		code := "SAVE5"
		if _, err := s.a.Promotions.Create(ctx, promotion.Input{Name: "Five off", Code: &code, Kind: promotion.Fixed, Value: 500}); err != nil {
			t.Fatal(err)
		}
		limited, one := "ONLYONE", int64(1)
		if _, err := s.a.Promotions.Create(ctx, promotion.Input{Name: "Just once", Code: &limited, Kind: promotion.Fixed, Value: 100, UsageLimit: &one}); err != nil {
			t.Fatal(err)
		}
		b := s.browser()
		if a := b.post("/cart/discounts", url.Values{"code": {"save5"}}); a.code != http.StatusSeeOther || a.location != "/cart" {
			t.Fatalf("a code on no cart: %d %s", a.code, a.location)
		}
		if page := b.get("/cart"); !strings.Contains(page.body, "Add something to your cart first") {
			t.Fatalf("no message for a code without a cart:\n%s", page.body)
		}
		b.post("/cart/items", url.Values{"variant_id": {s.vs[0]}, "quantity": {"2"}})

		if a := b.post("/cart/discounts", url.Values{"code": {"nope"}}); a.code != http.StatusSeeOther {
			t.Fatalf("bad code: %d", a.code)
		}
		page := b.get("/cart")
		if !strings.Contains(page.body, "Code NOPE: there is no such code") || strings.Contains(page.body, "Five off") {
			t.Fatalf("the refusal is not shown:\n%s", page.body)
		}
		b.post("/cart/discounts", url.Values{"code": {" save5 "}})
		page = b.get("/cart")
		for _, want := range []string{"Code SAVE5 applied: Five off.", `<dt>Five off <span class="muted">(SAVE5)</span></dt><dd>−€5.00</dd>`, "€23.90", `action="/cart/discounts/SAVE5/delete"`, `href="/checkout"`} {
			if !strings.Contains(page.body, want) {
				t.Fatalf("the cart page lacks %q:\n%s", want, page.body)
			}
		}
		// The form works only from this site.
		if a := b.do("POST", "/cart/discounts", url.Values{"code": {"SAVE5"}}, "Sec-Fetch-Site", "cross-site"); a.code != http.StatusForbidden {
			t.Fatalf("a cross-site form: %d", a.code)
		}
		b.post("/cart/discounts/SAVE5/delete", url.Values{})
		if page = b.get("/cart"); strings.Contains(page.body, "Five off") || !strings.Contains(page.body, "Code removed.") {
			t.Fatalf("the code was not removed:\n%s", page.body)
		}

		// A code that stops applying is shown with the reason and blocks the checkout.
		b.post("/cart/discounts", url.Values{"code": {"onlyone"}})
		other := s.browser()
		other.post("/cart/items", url.Values{"variant_id": {s.vs[1]}, "quantity": {"1"}})
		other.post("/cart/discounts", url.Values{"code": {"ONLYONE"}})
		if a := other.buy("pm_card_visa"); a.code != http.StatusSeeOther {
			t.Fatalf("the other shopper's order: %d %s", a.code, a.body)
		}
		page = b.get("/cart")
		if !strings.Contains(page.body, "This code has been used up.") || strings.Contains(page.body, `href="/checkout"`) {
			t.Fatalf("a used-up code on the cart:\n%s", page.body)
		}
		// Checking out anyway (the checkout page is still there) sends the shopper back to the cart, uncharged.
		if a := b.buy("pm_card_visa"); a.code != http.StatusSeeOther || a.location != "/cart" {
			t.Fatalf("checking out with a used-up code: %d %s", a.code, a.location)
		}
		if page = b.get("/cart"); !strings.Contains(page.body, "Discount code ONLYONE cannot be used") || !strings.Contains(page.body, "You have not been charged.") {
			t.Fatalf("the refusal is not explained:\n%s", page.body)
		}
		b.post("/cart/discounts/ONLYONE/delete", url.Values{})

		// The order page shows the discount.
		b.post("/cart/discounts", url.Values{"code": {"SAVE5"}})
		placed := b.buy("pm_card_visa")
		if placed.code != http.StatusSeeOther {
			t.Fatalf("order: %d %s", placed.code, placed.body)
		}
		if page = b.get(placed.location); !strings.Contains(page.body, "Five off") || !strings.Contains(page.body, "−€5.00") {
			t.Fatalf("the order page does not show the discount:\n%s", page.body)
		}
	})
}
