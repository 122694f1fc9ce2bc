package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment/stripe"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

const stripeWebhookSecret = "whsec_test_mercato_stripe"

var stripeMockOnce = sync.OnceValues(startStripeMock)

// startStripeMock finds stripe-mock: one already answering on 12111, or
// the binary (PATH, or $HOME/go/bin) started on a free port for this test
// binary's life.
func startStripeMock() (string, error) {
	if c, err := net.DialTimeout("tcp", "127.0.0.1:12111", 200*time.Millisecond); err == nil {
		c.Close()
		return "http://127.0.0.1:12111", nil
	}
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, "go", "bin", "stripe-mock")
		if _, serr := os.Stat(bin); serr != nil {
			return "", fmt.Errorf("stripe-mock is not installed (go install github.com/stripe/stripe-mock@latest): %v", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-http-port", fmt.Sprint(port), "-https-port", "0")
	if err := cmd.Start(); err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for range 100 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return "http://" + addr, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	return "", fmt.Errorf("stripe-mock did not start on %s", addr)
}

func stripeMock(t *testing.T) string {
	t.Helper()
	u, err := stripeMockOnce()
	if err != nil {
		if sqldbtest.RequireServices() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return u
}

// stripeEvent posts a Stripe event about a PaymentIntent to the Stripe
// webhook route, signed as Stripe signs them (stripe-go's test helper).
func (a *testAPI) stripeEvent(id, typ string, object map[string]any, secret string) result {
	a.t.Helper()
	payload, _ := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "api_version": "2025-01-27.acacia",
		"created": time.Now().Unix(), "data": map[string]any{"object": object}})
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now()})
	return a.do("POST", "/api/v1/payments/stripe/webhook", json.RawMessage(payload), header(stripe.SignatureHeader, signed.Header))
}

// TestStripeCheckoutCompletesByWebhook: with Stripe configured (against
// stripe-mock, which answers every PaymentIntent "requires_payment_method"),
// a card checkout places the order awaiting its payment (its stock
// reserved, not taken) and tells the client what to do next; the signed
// payment_intent.succeeded event makes it paid exactly once and takes the
// stock; a failed payment cancels its order and gives the stock back; a bad
// signature changes nothing; a refund goes to Stripe.
func TestStripeCheckoutCompletesByWebhook(t *testing.T) {
	base := stripeMock(t)
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		cfg := shopConfig(t)
		cfg.StripeSecretKey, cfg.StripeWebhookSecret, cfg.StripeAPIBase = "sk_test_123", stripeWebhookSecret, base
		api := newShopAPI(t, db, cfg)
		ctx := context.Background()
		v := api.product("STRIPE-1", 2500, 5)

		place := func() checkout.Result {
			c := api.cartWith(nil, v, 2)
			var res checkout.Result
			api.checkout(c.ID, "k-"+c.ID, api.checkoutBody(c.ID, "card@example.com", "pm_card_visa")).wantStatus(http.StatusCreated).decode(&res)
			return res
		}
		res := place()
		o := res.Order
		if o.PaymentStatus != order.PaymentAwaiting || o.Status != order.StatusPending {
			t.Fatalf("order %s/%s, want pending, awaiting its payment", o.Status, o.PaymentStatus)
		}
		if res.Payment == nil || res.Payment.Provider != "stripe" || res.Payment.NextAction == nil || res.Payment.NextAction.ClientSecret == "" {
			t.Fatalf("payment %+v, want Stripe's next action with a client secret", res.Payment)
		}
		if l := api.stock("STRIPE-1"); l.OnHand != 5 || l.Reserved != 2 {
			t.Fatalf("stock %+v, want 2 reserved for the order, none taken", l)
		}
		var staffView order.StaffOrder
		api.do("GET", "/api/v1/admin/orders/"+o.ID, nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&staffView)
		if p := staffView.Payment; p == nil || p.Provider != "stripe" || len(p.Reference) < 4 || p.Reference[:3] != "pi_" {
			t.Fatalf("staff see the payment %+v, want Stripe's PaymentIntent", p)
		}
		pi := staffView.Payment.Reference

		// A forged event changes nothing.
		api.stripeEvent("evt_forged", "payment_intent.succeeded", map[string]any{"id": pi, "object": "payment_intent", "status": "succeeded"}, "whsec_wrong").
			wantProblem(http.StatusBadRequest, stripe.SignatureHeader)
		drainOutbox(t, api.app)
		if got, _ := api.app.Orders.Get(ctx, o.ID); got.PaymentStatus != order.PaymentAwaiting {
			t.Fatalf("a forged event made the order %s", got.PaymentStatus)
		}

		// The real one, delivered twice.
		for range 2 {
			api.stripeEvent("evt_ok_1", "payment_intent.succeeded", map[string]any{"id": pi, "object": "payment_intent", "status": "succeeded"}, stripeWebhookSecret).
				wantStatus(http.StatusOK)
			drainOutbox(t, api.app)
		}
		got, err := api.app.Orders.Get(ctx, o.ID)
		if err != nil || got.PaymentStatus != order.PaymentPaid || got.Status != order.StatusPaid {
			t.Fatalf("after the succeeded event: %s/%s, %v; want paid", got.Status, got.PaymentStatus, err)
		}
		if l := api.stock("STRIPE-1"); l.OnHand != 3 || l.Reserved != 0 {
			t.Fatalf("stock after payment %+v, want 2 taken once", l)
		}
		if n := api.rows(`SELECT COUNT(*) FROM outbox_events WHERE topic = 'order.paid' AND aggregate_id = ?`, o.ID); n != 1 {
			t.Fatalf("%d order.paid events, want 1", n)
		}

		// A refund goes through Stripe (stripe-mock answers it).
		api.do("POST", "/api/v1/admin/orders/"+o.ID+"/refunds", map[string]any{"amount": 1000, "reason": "damaged"}, bearer(api.staff)).wantStatus(http.StatusCreated)
		if _, err := api.app.Payments.SendPendingRefunds(ctx); err != nil {
			t.Fatalf("refund at Stripe: %v", err)
		}
		if n := api.rows(`SELECT COUNT(*) FROM payment_refunds WHERE status = 'succeeded' AND provider_ref LIKE 're_%'`); n != 1 {
			t.Fatalf("%d refunds sent to Stripe, want 1", n)
		}

		// A failed payment cancels its order and gives the stock back.
		failed := place().Order
		var fv order.StaffOrder
		api.do("GET", "/api/v1/admin/orders/"+failed.ID, nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&fv)
		api.stripeEvent("evt_fail_1", "payment_intent.payment_failed", map[string]any{"id": fv.Payment.Reference, "object": "payment_intent", "status": "requires_payment_method",
			"last_payment_error": map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}}, stripeWebhookSecret).
			wantStatus(http.StatusOK)
		drainOutbox(t, api.app)
		if got, _ := api.app.Orders.Get(ctx, failed.ID); got.Status != order.StatusCancelled || got.PaymentStatus != order.PaymentVoided {
			t.Fatalf("after the failed event: %s/%s, want cancelled", got.Status, got.PaymentStatus)
		}
		if l := api.stock("STRIPE-1"); l.OnHand != 3 || l.Reserved != 0 {
			t.Fatalf("stock after the failed payment %+v, want its 2 back", l)
		}
		if p, _ := api.app.Payments.Get(ctx, fv.Payment.ID); p.DeclineCode != "insufficient_funds" {
			t.Fatalf("failed payment recorded %+v", p)
		}
	})
}
