package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// Storefront payment pages and GET /api/v1/payment-methods with each kind
// of provider: the sandbox (test cards), Stripe against stripe-mock (cards
// in Stripe Elements, 3-D Secure with Stripe.js), and a provider paid on
// its own page (hostedProvider, shaped like Xendit's invoices).

// hostedProvider takes pm_hosted_invoice and answers every payment
// "processing", with the shopper sent to its page; its webhooks are plain
// JSON {"id","type","ref"} (tests only). Its method's name and its page's
// address hold markup, which the pages must escape.
type hostedProvider struct {
	payment.Provider // not called
	mu               sync.Mutex
	returns          []string // the return addresses it was given
}

const hostedName = `Invoice <b>"&"</b>`

func (*hostedProvider) Name() string               { return "hosted" }
func (*hostedProvider) Accepts(method string) bool { return method == "pm_hosted_invoice" }
func (*hostedProvider) Methods() []payment.Method {
	return []payment.Method{{ID: "pm_hosted_invoice", Name: hostedName}}
}

func (p *hostedProvider) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.Result, error) {
	p.mu.Lock()
	p.returns = append(p.returns, req.ReturnURL)
	p.mu.Unlock()
	ref := "inv_" + strings.ReplaceAll(req.Reference, "-", "")
	return payment.Result{ProviderRef: ref, Pending: true,
		NextAction: &payment.NextAction{Type: payment.NextActionRedirect, RedirectURL: "https://pay.example/inv/" + ref + `?x="><script>alert(1)</script>`}}, nil
}

func (*hostedProvider) Void(ctx context.Context, ref, key string) error { return nil }

func (*hostedProvider) ParseWebhook(payload []byte, header http.Header) (payment.WebhookEvent, error) {
	var ev struct{ ID, Type, Ref string }
	if err := json.Unmarshal(payload, &ev); err != nil {
		return payment.WebhookEvent{}, apperr.Field("body", "not an event")
	}
	return payment.WebhookEvent{ID: ev.ID, Type: ev.Type, ProviderRef: ev.Ref}, nil
}

// pageClient is a browser of the app's pages: it keeps cookies and does
// not follow redirects.
type pageClient struct {
	t       testing.TB
	h       http.Handler
	cookies map[string]string
	headers []string
}

type page struct {
	code     int
	header   http.Header
	body     string
	location string
}

func (a *testAPI) browser(headers ...string) *pageClient {
	return &pageClient{t: a.t, h: a.h, cookies: map[string]string{}, headers: headers}
}

func (b *pageClient) do(method, target string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(b.headers); i += 2 {
		r.Header.Set(b.headers[i], b.headers[i+1])
	}
	for k, v := range b.cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	res := w.Result()
	if res.StatusCode >= 500 {
		b.t.Fatalf("%s %s answered %d: %.300s", method, target, res.StatusCode, w.Body.String())
	}
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return page{code: res.StatusCode, header: res.Header, body: w.Body.String(), location: res.Header.Get("Location")}
}

func (b *pageClient) get(target string) page { return b.do("GET", target, nil) }

var (
	pageKeyRE    = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)
	pageMethodRE = regexp.MustCompile(`name="shipping_method_id" value="([^"]+)" checked`)
)

// checkoutPage puts a variant in the visitor's cart and opens the checkout.
func (b *pageClient) checkoutPage(variantID string) page {
	b.t.Helper()
	if p := b.do("POST", "/cart/items", url.Values{"variant_id": {variantID}, "quantity": {"1"}}); p.code != http.StatusSeeOther {
		b.t.Fatalf("add to cart: %d %.300s", p.code, p.body)
	}
	p := b.get("/checkout")
	if p.code != http.StatusOK {
		b.t.Fatalf("GET /checkout: %d", p.code)
	}
	return p
}

// placeOrder sends the checkout form of page with the payment fields.
func (b *pageClient) placeOrder(checkout page, pay url.Values) page {
	b.t.Helper()
	key, method := pageKeyRE.FindStringSubmatch(checkout.body), pageMethodRE.FindStringSubmatch(checkout.body)
	if key == nil || method == nil {
		b.t.Fatalf("the checkout has no idempotency key or chosen shipping method:\n%s", checkout.body)
	}
	form := url.Values{"idempotency_key": {key[1]}, "email": {"buyer@example.com"}, "name": {"Bo Buyer"}, "line1": {"Hauptstr. 1"},
		"postal_code": {"10115"}, "city": {"Berlin"}, "country": {"DE"}, "shipping_method_id": {method[1]}, "action": {"order"}}
	for k, v := range pay {
		form[k] = v
	}
	return b.do("POST", "/checkout", form)
}

const plainPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// wantStripePolicy asserts that a page may load Stripe.js, show its frames
// and call its API, and nothing else beyond the site.
func wantStripePolicy(t *testing.T, where string, p page) {
	t.Helper()
	want := "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self' https://js.stripe.com; frame-src 'self' https://js.stripe.com; connect-src 'self' https://api.stripe.com; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
	if got := p.header.Get("Content-Security-Policy"); got != want {
		t.Fatalf("%s: policy\n%s\nwant\n%s", where, got, want)
	}
}

func wantPlainPolicy(t *testing.T, where string, p page) {
	t.Helper()
	if got := p.header.Get("Content-Security-Policy"); got != plainPolicy {
		t.Fatalf("%s: policy %q, want the site's own (no Stripe)", where, got)
	}
}

const sandboxNotice = "no real money moves"

// paymentMethods lists the payment methods for a cart over the API.
func (a *testAPI) paymentMethods(cartID string, opts ...reqOpt) payment.MethodsAnswer {
	a.t.Helper()
	var out payment.MethodsAnswer
	a.do("GET", "/api/v1/payment-methods?cart_id="+url.QueryEscape(cartID), nil, opts...).wantStatus(http.StatusOK).decode(&out)
	return out
}

// TestPaymentMethodsAPI: GET /api/v1/payment-methods lists what every
// provider that takes new payments offers, with its provider, kind and test
// mode, and Stripe's publishable key when Stripe is configured; the cart
// is required (the rules of who may use it are in TestShopAuthorization).
func TestPaymentMethodsAPI(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		cfg := shopConfig(t)
		cfg.moreProviders = []payment.Provider{&hostedProvider{}}
		api := newShopAPI(t, db, cfg)
		v := api.product("PM-1", 1000, 5)
		c := api.cartWith(nil, v, 1)

		api.do("GET", "/api/v1/payment-methods", nil).wantProblem(http.StatusBadRequest, "cart_id")
		got := api.paymentMethods(c.ID)
		var ids []string
		for _, m := range got.Items {
			ids = append(ids, fmt.Sprintf("%s/%s/%s/%v", m.Provider, m.ID, m.Kind, m.TestMode))
			if m.Kind == payment.KindTest && m.Outcome == "" {
				t.Errorf("test card %s says nothing of what it does", m.ID)
			}
		}
		want := []string{"sandbox/pm_card_visa/test/true", "sandbox/pm_card_mastercard/test/true", "sandbox/pm_card_chargeDeclined/test/true",
			"sandbox/pm_card_insufficientFunds/test/true", "sandbox/pm_card_expired/test/true", "hosted/pm_hosted_invoice/redirect/false"}
		if !slices.Equal(ids, want) {
			t.Fatalf("methods %q, want %q", ids, want)
		}
		if got.Items[5].Name != hostedName || len(got.PublishableKeys) != 0 {
			t.Fatalf("answer %+v", got)
		}
		// The methods a shopper is offered can be paid with.
		api.checkout(c.ID, "k-hosted", api.checkoutBody(c.ID, "buyer@example.com", "pm_hosted_invoice")).wantStatus(http.StatusCreated)
	})
}

// TestPaymentMethodsAPIWithStripe: with Stripe configured, its card (in
// Stripe Elements) is what is offered, in test mode with test keys, with
// the publishable key for Stripe.js; the sandbox takes no new payments.
func TestPaymentMethodsAPIWithStripe(t *testing.T) {
	base := stripeMock(t)
	db := sqldbtest.SQLite(t, Migrations()...)
	cfg := shopConfig(t)
	cfg.StripeSecretKey, cfg.StripePublishableKey, cfg.StripeWebhookSecret, cfg.StripeAPIBase = "sk_test_123", "pk_test_mercato", stripeWebhookSecret, base
	api := newShopAPI(t, db, cfg)
	c := api.cartWith(nil, api.product("PM-2", 1000, 5), 1)
	got := api.paymentMethods(c.ID)
	if len(got.Items) != 1 || got.Items[0] != (payment.Method{ID: "card", Name: "Card (Stripe)", Provider: "stripe", Kind: payment.KindCardElement, TestMode: true}) {
		t.Fatalf("methods %+v, want Stripe's card only", got.Items)
	}
	if len(got.PublishableKeys) != 1 || got.PublishableKeys["stripe"] != "pk_test_mercato" {
		t.Fatalf("publishable keys %v", got.PublishableKeys)
	}
}

// formInputs returns the names of the checkout form's fields.
func formInputs(body string) []string {
	form := body[strings.Index(body, `<form class="checkout-form"`):]
	form = form[:strings.Index(form, "</form>")]
	var names []string
	for _, m := range regexp.MustCompile(`<(?:input|select|textarea)[^>]*\sname="([^"]+)"`).FindAllStringSubmatch(form, -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return names
}

// TestStripeCheckoutPages: with Stripe configured (against stripe-mock),
// the checkout page takes the card in Stripe Elements (Stripe.js loaded,
// allowed by the page's policy; the form has no card field of its own and
// no sandbox notice) and sends the pm_… id Stripe.js made; without one (no
// JavaScript) it says so and orders nothing. The order awaiting its
// payment shows the client secret for 3-D Secure to its shopper only, on
// every reload, until the webhook makes it paid.
func TestStripeCheckoutPages(t *testing.T) {
	base := stripeMock(t)
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		cfg := shopConfig(t)
		cfg.BaseURL = "https://shop.test"
		cfg.StripeSecretKey, cfg.StripePublishableKey, cfg.StripeWebhookSecret, cfg.StripeAPIBase = "sk_test_123", "pk_test_mercato", stripeWebhookSecret, base
		api := newShopAPI(t, db, cfg)
		ctx := context.Background()
		v := api.product("SP-1", 2500, 10)

		guest := api.browser()
		wantPlainPolicy(t, "home page", guest.get("/"))
		co := guest.checkoutPage(v)
		wantStripePolicy(t, "checkout", co)
		for _, want := range []string{`<script src="https://js.stripe.com/v3/" defer></script>`, `data-stripe-key="pk_test_mercato"`,
			`value="card" data-kind="card_element" checked`, "Card payment needs JavaScript"} {
			if !strings.Contains(co.body, want) {
				t.Errorf("the checkout page lacks %s", want)
			}
		}
		if strings.Contains(co.body, sandboxNotice) || strings.Contains(co.body, "pm_card_visa") {
			t.Error("with Stripe configured the checkout offers the sandbox or says no real money moves")
		}
		// No card number, expiry or CVC field reaches this site's form:
		// they are in Stripe's frame.
		if got, want := formInputs(co.body), []string{"card_payment_method", "city", "country", "email", "idempotency_key", "line1", "line2", "name",
			"payment_method", "postal_code", "shipping_method_id"}; !slices.Equal(got, want) {
			t.Fatalf("checkout form fields %q, want %q", got, want)
		}
		for _, bad := range []string{"cc-number", "cc-csc", "cc-exp", `inputmode="numeric"`} {
			if strings.Contains(co.body, bad) {
				t.Errorf("the checkout page has a card field (%s)", bad)
			}
		}

		// Without JavaScript nothing makes the payment method: refused, nothing ordered.
		p := guest.placeOrder(co, url.Values{"payment_method": {"card"}})
		if p.code != http.StatusBadRequest || !strings.Contains(p.body, "Card payment needs JavaScript: turn it on") || !strings.Contains(p.body, `value="Hauptstr. 1"`) {
			t.Fatalf("card without a payment method: %d\n%.500s", p.code, p.body)
		}
		if n := api.rows(`SELECT COUNT(*) FROM order_orders`); n != 0 {
			t.Fatalf("%d orders, want none", n)
		}

		// With the pm_… id Stripe.js made: the order awaits its payment.
		p = guest.placeOrder(p, url.Values{"payment_method": {"card"}, "card_payment_method": {"pm_card_visa"}})
		u, _ := url.Parse(p.location)
		if p.code != http.StatusSeeOther || !strings.HasPrefix(u.Path, "/orders/") || u.Query().Get("token") == "" || u.Query().Has("pay") {
			t.Fatalf("checkout: %d to %q", p.code, p.location)
		}
		id := strings.TrimPrefix(u.Path, "/orders/")
		o, err := api.app.Orders.Get(ctx, id)
		if err != nil || o.PaymentStatus != order.PaymentAwaiting {
			t.Fatalf("order %+v, %v; want awaiting its payment", o, err)
		}
		pay, err := api.app.Payments.Get(ctx, o.PaymentID)
		if err != nil || pay.Method != "pm_card_visa" || pay.Provider != "stripe" || pay.NextAction == nil || pay.NextAction.Type != payment.NextActionStripeSDK {
			t.Fatalf("payment %+v, %v", pay, err)
		}
		secret := pay.NextAction.ClientSecret
		for i, target := range []string{p.location, u.Path} { // and reloaded (the cookie)
			op := guest.get(target)
			refresh := u.Path
			if i == 0 {
				refresh += "?token=" + url.QueryEscape(u.Query().Get("token"))
			}
			if op.code != http.StatusOK {
				t.Fatalf("order page %d: %d", i, op.code)
			}
			wantStripePolicy(t, "order page awaiting 3-D Secure", op)
			for _, want := range []string{"Awaiting payment", `data-client-secret="` + secret + `"`, `data-stripe-key="pk_test_mercato"`,
				`<script src="https://js.stripe.com/v3/" defer></script>`, `<a href="` + refresh + `" data-refresh>Refresh</a>`} {
				if !strings.Contains(op.body, want) {
					t.Fatalf("order page %d lacks %s", i, want)
				}
			}
			if strings.Contains(op.body, "your order is confirmed") {
				t.Fatal("the order page says the order is confirmed before it is paid")
			}
		}
		// Nobody else sees the client secret.
		if op := api.browser().get(u.Path); op.code != http.StatusNotFound || strings.Contains(op.body, secret) {
			t.Fatalf("another browser: %d", op.code)
		}
		staff := api.browser("Authorization", "Bearer "+api.staff).get(u.Path)
		if staff.code != http.StatusOK || !strings.Contains(staff.body, "Awaiting payment") || strings.Contains(staff.body, secret) || strings.Contains(staff.body, "js.stripe.com") {
			t.Fatalf("staff see the order page %d with the client secret or Stripe.js", staff.code)
		}
		// Signed in and holding the guest's token is the shopper.
		if op := api.browser("Authorization", "Bearer "+api.customer).get(p.location); op.code != http.StatusOK || !strings.Contains(op.body, secret) {
			t.Fatalf("a signed-in visitor with the guest's token: %d, without the client secret", op.code)
		}
		if op := api.browser("Authorization", "Bearer "+api.customer).get(u.Path + "?token=oat_wrong"); op.code != http.StatusNotFound {
			t.Fatalf("a customer with a wrong token: %d", op.code)
		}
		// Nothing to do on a provider's page: back to the order.
		if cp := guest.get(u.Path + "/pay"); cp.code != http.StatusSeeOther || cp.location != u.Path {
			t.Fatalf("/pay: %d to %q", cp.code, cp.location)
		}

		// The webhook arrives: paid, nothing left to do, no Stripe.js.
		api.stripeEvent("evt_page_1", "payment_intent.succeeded", map[string]any{"id": pay.ProviderRef, "object": "payment_intent", "status": "succeeded"}, stripeWebhookSecret).
			wantStatus(http.StatusOK)
		drainOutbox(t, api.app)
		op := guest.get(u.Path)
		wantPlainPolicy(t, "paid order page", op)
		if op.code != http.StatusOK || strings.Contains(op.body, "data-await-payment") || strings.Contains(op.body, secret) || !strings.Contains(op.body, "<dd>Paid</dd>") {
			t.Fatalf("paid order page: %d\n%.2000s", op.code, op.body)
		}

		// A customer's order: on the account's page, for that customer only.
		carl := api.browser()
		if lp := carl.do("POST", "/account/login", url.Values{"email": {customerEmail}, "password": {testPassword}}); lp.code != http.StatusSeeOther {
			t.Fatalf("sign in: %d", lp.code)
		}
		p = carl.placeOrder(carl.checkoutPage(v), url.Values{"payment_method": {"card"}, "card_payment_method": {"pm_card_visa"}})
		if p.code != http.StatusSeeOther || !strings.HasPrefix(p.location, "/account/orders/") {
			t.Fatalf("customer checkout: %d to %q", p.code, p.location)
		}
		cid := strings.TrimPrefix(p.location, "/account/orders/")
		co2, _ := api.app.Orders.Get(ctx, cid)
		cpay, _ := api.app.Payments.Get(ctx, co2.PaymentID)
		if op := carl.get(p.location); op.code != http.StatusOK || !strings.Contains(op.body, `data-client-secret="`+cpay.NextAction.ClientSecret+`"`) {
			t.Fatalf("customer's order page: %d", op.code)
		}
		bob := api.browser()
		bob.do("POST", "/account/register", url.Values{"name": {"Bob"}, "email": {"bob@example.com"}, "password": {"long enough password"}})
		for _, target := range []string{p.location, "/orders/" + cid, "/orders/" + cid + "/pay"} {
			if op := bob.get(target); op.code != http.StatusNotFound || strings.Contains(op.body, cpay.NextAction.ClientSecret) {
				t.Errorf("another customer GET %s: %d", target, op.code)
			}
		}

		// What the provider sent is escaped on the page.
		if _, err := db.ExecContext(ctx, `UPDATE payment_payments SET next_action = ? WHERE id = ?`,
			`{"type":"use_stripe_sdk","client_secret":"pi_1_secret_\"><script>alert(1)</script>"}`, cpay.ID); err != nil {
			t.Fatal(err)
		}
		op = carl.get(p.location)
		if !strings.Contains(op.body, `data-client-secret="pi_1_secret_&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`) || strings.Contains(op.body, "<script>alert(1)") {
			t.Fatalf("the client secret is not escaped:\n%s", op.body)
		}
	})
}

// TestSandboxCheckoutPage: without Stripe keys the sandbox's test cards
// are offered with the test-mode notice, and no page loads Stripe.js or
// allows it.
func TestSandboxCheckoutPage(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		b := api.browser()
		co := b.checkoutPage(api.product("SB-1", 900, 5))
		wantPlainPolicy(t, "checkout", co)
		if !strings.Contains(co.body, sandboxNotice) || !strings.Contains(co.body, `value="pm_card_visa" data-kind="test" checked`) {
			t.Fatalf("the sandbox checkout lacks its notice or its checked Visa test card")
		}
		if strings.Contains(co.body, "stripe") || strings.Contains(co.body, "card_payment_method") || strings.Contains(co.body, "needs JavaScript") {
			t.Fatal("the sandbox checkout loads Stripe.js or asks for JavaScript")
		}
		p := b.placeOrder(co, url.Values{"payment_method": {"pm_card_visa"}})
		if p.code != http.StatusSeeOther {
			t.Fatalf("checkout: %d", p.code)
		}
		op := b.get(p.location)
		wantPlainPolicy(t, "order page", op)
		if !strings.Contains(op.body, "your order is confirmed") || strings.Contains(op.body, "data-await-payment") || strings.Contains(op.body, "pay.js") {
			t.Fatalf("paid sandbox order page:\n%.2000s", op.body)
		}
	})
}

// TestRedirectProviderPages: a method paid on the provider's page (the
// sandbox still takes the cards, so its notice stays): its name is
// escaped; after the checkout the order page sends the shopper on at once
// (a meta refresh to /orders/{id}/pay, which answers 303 to the provider:
// a form's own redirects may not leave the site); the provider is given
// the order page with the guest's token to come back to, where the order
// shows it awaits its payment (and sends nobody on again) until the
// webhook makes it paid. Nobody else may be sent on.
func TestRedirectProviderPages(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		cfg := shopConfig(t)
		cfg.BaseURL = "https://shop.test"
		hosted := &hostedProvider{}
		cfg.moreProviders = []payment.Provider{hosted}
		api := newShopAPI(t, db, cfg)
		ctx := context.Background()

		b := api.browser()
		co := b.checkoutPage(api.product("HP-1", 1500, 5))
		if strings.Contains(co.body, hostedName) || !strings.Contains(co.body, `Invoice &lt;b&gt;&#34;&amp;&#34;&lt;/b&gt;`) || !strings.Contains(co.body, "You pay on Hosted’s page") {
			t.Fatalf("the provider's method name is not escaped, or its note is missing:\n%s", co.body)
		}
		if !strings.Contains(co.body, sandboxNotice) {
			t.Error("the sandbox takes the cards, but its notice is gone")
		}
		p := b.placeOrder(co, url.Values{"payment_method": {"pm_hosted_invoice"}})
		u, _ := url.Parse(p.location)
		token := u.Query().Get("token")
		if p.code != http.StatusSeeOther || !strings.HasPrefix(u.Path, "/orders/") || token == "" || u.Query().Get("pay") != "1" {
			t.Fatalf("checkout: %d to %q", p.code, p.location)
		}
		id := strings.TrimPrefix(u.Path, "/orders/")
		if want := "https://shop.test/orders/" + id + "?token=" + url.QueryEscape(token); len(hosted.returns) != 1 || hosted.returns[0] != want {
			t.Fatalf("the provider was given return addresses %q, want %q", hosted.returns, want)
		}
		op := b.get(p.location)
		wantPlainPolicy(t, "order page", op)
		payURL := "/orders/" + id + "/pay?token=" + url.QueryEscape(token)
		for _, want := range []string{`<meta http-equiv="refresh" content="0; url=` + strings.ReplaceAll(payURL, "&", "&amp;") + `">`,
			`<a class="btn btn-primary" href="` + payURL + `">Continue to payment</a>`, "Awaiting payment"} {
			if !strings.Contains(op.body, want) {
				t.Fatalf("order page after checkout lacks %s:\n%s", want, op.body)
			}
		}
		if strings.Contains(op.body, "<script>alert(1)") || strings.Contains(op.body, "pay.example") {
			t.Fatal("the provider's page address is on the order page")
		}
		cp := b.get(payURL)
		if cp.code != http.StatusSeeOther || !strings.HasPrefix(cp.location, "https://pay.example/inv/inv_") {
			t.Fatalf("/pay: %d to %q", cp.code, cp.location)
		}
		// Back from the provider (its return address, without pay=1): no
		// sending on again, the order awaits its payment.
		back := api.browser().get(hosted.returns[0][len("https://shop.test"):])
		if back.code != http.StatusOK || strings.Contains(back.body, `http-equiv="refresh"`) || !strings.Contains(back.body, "data-await-payment") {
			t.Fatalf("back from the provider: %d\n%s", back.code, back.body)
		}
		for _, target := range []string{"/orders/" + id + "/pay", "/orders/" + id + "/pay?token=oat_wrong"} {
			if op := api.browser().get(target); op.code != http.StatusNotFound {
				t.Errorf("a stranger GET %s: %d, want 404", target, op.code)
			}
		}

		// Paid by its webhook: nothing to do any more.
		o, _ := api.app.Orders.Get(ctx, id)
		pay, _ := api.app.Payments.Get(ctx, o.PaymentID)
		ev, _ := json.Marshal(map[string]string{"id": "evt_hosted_1", "type": payment.EventSucceeded, "ref": pay.ProviderRef})
		if err := api.app.Payments.HandleWebhookFrom(ctx, "hosted", ev, nil); err != nil {
			t.Fatal(err)
		}
		drainOutbox(t, api.app)
		if cp := b.get("/orders/" + id + "/pay"); cp.code != http.StatusSeeOther || cp.location != "/orders/"+id {
			t.Fatalf("/pay once paid: %d to %q", cp.code, cp.location)
		}
		if op := b.get("/orders/" + id); strings.Contains(op.body, "data-await-payment") || !strings.Contains(op.body, "<dd>Paid</dd>") {
			t.Fatalf("paid order page:\n%s", op.body)
		}
	})
}
