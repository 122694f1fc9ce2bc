package xendit_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/payment/xendit"
	"github.com/mercato-shop/mercato/internal/payment/xendit/xendittest"
)

// The adapter is tested against xendittest, an in-memory server that
// follows Xendit's published API (Xendit ships no mock to install).

const (
	secretKey = "xnd_development_mercato_test"
	token     = "cb-token-0123456789abcdef"
)

func newProvider(t *testing.T) (*xendit.Provider, *xendittest.Server) {
	t.Helper()
	srv := xendittest.NewServer(t, secretKey)
	p, err := xendit.New(xendit.Config{SecretKey: secretKey, CallbackToken: token, APIBase: srv.URL, ShopURL: "https://shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	return p, srv
}

func idr(amount int64) money.Money { return money.Money{Amount: amount, Currency: "IDR"} }

func request(ref, key string, m money.Money) payment.AuthorizeRequest {
	return payment.AuthorizeRequest{Amount: m, PaymentMethod: xendit.MethodInvoice, Capture: true, Reference: ref, IdempotencyKey: key,
		Email: "ayu@example.co.id", Description: "Order " + ref}
}

// TestAmountConversion: Mercato counts minor units (ISO 4217: IDR has two
// decimals, sen; VND none); Xendit takes major units, and IDR only whole.
func TestAmountConversion(t *testing.T) {
	for _, tt := range []struct {
		m       money.Money
		want    string
		wantErr bool
	}{
		{idr(15_000_000), "150000", false}, // Rp 150.000,00
		{idr(100), "1", false},
		{idr(1_000_050), "", true}, // Rp 10.000,50: Xendit would drop the sen
		{idr(0), "", true},
		{money.Money{Amount: 12345, Currency: "PHP"}, "123.45", false},
		{money.Money{Amount: 5, Currency: "USD"}, "0.05", false},
		{money.Money{Amount: 50000, Currency: "VND"}, "50000", false},
		{money.Money{Amount: 999, Currency: "THB"}, "9.99", false},
		{money.Money{Amount: 1000, Currency: "EUR"}, "", true}, // not an invoice currency
	} {
		got, err := xendit.Amount(tt.m)
		if (err != nil) != tt.wantErr || string(got) != tt.want {
			t.Errorf("Amount(%v) = %q, %v; want %q (error %v)", tt.m, got, err, tt.want, tt.wantErr)
		}
	}
	for _, tt := range []struct {
		n        string
		currency string
		want     int64
		wantErr  bool
	}{
		{"150000", "IDR", 15_000_000, false},
		{"8500000.00", "IDR", 850_000_000, false},
		{"1e3", "IDR", 100_000, false},
		{"123.45", "PHP", 12345, false},
		{"123.456", "PHP", 0, true},
		{"50000", "VND", 50000, false},
		{"0.5", "VND", 0, true},
		{"-1", "IDR", 0, true},
		{"abc", "IDR", 0, true},
		{"1e30", "IDR", 0, true},
	} {
		got, err := xendit.Minor(json.Number(tt.n), tt.currency)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Minor(%s %s) = %d, %v; want %d (error %v)", tt.n, tt.currency, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestAuthorizeCreatesOneInvoicePerAttempt: the invoice carries the
// amount in rupiah, the attempt's external_id, the payer, the duration and
// the way back to the shop; the answer is pending with the invoice's page
// as the next action; asking again with the same key finds that invoice
// instead of making another.
func TestAuthorizeCreatesOneInvoicePerAttempt(t *testing.T) {
	p, srv := newProvider(t)
	ctx := context.Background()
	req := request("ord-1", "pay:p-1", idr(15_000_000))
	res, err := p.Authorize(ctx, req)
	if err != nil || !res.Pending || res.Declined || res.Captured || res.ProviderRef == "" {
		t.Fatalf("Authorize = %+v, %v; want pending", res, err)
	}
	inv, ok := srv.Invoice(res.ProviderRef)
	if !ok {
		t.Fatalf("no invoice %s at Xendit", res.ProviderRef)
	}
	if res.NextAction == nil || res.NextAction.Type != "redirect_to_url" || res.NextAction.RedirectURL != inv.InvoiceURL {
		t.Fatalf("next action %+v, want redirect_to_url %s", res.NextAction, inv.InvoiceURL)
	}
	var sent map[string]any
	if err := json.Unmarshal(inv.Raw, &sent); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"external_id": "ord-1/pay:p-1", "amount": 150000.0, "currency": "IDR", "payer_email": "ayu@example.co.id",
		"description": "Order ord-1", "invoice_duration": 3600.0,
		"success_redirect_url": "https://shop.example/orders/ord-1", "failure_redirect_url": "https://shop.example/orders/ord-1"}
	if g, w := mustJSON(sent), mustJSON(want); g != w {
		t.Fatalf("invoice request\n%s\nwant\n%s", g, w)
	}

	again, err := p.Authorize(ctx, req)
	if err != nil || again.ProviderRef != res.ProviderRef || !again.Pending {
		t.Fatalf("Authorize again = %+v, %v; want the same invoice %s", again, err, res.ProviderRef)
	}
	if n := srv.Created(); n != 1 {
		t.Fatalf("%d invoices created for one attempt, want 1", n)
	}
	// Once paid, asking again answers captured: what Resolve records.
	srv.Pay(res.ProviderRef)
	if again, err = p.Authorize(ctx, req); err != nil || !again.Captured || again.ProviderRef != res.ProviderRef {
		t.Fatalf("Authorize after payment = %+v, %v; want captured", again, err)
	}
	// Another attempt is another invoice.
	other, err := p.Authorize(ctx, request("ord-1", "pay:p-2", idr(15_000_000)))
	if err != nil || other.ProviderRef == res.ProviderRef || srv.Created() != 2 {
		t.Fatalf("second attempt = %+v, %v (%d invoices)", other, err, srv.Created())
	}
}

// TestAuthorizeDeclinesWhatXenditCannotTake: no request leaves for an
// amount Xendit would change or a currency it does not invoice in.
func TestAuthorizeDeclinesWhatXenditCannotTake(t *testing.T) {
	p, srv := newProvider(t)
	for name, req := range map[string]payment.AuthorizeRequest{
		"sen":            request("ord-2", "pay:p-3", idr(1_000_050)),
		"euro":           request("ord-2", "pay:p-4", money.Money{Amount: 1000, Currency: "EUR"}),
		"unknown method": {Amount: idr(100_000), PaymentMethod: "pm_xendit_qris", Reference: "ord-2", IdempotencyKey: "pay:p-5"},
	} {
		res, err := p.Authorize(context.Background(), req)
		if err != nil || !res.Declined || res.DeclineCode == "" || res.Message == "" {
			t.Errorf("%s: %+v, %v; want declined with a reason", name, res, err)
		}
	}
	if n := srv.Created(); n != 0 {
		t.Fatalf("%d invoices created", n)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	p, srv := newProvider(t)
	srv.FailNext(1)
	if res, err := p.Authorize(context.Background(), request("ord-3", "pay:p-6", idr(100_000))); err == nil || res.Declined {
		t.Fatalf("during an outage: %+v, %v; want an error (outcome unknown), not a decline", res, err)
	}
	bad, err := xendit.New(xendit.Config{SecretKey: "xnd_development_wrong", APIBase: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Authorize(context.Background(), request("ord-3", "pay:p-7", idr(100_000)))
	var xe *xendit.Error
	if !errors.As(err, &xe) || xe.Status != http.StatusUnauthorized || xe.Code != "INVALID_API_KEY" {
		t.Fatalf("with a wrong key: %v; want Xendit's 401 INVALID_API_KEY", err)
	}
	if strings.Contains(err.Error(), "xnd_development_wrong") {
		t.Fatalf("the error shows the secret key: %v", err)
	}
}

// TestLookupVoidCaptureRefund: the reconciler's and the order's calls.
func TestLookupVoidCaptureRefund(t *testing.T) {
	p, srv := newProvider(t)
	ctx := context.Background()
	pending, _ := p.Authorize(ctx, request("ord-4", "pay:p-8", idr(20_000_000)))
	if res, err := p.Lookup(ctx, pending.ProviderRef); err != nil || !res.Pending || res.NextAction == nil {
		t.Fatalf("Lookup of a pending invoice = %+v, %v", res, err)
	}
	if err := p.Capture(ctx, pending.ProviderRef, idr(20_000_000), "capture:p-8"); err == nil {
		t.Fatal("captured an unpaid invoice")
	}
	// Void expires it; voiding again is fine.
	for range 2 {
		if err := p.Void(ctx, pending.ProviderRef, "void:p-8"); err != nil {
			t.Fatalf("Void: %v", err)
		}
	}
	if inv, _ := srv.Invoice(pending.ProviderRef); inv.Status != "EXPIRED" {
		t.Fatalf("voided invoice is %s at Xendit", inv.Status)
	}
	if res, err := p.Lookup(ctx, pending.ProviderRef); err != nil || !res.Declined || res.DeclineCode != "expired" {
		t.Fatalf("Lookup of an expired invoice = %+v, %v", res, err)
	}

	paid, _ := p.Authorize(ctx, request("ord-5", "pay:p-9", idr(20_000_000)))
	srv.Pay(paid.ProviderRef)
	if res, err := p.Lookup(ctx, paid.ProviderRef); err != nil || !res.Captured {
		t.Fatalf("Lookup of a paid invoice = %+v, %v", res, err)
	}
	if err := p.Capture(ctx, paid.ProviderRef, idr(20_000_000), "capture:p-9"); err != nil {
		t.Fatalf("Capture of a paid invoice: %v", err)
	}
	if err := p.Void(ctx, paid.ProviderRef, "void:p-9"); err == nil {
		t.Fatal("voided a paid invoice")
	}
	// A refund, sent twice with one key, is one refund of Rp 50.000.
	var ids []string
	for range 2 {
		id, err := p.Refund(ctx, paid.ProviderRef, idr(5_000_000), "refund:r-1")
		if err != nil || !strings.HasPrefix(id, "rfd-") {
			t.Fatalf("Refund = %q, %v", id, err)
		}
		ids = append(ids, id)
	}
	rs := srv.Refunds()
	if ids[0] != ids[1] || len(rs) != 1 || rs[0].Amount != "50000" || rs[0].Currency != "IDR" || rs[0].Key != "refund:r-1" || rs[0].InvoiceID != paid.ProviderRef {
		t.Fatalf("refunds %v at Xendit %+v", ids, rs)
	}
	if _, err := p.Refund(ctx, paid.ProviderRef, idr(5_000_050), "refund:r-2"); err == nil {
		t.Fatal("refunded an amount with sen")
	}
}

// TestRequestsGoOnlyToTheConfiguredAPI: the API address comes from the
// configuration only; ids that are not ids never reach a URL; redirects
// are not followed.
func TestRequestsGoOnlyToTheConfiguredAPI(t *testing.T) {
	for _, base := range []string{"ftp://api.xendit.co", "https://user:pw@api.xendit.co", "https://api.xendit.co/?a=b", "api.xendit.co", "https://"} {
		if _, err := xendit.New(xendit.Config{SecretKey: secretKey, APIBase: base}); err == nil {
			t.Errorf("API base %q accepted", base)
		}
	}
	var elsewhere, hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()
	p, err := xendit.New(xendit.Config{SecretKey: secretKey, APIBase: redirecting.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ref := range []string{"../../admin", "a/b", "x?y=1", "", "%2e%2e"} {
		if _, err := p.Lookup(ctx, ref); err == nil {
			t.Errorf("Lookup(%q) succeeded", ref)
		}
		if err := p.Void(ctx, ref, "void:x"); err == nil {
			t.Errorf("Void(%q) succeeded", ref)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests for ids that are not ids", hits.Load())
	}
	if _, err := p.Lookup(ctx, "65f0c0ffee0123456789abcd"); err == nil {
		t.Fatal("a redirect was taken as an answer")
	}
	if hits.Load() != 1 || elsewhere.Load() != 0 {
		t.Fatalf("requests: %d to the API, %d to where it redirected (want 1, 0)", hits.Load(), elsewhere.Load())
	}
}

// TestParseWebhook: the callback token, and what each callback means.
func TestParseWebhook(t *testing.T) {
	p, srv := newProvider(t)
	ctx := context.Background()
	res, _ := p.Authorize(ctx, request("ord-6", "pay:p-10", idr(10_000_000)))
	paid := srv.Pay(res.ProviderRef)
	body := xendittest.Callback(paid)

	ev, err := p.ParseWebhook(body, xendittest.CallbackHeader(token))
	if err != nil || ev.Type != payment.EventSucceeded || ev.ProviderRef != paid.ID || ev.ID != paid.ID+":PAID" {
		t.Fatalf("PAID callback = %+v, %v", ev, err)
	}
	settled := paid
	settled.Status = "SETTLED"
	if ev, err := p.ParseWebhook(xendittest.Callback(settled), xendittest.CallbackHeader(token)); err != nil || ev.Type != payment.EventSucceeded || ev.ID == paid.ID+":PAID" {
		t.Fatalf("SETTLED callback = %+v, %v", ev, err)
	}
	expired := paid
	expired.Status = "EXPIRED"
	if ev, err := p.ParseWebhook(xendittest.Callback(expired), xendittest.CallbackHeader(token)); err != nil || ev.Type != payment.EventCanceled || ev.ProviderRef != paid.ID {
		t.Fatalf("EXPIRED callback = %+v, %v", ev, err)
	}
	other := paid
	other.Status = "SOMETHING_NEW"
	if ev, err := p.ParseWebhook(xendittest.Callback(other), xendittest.CallbackHeader(token)); err != nil || ev.ProviderRef != "-" {
		t.Fatalf("unknown status = %+v, %v; want acknowledged, not acted on", ev, err)
	}
	rf := xendittest.Refund{ID: "rfd-1", InvoiceID: paid.ID, Amount: "25000", Currency: "IDR", Created: time.Now().Format(time.RFC3339)}
	if ev, err := p.ParseWebhook(xendittest.RefundCallback("refund.succeeded", rf), xendittest.CallbackHeader(token)); err != nil ||
		ev.Type != payment.EventRefunded || ev.ProviderRef != paid.ID || ev.RefundRef != "rfd-1" || ev.Amount != 2_500_000 {
		t.Fatalf("refund.succeeded = %+v, %v; want a refund of 2500000 sen", ev, err)
	}
	if ev, err := p.ParseWebhook(xendittest.RefundCallback("refund.failed", rf), xendittest.CallbackHeader(token)); err != nil || ev.ProviderRef != "-" {
		t.Fatalf("refund.failed = %+v, %v; want acknowledged", ev, err)
	}

	for name, h := range map[string]http.Header{
		"wrong token":  xendittest.CallbackHeader("cb-token-0123456789abcdeX"),
		"longer token": xendittest.CallbackHeader(token + "x"),
		"no token":     {},
	} {
		if _, err := p.ParseWebhook(body, h); !isField(err, xendit.CallbackTokenHeader) {
			t.Errorf("%s: %v, want Invalid naming %s", name, err, xendit.CallbackTokenHeader)
		}
	}
	off, _ := xendit.New(xendit.Config{SecretKey: secretKey, APIBase: srv.URL})
	if _, err := off.ParseWebhook(body, xendittest.CallbackHeader("")); !isField(err, xendit.CallbackTokenHeader) {
		t.Errorf("without a configured token: %v, want Invalid", err)
	}
	for _, b := range []string{`not json`, `{"status":"PAID"}`, `{"id":"x"}`, `{"event":"refund.succeeded","data":{}}`,
		`{"event":"refund.succeeded","data":{"id":"rfd-2","invoice_id":"i","amount":1.505,"currency":"IDR"}}`, "{\"id\":\"\xff\",\"status\":\"PAID\"}"} {
		if _, err := p.ParseWebhook([]byte(b), xendittest.CallbackHeader(token)); !isField(err, "body") {
			t.Errorf("body %q: %v, want Invalid naming body", b, err)
		}
	}
}

func isField(err error, field string) bool {
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Invalid {
		return false
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMethods(t *testing.T) {
	p, _ := newProvider(t)
	ms := p.Methods()
	if len(ms) != 1 || ms[0].ID != xendit.MethodInvoice || !payment.ValidMethod(ms[0].ID) {
		t.Fatalf("Methods = %+v", ms)
	}
	if !p.Accepts(xendit.MethodInvoice) || p.Accepts("pm_card_visa") {
		t.Fatal("Accepts takes the wrong methods")
	}
}
