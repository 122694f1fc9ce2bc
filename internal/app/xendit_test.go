package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/payment/xendit"
	"github.com/mercato-shop/mercato/internal/payment/xendit/xendittest"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// Xendit ships no test server: these tests run against xendittest, an
// in-memory server that follows Xendit's published API (see its package
// doc and docs/API.md).

const (
	xenditKey   = "xnd_development_mercato_app_test"
	xenditToken = "xendit-callback-token-0123456789"
)

// xenditShop is a shop in rupiah with Xendit configured against srv.
func xenditShop(t *testing.T, db *sqldb.DB, srv *xendittest.Server) *testAPI {
	cfg := shopConfig(t)
	cfg.Currency, cfg.BaseURL = "IDR", "https://shop.example"
	cfg.XenditSecretKey, cfg.XenditCallbackToken, cfg.XenditAPIBase = xenditKey, xenditToken, srv.URL
	return newShopAPI(t, db, cfg)
}

// idrProduct creates an active product priced in rupiah (minor units: sen)
// and returns its variant id.
func (a *testAPI) idrProduct(sku string, price, stock int64) string {
	a.t.Helper()
	p, err := a.app.Catalog.CreateProduct(context.Background(), catalog.ProductInput{Title: "Batik " + sku, Status: catalog.StatusActive,
		Variants: []catalog.VariantInput{{SKU: sku, Price: money.Money{Amount: price, Currency: "IDR"}, Stock: &stock, Options: map[string]string{"size": "M"}}}}, "test")
	if err != nil {
		a.t.Fatal(err)
	}
	return p.Variants[0].ID
}

// xenditCallback posts a callback body as Xendit does, with token.
func (a *testAPI) xenditCallback(body []byte, token string, opts ...reqOpt) result {
	a.t.Helper()
	if token != "" {
		opts = append(opts, header(xendit.CallbackTokenHeader, token))
	}
	return a.do("POST", "/api/v1/payments/xendit/callback", body, opts...)
}

// staffPayment is the order's payment as staff see it.
func (a *testAPI) staffPayment(orderID string) *order.PaymentSummary {
	a.t.Helper()
	var so order.StaffOrder
	a.do("GET", "/api/v1/admin/orders/"+orderID, nil, bearer(a.staff)).wantStatus(http.StatusOK).decode(&so)
	if so.Payment == nil {
		a.t.Fatalf("order %s has no payment", orderID)
	}
	return so.Payment
}

// TestXenditCheckoutCompletesByCallback: with Xendit configured, a
// checkout with pm_xendit_invoice places the order awaiting its payment
// (stock reserved, not taken) and sends the shopper to the invoice; the
// PAID callback makes it paid once and takes the stock; a wrong token
// changes nothing; a refund goes to Xendit; an EXPIRED invoice cancels its
// order and gives the stock back; the reconciler asks Xendit when a
// callback was lost, and expires invoices nobody paid in time.
func TestXenditCheckoutCompletesByCallback(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		srv := xendittest.NewServer(t, xenditKey)
		api := xenditShop(t, db, srv)
		ctx := context.Background()
		v := api.idrProduct("BATIK-1", 15_000_000, 10) // Rp 150.000,00

		place := func(qty int) (checkout.Result, xendittest.Invoice) {
			t.Helper()
			c := api.cartWith(nil, v, qty)
			var res checkout.Result
			api.checkout(c.ID, "k-"+c.ID, api.checkoutBody(c.ID, "ayu@example.co.id", xendit.MethodInvoice)).wantStatus(http.StatusCreated).decode(&res)
			ref := api.staffPayment(res.Order.ID).Reference
			inv, ok := srv.Invoice(ref)
			if !ok {
				t.Fatalf("the payment's reference %q is no invoice at Xendit", ref)
			}
			return res, inv
		}
		res, inv := place(2)
		o := res.Order
		if o.Status != order.StatusPending || o.PaymentStatus != order.PaymentAwaiting {
			t.Fatalf("order %s/%s, want pending, awaiting its payment", o.Status, o.PaymentStatus)
		}
		if p := res.Payment; p == nil || p.Provider != xendit.Name || p.Status != payment.StatusProcessing || p.NextAction == nil ||
			p.NextAction.Type != "redirect_to_url" || p.NextAction.RedirectURL != inv.InvoiceURL {
			t.Fatalf("payment %+v, want Xendit's invoice page %s as the next action", res.Payment, inv.InvoiceURL)
		}
		// Rp 300.000 (30,000,000 sen; shipping is free over 50.00), for this order's attempt.
		if inv.Amount != "300000" || inv.Currency != "IDR" || !strings.HasPrefix(inv.ExternalID, o.ID+"/pay:") ||
			inv.PayerEmail != "ayu@example.co.id" || !strings.HasPrefix(inv.SuccessRedirectURL, "https://shop.example/orders/"+o.ID+"?") || inv.Duration != 3600 {
			t.Fatalf("invoice %+v", inv)
		}
		if o.Totals.Total != (money.Money{Amount: 30_000_000, Currency: "IDR"}) {
			t.Fatalf("order total %v, want Rp 300.000", o.Totals.Total)
		}
		if l := api.stock("BATIK-1"); l.OnHand != 10 || l.Reserved != 2 {
			t.Fatalf("stock %+v, want 2 reserved for the order, none taken", l)
		}

		// Forged callbacks change nothing; the route needs no CSRF token
		// (Xendit's servers have none) but takes no bearer token in its place.
		srv.Pay(inv.ID)
		paidInv, _ := srv.Invoice(inv.ID)
		body := xendittest.Callback(paidInv)
		for _, tok := range []string{"", "wrong-token-0123456789", xenditToken + "x"} {
			api.xenditCallback(body, tok).wantProblem(http.StatusBadRequest, xendit.CallbackTokenHeader)
		}
		api.xenditCallback(body, "", bearer(api.staff)).wantProblem(http.StatusBadRequest, xendit.CallbackTokenHeader)
		drainOutbox(t, api.app)
		if n := api.rows(`SELECT COUNT(*) FROM payment_webhook_events`); n != 0 {
			t.Fatalf("refused callbacks recorded %d events", n)
		}
		if got, _ := api.app.Orders.Get(ctx, o.ID); got.PaymentStatus != order.PaymentAwaiting {
			t.Fatalf("a forged callback made the order %s", got.PaymentStatus)
		}

		// The real one, delivered twice (once cross-site, as a proxy might
		// pass it), then SETTLED: paid once.
		crossSite := func(r *http.Request) {
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Origin", "https://callbacks.xendit.co")
		}
		api.xenditCallback(body, xenditToken).wantStatus(http.StatusOK)
		api.xenditCallback(body, xenditToken, crossSite).wantStatus(http.StatusOK)
		settled := paidInv
		settled.Status = "SETTLED"
		api.xenditCallback(xendittest.Callback(settled), xenditToken).wantStatus(http.StatusOK)
		drainOutbox(t, api.app)
		got, err := api.app.Orders.Get(ctx, o.ID)
		if err != nil || got.Status != order.StatusPaid || got.PaymentStatus != order.PaymentPaid {
			t.Fatalf("after the PAID callback: %s/%s, %v; want paid", got.Status, got.PaymentStatus, err)
		}
		if l := api.stock("BATIK-1"); l.OnHand != 8 || l.Reserved != 0 {
			t.Fatalf("stock after payment %+v, want 2 taken once", l)
		}
		if n := api.rows(`SELECT COUNT(*) FROM outbox_events WHERE topic = 'order.paid' AND aggregate_id = ?`, o.ID); n != 1 {
			t.Fatalf("%d order.paid events, want 1", n)
		}

		// A refund of Rp 50.000 goes to Xendit, once; its refund callback
		// is not counted again.
		api.do("POST", "/api/v1/admin/orders/"+o.ID+"/refunds", map[string]any{"amount": 5_000_000, "reason": "torn"}, bearer(api.staff)).wantStatus(http.StatusCreated)
		if _, err := api.app.Payments.SendPendingRefunds(ctx); err != nil {
			t.Fatalf("refund at Xendit: %v", err)
		}
		rs := srv.Refunds()
		if len(rs) != 1 || rs[0].InvoiceID != inv.ID || rs[0].Amount != "50000" || rs[0].Currency != "IDR" || !strings.HasPrefix(rs[0].Key, "refund:") {
			t.Fatalf("refunds at Xendit %+v, want one of Rp 50.000", rs)
		}
		if n := api.rows(`SELECT COUNT(*) FROM payment_refunds WHERE status = 'succeeded' AND provider_ref = ?`, rs[0].ID); n != 1 {
			t.Fatalf("%d refunds recorded as sent to Xendit, want 1", n)
		}
		api.xenditCallback(xendittest.RefundCallback("refund.succeeded", rs[0]), xenditToken).wantStatus(http.StatusOK)
		drainOutbox(t, api.app)
		if got, _ := api.app.Orders.Get(ctx, o.ID); got.Refunded.Amount != 5_000_000 || got.PaymentStatus != order.PaymentPartiallyRefunded {
			t.Fatalf("after the refund: refunded %v, %s; want Rp 50.000, partially refunded", got.Refunded, got.PaymentStatus)
		}

		// An invoice that expires cancels its order and gives the stock back.
		res2, inv2 := place(3)
		if l := api.stock("BATIK-1"); l.OnHand != 8 || l.Reserved != 3 {
			t.Fatalf("stock %+v, want 3 reserved", l)
		}
		api.xenditCallback(xendittest.Callback(srv.Expire(inv2.ID)), xenditToken).wantStatus(http.StatusOK)
		drainOutbox(t, api.app)
		if got, _ := api.app.Orders.Get(ctx, res2.Order.ID); got.Status != order.StatusCancelled || got.PaymentStatus != order.PaymentVoided {
			t.Fatalf("after the EXPIRED callback: %s/%s, want cancelled", got.Status, got.PaymentStatus)
		}
		if l := api.stock("BATIK-1"); l.OnHand != 8 || l.Reserved != 0 {
			t.Fatalf("stock after expiry %+v, want the 3 back", l)
		}

		// Lost callbacks: the reconciler asks Xendit about payments still
		// processing after a while, and expires at Xendit those not paid
		// within the hour an order awaits its payment.
		res3, inv3 := place(1)
		res4, inv4 := place(1)
		srv.Pay(inv3.ID) // its callback never arrives
		backdate := func(orderID string, age time.Duration) {
			t.Helper()
			if _, err := api.app.DB.ExecContext(ctx, `UPDATE payment_payments SET created_at = ?, updated_at = ? WHERE reference = ?`, time.Now().UTC().Add(-age), time.Now().UTC().Add(-age), orderID); err != nil {
				t.Fatal(err)
			}
		}
		backdate(res3.Order.ID, 11*time.Minute)
		backdate(res4.Order.ID, checkout.DefaultAwaitPayment+time.Minute)
		if r, err := api.app.Checkout.Reconcile(ctx, orphanAge); err != nil || r.Settled != 2 {
			t.Fatalf("reconcile: %+v, %v; want both settled", r, err)
		}
		drainOutbox(t, api.app)
		if got, _ := api.app.Orders.Get(ctx, res3.Order.ID); got.Status != order.StatusPaid {
			t.Fatalf("paid invoice whose callback was lost: order %s, want paid", got.Status)
		}
		if got, _ := api.app.Orders.Get(ctx, res4.Order.ID); got.Status != order.StatusCancelled {
			t.Fatalf("invoice unpaid after an hour: order %s, want cancelled", got.Status)
		}
		if now, _ := srv.Invoice(inv4.ID); now.Status != "EXPIRED" {
			t.Fatalf("the unpaid invoice is %s at Xendit, want EXPIRED (nobody may pay a cancelled order)", now.Status)
		}
		if l := api.stock("BATIK-1"); l.OnHand != 7 || l.Reserved != 0 {
			t.Fatalf("stock after reconciling %+v, want 1 taken, 1 released", l)
		}
		// Its late EXPIRED callback changes nothing.
		api.xenditCallback(xendittest.Callback(func() xendittest.Invoice { i, _ := srv.Invoice(inv4.ID); return i }()), xenditToken).wantStatus(http.StatusOK)
		if n := srv.Created(); n != 4 {
			t.Fatalf("%d invoices at Xendit, want one per order (4)", n)
		}
	})
}

// TestXenditDeclinesWhatItCannotTake: Xendit takes whole rupiah only (it
// would drop the sen and charge less), so a total with sen is refused
// before any invoice exists: 402 naming payment_method, nothing reserved.
func TestXenditDeclinesWhatItCannotTake(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		srv := xendittest.NewServer(t, xenditKey)
		api := xenditShop(t, db, srv)
		v := api.idrProduct("SEN-1", 10_000_050, 5) // Rp 100.000,50
		c := api.cartWith(nil, v, 1)
		res := api.checkout(c.ID, "k-sen", api.checkoutBody(c.ID, "ayu@example.co.id", xendit.MethodInvoice))
		res.wantProblem(http.StatusPaymentRequired, "payment_method")
		if !strings.Contains(string(res.Body), "amount_not_supported") {
			t.Fatalf("decline without its reason: %s", res.Body)
		}
		if n := srv.Created(); n != 0 {
			t.Fatalf("%d invoices created", n)
		}
		if l := api.stock("SEN-1"); l.Reserved != 0 || l.OnHand != 5 {
			t.Fatalf("stock %+v after a declined payment", l)
		}
		// The other methods still go to the default provider.
		api.checkout(c.ID, "k-card", api.checkoutBody(c.ID, "ayu@example.co.id", "pm_card_visa")).wantStatus(http.StatusCreated)
	})
}

// TestXenditCallbackWithoutXendit: without Xendit configured the callback
// route is 404 and records nothing.
func TestXenditCallbackWithoutXendit(t *testing.T) {
	api := newShopAPI(t, sqldbtest.SQLite(t, Migrations()...), shopConfig(t))
	api.xenditCallback([]byte(`{"id":"65f0c0ffee0123456789abcd","status":"PAID"}`), xenditToken).wantProblem(http.StatusNotFound, "")
	if n := api.rows(`SELECT COUNT(*) FROM payment_webhook_events`); n != 0 {
		t.Fatalf("%d events recorded", n)
	}
}

func TestXenditSettings(t *testing.T) {
	ok := func(c Config) Config {
		c.Addr, c.DataDir, c.LogLevel, c.StaffEmail, c.Currency, c.DefaultCountry = ":8080", "d", "info", "staff@example.com", "IDR", "ID"
		return c
	}
	if err := ok(Config{}).validate(); err != nil {
		t.Fatalf("without Xendit: %v", err)
	}
	if err := ok(Config{XenditSecretKey: xenditKey, XenditCallbackToken: xenditToken, XenditAPIBase: xendit.DefaultAPIBase}).validate(); err != nil {
		t.Fatalf("with Xendit: %v", err)
	}
	for name, c := range map[string]Config{
		"token without key":   {XenditCallbackToken: xenditToken},
		"key without token":   {XenditSecretKey: xenditKey},
		"public key":          {XenditSecretKey: "xnd_public_development_abc", XenditCallbackToken: xenditToken},
		"not a Xendit key":    {XenditSecretKey: "sk_test_123", XenditCallbackToken: xenditToken},
		"short token":         {XenditSecretKey: xenditKey, XenditCallbackToken: "short"},
		"API base not http":   {XenditSecretKey: xenditKey, XenditCallbackToken: xenditToken, XenditAPIBase: "file:///etc/passwd"},
		"API base with query": {XenditSecretKey: xenditKey, XenditCallbackToken: xenditToken, XenditAPIBase: "https://api.xendit.co/?x=1"},
	} {
		if err := ok(c).validate(); err == nil || !strings.Contains(err.Error(), "MERCATO_XENDIT_") {
			t.Errorf("%s: %v, want an error naming the setting", name, err)
		}
	}
	if c := defaultConfig(func(string) string { return "" }); c.XenditAPIBase != "https://api.xendit.co" {
		t.Fatalf("default API base %q", c.XenditAPIBase)
	}
}
