package giftcard

import (
	"testing"

	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/outbox/outboxtest"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// publish writes order events as the order module does and delivers every
// pending event to the service twice (the bus delivers at least once); it
// returns what the service published in turn.
func publish(t *testing.T, db *sqldb.DB, s *Service, ms ...outbox.Message) []Issued {
	t.Helper()
	if err := db.InTx(ctx, func(tx *sqldb.Tx) error {
		for _, m := range ms {
			if err := outbox.Write(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var issued []Issued
	for range 3 {
		evs := outboxtest.Drain(t, db)
		for _, e := range evs {
			if e.Topic == TopicIssued {
				issued = append(issued, outboxtest.Decode[Issued](t, e))
				continue
			}
			for range 2 {
				if err := s.Handle(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return issued
}

func placed(id string, total int64, items ...order.PlacedItem) order.OrderPlaced {
	return order.OrderPlaced{OrderID: id, Number: "10" + id[len(id)-1:], Email: "buyer@example.com", Currency: "EUR", Items: items,
		Totals: order.Totals{Total: eur(total)}}
}

func line(sku string, qty, unit int64) order.PlacedItem {
	return order.PlacedItem{SKU: sku, Title: sku, Quantity: qty, UnitPrice: eur(unit), LineTotal: eur(qty * unit)}
}

func cardsOf(t *testing.T, db *sqldb.DB, orderID string) []Card {
	t.Helper()
	cs, err := store{db}.cardsOfOrder(ctx, db, orderID)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestGiftCardsSoldAsProducts: a paid order issues one card per unit of
// each gift card line, mailed to the buyer, once however often the events
// come; cancellation before payment issues none; a refund disables the
// unused cards it takes the money of.
func TestGiftCardsSoldAsProducts(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db, newClock(), Options{})

		// Placed: nothing is issued before the payment.
		o1 := placed("order-1", 12_990, line("GIFTCARD-50", 2, 5000), line("TEE-M", 1, 2990))
		if got := publish(t, db, s, o1); len(got) != 0 {
			t.Fatalf("issued %d cards before payment", len(got))
		}
		if n := len(cardsOf(t, db, "order-1")); n != 0 {
			t.Fatalf("%d cards before payment", n)
		}
		// Paid: two cards of 50.00, each mailed with its code.
		got := publish(t, db, s, order.OrderPaid{OrderID: "order-1", Number: o1.Number, Email: o1.Email, Amount: eur(12_990)})
		cards := cardsOf(t, db, "order-1")
		if len(got) != 2 || len(cards) != 2 {
			t.Fatalf("issued %d events, %d cards; want 2", len(got), len(cards))
		}
		for _, e := range got {
			if e.Amount != eur(5000) || e.RecipientEmail != "buyer@example.com" || e.OrderID != "order-1" || e.OrderNumber != o1.Number || e.Code == "" {
				t.Errorf("issued %+v", e)
			}
			norm, _ := normalize(e.Code)
			if c, err := s.st.cardByHash(ctx, db, hashCode(norm)); err != nil || c.Balance != eur(5000) {
				t.Errorf("the mailed code finds %+v (%v)", c, err)
			}
		}
		// Paid again (a redelivery, or a second order.paid): no more cards.
		publish(t, db, s, order.OrderPaid{OrderID: "order-1", Number: o1.Number, Email: o1.Email, Amount: eur(12_990)})
		if n := len(cardsOf(t, db, "order-1")); n != 2 {
			t.Fatalf("%d cards after a second order.paid, want 2", n)
		}

		// One card is used; a refund of the tee (29.90) leaves 100.00
		// unrefunded: both cards stay. A refund of 50.00 more leaves 50.00:
		// the unused card is disabled, the used one stays.
		used := got[1].Code // the newer card: the one a refund would take first
		if _, err := s.Hold(ctx, "order-9", used, eur(100)); err != nil {
			t.Fatal(err)
		}
		publish(t, db, s, order.OrderRefunded{OrderID: "order-1", Number: o1.Number, Email: o1.Email, Amount: eur(2990), Refunded: eur(2990)})
		for _, c := range cardsOf(t, db, "order-1") {
			if c.stored != StatusActive {
				t.Fatalf("a refund of the tee disabled card …%s", c.Last4)
			}
		}
		publish(t, db, s, order.OrderRefunded{OrderID: "order-1", Number: o1.Number, Email: o1.Email, Amount: eur(5000), Refunded: eur(7990)})
		byCode := map[string]string{}
		for _, e := range got {
			norm, _ := normalize(e.Code)
			c, _ := s.st.cardByHash(ctx, db, hashCode(norm))
			byCode[e.Code] = c.stored
		}
		if byCode[got[1].Code] != StatusActive || byCode[got[0].Code] != StatusDisabled {
			t.Fatalf("after refunding 79.90 of 129.90: %v, want the used card active and the other disabled", byCode)
		}

		// Cancelled before payment: no card, ever.
		o2 := placed("order-2", 2500, line("GIFTCARD-25", 1, 2500))
		publish(t, db, s, o2, order.OrderCancelled{OrderID: "order-2", Number: o2.Number, Email: o2.Email, Reason: "payment failed"})
		publish(t, db, s, order.OrderPaid{OrderID: "order-2", Number: o2.Number, Email: o2.Email, Amount: eur(2500)})
		if n := len(cardsOf(t, db, "order-2")); n != 0 {
			t.Fatalf("a cancelled order issued %d cards", n)
		}

		// Paid, then cancelled (refunded in full): its card is disabled.
		o3 := placed("order-3", 2500, line("GIFTCARD-25", 1, 2500))
		publish(t, db, s, o3, order.OrderPaid{OrderID: "order-3", Number: o3.Number, Email: o3.Email, Amount: eur(2500)})
		publish(t, db, s, order.OrderRefunded{OrderID: "order-3", Number: o3.Number, Email: o3.Email, Amount: eur(2500), Refunded: eur(2500)},
			order.OrderCancelled{OrderID: "order-3", Number: o3.Number, Email: o3.Email, Reason: "cancelled"})
		if cs := cardsOf(t, db, "order-3"); len(cs) != 1 || cs[0].stored != StatusDisabled {
			t.Fatalf("cards of a cancelled paid order: %+v", cs)
		}

		// An order without gift card lines issues nothing.
		o4 := placed("order-4", 2990, line("TEE-M", 1, 2990))
		if got := publish(t, db, s, o4, order.OrderPaid{OrderID: "order-4", Amount: eur(2990)}); len(got) != 0 {
			t.Fatalf("an order of tees issued %d cards", len(got))
		}
		checkLedgers(t, db)
	})
}

// TestCancelledOrderGivesGiftCardMoneyBack: order.cancelled releases what
// the order holds on cards and credits back what they paid, less what a
// refund already credited; redelivered, it gives nothing more.
func TestCancelledOrderGivesGiftCardMoneyBack(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db, newClock(), Options{})
		a, b := issue(t, s, 4000), issue(t, s, 4000)
		if err := s.Reserve(ctx, "order-5", []Use{{CardID: a.ID, Amount: eur(3000)}}); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { _, err := s.Capture(ctx, tx, "order-5"); return err }); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Credit(ctx, nil, "order-5", 1000); err != nil || got != 1000 { // the cancellation's refund path
			t.Fatalf("credit %d %v", got, err)
		}
		if err := s.Reserve(ctx, "order-6", []Use{{CardID: b.ID, Amount: eur(2500)}}); err != nil { // awaiting its payment
			t.Fatal(err)
		}
		publish(t, db, s, order.OrderCancelled{OrderID: "order-5", Number: "105", Email: "x@example.com", Reason: "cancelled"},
			order.OrderCancelled{OrderID: "order-6", Number: "106", Email: "x@example.com", Reason: "payment failed"})
		publish(t, db, s, order.OrderCancelled{OrderID: "order-5", Number: "105", Email: "x@example.com", Reason: "cancelled again"})
		for _, c := range []NewCard{a, b} {
			d, err := s.Get(ctx, c.ID)
			if err != nil || d.Balance != eur(4000) || d.Held != eur(0) {
				t.Errorf("card …%s after the cancellations: %+v %v", c.Last4, d.Card, err)
			}
		}
		checkLedgers(t, db)
	})
}
