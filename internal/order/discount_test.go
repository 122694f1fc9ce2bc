package order_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// giftCards records what orders gave back to their gift cards.
type giftCards struct {
	mu       sync.Mutex
	refunded map[string]int64
}

func (g *giftCards) Refund(_ context.Context, tx *sqldb.Tx, orderID string, amount money.Money, _ string) error {
	if tx == nil {
		panic("gift card refund outside the order's transaction")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refunded[orderID] += amount.Amount
	return nil
}

func (g *giftCards) of(orderID string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refunded[orderID]
}

// placeWith creates an order as the checkout does, paying card (0: no
// card payment at all) of its value by card and the rest by gift card.
func (e *env) placeWith(t *testing.T, in order.NewOrder, card int64, capture bool) order.Order {
	t.Helper()
	ctx := context.Background()
	in.ID, in.Email, in.Currency, in.CartID = ids.New(), "buyer@example.com", "EUR", "cart-x"
	in.ShippingAddress = order.Address{Name: "B", Line1: "1 Road", City: "Town", PostalCode: "12345", Country: "DE"}
	in.ShippingMethod = order.ShippingMethod{ID: "std", Name: "Standard", Price: in.Totals.Shipping}
	in.Totals.Total = eur(card)
	in.Captured = true
	if card > 0 {
		p, err := e.pay.Pay(ctx, in.ID, eur(card), "pm_card_visa", capture)
		if err != nil {
			t.Fatal(err)
		}
		in.PaymentID, in.Captured = p.ID, capture
	}
	var o order.Order
	err := e.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if o, err = e.orders.Create(ctx, tx, in); err != nil || in.PaymentID == "" {
			return err
		}
		return e.pay.AttachOrder(ctx, tx, in.PaymentID, in.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func discounted(taxIncluded bool) order.NewOrder {
	// A: 3 × 10.00 with 6.00 of the discounts, B: 1 × 20.00 with 4.00;
	// shipping 5.00. Exclusive tax: 19% of 24.00 + 16.00 + 5.00 = 8.55.
	in := order.NewOrder{
		Items: []order.Item{
			{VariantID: "va", ProductID: "pa", SKU: "A", Title: "A", Quantity: 3, UnitPrice: eur(1000), LineTotal: eur(3000), Discount: eur(600)},
			{VariantID: "vb", ProductID: "pb", SKU: "B", Title: "B", Quantity: 1, UnitPrice: eur(2000), LineTotal: eur(2000), Discount: eur(400)},
		},
		Totals:      order.Totals{Subtotal: eur(5000), Discount: eur(1000), Shipping: eur(500), Tax: eur(718), GiftCard: eur(0)},
		Discounts:   []order.Discount{{PromotionID: "p1", Code: "SPRING", Label: "20% off", Amount: eur(1000)}},
		TaxIncluded: taxIncluded,
	}
	if !taxIncluded {
		in.Totals.Tax = eur(855)
	}
	return in
}

func TestRefundByLinesUsesTheAllocation(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)

		// Tax included: the card paid 45.00; a line gives back its total less its discount.
		o := e.placeWith(t, discounted(true), 4500, true)
		if got := e.get(o.ID); len(got.Discounts) != 1 || got.Discounts[0].Label != "20% off" || got.Items[0].Discount != eur(600) || got.Totals.GiftCard != eur(0) {
			t.Fatalf("stored order: discounts %+v, items %+v, totals %+v", got.Discounts, got.Items, got.Totals)
		}
		a, b := o.Items[0].ID, o.Items[1].ID
		for _, step := range []struct {
			lines    []order.FulfillmentLine
			refunded int64
		}{
			{[]order.FulfillmentLine{{ItemID: a, Quantity: 1}}, 800},                                  // a third of 24.00
			{[]order.FulfillmentLine{{ItemID: a, Quantity: 2}, {ItemID: b, Quantity: 1}}, 800 + 3200}, // the rest of A, all of B
		} {
			got, err := e.orders.Refund(ctx, o.ID, order.RefundInput{Lines: step.lines}, "staff")
			if err != nil {
				t.Fatal(err)
			}
			if got.Refunded != eur(step.refunded) {
				t.Fatalf("refunded %v, want %d", got.Refunded, step.refunded)
			}
		}
		got := e.get(o.ID)
		wantState(t, got, order.StatusPaid, order.PaymentPartiallyRefunded, order.FulfillmentUnfulfilled)
		if got.Items[0].Refunded != 3 || got.Items[1].Refunded != 1 {
			t.Fatalf("refunded quantities %+v", got.Items)
		}
		// Every unit refunded: the lines are spent, the shipping is left.
		_, err := e.orders.Refund(ctx, o.ID, order.RefundInput{Lines: []order.FulfillmentLine{{ItemID: b, Quantity: 1}}}, "staff")
		wantCode(t, err, apperr.Invalid, "a line refunded twice")
		if got, err = e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: 500}, "staff"); err != nil {
			t.Fatal(err)
		}
		wantState(t, got, order.StatusRefunded, order.PaymentRefunded, order.FulfillmentUnfulfilled)

		// Tax on top: a line's refund carries its share of the tax
		// (8.55 over 24.00, 16.00 and 5.00 of shipping: 4.56, 3.04, 0.95).
		o = e.placeWith(t, discounted(false), 5355, true)
		got, err = e.orders.Refund(ctx, o.ID, order.RefundInput{Lines: []order.FulfillmentLine{{ItemID: o.Items[0].ID, Quantity: 3}}}, "staff")
		if err != nil || got.Refunded != eur(2400+456) {
			t.Fatalf("refund of line A: %v %v, want 28.56", got.Refunded, err)
		}
		got, err = e.orders.Refund(ctx, o.ID, order.RefundInput{Lines: []order.FulfillmentLine{{ItemID: o.Items[1].ID, Quantity: 1}}, Restock: true}, "staff")
		if err != nil || got.Refunded != eur(2400+456+1600+304) || e.stock.of("vb") != 1 || e.stock.of("va") != 0 {
			t.Fatalf("refund of line B with restock: %v %v, restocked A %d B %d", got.Refunded, err, e.stock.of("va"), e.stock.of("vb"))
		}

		// Bad requests move nothing.
		o = e.placeWith(t, discounted(true), 4500, true)
		for _, in := range []order.RefundInput{
			{Amount: 100, Lines: []order.FulfillmentLine{{ItemID: o.Items[0].ID, Quantity: 1}}},
			{Lines: []order.FulfillmentLine{{ItemID: o.Items[0].ID, Quantity: 4}}},
			{Lines: []order.FulfillmentLine{{ItemID: "nope", Quantity: 1}}},
			{},
		} {
			_, err := e.orders.Refund(ctx, o.ID, in, "staff")
			wantCode(t, err, apperr.Invalid, "bad refund")
		}
		if got := e.get(o.ID); got.Refunded != eur(0) || got.Items[0].Refunded != 0 {
			t.Fatalf("a refused refund changed the order: %+v", got)
		}
	})
}

func TestGiftCardsAreRefundedFirst(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		cards := &giftCards{refunded: map[string]int64{}}
		e.orders = order.NewService(db, e.pay, e.stock, slog.New(slog.DiscardHandler), order.WithGiftCards(cards))

		// 45.00: 15.00 by gift card, 30.00 by card.
		in := discounted(true)
		in.Totals.GiftCard = eur(1500)
		o := e.placeWith(t, in, 3000, true)
		if o.Totals.GiftCard != eur(1500) || o.Totals.Total != eur(3000) {
			t.Fatalf("totals %+v", o.Totals)
		}
		e.flush()
		got, err := e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: 2000}, "staff")
		if err != nil {
			t.Fatal(err)
		}
		if cards.of(o.ID) != 1500 || got.Refunded != eur(2000) {
			t.Fatalf("gift cards got %d back, refunded %v; want 15.00 to the cards first", cards.of(o.ID), got.Refunded)
		}
		if n := count(t, db, `SELECT COALESCE(SUM(amount), 0) FROM payment_refunds WHERE payment_id = ?`, got.PaymentID); n != 500 {
			t.Fatalf("the card got %d back, want 5.00", n)
		}
		got, err = e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: 2500}, "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, got, order.StatusRefunded, order.PaymentRefunded, order.FulfillmentUnfulfilled)
		evs := decodeAll[order.OrderRefunded](t, e.flush(), order.TopicOrderRefunded)
		if len(evs) != 2 || evs[0].GiftCard != eur(1500) || evs[0].FullyRefunded || evs[1].GiftCard != eur(0) || !evs[1].FullyRefunded || evs[1].Refunded != eur(4500) {
			t.Fatalf("order.refunded events %+v", evs)
		}

		// Paid wholly by gift card: no card payment; cancelling gives it all back.
		in = discounted(true)
		in.Totals.GiftCard = eur(4500)
		o = e.placeWith(t, in, 0, true)
		wantState(t, o, order.StatusPaid, order.PaymentPaid, order.FulfillmentUnfulfilled)
		if o.PaymentID != "" {
			t.Fatalf("payment %q for an order the gift cards paid", o.PaymentID)
		}
		got, err = e.orders.Cancel(ctx, o.ID, "changed my mind", "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, got, order.StatusCancelled, order.PaymentRefunded, order.FulfillmentUnfulfilled)
		if cards.of(o.ID) != 4500 || got.Refunded != eur(4500) {
			t.Fatalf("cancelled: gift cards got %d back, refunded %v", cards.of(o.ID), got.Refunded)
		}

		// Authorized by card (capture at fulfilment) and partly by gift card: the void leaves the cards to refund.
		in = discounted(true)
		in.Totals.GiftCard = eur(1000)
		o = e.placeWith(t, in, 3500, false)
		if got, err = e.orders.Cancel(ctx, o.ID, "", "staff"); err != nil {
			t.Fatal(err)
		}
		wantState(t, got, order.StatusCancelled, order.PaymentVoided, order.FulfillmentUnfulfilled)
		if cards.of(o.ID) != 1000 {
			t.Fatalf("voided order: gift cards got %d back, want 10.00", cards.of(o.ID))
		}
	})
}

func count(t *testing.T, db *sqldb.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
