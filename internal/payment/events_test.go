package payment_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// published runs a relay into a recording bus: each call returns the
// events published since the last one.
type published struct {
	t     *testing.T
	relay *outbox.Relay
	mu    sync.Mutex
	evs   []outbox.Event
}

func newPublished(t *testing.T, db *sqldb.DB) *published {
	p := &published{t: t}
	bus := outbox.NewLocalBus()
	bus.Subscribe("recorder", []string{"*"}, func(_ context.Context, e outbox.Event) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.evs = append(p.evs, e)
		return nil
	})
	p.relay = outbox.NewRelay(db, bus, slog.New(slog.DiscardHandler), time.Hour)
	return p
}

func (p *published) next() []outbox.Event {
	p.t.Helper()
	for {
		n, err := p.relay.Flush(context.Background())
		if err != nil {
			p.t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.evs
	p.evs = nil
	return out
}

// one returns the only event, decoded into T, and its payload's keys.
func one[T any](t *testing.T, evs []outbox.Event, topic string) (T, []string) {
	t.Helper()
	var v T
	if len(evs) != 1 || evs[0].Topic != topic {
		t.Fatalf("events %+v, want one %s", evs, topic)
	}
	if err := evs[0].Decode(&v); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.Unmarshal(evs[0].Payload, &raw)
	return v, slices.Sorted(maps.Keys(raw))
}

func TestEventsCarryPaymentFacts(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := payment.NewService(db, payment.NewSandbox(payment.WithWebhookSecret("whsec_test")))
		pub := newPublished(t, db)

		// Paid with capture, not yet claimed: the order id is the reference.
		p, err := svc.Pay(ctx, "order-1", eur(1000), "pm_card_visa", true)
		if err != nil {
			t.Fatal(err)
		}
		c, keys := one[payment.PaymentCaptured](t, pub.next(), payment.TopicPaymentCaptured)
		if c != (payment.PaymentCaptured{PaymentID: p.ID, OrderID: "order-1", Amount: eur(1000)}) {
			t.Fatalf("payment.captured %+v", c)
		}
		if want := []string{"amount", "at_provider", "order_id", "payment_id"}; !slices.Equal(keys, want) {
			t.Fatalf("payment.captured fields %v, want %v", keys, want)
		}
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { return svc.AttachOrder(ctx, tx, p.ID, "order-1b") }); err != nil {
			t.Fatal(err)
		}

		// A refund names the claiming order and the refund id Refund returned;
		// nothing about the customer.
		rid, err := svc.Refund(ctx, nil, p.ID, 300, "damaged")
		if err != nil {
			t.Fatal(err)
		}
		r, keys := one[payment.PaymentRefunded](t, pub.next(), payment.TopicPaymentRefunded)
		if r != (payment.PaymentRefunded{PaymentID: p.ID, OrderID: "order-1b", RefundID: rid, Amount: eur(300)}) {
			t.Fatalf("payment.refunded %+v", r)
		}
		if want := []string{"amount", "at_provider", "order_id", "payment_id", "refund_id"}; !slices.Equal(keys, want) {
			t.Fatalf("payment.refunded fields %v, want %v", keys, want)
		}

		// Capture of an authorization, and a void.
		a, _ := svc.Pay(ctx, "order-2", eur(500), "pm_card_mastercard", false)
		if evs := pub.next(); len(evs) != 0 {
			t.Fatalf("an authorization wrote %v", evs)
		}
		if _, err := svc.Capture(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if c, _ := one[payment.PaymentCaptured](t, pub.next(), payment.TopicPaymentCaptured); c.PaymentID != a.ID || c.Amount != eur(500) || c.AtProvider {
			t.Fatalf("payment.captured on capture %+v", c)
		}
		if _, err := svc.Capture(ctx, a.ID); err != nil || len(pub.next()) != 0 {
			t.Fatalf("a second capture: %v, or wrote an event", err)
		}
		b, _ := svc.Pay(ctx, "order-3", eur(700), "pm_card_visa", false)
		if err := svc.Void(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		v, _ := one[payment.PaymentCancelled](t, pub.next(), payment.TopicPaymentCancelled)
		if v != (payment.PaymentCancelled{PaymentID: b.ID, OrderID: "order-3", Amount: eur(700)}) {
			t.Fatalf("payment.cancelled %+v", v)
		}
		if err := svc.Void(ctx, b.ID); err != nil || len(pub.next()) != 0 {
			t.Fatalf("a second void: %v, or wrote an event", err)
		}

		// The compensation of a checkout without an order refunds in full;
		// its event names the reference (there is no order to name).
		x, _ := svc.Pay(ctx, "order-4", eur(900), "pm_card_visa", true)
		pub.next()
		if ok, err := svc.Cancel(ctx, x.ID, "no order"); err != nil || !ok {
			t.Fatal(err)
		}
		if r, _ := one[payment.PaymentRefunded](t, pub.next(), payment.TopicPaymentRefunded); r.OrderID != "order-4" || r.Amount != eur(900) || r.AtProvider {
			t.Fatalf("payment.refunded of a compensation %+v", r)
		}

		// Every event is declared.
		var topics []string
		for _, m := range payment.Events() {
			topics = append(topics, m.EventTopic())
		}
		if want := []string{"payment.authorized", "payment.captured", "payment.cancelled", "payment.refunded"}; !slices.Equal(topics, want) {
			t.Fatalf("Events() topics %v, want %v", topics, want)
		}
	})
}

// hook sends a sandbox-signed provider notification to HandleWebhook.
func hook(ctx context.Context, svc *payment.Service, id, typ, ref string, amount int64, refundRef string) error {
	body, _ := json.Marshal(map[string]any{"id": id, "type": typ, "data": map[string]any{"payment_ref": ref, "amount": amount, "refund_ref": refundRef}})
	h := http.Header{}
	h.Set(payment.SignatureHeader, payment.NewSandbox(payment.WithWebhookSecret("whsec_test")).SignWebhook(body, time.Now()))
	return svc.HandleWebhook(ctx, body, h)
}

func TestWebhookPaths(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := payment.NewService(db, payment.NewSandbox(payment.WithWebhookSecret("whsec_test")))
		pub := newPublished(t, db)
		get := func(id string) payment.Payment {
			t.Helper()
			p, err := svc.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}

		// A bad signature is Invalid and changes nothing.
		a, _ := svc.Pay(ctx, "order-a", eur(1000), "pm_card_mastercard", false)
		body := []byte(`{"id":"evt_bad","type":"payment_intent.succeeded","data":{"payment_ref":"` + a.ProviderRef + `"}}`)
		h := http.Header{}
		h.Set(payment.SignatureHeader, "t=1,v1=00")
		if err := svc.HandleWebhook(ctx, body, h); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("bad signature: %v", err)
		}
		if get(a.ID).Status != payment.StatusAuthorized {
			t.Fatal("a refused webhook captured the payment")
		}

		// Captured at the provider: recorded and announced once, with at_provider.
		for range 2 {
			if err := hook(ctx, svc, "evt_cap", payment.EventSucceeded, a.ProviderRef, 0, ""); err != nil {
				t.Fatal(err)
			}
		}
		if got := get(a.ID); got.Status != payment.StatusCaptured || got.CapturedAmount != 1000 {
			t.Fatalf("after the capture webhook: %+v", got)
		}
		if c, _ := one[payment.PaymentCaptured](t, pub.next(), payment.TopicPaymentCaptured); c != (payment.PaymentCaptured{PaymentID: a.ID, OrderID: "order-a", Amount: eur(1000), AtProvider: true}) {
			t.Fatalf("payment.captured from the webhook %+v", c)
		}
		// A cancel of a captured payment changes nothing.
		if err := hook(ctx, svc, "evt_late_cancel", payment.EventCanceled, a.ProviderRef, 0, ""); err != nil {
			t.Fatal(err)
		}
		if get(a.ID).Status != payment.StatusCaptured || len(pub.next()) != 0 {
			t.Fatal("a cancel webhook undid a capture")
		}

		// Cancelled at the provider.
		b, _ := svc.Pay(ctx, "order-b", eur(400), "pm_card_mastercard", false)
		if err := hook(ctx, svc, "evt_cancel", payment.EventCanceled, b.ProviderRef, 0, ""); err != nil {
			t.Fatal(err)
		}
		if get(b.ID).Status != payment.StatusVoided {
			t.Fatal("not voided")
		}
		if v, _ := one[payment.PaymentCancelled](t, pub.next(), payment.TopicPaymentCancelled); !v.AtProvider || v.PaymentID != b.ID || v.OrderID != "order-b" {
			t.Fatalf("payment.cancelled from the webhook %+v", v)
		}

		// Refunded at the provider: recorded under its reference, announced
		// with a refund id of Mercato's; a redelivery or the report of a
		// refund Mercato made itself adds nothing; more than is left is capped.
		for range 2 {
			if err := hook(ctx, svc, "evt_ref_1", payment.EventRefunded, a.ProviderRef, 300, "re_1"); err != nil {
				t.Fatal(err)
			}
		}
		r, _ := one[payment.PaymentRefunded](t, pub.next(), payment.TopicPaymentRefunded)
		if !r.AtProvider || r.Amount != eur(300) || r.RefundID == "" || r.OrderID != "order-a" {
			t.Fatalf("payment.refunded from the webhook %+v", r)
		}
		var ref string
		db.QueryRowContext(ctx, `SELECT provider_ref FROM payment_refunds WHERE id = ?`, r.RefundID).Scan(&ref)
		if ref != "re_1" {
			t.Fatalf("refund recorded under %q, want re_1", ref)
		}
		own, err := svc.Refund(ctx, nil, a.ID, 200, "ours")
		if err != nil {
			t.Fatal(err)
		}
		pub.next()
		db.QueryRowContext(ctx, `SELECT provider_ref FROM payment_refunds WHERE id = ?`, own).Scan(&ref)
		if err := hook(ctx, svc, "evt_ref_own", payment.EventRefunded, a.ProviderRef, 200, ref); err != nil {
			t.Fatal(err)
		}
		if got := get(a.ID); got.RefundedAmount != 500 || len(pub.next()) != 0 {
			t.Fatalf("the report of Mercato's own refund counted again: %+v", got)
		}
		if err := hook(ctx, svc, "evt_ref_2", payment.EventRefunded, a.ProviderRef, 9999, "re_2"); err != nil {
			t.Fatal(err)
		}
		if got := get(a.ID); got.RefundedAmount != 1000 || got.Status != payment.StatusRefunded {
			t.Fatalf("after a refund of more than was left: %+v", got)
		}
		if r, _ := one[payment.PaymentRefunded](t, pub.next(), payment.TopicPaymentRefunded); r.Amount != eur(500) {
			t.Fatalf("capped refund announced as %+v", r)
		}
		if err := hook(ctx, svc, "evt_ref_3", payment.EventRefunded, a.ProviderRef, 100, "re_3"); err != nil || len(pub.next()) != 0 {
			t.Fatalf("a refund with nothing left: %v, or announced", err)
		}

		// Unknown payments and event types are acknowledged and ignored.
		if err := hook(ctx, svc, "evt_unknown", payment.EventSucceeded, "sb_pi_nope", 0, ""); err != nil {
			t.Fatal(err)
		}
		if err := hook(ctx, svc, "evt_other", "charge.dispute.created", a.ProviderRef, 0, ""); err != nil {
			t.Fatal(err)
		}
		if evs := pub.next(); len(evs) != 0 {
			t.Fatalf("ignored webhooks wrote %v", evs)
		}
	})
}
