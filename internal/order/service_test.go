package order_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{outbox.Migrations(), payment.Migrations(), order.Migrations()}

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

// fakeStock records restocks per variant; with fail set it refuses them.
type fakeStock struct {
	mu        sync.Mutex
	restocked map[string]int64
	fail      error
}

func (f *fakeStock) Commit(context.Context, *sqldb.Tx, string, string) error  { return nil }
func (f *fakeStock) Release(context.Context, *sqldb.Tx, string, string) error { return nil }

func (f *fakeStock) Restock(_ context.Context, _ *sqldb.Tx, variantID string, qty int64, _, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.restocked[variantID] += qty
	return nil
}

func (f *fakeStock) of(variantID string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restocked[variantID]
}

// env is an order service on a real payment service (the sandbox), a fake
// stock, and a relay that feeds a bus on which the order module consumes
// payment events and a recorder sees everything published.
type env struct {
	t      *testing.T
	db     *sqldb.DB
	pay    *payment.Service
	orders *order.Service
	stock  *fakeStock
	relay  *outbox.Relay
	mu     sync.Mutex
	seen   []outbox.Event
}

func newEnv(t *testing.T, db *sqldb.DB) *env {
	e := &env{t: t, db: db, pay: payment.NewService(db, payment.NewSandbox(payment.WithWebhookSecret("whsec_test"))), stock: &fakeStock{restocked: map[string]int64{}}}
	e.orders = order.NewService(db, e.pay, e.stock, slog.New(slog.DiscardHandler))
	bus := outbox.NewLocalBus()
	e.orders.Subscribe(bus)
	bus.Subscribe("recorder", []string{"*"}, func(_ context.Context, ev outbox.Event) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.seen = append(e.seen, ev)
		return nil
	})
	e.relay = outbox.NewRelay(db, bus, slog.New(slog.DiscardHandler), time.Hour)
	return e
}

// flush publishes every pending event (and those their consumers wrote)
// and returns the events published, in delivery order.
func (e *env) flush() []outbox.Event {
	e.t.Helper()
	e.mu.Lock()
	from := len(e.seen)
	e.mu.Unlock()
	for range 50 {
		n, err := e.relay.Flush(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			e.mu.Lock()
			defer e.mu.Unlock()
			return slices.Clone(e.seen[from:])
		}
	}
	e.t.Fatal("events still pending after 50 flushes")
	return nil
}

// topics returns the topics of the events about aggregate.
func topics(evs []outbox.Event, aggregate string) []string {
	out := []string{}
	for _, ev := range evs {
		if ev.AggregateID == aggregate {
			out = append(out, ev.Topic)
		}
	}
	return out
}

// decodeAll decodes the events of one topic into T.
func decodeAll[T any](t *testing.T, evs []outbox.Event, topic string) []T {
	t.Helper()
	var out []T
	for _, ev := range evs {
		if ev.Topic == topic {
			var v T
			if err := ev.Decode(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
	}
	return out
}

type line struct {
	variant string
	qty     int64
	price   int64
}

// place pays (captured or only authorized) and creates an order as the
// checkout does: order and payment link in one transaction.
func (e *env) place(capture bool, lines ...line) order.Order {
	e.t.Helper()
	ctx := context.Background()
	id := ids.New()
	var items []order.Item
	var total int64
	for _, l := range lines {
		items = append(items, order.Item{VariantID: l.variant, ProductID: "p-" + l.variant, SKU: "SKU-" + l.variant, Title: "Item " + l.variant,
			VariantTitle: "Default", Quantity: l.qty, UnitPrice: eur(l.price), LineTotal: eur(l.price * l.qty)})
		total += l.price * l.qty
	}
	p, err := e.pay.Pay(ctx, id, eur(total), "pm_card_visa", capture)
	if err != nil {
		e.t.Fatal(err)
	}
	var o order.Order
	err = e.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		o, err = e.orders.Create(ctx, tx, order.NewOrder{ID: id, Email: "buyer@example.com", Currency: "EUR", Items: items,
			Totals:          order.Totals{Subtotal: eur(total), Discount: eur(0), Shipping: eur(0), Tax: eur(0), Total: eur(total)},
			ShippingAddress: order.Address{Name: "B", Line1: "1 Road", City: "Town", PostalCode: "12345", Country: "DE"},
			ShippingMethod:  order.ShippingMethod{ID: "std", Name: "Standard", Price: eur(0)},
			PaymentID:       p.ID, Captured: capture, CartID: "cart-" + id})
		if err != nil {
			return err
		}
		return e.pay.AttachOrder(ctx, tx, p.ID, id)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) get(id string) order.Order {
	e.t.Helper()
	o, err := e.orders.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func wantState(t *testing.T, o order.Order, status, pay, fulfilment string) {
	t.Helper()
	if o.Status != status || o.PaymentStatus != pay || o.FulfillmentStatus != fulfilment {
		t.Fatalf("order is %s/%s/%s, want %s/%s/%s", o.Status, o.PaymentStatus, o.FulfillmentStatus, status, pay, fulfilment)
	}
}

func wantCode(t *testing.T, err error, code apperr.Code, what string) {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

func TestLifecycleTransitions(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		o := e.place(true, line{"a", 3, 1000}, line{"b", 1, 400})
		wantState(t, o, order.StatusPaid, order.PaymentPaid, order.FulfillmentUnfulfilled)
		placed := e.flush()
		if got := topics(placed, o.ID); !slices.Equal(got, []string{order.TopicOrderPlaced, order.TopicOrderPaid}) {
			t.Fatalf("events of a captured checkout: %v", got)
		}
		p := decodeAll[order.OrderPlaced](t, placed, order.TopicOrderPlaced)[0]
		if p.Number != o.Number || p.Totals.Total != eur(3400) || len(p.Items) != 2 || p.Items[0].Title != "Item a" || p.ShippingMethod != "Standard" {
			t.Fatalf("order.placed %+v", p)
		}
		ia, ib := o.Items[0].ID, o.Items[1].ID

		_, err := e.orders.Deliver(ctx, o.ID, "staff")
		wantCode(t, err, apperr.Conflict, "deliver a paid order")

		// Partial fulfilment: a first parcel with a tracking number.
		cur, err := e.orders.Fulfill(ctx, o.ID, []order.FulfillmentLine{{ItemID: ia, Quantity: 2}}, "TRK-1", "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, cur, order.StatusPartiallyFulfilled, order.PaymentPaid, order.FulfillmentPartial)
		if len(cur.Fulfillments) != 1 || cur.Fulfillments[0].ShippedAt == nil || cur.Items[0].Fulfilled != 2 || cur.Items[1].Fulfilled != 0 {
			t.Fatalf("after the first parcel: %+v %+v", cur.Fulfillments, cur.Items)
		}
		// Refused: too many, unknown items, cancelling or delivering a partly fulfilled order.
		_, err = e.orders.Fulfill(ctx, o.ID, []order.FulfillmentLine{{ItemID: ia, Quantity: 2}}, "", "staff")
		wantCode(t, err, apperr.Invalid, "fulfil more than ordered")
		_, err = e.orders.Fulfill(ctx, o.ID, []order.FulfillmentLine{{ItemID: "nope", Quantity: 1}}, "", "staff")
		wantCode(t, err, apperr.Invalid, "fulfil an unknown item")
		_, err = e.orders.Cancel(ctx, o.ID, "too late", "staff")
		wantCode(t, err, apperr.Conflict, "cancel a partly fulfilled order")
		_, err = e.orders.Deliver(ctx, o.ID, "staff")
		wantCode(t, err, apperr.Conflict, "deliver a partly fulfilled order")
		if got := e.get(o.ID); got.Items[0].Fulfilled != 2 || len(got.Fulfillments) != 1 {
			t.Fatalf("a refused fulfilment changed the order: %+v", got.Items)
		}

		// The rest without tracking: fulfilled, not shipped; shipping the parcel ships the order.
		cur, err = e.orders.Fulfill(ctx, o.ID, []order.FulfillmentLine{{ItemID: ia, Quantity: 1}, {ItemID: ib, Quantity: 1}}, "", "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, cur, order.StatusFulfilled, order.PaymentPaid, order.FulfillmentFulfilled)
		_, err = e.orders.Ship(ctx, o.ID, cur.Fulfillments[0].ID, "TRK-X", "staff")
		wantCode(t, err, apperr.Conflict, "ship a shipped parcel")
		_, err = e.orders.Ship(ctx, o.ID, "nope", "TRK-X", "staff")
		wantCode(t, err, apperr.NotFound, "ship an unknown parcel")
		_, err = e.orders.Ship(ctx, o.ID, cur.Fulfillments[1].ID, "", "staff")
		wantCode(t, err, apperr.Invalid, "ship without tracking")
		cur, err = e.orders.Ship(ctx, o.ID, cur.Fulfillments[1].ID, "TRK-2", "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, cur, order.StatusShipped, order.PaymentPaid, order.FulfillmentShipped)
		_, err = e.orders.Fulfill(ctx, o.ID, []order.FulfillmentLine{{ItemID: ib, Quantity: 1}}, "", "staff")
		wantCode(t, err, apperr.Conflict, "fulfil a shipped order")

		cur, err = e.orders.Deliver(ctx, o.ID, "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, cur, order.StatusDelivered, order.PaymentPaid, order.FulfillmentDelivered)
		_, err = e.orders.Deliver(ctx, o.ID, "staff")
		wantCode(t, err, apperr.Conflict, "deliver twice")
		_, err = e.orders.Cancel(ctx, o.ID, "", "staff")
		wantCode(t, err, apperr.Conflict, "cancel a delivered order")

		evs := e.flush()
		if got, want := topics(evs, o.ID), []string{order.TopicOrderFulfilled, order.TopicOrderFulfilled, order.TopicOrderShipped, order.TopicOrderDelivered}; !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		f := decodeAll[order.OrderFulfilled](t, evs, order.TopicOrderFulfilled)
		if f[0].TrackingNumber != "TRK-1" || len(f[0].Items) != 1 || f[0].Items[0].Quantity != 2 || f[1].TrackingNumber != "" || len(f[1].Items) != 2 {
			t.Fatalf("order.fulfilled %+v", f)
		}
		if s := decodeAll[order.OrderShipped](t, evs, order.TopicOrderShipped)[0]; s.TrackingNumber != "TRK-1, TRK-2" || s.Email != "buyer@example.com" {
			t.Fatalf("order.shipped %+v", s)
		}
		kinds := []string{}
		for _, en := range e.get(o.ID).Timeline {
			kinds = append(kinds, en.Kind)
		}
		if want := []string{"placed", "fulfilled", "fulfilled", "parcel_shipped", "shipped", "delivered"}; !slices.Equal(kinds, want) {
			t.Fatalf("timeline %v, want %v", kinds, want)
		}
	})
}

func TestCaptureOnFulfilment(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		o := e.place(false, line{"a", 2, 2000})
		wantState(t, o, order.StatusPending, order.PaymentAuthorized, order.FulfillmentUnfulfilled)
		_, err := e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: 100}, "staff")
		wantCode(t, err, apperr.Conflict, "refund an authorized order")
		e.flush()

		cur, err := e.orders.Fulfill(ctx, o.ID, []order.FulfillmentLine{{ItemID: o.Items[0].ID, Quantity: 1}}, "", "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, cur, order.StatusPartiallyFulfilled, order.PaymentPaid, order.FulfillmentPartial)
		if p, _ := e.pay.Get(ctx, o.PaymentID); p.Status != payment.StatusCaptured || p.CapturedAmount != 4000 {
			t.Fatalf("payment after the first parcel: %+v", p)
		}
		// The capture Mercato asked for is not taken for one made at the
		// provider: one order.paid, written by the fulfilment.
		evs := e.flush()
		if got := topics(evs, o.ID); !slices.Equal(got, []string{order.TopicOrderPaid, order.TopicOrderFulfilled}) {
			t.Fatalf("order events %v", got)
		}
		if got := topics(evs, o.PaymentID); !slices.Equal(got, []string{payment.TopicPaymentCaptured}) {
			t.Fatalf("payment events %v", got)
		}
		if got := e.get(o.ID); got.Timeline[1].Message != "Payment captured" {
			t.Fatalf("timeline %+v", got.Timeline)
		}
	})
}

func TestRefundsAndRestockBounds(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		o := e.place(true, line{"a", 3, 1000}, line{"b", 1, 400})
		total := o.Totals.Total.Amount
		ia := o.Items[0].ID
		e.flush()
		paid := func() payment.Payment {
			p, err := e.pay.Get(ctx, o.PaymentID)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}

		// Refused before any money moves.
		for _, tc := range []struct {
			in    order.RefundInput
			field string
		}{
			{order.RefundInput{Amount: 0}, "amount"},
			{order.RefundInput{Amount: total + 1}, "amount"},
			{order.RefundInput{Amount: 100, Restock: true, Items: []order.FulfillmentLine{{ItemID: ia, Quantity: 4}}}, "items[0].quantity"},
			{order.RefundInput{Amount: 100, Restock: true, Items: []order.FulfillmentLine{{ItemID: ia, Quantity: 2}, {ItemID: ia, Quantity: 2}}}, "items[1].quantity"},
			{order.RefundInput{Amount: 100, Restock: true, Items: []order.FulfillmentLine{{ItemID: "nope", Quantity: 1}}}, "items[0].item_id"},
		} {
			_, err := e.orders.Refund(ctx, o.ID, tc.in, "staff")
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || len(ae.Fields) == 0 || ae.Fields[0].Field != tc.field {
				t.Fatalf("refund %+v: %v, want invalid %s", tc.in, err, tc.field)
			}
		}
		if p := paid(); p.RefundedAmount != 0 || e.stock.of("a") != 0 {
			t.Fatalf("a refused refund moved money or stock: %+v, restocked %d", p, e.stock.of("a"))
		}

		// Partial refund restocking two of item a.
		cur, err := e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: 500, Restock: true, Items: []order.FulfillmentLine{{ItemID: ia, Quantity: 2}}, Reason: "scratched"}, "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, cur, order.StatusPaid, order.PaymentPartiallyRefunded, order.FulfillmentUnfulfilled)
		if cur.Refunded != eur(500) || cur.Items[0].Restocked != 2 || e.stock.of("a") != 2 || paid().RefundedAmount != 500 {
			t.Fatalf("after a partial refund: refunded %v, restocked %d (stock %d), payment %d", cur.Refunded, cur.Items[0].Restocked, e.stock.of("a"), paid().RefundedAmount)
		}
		// The order's own refund comes back as payment.refunded: not applied twice.
		evs := e.flush()
		if got := e.get(o.ID); got.Refunded != eur(500) || len(topics(evs, o.PaymentID)) != 1 {
			t.Fatalf("after the relay: refunded %v, payment events %v", got.Refunded, topics(evs, o.PaymentID))
		}
		// Restock bounds count what was restocked before.
		_, err = e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: 100, Restock: true, Items: []order.FulfillmentLine{{ItemID: ia, Quantity: 2}}}, "staff")
		wantCode(t, err, apperr.Invalid, "restock more than is left")

		// The rest, restocking every item not yet restocked.
		cur, err = e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: total - 500, Restock: true}, "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, cur, order.StatusRefunded, order.PaymentRefunded, order.FulfillmentUnfulfilled)
		if cur.Refunded.Amount != total || cur.Items[0].Restocked != 3 || cur.Items[1].Restocked != 1 || e.stock.of("a") != 3 || e.stock.of("b") != 1 {
			t.Fatalf("after the full refund: %+v", cur)
		}
		_, err = e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: 1}, "staff")
		wantCode(t, err, apperr.Conflict, "refund a refunded order")
		if p := paid(); p.Status != payment.StatusRefunded || p.RefundedAmount != total {
			t.Fatalf("payment after the full refund: %+v", p)
		}

		// One order.refunded per refund, with the payment's refund id.
		evs = append(evs, e.flush()...)
		refunds := decodeAll[order.OrderRefunded](t, evs, order.TopicOrderRefunded)
		prefunds := decodeAll[payment.PaymentRefunded](t, evs, payment.TopicPaymentRefunded)
		if len(refunds) != 2 || len(prefunds) != 2 {
			t.Fatalf("%d order.refunded, %d payment.refunded; want 2 each", len(refunds), len(prefunds))
		}
		for i, r := range refunds {
			if r.RefundID != prefunds[i].RefundID || r.AtProvider || r.Number != o.Number || r.Email != "buyer@example.com" {
				t.Fatalf("order.refunded %+v for payment.refunded %+v", r, prefunds[i])
			}
		}
		if refunds[0].Amount != eur(500) || refunds[0].Refunded != eur(500) || refunds[0].Reason != "scratched" ||
			refunds[1].Amount != eur(total-500) || refunds[1].Refunded != eur(total) {
			t.Fatalf("order.refunded amounts %+v", refunds)
		}
		if prefunds[0].OrderID != o.ID || prefunds[0].PaymentID != o.PaymentID || prefunds[0].Amount != eur(500) {
			t.Fatalf("payment.refunded %+v", prefunds[0])
		}
		if got := e.get(o.ID); got.Refunded.Amount != total {
			t.Fatalf("order refunded %d after the relay, want %d", got.Refunded.Amount, total)
		}
	})
}

func TestCancel(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)

		// A paid order: refunded in full, every item back on stock.
		paid := e.place(true, line{"a", 2, 1000}, line{"b", 1, 500})
		cur, err := e.orders.Cancel(ctx, paid.ID, "customer asked", "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, cur, order.StatusCancelled, order.PaymentRefunded, order.FulfillmentUnfulfilled)
		if cur.Refunded != paid.Totals.Total || e.stock.of("a") != 2 || e.stock.of("b") != 1 {
			t.Fatalf("cancelled paid order: %+v, stock a %d b %d", cur, e.stock.of("a"), e.stock.of("b"))
		}
		for _, try := range []func() error{
			func() error { _, err := e.orders.Cancel(ctx, paid.ID, "", "staff"); return err },
			func() error {
				_, err := e.orders.Refund(ctx, paid.ID, order.RefundInput{Amount: 1}, "staff")
				return err
			},
			func() error {
				_, err := e.orders.Fulfill(ctx, paid.ID, []order.FulfillmentLine{{ItemID: paid.Items[0].ID, Quantity: 1}}, "", "staff")
				return err
			},
			func() error { _, err := e.orders.Deliver(ctx, paid.ID, "staff"); return err },
		} {
			wantCode(t, try(), apperr.Conflict, "act on a cancelled order")
		}
		evs := e.flush()
		if got := topics(evs, paid.ID); !slices.Equal(got, []string{order.TopicOrderPlaced, order.TopicOrderPaid, order.TopicOrderRefunded, order.TopicOrderCancelled}) {
			t.Fatalf("events of a cancelled paid order: %v", got)
		}
		if c := decodeAll[order.OrderCancelled](t, evs, order.TopicOrderCancelled)[0]; c.Reason != "customer asked" || c.Number != paid.Number {
			t.Fatalf("order.cancelled %+v", c)
		}
		if r := decodeAll[order.OrderRefunded](t, evs, order.TopicOrderRefunded)[0]; r.Amount != paid.Totals.Total || r.Reason != "order cancelled" {
			t.Fatalf("order.refunded %+v", r)
		}

		// An authorized order: the payment is voided, nothing refunded.
		auth := e.place(false, line{"c", 1, 700})
		cur, err = e.orders.Cancel(ctx, auth.ID, "", "staff")
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, cur, order.StatusCancelled, order.PaymentVoided, order.FulfillmentUnfulfilled)
		if p, _ := e.pay.Get(ctx, auth.PaymentID); p.Status != payment.StatusVoided || cur.Refunded != eur(0) || e.stock.of("c") != 1 {
			t.Fatalf("cancelled authorized order: payment %s, refunded %v, stock %d", p.Status, cur.Refunded, e.stock.of("c"))
		}
		evs = e.flush()
		if got := topics(evs, auth.ID); !slices.Equal(got, []string{order.TopicOrderPlaced, order.TopicOrderCancelled}) {
			t.Fatalf("events of a cancelled authorized order: %v", got)
		}
		if c := decodeAll[order.OrderCancelled](t, evs, order.TopicOrderCancelled)[0]; c.Reason != "cancelled" {
			t.Fatalf("default reason %q", c.Reason)
		}
		if got := e.get(auth.ID); got.Status != order.StatusCancelled || e.stock.of("c") != 1 {
			t.Fatalf("the void Mercato asked for was applied again: %s, stock %d", got.Status, e.stock.of("c"))
		}
	})
}

// TestEventsCommitWithTheChange: events are written in the transaction of
// the change, so a change that fails leaves neither state nor event.
func TestEventsCommitWithTheChange(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		o := e.place(true, line{"a", 1, 1000})
		e.flush()

		e.stock.fail = errors.New("stock unavailable")
		if _, err := e.orders.Cancel(ctx, o.ID, "", "staff"); err == nil {
			t.Fatal("cancel succeeded although restocking failed")
		}
		_, err := e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: 300, Restock: true}, "staff")
		if err == nil {
			t.Fatal("refund succeeded although restocking failed")
		}
		e.stock.fail = nil
		if got := e.get(o.ID); got.Status != order.StatusPaid || got.Refunded != eur(0) || len(got.Timeline) != 1 {
			t.Fatalf("failed changes left %+v", got)
		}
		if p, _ := e.pay.Get(ctx, o.PaymentID); p.RefundedAmount != 0 {
			t.Fatalf("a rolled-back refund stayed on the payment: %+v", p)
		}
		if evs := e.flush(); len(evs) != 0 {
			t.Fatalf("failed changes wrote events: %v", topics(evs, o.ID))
		}

		// A checkout transaction that rolls back leaves no order.placed either.
		err = db.InTx(ctx, func(tx *sqldb.Tx) error {
			if _, err := e.orders.Create(ctx, tx, order.NewOrder{ID: ids.New(), Email: "x@example.com", Currency: "EUR", Captured: true,
				Items:  []order.Item{{VariantID: "a", SKU: "A", Title: "A", Quantity: 1, UnitPrice: eur(1), LineTotal: eur(1)}},
				Totals: order.Totals{Subtotal: eur(1), Discount: eur(0), Shipping: eur(0), Tax: eur(0), Total: eur(1)}}); err != nil {
				return err
			}
			return errors.New("stock commit failed")
		})
		if err == nil {
			t.Fatal("rolled-back checkout reported success")
		}
		if evs := e.flush(); len(evs) != 0 {
			t.Fatalf("a rolled-back order wrote %d events", len(evs))
		}
	})
}

// paymentEvent builds an event as the relay delivers it.
func paymentEvent(t *testing.T, m outbox.Message) outbox.Event {
	t.Helper()
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Event{ID: ids.New(), Topic: m.EventTopic(), AggregateID: m.EventAggregate(), Payload: body, CreatedAt: time.Now().UTC()}
}

// deliverTwice hands the same event to the order module twice, as a relay
// that died before marking it published would.
func (e *env) deliverTwice(m outbox.Message) {
	e.t.Helper()
	ev := paymentEvent(e.t, m)
	for range 2 {
		if err := e.orders.HandlePaymentEvent(context.Background(), ev); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestProviderPaymentEventsAreAppliedOnce(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)

		// Captured at the provider: an authorized order becomes paid, once.
		a := e.place(false, line{"a", 1, 1000})
		e.flush()
		captured := payment.PaymentCaptured{PaymentID: a.PaymentID, OrderID: a.ID, Amount: eur(1000), AtProvider: true}
		e.deliverTwice(captured)
		e.deliverTwice(captured) // a second event with the same facts changes nothing either
		wantState(t, e.get(a.ID), order.StatusPaid, order.PaymentPaid, order.FulfillmentUnfulfilled)
		if got := topics(e.flush(), a.ID); !slices.Equal(got, []string{order.TopicOrderPaid}) {
			t.Fatalf("events after a provider capture: %v", got)
		}

		// Cancelled at the provider: an authorized order is cancelled and restocked, once.
		c := e.place(false, line{"c", 2, 500})
		e.flush()
		e.deliverTwice(payment.PaymentCancelled{PaymentID: c.PaymentID, OrderID: c.ID, Amount: eur(1000), AtProvider: true})
		wantState(t, e.get(c.ID), order.StatusCancelled, order.PaymentVoided, order.FulfillmentUnfulfilled)
		if e.stock.of("c") != 2 {
			t.Fatalf("restocked %d, want 2", e.stock.of("c"))
		}
		if got := topics(e.flush(), c.ID); !slices.Equal(got, []string{order.TopicOrderCancelled}) {
			t.Fatalf("events after a provider cancel: %v", got)
		}

		// A cancel at the provider after fulfilment started only marks the payment.
		f := e.place(false, line{"f", 2, 500})
		if _, err := db.ExecContext(context.Background(), `UPDATE order_orders SET status = 'partially_fulfilled' WHERE id = ?`, f.ID); err != nil {
			t.Fatal(err)
		}
		e.deliverTwice(payment.PaymentCancelled{PaymentID: f.PaymentID, OrderID: f.ID, Amount: eur(1000), AtProvider: true})
		if got := e.get(f.ID); got.Status != order.StatusPartiallyFulfilled || got.PaymentStatus != order.PaymentVoided || e.stock.of("f") != 0 ||
			got.Timeline[len(got.Timeline)-1].Kind != "payment_voided" {
			t.Fatalf("provider cancel after fulfilment: %+v", got)
		}

		// Refunded at the provider: counted once per refund id, bounded by what is left.
		r := e.place(true, line{"r", 1, 2000})
		e.flush()
		refund := payment.PaymentRefunded{PaymentID: r.PaymentID, OrderID: r.ID, RefundID: ids.New(), Amount: eur(1500), AtProvider: true}
		e.deliverTwice(refund)
		e.deliverTwice(refund) // another delivery of the same refund (a new event id) is recognised by its refund id
		got := e.get(r.ID)
		wantState(t, got, order.StatusPaid, order.PaymentPartiallyRefunded, order.FulfillmentUnfulfilled)
		if got.Refunded != eur(1500) {
			t.Fatalf("refunded %v, want 1500 once", got.Refunded)
		}
		e.deliverTwice(payment.PaymentRefunded{PaymentID: r.PaymentID, OrderID: r.ID, RefundID: ids.New(), Amount: eur(1500), AtProvider: true})
		got = e.get(r.ID)
		wantState(t, got, order.StatusRefunded, order.PaymentRefunded, order.FulfillmentUnfulfilled)
		if got.Refunded != eur(2000) {
			t.Fatalf("refunded %v, want the total", got.Refunded)
		}
		refunds := decodeAll[order.OrderRefunded](t, e.flush(), order.TopicOrderRefunded)
		if len(refunds) != 2 || !refunds[0].AtProvider || refunds[0].Amount != eur(1500) || refunds[0].RefundID != refund.RefundID || refunds[1].Amount != eur(500) {
			t.Fatalf("order.refunded %+v", refunds)
		}

		// Not for this order: captures Mercato asked for, another payment of
		// the same reference, an order that does not exist.
		n := e.place(false, line{"n", 1, 100})
		e.flush()
		e.deliverTwice(payment.PaymentCaptured{PaymentID: n.PaymentID, OrderID: n.ID, Amount: eur(100)})
		e.deliverTwice(payment.PaymentCaptured{PaymentID: "other-payment", OrderID: n.ID, Amount: eur(100), AtProvider: true})
		e.deliverTwice(payment.PaymentCancelled{PaymentID: "other-payment", OrderID: n.ID, Amount: eur(100), AtProvider: true})
		e.deliverTwice(payment.PaymentRefunded{PaymentID: n.PaymentID, OrderID: "no-such-order", RefundID: ids.New(), Amount: eur(100), AtProvider: true})
		wantState(t, e.get(n.ID), order.StatusPending, order.PaymentAuthorized, order.FulfillmentUnfulfilled)
		if evs := e.flush(); len(evs) != 0 {
			t.Fatalf("ignored payment events wrote %v", topics(evs, n.ID))
		}
	})
}

// TestProviderEventsThroughTheBus: the webhook's events reach the order
// through the relay, and a redelivery by the relay changes nothing.
func TestProviderEventsThroughTheBus(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		o := e.place(true, line{"a", 2, 1000})
		e.flush()
		p, _ := e.pay.Get(ctx, o.PaymentID)
		body, _ := json.Marshal(map[string]any{"id": "evt_1", "type": payment.EventRefunded, "data": map[string]any{"payment_ref": p.ProviderRef, "amount": 700, "refund_ref": "re_1"}})
		h := http.Header{}
		h.Set(payment.SignatureHeader, payment.NewSandbox(payment.WithWebhookSecret("whsec_test")).SignWebhook(body, time.Now()))
		if err := e.pay.HandleWebhook(ctx, body, h); err != nil {
			t.Fatal(err)
		}
		if got := e.get(o.ID); got.Refunded != eur(0) {
			t.Fatalf("the order changed before the relay ran: %+v", got.Refunded)
		}
		evs := e.flush()
		if got := topics(evs, o.ID); !slices.Equal(got, []string{order.TopicOrderRefunded}) {
			t.Fatalf("events after the webhook: %v", got)
		}
		if _, err := db.ExecContext(ctx, `UPDATE outbox_events SET published_at = NULL`); err != nil {
			t.Fatal(err)
		}
		e.flush()
		if got := e.get(o.ID); got.Refunded != eur(700) || got.PaymentStatus != order.PaymentPartiallyRefunded {
			t.Fatalf("after a redelivery: refunded %v, %s", got.Refunded, got.PaymentStatus)
		}
	})
}

// Concurrent refunds of one order, each restocking one unit of an item:
// the order's refunded total is the sum of the refunds that succeeded,
// never more than what was paid, and no unit is restocked twice.
func TestConcurrentRefunds(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		o := e.place(true, line{"a", 4, 1000})
		const workers = 8 // 8 refunds of 1,000 each against 4,000 paid and 4 units
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			ok     int64
			others []error
		)
		for range workers {
			wg.Go(func() {
				_, err := e.orders.Refund(ctx, o.ID, order.RefundInput{Amount: 1000, Restock: true,
					Items: []order.FulfillmentLine{{ItemID: o.Items[0].ID, Quantity: 1}}, Reason: "race"}, "staff")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case apperr.Is(err, apperr.Invalid), apperr.Is(err, apperr.Conflict):
				default:
					others = append(others, err)
				}
			})
		}
		wg.Wait()
		if len(others) > 0 {
			t.Fatalf("unexpected errors: %v", others)
		}
		got := e.get(o.ID)
		if ok != 4 || got.Refunded.Amount != ok*1000 {
			t.Fatalf("%d refunds succeeded, order refunded %d; want 4 and 4000", ok, got.Refunded.Amount)
		}
		if r := e.stock.of("a"); r != ok || got.Items[0].Restocked != ok {
			t.Fatalf("restocked %d in stock, %d on the item; want %d", r, got.Items[0].Restocked, ok)
		}
		p, err := e.pay.Get(ctx, o.PaymentID)
		if err != nil {
			t.Fatal(err)
		}
		if p.RefundedAmount != ok*1000 {
			t.Fatalf("payment refunded %d, want %d", p.RefundedAmount, ok*1000)
		}
	})
}
