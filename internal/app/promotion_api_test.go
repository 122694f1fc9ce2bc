package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
	"github.com/mercato-shop/mercato/internal/promotion"
)

// Promotions through the whole shop, on SQLite and PostgreSQL: the staff
// API, discount codes on carts, the checkout that holds a promotion's uses
// (concurrent checkouts on two instances, a code used up meanwhile, a
// crashed attempt) and the uses that cancelled or refunded orders give back.
// Every answer is checked against openapi.json (testAPI.do).

// createPromotion creates a promotion through the staff API.
func (a *testAPI) createPromotion(body map[string]any) promotion.Report {
	a.t.Helper()
	var p promotion.Report
	res := a.do("POST", "/api/v1/admin/promotions", body, bearer(a.staff)).wantStatus(http.StatusCreated)
	res.decode(&p)
	if loc := res.Header.Get("Location"); loc != "/api/v1/admin/promotions/"+p.ID {
		a.t.Fatalf("Location %q for promotion %s", loc, p.ID)
	}
	return p
}

// applyCode posts a discount code to a cart.
func (a *testAPI) applyCode(cartID, code string, opts ...reqOpt) result {
	a.t.Helper()
	return a.do("POST", "/api/v1/carts/"+cartID+"/discounts", map[string]any{"code": code}, opts...)
}

// codeProblem asserts a refusal naming "code" with extra.reason.
func (r result) codeProblem(status int, reason string) {
	r.t.Helper()
	r.wantProblem(status, "code")
	var p struct {
		Extra struct {
			Reason string `json:"reason"`
		} `json:"extra"`
	}
	r.decode(&p)
	if p.Extra.Reason != reason {
		r.t.Fatalf("%s: extra.reason %q, want %q: %s", r.req, p.Extra.Reason, reason, r.Body)
	}
}

// report reads a promotion's usage through the staff API.
func (a *testAPI) report(id string) promotion.Report {
	a.t.Helper()
	var p promotion.Report
	a.do("GET", "/api/v1/admin/promotions/"+id, nil, bearer(a.staff)).wantStatus(http.StatusOK).decode(&p)
	return p
}

func TestPromotionsAPI(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		ctx := context.Background()
		shirt, mug := api.product("PROMO-SHIRT", 2000, 100), api.product("PROMO-MUG", 1000, 100)

		spring := api.createPromotion(map[string]any{"name": "Spring 20%", "code": "spring", "type": "percentage", "value": 20, "min_subtotal": 3000})
		if spring.Code != "SPRING" || !spring.Active || spring.Used != 0 || spring.Usage.Remaining != nil || spring.Usage.Recent == nil {
			t.Fatalf("created %+v", spring)
		}

		// 20.00 + 2 × 10.00: 20% off is 8.00, allocated 4.00 and 4.00; shipping
		// 4.90 (the threshold counts the subtotal before discounts); 19% VAT
		// included in 32.00 + 4.90.
		c := api.cartWith(nil, shirt, 1, mug, 2)
		var got cart.Cart
		api.applyCode(c.ID, " Spring ").wantStatus(http.StatusOK).decode(&got)
		want := cart.Totals{Subtotal: eur(4000), Discount: eur(800), Shipping: eur(490), Tax: eur(tax19(3690)), GiftCard: eur(0), Total: eur(3690)}
		if got.Totals != want {
			t.Fatalf("totals %+v, want %+v", got.Totals, want)
		}
		if len(got.Discounts) != 1 || got.Discounts[0].Label != "Spring 20%" || got.Discounts[0].Code != "SPRING" || len(got.Discounts[0].Lines) != 2 ||
			got.Discounts[0].Lines[0].Amount != eur(400) || got.Discounts[0].Lines[1].Amount != eur(400) {
			t.Fatalf("discounts %+v", got.Discounts)
		}
		if len(got.DiscountCodes) != 1 || !got.DiscountCodes[0].Applied {
			t.Fatalf("codes %+v", got.DiscountCodes)
		}
		var again cart.Cart
		api.do("GET", "/api/v1/carts/"+c.ID, nil).wantStatus(http.StatusOK).decode(&again)
		if again.Totals != want {
			t.Fatalf("GET after applying: %+v", again.Totals)
		}

		// Refused codes: 422 naming code, with the reason; the cart keeps SPRING.
		past, future := time.Now().Add(-time.Hour).UTC(), time.Now().Add(time.Hour).UTC()
		api.createPromotion(map[string]any{"name": "Old", "code": "OLD", "type": "fixed", "value": 100, "ends_at": past})
		api.createPromotion(map[string]any{"name": "Soon", "code": "SOON", "type": "fixed", "value": 100, "starts_at": future})
		big := api.createPromotion(map[string]any{"name": "Big spenders", "code": "BIG", "type": "fixed", "value": 1000, "min_subtotal": 100000})
		once := api.createPromotion(map[string]any{"name": "Once", "code": "ONCE", "type": "fixed", "value": 100, "usage_limit": 1})
		for code, reason := range map[string]string{"NOPE": "unknown", "OLD": "expired", "SOON": "not_yet_valid", "BIG": "not_applicable"} {
			api.applyCode(c.ID, code).codeProblem(http.StatusUnprocessableEntity, reason)
		}
		api.applyCode(c.ID, "").wantProblem(http.StatusBadRequest, "code")
		api.do("POST", "/api/v1/carts/"+c.ID+"/discounts", map[string]any{"code": 5}).wantProblem(http.StatusBadRequest, "code")
		api.do("POST", "/api/v1/carts/"+c.ID+"/discounts", map[string]any{"code": "SPRING", "x": 1}).wantProblem(http.StatusBadRequest, "x")
		api.do("GET", "/api/v1/carts/"+c.ID, nil).decode(&again)
		if len(again.DiscountCodes) != 1 || again.DiscountCodes[0].Code != "SPRING" || again.Totals != want {
			t.Fatalf("a refused code changed the cart: %+v", again.DiscountCodes)
		}

		// The order keeps the discount, each line's share and the promotion.
		var placed checkout.Result
		api.checkout(c.ID, "promo-1", api.checkoutBody(c.ID, "spring@example.com", "pm_card_visa")).wantStatus(http.StatusCreated).decode(&placed)
		o := placed.Order
		if o.Totals.Discount != eur(800) || o.Totals.Total != eur(3690) || len(o.Discounts) != 1 || o.Discounts[0].Label != "Spring 20%" ||
			o.Items[0].Discount != eur(400) || o.Items[1].Discount != eur(400) {
			t.Fatalf("order %+v", o)
		}
		if n := api.rows(`SELECT COUNT(*) FROM payment_payments WHERE amount = 3690 AND status = 'captured'`); n != 1 {
			t.Fatal("the payment is not the discounted total")
		}
		if r := api.report(spring.ID); r.Used != 1 || r.Usage.Orders != 1 || r.Usage.DiscountTotal != eur(800) || r.Usage.Customers != 1 ||
			len(r.Usage.Recent) != 1 || r.Usage.Recent[0].OrderID != o.ID || r.Usage.Recent[0].Status != "committed" {
			t.Fatalf("usage %+v", r.Usage)
		}

		// A used-up code.
		c2 := api.cartWith(nil, shirt, 1)
		api.applyCode(c2.ID, "ONCE").wantStatus(http.StatusOK)
		api.checkout(c2.ID, "promo-2", api.checkoutBody(c2.ID, "once@example.com", "pm_card_visa")).wantStatus(http.StatusCreated)
		c3 := api.cartWith(nil, shirt, 1)
		api.applyCode(c3.ID, "once").codeProblem(http.StatusUnprocessableEntity, "exhausted")
		if r := api.report(once.ID); *r.Usage.Remaining != 0 {
			t.Fatalf("remaining %v", *r.Usage.Remaining)
		}

		// Removing: 200 without it, then 404.
		api.applyCode(c3.ID, "SPRING").wantProblem(http.StatusUnprocessableEntity, "code") // 20.00 is below its minimum
		api.createPromotion(map[string]any{"name": "Mugs 1+1", "code": "MUGS", "type": "buy_x_get_y", "buy_quantity": 1, "get_quantity": 1, "product_ids": []string{productOf(t, api, mug)}})
		c3 = api.addItem(c3.ID, mug, 2)
		api.applyCode(c3.ID, "mugs").wantStatus(http.StatusOK).decode(&got)
		if got.Totals.Discount != eur(1000) {
			t.Fatalf("buy one mug, get one free: %+v", got.Totals)
		}
		api.do("DELETE", "/api/v1/carts/"+c3.ID+"/discounts/mugs", nil).wantStatus(http.StatusOK).decode(&got)
		if got.Totals.Discount != eur(0) || len(got.DiscountCodes) != 0 {
			t.Fatalf("after removing: %+v %+v", got.Totals, got.DiscountCodes)
		}
		api.do("DELETE", "/api/v1/carts/"+c3.ID+"/discounts/MUGS", nil).wantProblem(http.StatusNotFound, "")

		// An automatic promotion on a category reaches products below it.
		clothing, err := api.app.Catalog.CreateCategory(ctx, catalog.CategoryInput{Name: "Clothing"})
		if err != nil {
			t.Fatal(err)
		}
		tops, err := api.app.Catalog.CreateCategory(ctx, catalog.CategoryInput{Name: "Tops", ParentID: &clothing.ID})
		if err != nil {
			t.Fatal(err)
		}
		cats := []string{tops.ID}
		if _, err := api.app.Catalog.UpdateProduct(ctx, productOf(t, api, shirt), catalog.ProductPatch{CategoryIDs: &cats}, "test"); err != nil {
			t.Fatal(err)
		}
		api.createPromotion(map[string]any{"name": "Clothing week", "type": "fixed", "value": 300, "category_ids": []string{clothing.ID}})
		c4 := api.cartWith(nil, shirt, 1, mug, 1)
		if len(c4.Discounts) != 1 || c4.Discounts[0].Label != "Clothing week" || c4.Discounts[0].Code != "" || len(c4.Discounts[0].Lines) != 1 ||
			c4.Discounts[0].Lines[0].ItemID != c4.Items[0].ID || c4.Totals.Discount != eur(300) {
			t.Fatalf("automatic promotion: %+v %+v", c4.Discounts, c4.Totals)
		}

		// Staff: list, patch, delete; bad input.
		var list promotion.List
		api.do("GET", "/api/v1/admin/promotions", nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&list)
		if len(list.Items) != 7 || list.Items[0].Name != "Clothing week" {
			t.Fatalf("%d promotions, first %q", len(list.Items), list.Items[0].Name)
		}
		var patched promotion.Report
		api.do("PATCH", "/api/v1/admin/promotions/"+big.ID, map[string]any{"min_subtotal": 0, "code": nil, "active": false}, bearer(api.staff)).
			wantStatus(http.StatusOK).decode(&patched)
		if patched.Code != "" || patched.MinSubtotal != 0 || patched.Active || patched.Name != "Big spenders" {
			t.Fatalf("patched %+v", patched)
		}
		for _, tt := range []struct {
			method, target string
			body           any
			status         int
			field          string
		}{
			{"POST", "/api/v1/admin/promotions", map[string]any{"name": "x", "type": "percentage", "value": "ten"}, 400, "value"},
			{"POST", "/api/v1/admin/promotions", map[string]any{"name": "x", "type": "percentage", "value": 10, "colour": "red"}, 400, "colour"},
			{"POST", "/api/v1/admin/promotions", map[string]any{"name": "x", "type": "percentage", "value": 10, "code": "with space"}, 400, "code"},
			{"POST", "/api/v1/admin/promotions", map[string]any{"name": "x", "type": "percentage", "value": 10, "code": "Spring"}, 409, "code"},
			{"POST", "/api/v1/admin/promotions", map[string]any{"name": "x", "type": "percentage", "value": 10, "starts_at": "tomorrow"}, 400, "starts_at"},
			{"PATCH", "/api/v1/admin/promotions/" + big.ID, map[string]any{"usage_limit": 0}, 400, "usage_limit"},
			{"PATCH", "/api/v1/admin/promotions/" + big.ID, map[string]any{"usage_limit": "many"}, 400, "usage_limit"},
			{"PATCH", "/api/v1/admin/promotions/" + big.ID, map[string]any{"type": nil}, 400, "type"},
			{"PATCH", "/api/v1/admin/promotions/nope", map[string]any{"name": "y"}, 404, ""},
			{"GET", "/api/v1/admin/promotions/nope", nil, 404, ""},
		} {
			api.do(tt.method, tt.target, tt.body, bearer(api.staff)).wantProblem(tt.status, tt.field)
		}
		api.do("DELETE", "/api/v1/admin/promotions/"+spring.ID, nil, bearer(api.staff)).wantStatus(http.StatusNoContent)
		api.do("GET", "/api/v1/admin/promotions/"+spring.ID, nil, bearer(api.staff)).wantProblem(http.StatusNotFound, "")
		api.do("DELETE", "/api/v1/admin/promotions/"+spring.ID, nil, bearer(api.staff)).wantProblem(http.StatusNotFound, "")
		var mine order.Order
		api.do("GET", "/api/v1/orders/"+o.ID+"?access_token="+o.AccessToken, nil).wantStatus(http.StatusOK).decode(&mine)
		if mine.Totals.Discount != eur(800) || len(mine.Discounts) != 1 {
			t.Fatalf("the order lost its discount when the promotion was deleted: %+v", mine.Totals)
		}
	})
}

// productOf returns the product id of a variant.
func productOf(t *testing.T, api *testAPI, variantID string) string {
	t.Helper()
	vs, err := api.app.Catalog.Variants(context.Background(), []string{variantID})
	if err != nil || vs[variantID].ProductID == "" {
		t.Fatalf("variant %s: %v", variantID, err)
	}
	return vs[variantID].ProductID
}

// TestCodeUsageLimitUnderConcurrentCheckouts: a code with 10 uses, 40
// shoppers checking out with it at once on two instances (two wired apps
// on one database): exactly 10 orders get the discount; the 30 others are
// refused with 409 naming the code, and nothing is charged for them.
func TestCodeUsageLimitUnderConcurrentCheckouts(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		one := newShopAPI(t, db, shopConfig(t))
		two, err := Wire(one.app.Config, one.app.Log, db)
		if err != nil {
			t.Fatal(err)
		}
		two.checkoutLimit = one.app.checkoutLimit
		handlers := []http.Handler{one.h, two.Handler()}
		v := one.product("LIMITED", 1500, 1000)
		p := one.createPromotion(map[string]any{"name": "Ten for ten", "code": "TEN", "type": "percentage", "value": 10, "usage_limit": 10})
		const shoppers = 40
		carts := make([]string, shoppers)
		bodies := make([][]byte, shoppers)
		for i := range carts {
			c := one.cartWith(nil, v, 1)
			one.applyCode(c.ID, "TEN").wantStatus(http.StatusOK)
			carts[i] = c.ID
			bodies[i], _ = json.Marshal(one.checkoutBody(c.ID, fmt.Sprintf("shopper%d@example.com", i), "pm_card_visa"))
		}
		codes := make([]int, shoppers)
		answers := make([][]byte, shoppers)
		var wg sync.WaitGroup
		for i := range shoppers {
			wg.Go(func() {
				r := httptest.NewRequest("POST", "/api/v1/carts/"+carts[i]+"/checkout", bytes.NewReader(bodies[i]))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Idempotency-Key", "limited")
				w := httptest.NewRecorder()
				handlers[i%2].ServeHTTP(w, r)
				codes[i], answers[i] = w.Code, w.Body.Bytes()
			})
		}
		wg.Wait()
		placed, refused := 0, 0
		for i, c := range codes {
			res := result{t: t, req: fmt.Sprintf("checkout %d", i), Code: c, Header: http.Header{"Content-Type": {"application/json"}}, Body: answers[i]}
			switch c {
			case http.StatusCreated:
				placed++
				var r checkout.Result
				res.decode(&r)
				if r.Order.Totals.Discount != eur(150) || len(r.Order.Discounts) != 1 {
					t.Errorf("order %d without its discount: %+v", i, r.Order.Totals)
				}
			case http.StatusConflict:
				refused++
				res.Header.Set("Content-Type", "application/problem+json")
				res.codeProblem(http.StatusConflict, "exhausted")
			default:
				t.Errorf("shopper %d: %d %s", i, c, answers[i])
			}
		}
		if placed != 10 || refused != 30 {
			t.Fatalf("%d orders, %d refused; want exactly 10 and 30", placed, refused)
		}
		for q, want := range map[string]int{
			`SELECT COUNT(*) FROM order_orders WHERE discount > 0`:                   10,
			`SELECT COUNT(*) FROM order_orders`:                                      10,
			`SELECT COUNT(*) FROM payment_payments`:                                  10,
			`SELECT COUNT(*) FROM payment_sandbox_charges`:                           10, // the provider's books: no charge for a refused checkout
			`SELECT COUNT(*) FROM promotion_redemptions WHERE status = 'committed'`:  10,
			`SELECT COUNT(*) FROM promotion_redemptions WHERE status <> 'committed'`: 0,
			`SELECT COALESCE(SUM(reserved), 0) FROM inventory_stock`:                 0,
			`SELECT used FROM promotion_promotions WHERE code = 'TEN'`:               10,
			`SELECT COUNT(*) FROM checkout_requests WHERE status = 'done'`:           40,
		} {
			if n := one.rows(q); n != want {
				t.Errorf("%s = %d, want %d", q, n, want)
			}
		}
		if r := one.report(p.ID); r.Usage.Orders != 10 || *r.Usage.Remaining != 0 {
			t.Fatalf("usage %+v", r.Usage)
		}
	})
}

// TestCheckoutRefusesACodeThatRanOut: a code's last use goes to another
// order between applying it and checking out: the checkout is a 409 naming
// the code, nothing is charged or held, the refusal replays under the key,
// and without the code the cart checks out at full price.
func TestCheckoutRefusesACodeThatRanOut(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		v := api.product("LAST-ONE", 2000, 10)
		api.createPromotion(map[string]any{"name": "Last one", "code": "LAST", "type": "fixed", "value": 500, "usage_limit": 1})
		a, b := api.cartWith(nil, v, 1), api.cartWith(nil, v, 1)
		api.applyCode(a.ID, "LAST").wantStatus(http.StatusOK)
		api.applyCode(b.ID, "LAST").wantStatus(http.StatusOK)
		api.checkout(a.ID, "a", api.checkoutBody(a.ID, "a@example.com", "pm_card_visa")).wantStatus(http.StatusCreated)

		body := api.checkoutBody(b.ID, "b@example.com", "pm_card_visa")
		first := api.checkout(b.ID, "b", body)
		first.codeProblem(http.StatusConflict, "exhausted")
		if n := api.rows(`SELECT COUNT(*) FROM payment_payments`); n != 1 {
			t.Fatalf("%d payments, want only the first order's", n)
		}
		if l := api.stock("LAST-ONE"); l.Reserved != 0 || l.OnHand != 9 {
			t.Fatalf("stock %+v, want 9 on hand, nothing held", l)
		}
		if again := api.checkout(b.ID, "b", body); again.Code != first.Code || !bytes.Equal(again.Body, first.Body) {
			t.Fatalf("the refusal does not replay: %d %s", again.Code, again.Body)
		}
		var c cart.Cart
		api.do("GET", "/api/v1/carts/"+b.ID, nil).wantStatus(http.StatusOK).decode(&c)
		if len(c.DiscountCodes) != 1 || c.DiscountCodes[0].Applied || c.DiscountCodes[0].Reason != "exhausted" || c.Totals.Discount != eur(0) {
			t.Fatalf("the cart shows %+v, %+v", c.DiscountCodes, c.Totals)
		}
		api.do("DELETE", "/api/v1/carts/"+b.ID+"/discounts/LAST", nil).wantStatus(http.StatusOK)
		var placed checkout.Result
		api.checkout(b.ID, "b2", api.checkoutBody(b.ID, "b@example.com", "pm_card_visa")).wantStatus(http.StatusCreated).decode(&placed)
		if placed.Order.Totals.Discount != eur(0) || placed.Order.Totals.Subtotal != eur(2000) {
			t.Fatalf("order without the code: %+v", placed.Order.Totals)
		}
	})
}

// TestCancelledOrRefundedOrderGivesItsUseBack: a code with one use is used
// by an order; cancelling the order gives the use back (through
// order.cancelled), so the next order gets it; a partial refund does not,
// a full refund does.
func TestCancelledOrRefundedOrderGivesItsUseBack(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		v := api.product("BACK-1", 3000, 10)
		p := api.createPromotion(map[string]any{"name": "One use", "code": "ONEUSE", "type": "fixed", "value": 1000, "usage_limit": 1})
		buy := func(key string) order.Order {
			t.Helper()
			c := api.cartWith(nil, v, 1)
			api.applyCode(c.ID, "ONEUSE").wantStatus(http.StatusOK)
			var r checkout.Result
			api.checkout(c.ID, key, api.checkoutBody(c.ID, key+"@example.com", "pm_card_visa")).wantStatus(http.StatusCreated).decode(&r)
			if r.Order.Totals.Discount != eur(1000) {
				t.Fatalf("order without the discount: %+v", r.Order.Totals)
			}
			return r.Order
		}
		first := buy("first")
		api.applyCode(api.cartWith(nil, v, 1).ID, "ONEUSE").codeProblem(http.StatusUnprocessableEntity, "exhausted")

		api.do("POST", "/api/v1/admin/orders/"+first.ID+"/cancel", map[string]any{"reason": "changed mind"}, bearer(api.staff)).wantStatus(http.StatusOK)
		drainOutbox(t, api.app)
		drainOutbox(t, api.app) // a second delivery changes nothing
		if r := api.report(p.ID); r.Used != 0 || r.Usage.Returned != 1 || r.Usage.Orders != 0 {
			t.Fatalf("after the cancellation: used %d, usage %+v", r.Used, r.Usage)
		}
		second := buy("second")

		// A partial refund keeps the use; refunding the rest gives it back.
		api.do("POST", "/api/v1/admin/orders/"+second.ID+"/refunds", map[string]any{"amount": 100}, bearer(api.staff)).wantStatus(http.StatusCreated)
		drainOutbox(t, api.app)
		if r := api.report(p.ID); r.Used != 1 {
			t.Fatalf("a partial refund gave the use back: %+v", r.Usage)
		}
		api.do("POST", "/api/v1/admin/orders/"+second.ID+"/refunds", map[string]any{"amount": second.Totals.Total.Amount - 100}, bearer(api.staff)).
			wantStatus(http.StatusCreated)
		drainOutbox(t, api.app)
		if r := api.report(p.ID); r.Used != 0 || r.Usage.Returned != 2 {
			t.Fatalf("after the full refund: used %d, usage %+v", r.Used, r.Usage)
		}
		buy("third")
	})
}

// TestPerCustomerLimit: a code once per customer. A signed-in customer who
// used it is refused when applying it again (422); a guest cart does not
// know who the shopper is, so the checkout refuses the customer's e-mail
// address (409 naming the code).
func TestPerCustomerLimit(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		v := api.product("PER-1", 2500, 10)
		api.createPromotion(map[string]any{"name": "Once each", "code": "EACH", "type": "fixed", "value": 500, "usage_limit_per_customer": 1})
		me := bearer(api.customer)
		c := api.cartWith([]reqOpt{me}, v, 1)
		api.applyCode(c.ID, "EACH", me).wantStatus(http.StatusOK)
		api.checkout(c.ID, "mine-1", api.checkoutBody(c.ID, "", "pm_card_visa", me), me).wantStatus(http.StatusCreated)

		c = api.cartWith([]reqOpt{me}, v, 1)
		api.applyCode(c.ID, "EACH", me).codeProblem(http.StatusUnprocessableEntity, "exhausted")

		g := api.cartWith(nil, v, 1)
		api.applyCode(g.ID, "EACH").wantStatus(http.StatusOK)
		api.checkout(g.ID, "guest-1", api.checkoutBody(g.ID, customerEmail, "pm_card_visa")).codeProblem(http.StatusConflict, "exhausted")
		// Someone else may.
		api.checkout(g.ID, "guest-2", api.checkoutBody(g.ID, "someone.else@example.com", "pm_card_visa")).wantStatus(http.StatusCreated)
		if n := api.rows(`SELECT COUNT(*) FROM payment_payments`); n != 2 {
			t.Fatalf("%d payments, want 2", n)
		}
	})
}

// TestCrashedCheckoutAndItsPromotionUse: a checkout died after it held the
// last use of a code. The reconciler gives the use back once the attempt's
// lock runs out; and a retry of a dead attempt keeps the use it held (the
// order gets its discount, another shopper cannot take it meanwhile).
func TestCrashedCheckoutAndItsPromotionUse(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		ctx := context.Background()
		v := api.product("DEAD-PROMO", 2000, 10)
		p := api.createPromotion(map[string]any{"name": "Last use", "code": "LASTUSE", "type": "fixed", "value": 700, "usage_limit": 1})

		// die leaves what an attempt killed after its reservations leaves:
		// the key in progress with its lock run out, the use and the stock held.
		die := func(c cart.Cart, key, orderID string) []byte {
			t.Helper()
			body, _ := json.Marshal(api.checkoutBody(c.ID, "dead@example.com", "pm_card_visa"))
			sum := sha256.Sum256(body)
			past := time.Now().UTC().Add(-time.Hour)
			if _, err := db.ExecContext(ctx, `INSERT INTO checkout_requests (cart_id, idem_key, request_hash, order_id, status, locked_until, created_at, updated_at)
				VALUES (?, ?, ?, ?, 'in_progress', ?, ?, ?)`, c.ID, key, hex.EncodeToString(sum[:]), orderID, past, past, past); err != nil {
				t.Fatal(err)
			}
			q, err := api.app.Carts.Quote(ctx, c.ID, "DE", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := (promotionUses{api.app.Promotions}).Reserve(ctx, orderID, checkout.Redeem{Email: "dead@example.com", Cart: q.Cart, Until: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			return body
		}

		// The shopper never comes back: the reconciler gives the use back.
		gone := api.cartWith(nil, v, 1)
		api.applyCode(gone.ID, "LASTUSE").wantStatus(http.StatusOK)
		die(gone, "gone", "01dead00-0000-7000-8000-0000000000a1")
		if r := api.report(p.ID); r.Used != 1 || r.Usage.Reserved != 1 {
			t.Fatalf("the dead attempt holds no use: %+v", r.Usage)
		}
		other := api.cartWith(nil, v, 1)
		api.applyCode(other.ID, "LASTUSE").codeProblem(http.StatusUnprocessableEntity, "exhausted")
		r, err := api.app.Checkout.Reconcile(ctx, time.Hour)
		if err != nil || r.Settled != 1 {
			t.Fatalf("reconcile %+v, %v; want the dead attempt settled", r, err)
		}
		if rep := api.report(p.ID); rep.Used != 0 || rep.Usage.Reserved != 0 {
			t.Fatalf("after the reconciler: %+v", rep.Usage)
		}
		api.applyCode(other.ID, "LASTUSE").wantStatus(http.StatusOK)
		api.do("DELETE", "/api/v1/carts/"+other.ID+"/discounts/LASTUSE", nil).wantStatus(http.StatusOK)

		// The shopper retries with the key: the retry keeps the dead attempt's use.
		back := api.cartWith(nil, v, 1)
		api.applyCode(back.ID, "LASTUSE").wantStatus(http.StatusOK)
		const orderID = "01dead00-0000-7000-8000-0000000000b2"
		body := die(back, "back", orderID)
		api.applyCode(other.ID, "LASTUSE").codeProblem(http.StatusUnprocessableEntity, "exhausted")
		var placed checkout.Result
		api.checkout(back.ID, "back", body).wantStatus(http.StatusCreated).decode(&placed)
		if placed.Order.ID != orderID || placed.Order.Totals.Discount != eur(700) {
			t.Fatalf("retry placed %s with %+v, want %s with the discount", placed.Order.ID, placed.Order.Totals, orderID)
		}
		if rep := api.report(p.ID); rep.Used != 1 || rep.Usage.Orders != 1 || rep.Usage.Reserved != 0 {
			t.Fatalf("after the retry: used %d, %+v", rep.Used, rep.Usage)
		}
		// Expired holds of attempts nobody settled are released by the sweep.
		lone := api.cartWith(nil, v, 1)
		lone.Discounts = []cart.Discount{{PromotionID: p.ID, Code: "LASTUSE", Amount: eur(700)}}
		api.do("PATCH", "/api/v1/admin/promotions/"+p.ID, map[string]any{"usage_limit": 2}, bearer(api.staff)).wantStatus(http.StatusOK)
		if err := (promotionUses{api.app.Promotions}).Reserve(ctx, "01dead00-0000-7000-8000-0000000000c3",
			checkout.Redeem{Email: "lone@example.com", Cart: lone, Until: time.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
		if r, err := api.app.Checkout.Reconcile(ctx, time.Hour); err != nil || r.Redemptions != 1 {
			t.Fatalf("reconcile %+v, %v; want one expired hold released", r, err)
		}
		if rep := api.report(p.ID); rep.Used != 1 {
			t.Fatalf("used %d after the sweep, want 1", rep.Used)
		}
	})
}

// TestOrderTheCardPaysNothingOf: 100% off and free shipping: the order is
// placed and paid without a card payment (none is made), and cancelling it
// moves no money and gives the uses back.
func TestOrderTheCardPaysNothingOf(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		v := api.product("FREE-1", 1200, 10)
		api.createPromotion(map[string]any{"name": "On the house", "code": "FREE", "type": "percentage", "value": 100})
		api.createPromotion(map[string]any{"name": "Free shipping", "type": "free_shipping", "usage_limit": 5})
		c := api.cartWith(nil, v, 2)
		var got cart.Cart
		api.applyCode(c.ID, "FREE").wantStatus(http.StatusOK).decode(&got)
		want := cart.Totals{Subtotal: eur(2400), Discount: eur(2400), Shipping: eur(0), Tax: eur(0), GiftCard: eur(0), Total: eur(0)}
		if got.Totals != want || len(got.Discounts) != 2 || !got.Discounts[0].FreeShipping {
			t.Fatalf("cart %+v %+v", got.Totals, got.Discounts)
		}
		var placed checkout.Result
		api.checkout(c.ID, "free", api.checkoutBody(c.ID, "free@example.com", "pm_card_visa")).wantStatus(http.StatusCreated).decode(&placed)
		o := placed.Order
		if o.Status != order.StatusPaid || o.PaymentStatus != order.PaymentPaid || o.Totals.Total != eur(0) || placed.Payment != nil {
			t.Fatalf("order %s/%s %+v", o.Status, o.PaymentStatus, o.Totals)
		}
		if n := api.rows(`SELECT COUNT(*) FROM payment_payments`); n != 0 {
			t.Fatalf("%d payments for an order the card pays nothing of", n)
		}
		if n := api.rows(`SELECT used FROM promotion_promotions WHERE code IS NULL`); n != 1 {
			t.Fatalf("the automatic promotion's used = %d, want 1", n)
		}
		var staff order.StaffOrder
		api.do("GET", "/api/v1/admin/orders/"+o.ID, nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&staff)
		if staff.Payment != nil {
			t.Fatalf("a payment is shown: %+v", staff.Payment)
		}
		var cancelled order.Order
		api.do("POST", "/api/v1/admin/orders/"+o.ID+"/cancel", nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&cancelled)
		if cancelled.Status != order.StatusCancelled {
			t.Fatalf("cancelled: %s", cancelled.Status)
		}
		drainOutbox(t, api.app)
		if n := api.rows(`SELECT COALESCE(SUM(used), 0) FROM promotion_promotions`); n != 0 {
			t.Fatalf("%d uses left after the cancellation, want 0", n)
		}
		if n := api.rows(`SELECT COUNT(*) FROM payment_refunds`); n != 0 {
			t.Fatalf("%d refunds of nothing", n)
		}
	})
}
