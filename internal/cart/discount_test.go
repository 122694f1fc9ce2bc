package cart_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// discounter is a fake promotion module: TEN takes 10% off every line,
// SHIP makes shipping free, HUGE takes 1,000,000.00 off the first line, OLD
// has expired; every cart also gets the automatic "Welcome" 1.00 off its
// first line when auto is set. It records the queries it was asked.
type discounter struct {
	mu      sync.Mutex
	auto    bool
	queries []cart.DiscountQuery
}

func (d *discounter) Discounts(ctx context.Context, q cart.DiscountQuery) (cart.DiscountResult, error) {
	d.mu.Lock()
	d.queries = append(d.queries, q)
	auto := d.auto
	d.mu.Unlock()
	var res cart.DiscountResult
	first := func(id, label string, amount int64) cart.Discount {
		if len(q.Lines) == 0 {
			return cart.Discount{PromotionID: id, Label: label, Amount: eur(0)}
		}
		amount = min(amount, q.Lines[0].LineTotal.Amount)
		return cart.Discount{PromotionID: id, Label: label, Amount: eur(amount),
			Lines: []cart.LineAllocation{{ItemID: q.Lines[0].ItemID, Amount: eur(amount)}}}
	}
	if auto {
		res.Discounts = append(res.Discounts, first("auto", "Welcome", 100))
	}
	for _, code := range q.Codes {
		switch code {
		case "TEN":
			d := cart.Discount{PromotionID: "ten", Code: code, Label: "10% off"}
			var sum int64
			for _, l := range q.Lines {
				a := money.PercentOf(l.LineTotal.Amount, 10)
				sum += a
				d.Lines = append(d.Lines, cart.LineAllocation{ItemID: l.ItemID, Amount: eur(a)})
			}
			d.Amount = eur(sum)
			res.Discounts = append(res.Discounts, d)
		case "SHIP":
			res.Discounts = append(res.Discounts, cart.Discount{PromotionID: "ship", Code: code, Label: "Free shipping", Amount: eur(0), FreeShipping: true})
		case "HUGE":
			d := first("huge", "Everything free", 100_000_000)
			d.Code = code
			d.Amount.Amount = 100_000_000 // a buggy promotion: more than the line
			res.Discounts = append(res.Discounts, d)
		case "OLD":
			res.Codes = append(res.Codes, cart.CodeStatus{Code: code, Reason: cart.ReasonExpired, Message: "this code expired on 1 May"})
			continue
		default:
			res.Codes = append(res.Codes, cart.CodeStatus{Code: code, Reason: cart.ReasonUnknown, Message: "there is no such code"})
			continue
		}
		res.Codes = append(res.Codes, cart.CodeStatus{Code: code, Applied: true})
	}
	return res, nil
}

// giftCards is a fake gift card module: every cart has the cards listed
// for it, used in order, each up to its balance.
type giftCards map[string][]int64

func (g giftCards) Cover(ctx context.Context, cartID string, due money.Money) ([]cart.GiftCard, error) {
	out := []cart.GiftCard{}
	left := due.Amount
	for i, b := range g[cartID] {
		use := min(b, left)
		left -= use
		out = append(out, cart.GiftCard{ID: "gc" + string(rune('0'+i)), Code: "…" + string(rune('0'+i)), Amount: eur(use), Balance: eur(b)})
	}
	return out, nil
}

func TestDiscountCodes(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		d := &discounter{}
		excl := &env{t: t, db: db, shop: newShop(), svc: nil}
		excl.svc = cart.NewService(db, excl.shop, excl.shop, pricing{inclusive: false}, "EUR", cart.WithDiscounter(d))
		excl.shop.add("D-1", 2000, 10)
		excl.shop.add("D-2", 1000, 10)
		ctx := guest
		c := excl.add(ctx, excl.newCart(ctx).ID, "D-1", 1)
		c = excl.add(ctx, c.ID, "D-2", 1)
		// 30.00 + 4.90 shipping, 19% on top.
		wantTotals(t, "no code", c.Totals, 3000, 490, 663, 4153)
		if c.Discounts == nil || len(c.Discounts) != 0 || c.DiscountCodes == nil || c.GiftCards == nil {
			t.Fatalf("lists must be empty, not null: %+v %+v %+v", c.Discounts, c.DiscountCodes, c.GiftCards)
		}

		// 10% off: 3.00 off, tax on 30.00 - 3.00 + 4.90 = 31.90.
		c, err := excl.svc.ApplyCode(ctx, c.ID, "  ten ")
		if err != nil {
			t.Fatal(err)
		}
		want := cart.Totals{Subtotal: eur(3000), Discount: eur(300), Shipping: eur(490), Tax: eur(606), GiftCard: eur(0), Total: eur(3796)}
		if c.Totals != want {
			t.Fatalf("with TEN: %+v, want %+v", c.Totals, want)
		}
		if len(c.Discounts) != 1 || c.Discounts[0].Label != "10% off" || c.Discounts[0].Code != "TEN" || len(c.Discounts[0].Lines) != 2 ||
			c.Discounts[0].Lines[0].ItemID != c.Items[0].ID {
			t.Fatalf("discounts %+v", c.Discounts)
		}
		if !slices.Equal(c.DiscountCodes, []cart.CodeStatus{{Code: "TEN", Applied: true}}) {
			t.Fatalf("codes %+v", c.DiscountCodes)
		}
		if got := excl.get(ctx, c.ID); got.Totals != want {
			t.Fatalf("the code is not kept: %+v", got.Totals)
		}

		// Another code replaces it: free shipping.
		c, err = excl.svc.ApplyCode(ctx, c.ID, "SHIP")
		if err != nil {
			t.Fatal(err)
		}
		wantTotals(t, "free shipping", c.Totals, 3000, 0, 570, 3570)
		if len(c.DiscountCodes) != 1 || c.DiscountCodes[0].Code != "SHIP" || c.Shipping == nil || c.Shipping.Price != eur(490) {
			t.Fatalf("codes %+v, estimate %+v", c.DiscountCodes, c.Shipping)
		}

		// Refused codes leave the cart as it was.
		for _, tt := range []struct {
			code   string
			status apperr.Code
			reason string
		}{
			{"", apperr.Invalid, ""},
			{"   ", apperr.Invalid, ""},
			{"NOPE", apperr.Unprocessable, cart.ReasonUnknown},
			{"OLD", apperr.Unprocessable, cart.ReasonExpired},
			{"WITH SPACE\x00", apperr.Unprocessable, cart.ReasonUnknown},
		} {
			_, err := excl.svc.ApplyCode(ctx, c.ID, tt.code)
			e := wantErr(t, err, tt.status, "code")
			if tt.reason != "" {
				if r, _ := e.Detail.(map[string]any)["reason"].(string); r != tt.reason {
					t.Errorf("code %q: reason %v, want %s", tt.code, e.Detail, tt.reason)
				}
			}
		}
		if got := excl.get(ctx, c.ID); len(got.DiscountCodes) != 1 || got.DiscountCodes[0].Code != "SHIP" {
			t.Fatalf("a refused code changed the cart: %+v", got.DiscountCodes)
		}

		// A discount never takes more than the subtotal: the total is shipping and its tax.
		c, err = excl.svc.ApplyCode(ctx, c.ID, "huge")
		if err != nil {
			t.Fatal(err)
		}
		want = cart.Totals{Subtotal: eur(3000), Discount: eur(3000), Shipping: eur(490), Tax: eur(93), GiftCard: eur(0), Total: eur(583)}
		if c.Totals != want {
			t.Fatalf("with HUGE: %+v, want %+v", c.Totals, want)
		}

		// Removing: unknown code 404, then the code goes.
		_, err = excl.svc.RemoveCode(ctx, c.ID, "TEN")
		wantErr(t, err, apperr.NotFound, "")
		if c, err = excl.svc.RemoveCode(ctx, c.ID, "Huge"); err != nil {
			t.Fatal(err)
		}
		wantTotals(t, "removed", c.Totals, 3000, 490, 663, 4153)
		if len(c.DiscountCodes) != 0 {
			t.Fatalf("codes %+v", c.DiscountCodes)
		}

		// Someone else's cart: not found; a converted cart: conflict.
		mine := excl.add(as("cust-1"), excl.newCart(as("cust-1")).ID, "D-1", 1)
		_, err = excl.svc.ApplyCode(as("cust-2"), mine.ID, "TEN")
		wantErr(t, err, apperr.NotFound, "")
		_, err = excl.svc.ApplyCode(guest, mine.ID, "TEN")
		wantErr(t, err, apperr.NotFound, "")
		if err := excl.svc.MarkConverted(context.Background(), nil, mine.ID, "order-1"); err != nil {
			t.Fatal(err)
		}
		_, err = excl.svc.ApplyCode(as("cust-1"), mine.ID, "TEN")
		wantErr(t, err, apperr.Conflict, "")

		// The discounter is asked with the purchasable lines, the customer and the codes.
		d.mu.Lock()
		last := d.queries[len(d.queries)-1]
		d.mu.Unlock()
		if last.CustomerID != "cust-1" || len(last.Lines) != 1 || last.Lines[0].ProductID != "p-D-1" || last.Subtotal != eur(2000) {
			t.Fatalf("last query %+v", last)
		}
	})
}

func TestAutomaticDiscountsAndGiftCards(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		d := &discounter{auto: true}
		cards := giftCards{}
		sh := newShop()
		svc := cart.NewService(db, sh, sh, pricing{inclusive: true}, "EUR", cart.WithDiscounter(d), cart.WithGiftCards(cards))
		e := &env{t: t, db: db, shop: sh, svc: svc}
		sh.add("G-1", 2000, 10)
		c := e.add(guest, e.newCart(guest).ID, "G-1", 1)
		// 20.00 - 1.00 + 4.90 = 23.90 gross, 19% included: 3.82.
		want := cart.Totals{Subtotal: eur(2000), Discount: eur(100), Shipping: eur(490), Tax: eur(tax19(2390)), GiftCard: eur(0), Total: eur(2390)}
		if c.Totals != want || len(c.Discounts) != 1 || c.Discounts[0].Label != "Welcome" || c.Discounts[0].Code != "" {
			t.Fatalf("automatic: %+v %+v", c.Totals, c.Discounts)
		}
		// Gift cards: 10.00 and 50.00; the first is used up, the second covers the rest.
		cards[c.ID] = []int64{1000, 5000}
		c = e.get(guest, c.ID)
		want.GiftCard, want.Total = eur(2390), eur(0)
		if c.Totals != want || len(c.GiftCards) != 2 || c.GiftCards[0].Amount != eur(1000) || c.GiftCards[1].Amount != eur(1390) {
			t.Fatalf("gift cards: %+v %+v", c.Totals, c.GiftCards)
		}
		cards[c.ID] = []int64{500}
		c = e.get(guest, c.ID)
		want.GiftCard, want.Total = eur(500), eur(1890)
		if c.Totals != want {
			t.Fatalf("partial gift card: %+v, want %+v", c.Totals, want)
		}
	})
}

func TestCodesWithoutDiscounter(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, true)
		e.shop.add("N-1", 1000, 1)
		c := e.add(guest, e.newCart(guest).ID, "N-1", 1)
		_, err := e.svc.ApplyCode(guest, c.ID, "TEN")
		wantErr(t, err, apperr.Unprocessable, "code")
	})
}
