package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// Gift cards through the checkout's extension points, with promotions, on
// SQLite and PostgreSQL: what a card covers lowers what the card payment
// takes (none when it covers everything), the card is held before the
// payment and taken with the order, a card spent by a concurrent checkout
// refuses the other (nothing charged), and refunds go back to the card first.

// issueCard issues a gift card of amount through the staff API.
func (a *testAPI) issueCard(amount int64) giftcard.NewCard {
	a.t.Helper()
	var c giftcard.NewCard
	a.do("POST", "/api/v1/admin/gift-cards", map[string]any{"amount": amount}, bearer(a.staff)).wantStatus(http.StatusCreated).decode(&c)
	return c
}

// balance reads a card's balance.
func (a *testAPI) balance(code string) int64 {
	a.t.Helper()
	var b giftcard.Balance
	a.do("GET", "/api/v1/gift-cards/"+code, nil).wantStatus(http.StatusOK).decode(&b)
	return b.Balance.Amount
}

func TestGiftCardsPayAtCheckout(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		v := api.product("TENDER-1", 3000, 50)
		card := api.issueCard(5000)

		// 30.00 + 4.90 shipping, all on the card: the card payment takes nothing.
		c := api.cartWith(nil, v, 1)
		var got cart.Cart
		api.do("POST", "/api/v1/carts/"+c.ID+"/gift-cards", map[string]any{"code": card.Code}).wantStatus(http.StatusOK).decode(&got)
		if got.Totals.GiftCard != eur(3490) || got.Totals.Total != eur(0) || len(got.GiftCards) != 1 || got.GiftCards[0].Amount != eur(3490) ||
			got.GiftCards[0].Balance != eur(5000) || got.GiftCards[0].Code != "…"+card.Last4 {
			t.Fatalf("cart with a card: %+v %+v", got.Totals, got.GiftCards)
		}
		bad := api.checkoutBody(c.ID, "gc@example.com", "pm_card_visa")
		bad["expected_total"] = -1
		api.checkout(c.ID, "gc-0", bad).wantProblem(http.StatusBadRequest, "expected_total")
		bad["expected_total"] = 3490 // the total before the card: what the card was to pay is now 0
		api.checkout(c.ID, "gc-00", bad).wantProblem(http.StatusConflict, "expected_total")
		if n := api.rows(`SELECT COUNT(*) FROM giftcard_holds`); n != 0 {
			t.Fatalf("%d gift card holds after refused checkouts", n)
		}
		var placed checkout.Result
		ok := api.checkoutBody(c.ID, "gc@example.com", "pm_card_visa")
		ok["expected_total"] = 0
		api.checkout(c.ID, "gc-1", ok).wantStatus(http.StatusCreated).decode(&placed)
		first := placed.Order
		if first.Status != order.StatusPaid || first.Totals.GiftCard != eur(3490) || first.Totals.Total != eur(0) {
			t.Fatalf("order paid by card: %s %+v", first.Status, first.Totals)
		}
		if n := api.rows(`SELECT COUNT(*) FROM payment_payments`); n != 0 {
			t.Fatalf("%d card payments for an order the gift card paid", n)
		}
		if b := api.balance(card.Code); b != 1510 {
			t.Fatalf("balance %d after the order, want 15.10", b)
		}

		// With a promotion: the discount first, then the card's 15.10, the rest by card.
		api.createPromotion(map[string]any{"name": "Five off", "code": "FIVE", "type": "fixed", "value": 500})
		c = api.cartWith(nil, v, 1)
		api.applyCode(c.ID, "FIVE").wantStatus(http.StatusOK)
		api.do("POST", "/api/v1/carts/"+c.ID+"/gift-cards", map[string]any{"code": card.Code}).wantStatus(http.StatusOK).decode(&got)
		if got.Totals.Discount != eur(500) || got.Totals.GiftCard != eur(1510) || got.Totals.Total != eur(3000-500+490-1510) {
			t.Fatalf("cart with a code and a card: %+v", got.Totals)
		}
		api.checkout(c.ID, "gc-2", api.checkoutBody(c.ID, "gc@example.com", "pm_card_visa")).wantStatus(http.StatusCreated).decode(&placed)
		second := placed.Order
		if n := api.rows(`SELECT COUNT(*) FROM payment_payments WHERE amount = ? AND status = 'captured'`, 1480); n != 1 {
			t.Fatal("the card payment is not the rest (14.80)")
		}
		if b := api.balance(card.Code); b != 0 {
			t.Fatalf("balance %d, want 0", b)
		}

		// A refund goes to the gift card first: 20.00 = 15.10 to the card, 4.90 by card refund.
		var refunded order.Order
		api.do("POST", "/api/v1/admin/orders/"+second.ID+"/refunds", map[string]any{"amount": 2000}, bearer(api.staff)).wantStatus(http.StatusCreated).decode(&refunded)
		if b := api.balance(card.Code); b != 1510 || refunded.Refunded != eur(2000) {
			t.Fatalf("after the refund: balance %d, refunded %v", b, refunded.Refunded)
		}
		if n := api.rows(`SELECT COALESCE(SUM(amount), 0) FROM payment_refunds`); n != 490 {
			t.Fatalf("the card payment got %d back, want 4.90", n)
		}
		// Cancelling the order the card paid alone gives it all back, once.
		api.do("POST", "/api/v1/admin/orders/"+first.ID+"/cancel", nil, bearer(api.staff)).wantStatus(http.StatusOK)
		drainOutbox(t, api.app)
		drainOutbox(t, api.app)
		if b := api.balance(card.Code); b != 1510+3490 {
			t.Fatalf("after the cancellation: balance %d, want 50.00", b)
		}
	})
}

// TestGiftCardSpentByAConcurrentCheckout: six carts lean on the same card,
// which covers only one of them, and each checkout expects the card to pay
// nothing (expected_total 0, as the cart showed): exactly one order; the
// others are refused with 409 (the card's hold refused, or the total
// changed) and charged nothing. Without expected_total a later checkout
// would pay the rest by card.
func TestGiftCardSpentByAConcurrentCheckout(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		v := api.product("TENDER-2", 2000, 50)
		card := api.issueCard(3000)
		const shoppers = 6
		carts, bodies := make([]string, shoppers), make([][]byte, shoppers)
		for i := range carts {
			c := api.cartWith(nil, v, 1)
			api.do("POST", "/api/v1/carts/"+c.ID+"/gift-cards", map[string]any{"code": card.Code}).wantStatus(http.StatusOK)
			carts[i] = c.ID
			body := api.checkoutBody(c.ID, fmt.Sprintf("s%d@example.com", i), "pm_card_visa")
			body["expected_total"] = 0 // what the cart showed: the card covers it all
			bodies[i], _ = json.Marshal(body)
		}
		codes := make([]int, shoppers)
		var wg sync.WaitGroup
		for i := range shoppers {
			wg.Go(func() {
				r := httptest.NewRequest("POST", "/api/v1/carts/"+carts[i]+"/checkout", bytes.NewReader(bodies[i]))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Idempotency-Key", "spend")
				w := httptest.NewRecorder()
				api.h.ServeHTTP(w, r)
				codes[i] = w.Code
			})
		}
		wg.Wait()
		byCode := map[int]int{}
		for _, c := range codes {
			byCode[c]++
		}
		if byCode[http.StatusCreated] != 1 || byCode[http.StatusConflict] != shoppers-1 {
			t.Fatalf("answers %v, want one order and %d refusals", byCode, shoppers-1)
		}
		if n := api.rows(`SELECT COUNT(*) FROM payment_payments`); n != 0 {
			t.Fatalf("%d card payments: the order was all gift card, the refused ones must not pay", n)
		}
		if b := api.balance(card.Code); b != 3000-2490 {
			t.Fatalf("balance %d, want 5.10", b)
		}
		// Without expected_total the next checkout pays the rest by card.
		body := api.checkoutBody(carts[0], "late@example.com", "pm_card_visa")
		if codes[0] == http.StatusCreated {
			body = api.checkoutBody(carts[1], "late@example.com", "pm_card_visa")
			carts[0] = carts[1]
		}
		var placed checkout.Result
		api.checkout(carts[0], "late", body).wantStatus(http.StatusCreated).decode(&placed)
		if placed.Order.Totals.GiftCard != eur(510) || placed.Order.Totals.Total != eur(2490-510) {
			t.Fatalf("late order %+v", placed.Order.Totals)
		}
	})
}
