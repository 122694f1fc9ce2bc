package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
	"github.com/mercato-shop/mercato/internal/promotion"
	"github.com/mercato-shop/mercato/internal/shipping"
)

// The authorization matrix: every route of routes.go, as every kind of
// caller, against the access rule the route declares. Path parameters are
// real objects, most of them customer A's; customer B acts on A's objects.
// A refused request must change nothing in the database.

// caller is a kind of caller of the matrix.
type caller int

const (
	anonymous caller = iota
	customerA
	customerB // acting on customer A's objects
	staffCaller
	adminCaller
)

var callers = []caller{anonymous, customerA, customerB, staffCaller, adminCaller}

func (c caller) String() string {
	return [...]string{"anonymous", "customer A", "customer B", "staff", "admin"}[c]
}

// outcome is what a caller must get.
type outcome int

const (
	fromRule     outcome = iota // (a probe's override: none)
	allowed                     // 2xx or 3xx (not to a sign-in page), or the probe's want
	unauthorized                // API: 401 problem with WWW-Authenticate; pages: sent to sign in
	forbidden                   // API: 403 problem; admin panel: customers are sent to sign in, staff get 403
	notFound                    // 404, as for an object that does not exist
	badRequest                  // 400 problem
	ownCartOnly                 // a storefront cart page: works on the caller's own cart, never on A's
)

func (o outcome) String() string {
	return [...]string{"from the rule", "allowed", "unauthorized", "forbidden", "not found", "bad request", "own cart only"}[o]
}

// expect is what rule means for c; ofA says the request names one of
// customer A's objects (another caller is not its owner).
func expect(rule access, c caller, ofA bool, page bool) outcome {
	switch rule {
	case accessPublic, accessWebhook, accessMetrics: // (the matrix's app sets no metrics token: TestMetricsToken)
		return allowed
	case accessCustomer:
		switch {
		case c == anonymous:
			return unauthorized
		case ofA && c != customerA:
			return notFound
		}
		return allowed
	case accessStaff, accessAdmin:
		switch {
		case c == anonymous:
			return unauthorized
		case c == customerA || c == customerB:
			return forbidden
		case rule == accessAdmin && c == staffCaller:
			return forbidden
		}
		return allowed
	case accessCart:
		if !ofA || c == customerA {
			return allowed
		}
		if page {
			return ownCartOnly
		}
		return notFound
	case accessOrder:
		if !ofA || c == customerA || c == staffCaller || c == adminCaller {
			return allowed
		}
		return notFound
	}
	return fromRule // an unknown rule: the test reports it
}

// probe is one request of the matrix.
type probe struct {
	name   string // tells several probes of a route apart
	method string
	target string
	body   any  // nil; url.Values (a form); multipartForm; string or []byte (as is); anything else as JSON
	ofA    bool // names customer A's object
	// everyone, when set, is every caller's outcome whatever the rule
	// (an unsigned webhook, the catch-all 404 page).
	everyone outcome
	want     int               // the allowed status when it is not 2xx/3xx
	location string            // where an allowed answer redirects to (a prefix), when it matters
	token    string            // the session to send instead of the caller's (logout revokes it)
	cookies  map[string]string // more cookies (the storefront's cart cookie)
	header   http.Header
}

// multipartForm is a multipart/form-data body (the admin product form).
type multipartForm url.Values

// authzFixture holds the accounts and objects the probes name.
type authzFixture struct {
	t       testing.TB
	app     *App
	h       http.Handler
	doc     *apiDoc
	ctx     context.Context
	seq     atomic.Int64
	zones   int               // zones made, to give each its own country
	tables  map[string]string // every table, for fingerprint
	email   map[caller]string
	name    map[caller]string
	token   map[caller]string // sessions: bearer tokens and session cookies alike
	id      map[caller]string // account ids
	staff2  customer.Account  // a staff account for the staff-management routes
	ctxA    context.Context   // signed in as customer A, for making A's objects
	product catalog.Product
	variant string // the product's variant id
	sku     string
	cat     catalog.Category
	cartA   cart.Cart           // customer A's cart, with one item
	guest   cart.Cart           // a guest cart, with one item
	orderA  order.Order         // customer A's order
	guestO  order.Order         // a guest order, with its access token
	addrA   string              // customer A's address
	affA    string              // customer A's affiliate application
	promo   promotion.Promotion // a discount code (AUTHZ), 10% off
	email1  string              // an e-mail in the outbox
	media   string              // a stored file's key
	static  string              // the storefront stylesheet's URL
	admCSS  string              // the admin stylesheet's URL

	gift giftcard.NewCard // a gift card with plenty on it, and its code
}

const authzPassword = "authz matrix password"

func newAuthzFixture(t testing.TB, db *sqldb.DB) *authzFixture {
	t.Helper()
	return newAuthzFixtureLog(t, db, slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// newAuthzFixtureLog is newAuthzFixture with the app's logger.
func newAuthzFixtureLog(t testing.TB, db *sqldb.DB, log *slog.Logger) *authzFixture {
	t.Helper()
	cfg := shopConfig(t)
	// Xendit is configured for its callback route; no probe calls its API
	// (the address is a closed local port).
	cfg.XenditSecretKey, cfg.XenditCallbackToken, cfg.XenditAPIBase = xenditKey, xenditToken, "http://127.0.0.1:1"
	a, err := Wire(cfg, log, db)
	if err != nil {
		t.Fatal(err)
	}
	a.checkoutLimit = ratelimit.NewMemory(1_000_000, time.Minute)
	fx := &authzFixture{t: t, app: a, h: a.Handler(), doc: loadAPIDoc(t), ctx: context.Background(),
		email: map[caller]string{}, name: map[caller]string{}, token: map[caller]string{}, id: map[caller]string{}}
	ctx := fx.ctx
	for c, role := range map[caller]auth.Role{customerA: auth.RoleCustomer, customerB: auth.RoleCustomer, staffCaller: auth.RoleStaff, adminCaller: auth.RoleAdmin} {
		fx.email[c] = strings.ReplaceAll(c.String(), " ", "-") + "@authz.example"
		fx.name[c] = "The " + c.String()
		acc, err := a.Customers.CreateAccount(ctx, fx.email[c], authzPassword, fx.name[c], role)
		if err != nil {
			t.Fatal(err)
		}
		fx.id[c] = acc.ID
		fx.token[c] = fx.session(c)
	}
	if fx.staff2, err = a.Customers.CreateAccount(ctx, "staff-two@authz.example", authzPassword, "Staff Two", auth.RoleStaff); err != nil {
		t.Fatal(err)
	}
	pa, err := a.Customers.ResolveToken(ctx, fx.token[customerA])
	if err != nil {
		t.Fatal(err)
	}
	fx.ctxA = auth.With(ctx, pa)

	if fx.cat, err = a.Catalog.CreateCategory(ctx, catalog.CategoryInput{Name: "Authz things"}); err != nil {
		t.Fatal(err)
	}
	stock := int64(100_000)
	fx.product, err = a.Catalog.CreateProduct(ctx, catalog.ProductInput{Title: "Authz kettle", Status: catalog.StatusActive, CategoryIDs: []string{fx.cat.ID},
		Variants: []catalog.VariantInput{{SKU: "AUTHZ-KETTLE", Price: eur(2500), Stock: &stock, Options: map[string]string{"size": "M"}}}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	fx.variant, fx.sku = fx.product.Variants[0].ID, fx.product.Variants[0].SKU

	code := "AUTHZ"
	if fx.promo, err = a.Promotions.Create(ctx, promotion.Input{Name: "Authz 10%", Code: &code, Kind: promotion.Percentage, Value: 10}); err != nil {
		t.Fatal(err)
	}
	fx.cartA = fx.newCart(fx.ctxA)
	fx.guest = fx.newCart(ctx)
	fx.orderA = fx.newOrder(fx.ctxA)
	fx.guestO = fx.newOrder(ctx)
	if fx.guestO.AccessToken == "" || fx.orderA.CustomerID != fx.id[customerA] {
		t.Fatalf("orders: guest token %q, A's order's customer %q", fx.guestO.AccessToken, fx.orderA.CustomerID)
	}
	fx.addrA = fx.newAddress()
	fx.affA = fx.applyAffiliate(customerA)
	if fx.gift, err = a.GiftCards.Issue(ctx, giftcard.IssueInput{Amount: 10_000_000}, "test"); err != nil {
		t.Fatal(err)
	}
	drainOutbox(t, a)
	emails, err := a.Notify.ListEmails(ctx, notify.PageQuery{Limit: 1})
	if err != nil || len(emails.Items) == 0 {
		t.Fatalf("no e-mail to name: %v", err)
	}
	fx.email1 = emails.Items[0].ID
	fx.media = "authz/note.txt"
	if err := a.Blob.Put(ctx, fx.media, strings.NewReader("hello"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	if fx.static, err = a.Storefront.Assets().URL("app.css"); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, httptest.NewRequest("GET", "/admin/login", nil))
	fx.admCSS = regexp.MustCompile(`/admin/static/[^"]+\.css`).FindString(w.Body.String())
	if fx.admCSS == "" {
		t.Fatal("the admin sign-in page links no stylesheet")
	}
	return fx
}

// uniq returns a new number, for names that must not repeat.
func (fx *authzFixture) uniq() int64 { return fx.seq.Add(1) }

// session signs c in once more and returns the new session's secret.
func (fx *authzFixture) session(c caller) string {
	fx.t.Helper()
	if c == anonymous {
		return ""
	}
	_, token, err := fx.app.Customers.Login(fx.ctx, fx.email[c], authzPassword)
	if err != nil {
		fx.t.Fatal(err)
	}
	return token.Token
}

// forgetLimits clears the shared attempt counters (sign-in, link mails):
// the matrix tests who may call a route, not how often.
func (fx *authzFixture) forgetLimits() {
	fx.t.Helper()
	if _, err := fx.app.DB.ExecContext(fx.ctx, `DELETE FROM customer_login_limits`); err != nil {
		fx.t.Fatal(err)
	}
}

// sandboxSign signs a sandbox webhook body with the shop's secret.
func (fx *authzFixture) sandboxSign(body []byte) string {
	return payment.NewSandbox(payment.WithWebhookSecret(fx.app.Config.SandboxWebhookSecret)).SignWebhook(body, time.Now())
}

// newCart makes a cart holding one item: customer A's with fx.ctxA, a guest cart without.
func (fx *authzFixture) newCart(ctx context.Context) cart.Cart {
	fx.t.Helper()
	c, err := fx.app.Carts.Create(ctx, "")
	if err == nil {
		c, err = fx.app.Carts.AddItem(ctx, c.ID, fx.variant, 1)
	}
	if err != nil {
		fx.t.Fatal(err)
	}
	return c
}

// newPromotion makes an automatic promotion no cart gets (it starts in a year).
func (fx *authzFixture) newPromotion() promotion.Promotion {
	fx.t.Helper()
	later := time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)
	p, err := fx.app.Promotions.Create(fx.ctx, promotion.Input{Name: fmt.Sprintf("Authz later %d", fx.uniq()), Kind: promotion.FreeShipping, StartsAt: &later})
	if err != nil {
		fx.t.Fatal(err)
	}
	return p
}

// codedCart makes a cart holding one item and the AUTHZ code.
func (fx *authzFixture) codedCart(ctx context.Context) cart.Cart {
	fx.t.Helper()
	c, err := fx.app.Carts.ApplyCode(ctx, fx.newCart(ctx).ID, fx.promo.Code)
	if err != nil {
		fx.t.Fatal(err)
	}
	return c
}

// checkoutInput is a valid checkout of cartID to Germany.
func (fx *authzFixture) checkoutInput(ctx context.Context, cartID string) checkout.Input {
	fx.t.Helper()
	ms, err := fx.app.Carts.ShippingOptions(ctx, cartID, "DE")
	if err != nil || len(ms) == 0 {
		fx.t.Fatalf("shipping options: %v %v", ms, err)
	}
	return checkout.Input{Email: "buyer@authz.example", PaymentMethod: "pm_card_visa", ShippingMethodID: ms[0].ID,
		ShippingAddress: addressDE()}
}

// newOrder places a paid order of one item: customer A's with fx.ctxA, a guest's without.
func (fx *authzFixture) newOrder(ctx context.Context) order.Order {
	fx.t.Helper()
	c := fx.newCart(ctx)
	o, err := fx.app.Checkout.Checkout(ctx, c.ID, fmt.Sprintf("authz-%d", fx.uniq()), fx.checkoutInput(ctx, c.ID))
	if err != nil {
		fx.t.Fatal(err)
	}
	return o
}

// parcel fulfils all of a new guest order: shipped with a tracking number, else waiting to ship.
func (fx *authzFixture) parcel(tracking string) order.Order {
	fx.t.Helper()
	o := fx.newOrder(fx.ctx)
	o, err := fx.app.Orders.Fulfill(fx.ctx, o.ID, []order.FulfillmentLine{{ItemID: o.Items[0].ID, Quantity: o.Items[0].Quantity}}, tracking, "test")
	if err != nil {
		fx.t.Fatal(err)
	}
	return o
}

// giftCart makes a cart (customer A's with fx.ctxA, a guest cart without)
// with fx.gift applied.
func (fx *authzFixture) giftCart(ctx context.Context) cart.Cart {
	fx.t.Helper()
	c := fx.newCart(ctx)
	if err := fx.app.GiftCards.Apply(ctx, fmt.Sprintf("192.0.2.%d", fx.uniq()%250+1), c.ID, c.Currency, fx.gift.Code); err != nil {
		fx.t.Fatal(err)
	}
	return c
}

// newAddress adds an address to customer A's account.
func (fx *authzFixture) newAddress() string {
	fx.t.Helper()
	ad, err := fx.app.Customers.AddAddress(fx.ctx, fx.id[customerA], customer.AddressInput{Name: "Ann A", Line1: "Weg 1", City: "Berlin", PostalCode: "10115", Country: "DE"})
	if err != nil {
		fx.t.Fatal(err)
	}
	return ad.ID
}

// newProduct makes a draft product with one variant.
func (fx *authzFixture) newProduct() catalog.Product {
	fx.t.Helper()
	n := fx.uniq()
	p, err := fx.app.Catalog.CreateProduct(fx.ctx, catalog.ProductInput{Title: fmt.Sprintf("Authz spare %d", n), Status: catalog.StatusDraft,
		Variants: []catalog.VariantInput{{SKU: fmt.Sprintf("AUTHZ-SPARE-%d", n), Price: eur(100), Options: map[string]string{"size": "M"}}}}, "test")
	if err != nil {
		fx.t.Fatal(err)
	}
	return p
}

// zoneCountries are countries of no default shipping zone but World's "*".
var zoneCountries = strings.Fields("NO IS CH RS UA GB US CA AU JP NZ BR MX IN KR SG ZA TR AR CL CO PE UY EG MA TN KE NG GH TZ UG TH VN MY PH ID PK BD LK NP")

func (fx *authzFixture) zoneInput() shipping.ZoneInput {
	fx.zones++
	if fx.zones > len(zoneCountries) {
		fx.t.Fatal("out of countries for new shipping zones: add some to zoneCountries")
	}
	return shipping.ZoneInput{Name: fmt.Sprintf("Authz zone %d", fx.zones), Countries: []string{zoneCountries[fx.zones-1]},
		Rates: []shipping.RateInput{{Name: "Standard", Price: eur(990)}}}
}

func (fx *authzFixture) newZone() shipping.Zone {
	fx.t.Helper()
	z, err := fx.app.Shipping.CreateZone(fx.ctx, fx.zoneInput())
	if err != nil {
		fx.t.Fatal(err)
	}
	return z
}

func addressDE() address.Address {
	return address.Address{Name: "Ann Buyer", Line1: "Hauptstraße 1", City: "Berlin", PostalCode: "10115", Country: "DE"}
}

func addressJSON() map[string]any {
	return map[string]any{"name": "Ann A", "line1": "Weg 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}
}

// probes returns the requests the matrix sends to a route (by its pattern)
// for caller c. Routes that change their object get a new one per caller,
// so that every allowed caller finds it as it should be. A route missing
// here fails the matrix.
func (fx *authzFixture) probes(pattern string, c caller) []probe {
	n := fx.uniq()
	p := func(method, target string, body any) probe { return probe{method: method, target: target, body: body} }
	ofA := func(pr probe) probe { pr.ofA = true; return pr }
	named := func(name string, pr probe) probe { pr.name = name; return pr }
	withCart := func(pr probe, id string) probe { pr.cookies = map[string]string{"mercato_cart": id}; return pr }
	o, g, a := fx.orderA, fx.guestO, fx.cartA
	unique := func(what string) string { return fmt.Sprintf("%s-%d", what, n) }
	switch pattern {
	case "GET /healthz", "GET /readyz", "GET /metrics", "GET /api/v1/openapi.json", "GET /api/v1/products", "GET /api/v1/categories",
		"GET /api/v1/admin/customers", "GET /api/v1/admin/staff", "GET /api/v1/admin/products", "GET /api/v1/admin/inventory/low-stock",
		"GET /api/v1/admin/orders", "GET /api/v1/admin/shipping/zones", "GET /api/v1/admin/tax/rates", "GET /api/v1/admin/emails",
		"GET /api/v1/admin/alerts/low-stock", "GET /api/v1/admin/analytics/sales", "GET /api/v1/me", "GET /api/v1/me/addresses",
		"GET /api/v1/admin/promotions",
		"GET /api/v1/me/orders", "GET /sitemap.xml", "GET /robots.txt", "GET /api/v1/admin/gift-cards",
		"GET /admin", "GET /admin/orders", "GET /admin/products", "GET /admin/products/new", "GET /admin/inventory", "GET /admin/customers",
		"GET /admin/staff", "GET /admin/emails", "GET /admin/gift-cards", "GET /admin/gift-cards/new", "GET /account", "GET /account/orders", "GET /account/addresses", "GET /account/login",
		"GET /admin/promotions", "GET /admin/promotions/new",
		"GET /account/register", "GET /admin/login", "GET /account/password-reset", "GET /account/email",
		"GET /api/v1/admin/affiliates", "GET /api/v1/admin/affiliates/export.csv", "GET /admin/affiliates", "GET /admin/affiliates.csv",
		"GET /account/affiliate":
		_, path, _ := strings.Cut(pattern, " ")
		return []probe{p("GET", path, nil)}
	case "GET /api/v1/products/{id}":
		return []probe{p("GET", "/api/v1/products/"+fx.product.ID, nil), p("GET", "/api/v1/products/"+fx.product.Slug, nil)}
	case "GET /media/{key...}":
		return []probe{p("GET", "/media/"+fx.media, nil)}

	case "POST /api/v1/auth/register":
		return []probe{p("POST", "/api/v1/auth/register", map[string]any{"email": unique("new") + "@authz.example", "password": authzPassword, "name": "New"})}
	case "POST /api/v1/auth/password-reset":
		return []probe{p("POST", "/api/v1/auth/password-reset", map[string]any{"email": unique("forgot") + "@authz.example"})}
	case "POST /api/v1/auth/password-reset/confirm", "POST /api/v1/auth/verify-email", "POST /api/v1/auth/email-change/confirm":
		// Public: the mailed token is the credential; a wrong one is a 400 for anyone.
		_, path, _ := strings.Cut(pattern, " ")
		pr := p("POST", path, map[string]any{"token": unique("not-a-token"), "password": authzPassword + "-new"})
		pr.everyone = badRequest
		return []probe{pr}
	case "POST /api/v1/me/email-verification":
		fx.forgetLimits() // at most 3 link mails an hour per account; the matrix sends more
		return []probe{p("POST", "/api/v1/me/email-verification", nil)}
	case "POST /api/v1/me/email-change":
		fx.forgetLimits()
		return []probe{p("POST", "/api/v1/me/email-change", map[string]any{"email": unique("moved") + "@authz.example", "current_password": authzPassword})}
	case "GET /account/password-reset/confirm", "GET /account/verify-email", "GET /account/email-change/confirm":
		_, path, _ := strings.Cut(pattern, " ")
		return []probe{p("GET", path+"?token="+unique("not-a-token"), nil)}
	case "POST /account/password-reset":
		return []probe{p("POST", "/account/password-reset", url.Values{"email": {unique("forgot") + "@authz.example"}})}
	case "POST /account/password-reset/confirm", "POST /account/verify-email", "POST /account/email-change/confirm":
		_, path, _ := strings.Cut(pattern, " ")
		pr := p("POST", path, url.Values{"token": {unique("not-a-token")}, "password": {authzPassword + "-new"}})
		pr.everyone, pr.want = allowed, http.StatusBadRequest // the page again, saying the link is not valid
		return []probe{pr}
	case "POST /account/verify-email/resend":
		fx.forgetLimits()
		return []probe{p("POST", "/account/verify-email/resend", url.Values{})}
	case "POST /account/email":
		fx.forgetLimits()
		return []probe{p("POST", "/account/email", url.Values{"email": {unique("moved") + "@authz.example"}, "current_password": {authzPassword}})}
	case "POST /api/v1/auth/login":
		return []probe{p("POST", "/api/v1/auth/login", map[string]any{"email": fx.staff2.Email, "password": authzPassword})}
	case "POST /api/v1/auth/logout":
		pr := p("POST", "/api/v1/auth/logout", nil)
		pr.token = fx.session(c)
		return []probe{pr}
	case "PATCH /api/v1/me":
		return []probe{p("PATCH", "/api/v1/me", map[string]any{"name": fx.name[c]})}
	case "POST /api/v1/me/addresses":
		return []probe{p("POST", "/api/v1/me/addresses", addressJSON())}
	case "PATCH /api/v1/me/addresses/{id}":
		return []probe{ofA(p("PATCH", "/api/v1/me/addresses/"+fx.addrA, map[string]any{"phone": "+49 30 1234567"}))}
	case "DELETE /api/v1/me/addresses/{id}":
		return []probe{ofA(p("DELETE", "/api/v1/me/addresses/"+fx.newAddress(), nil))}

	case "GET /api/v1/admin/customers/{id}":
		return []probe{p("GET", "/api/v1/admin/customers/"+fx.id[customerA], nil)}
	case "POST /api/v1/admin/staff":
		return []probe{p("POST", "/api/v1/admin/staff", map[string]any{"email": unique("staff") + "@authz.example", "password": authzPassword, "name": "S", "role": "staff"})}
	case "PATCH /api/v1/admin/staff/{id}":
		return []probe{p("PATCH", "/api/v1/admin/staff/"+fx.staff2.ID, map[string]any{"role": "staff"})}
	case "POST /api/v1/admin/products":
		return []probe{p("POST", "/api/v1/admin/products", map[string]any{"title": unique("Authz new"), "status": "draft",
			"variants": []map[string]any{{"sku": unique("AUTHZ-NEW"), "price": map[string]any{"amount": 100, "currency": "EUR"}}}})}
	case "GET /api/v1/admin/products/{id}":
		return []probe{p("GET", "/api/v1/admin/products/"+fx.product.ID, nil)}
	case "PATCH /api/v1/admin/products/{id}":
		return []probe{p("PATCH", "/api/v1/admin/products/"+fx.product.ID, map[string]any{"featured": false})}
	case "DELETE /api/v1/admin/products/{id}":
		return []probe{p("DELETE", "/api/v1/admin/products/"+fx.newProduct().ID, nil)}
	case "POST /api/v1/admin/categories":
		return []probe{p("POST", "/api/v1/admin/categories", map[string]any{"name": unique("Authz category")})}
	case "GET /api/v1/admin/inventory/{sku}", "GET /api/v1/admin/inventory/{sku}/movements":
		return []probe{p("GET", strings.Replace(strings.TrimPrefix(pattern, "GET "), "{sku}", fx.sku, 1), nil)}
	case "PUT /api/v1/admin/inventory/{sku}":
		return []probe{p("PUT", "/api/v1/admin/inventory/"+fx.sku, map[string]any{"on_hand": 100_000})}
	case "POST /api/v1/admin/inventory/{sku}/adjustments":
		return []probe{p("POST", "/api/v1/admin/inventory/"+fx.sku+"/adjustments", map[string]any{"delta": 1, "reason": "authz"})}

	case "POST /api/v1/carts":
		return []probe{p("POST", "/api/v1/carts", nil)}
	case "GET /api/v1/carts/{id}":
		return []probe{ofA(p("GET", "/api/v1/carts/"+a.ID, nil)), named("guest cart", p("GET", "/api/v1/carts/"+fx.guest.ID, nil))}
	case "POST /api/v1/carts/{id}/items":
		body := map[string]any{"variant_id": fx.variant, "quantity": 1}
		return []probe{ofA(p("POST", "/api/v1/carts/"+a.ID+"/items", body)), named("guest cart", p("POST", "/api/v1/carts/"+fx.guest.ID+"/items", body))}
	case "PATCH /api/v1/carts/{id}/items/{item_id}":
		body := map[string]any{"quantity": 2}
		return []probe{ofA(p("PATCH", "/api/v1/carts/"+a.ID+"/items/"+a.Items[0].ID, body)),
			named("guest cart", p("PATCH", "/api/v1/carts/"+fx.guest.ID+"/items/"+fx.guest.Items[0].ID, body))}
	case "DELETE /api/v1/carts/{id}/items/{item_id}":
		mine, theirs := fx.newCart(fx.ctxA), fx.newCart(fx.ctx)
		return []probe{ofA(p("DELETE", "/api/v1/carts/"+mine.ID+"/items/"+mine.Items[0].ID, nil)),
			named("guest cart", p("DELETE", "/api/v1/carts/"+theirs.ID+"/items/"+theirs.Items[0].ID, nil))}
	case "POST /api/v1/carts/{id}/discounts":
		body := map[string]any{"code": "authz"}
		return []probe{ofA(p("POST", "/api/v1/carts/"+a.ID+"/discounts", body)), named("guest cart", p("POST", "/api/v1/carts/"+fx.guest.ID+"/discounts", body))}
	case "DELETE /api/v1/carts/{id}/discounts/{code}":
		mine, theirs := fx.codedCart(fx.ctxA), fx.codedCart(fx.ctx)
		return []probe{ofA(p("DELETE", "/api/v1/carts/"+mine.ID+"/discounts/AUTHZ", nil)),
			named("guest cart", p("DELETE", "/api/v1/carts/"+theirs.ID+"/discounts/AUTHZ", nil))}
	case "GET /api/v1/shipping-methods":
		return []probe{ofA(p("GET", "/api/v1/shipping-methods?cart_id="+a.ID, nil)), named("guest cart", p("GET", "/api/v1/shipping-methods?cart_id="+fx.guest.ID, nil))}
	case "GET /api/v1/payment-methods":
		return []probe{ofA(p("GET", "/api/v1/payment-methods?cart_id="+a.ID, nil)), named("guest cart", p("GET", "/api/v1/payment-methods?cart_id="+fx.guest.ID, nil))}
	case "POST /api/v1/carts/{id}/checkout":
		var out []probe
		for _, ctx := range []context.Context{fx.ctxA, fx.ctx} {
			cc := fx.newCart(ctx)
			in := fx.checkoutInput(ctx, cc.ID)
			pr := p("POST", "/api/v1/carts/"+cc.ID+"/checkout", map[string]any{"email": in.Email, "payment_method": in.PaymentMethod,
				"shipping_method_id": in.ShippingMethodID, "shipping_address": addressJSON()})
			pr.header = http.Header{"Idempotency-Key": {unique("authz")}}
			if ctx == fx.ctxA {
				out = append(out, ofA(pr))
			} else {
				out = append(out, named("guest cart", pr))
			}
		}
		return out
	case "POST /api/v1/carts/{id}/gift-cards":
		body := map[string]any{"code": strings.ToLower(fx.gift.Code)}
		return []probe{ofA(p("POST", "/api/v1/carts/"+a.ID+"/gift-cards", body)), named("guest cart", p("POST", "/api/v1/carts/"+fx.guest.ID+"/gift-cards", body))}
	case "DELETE /api/v1/carts/{id}/gift-cards/{code}":
		mine, theirs := fx.giftCart(fx.ctxA), fx.giftCart(fx.ctx)
		return []probe{ofA(p("DELETE", "/api/v1/carts/"+mine.ID+"/gift-cards/"+fx.gift.Last4, nil)),
			named("guest cart", p("DELETE", "/api/v1/carts/"+theirs.ID+"/gift-cards/"+fx.gift.Code, nil))}
	case "GET /api/v1/gift-cards/{code}":
		return []probe{p("GET", "/api/v1/gift-cards/"+fx.gift.Code, nil)}
	case "POST /api/v1/admin/gift-cards":
		return []probe{p("POST", "/api/v1/admin/gift-cards", map[string]any{"amount": 2500, "recipient_email": unique("friend") + "@authz.example", "note": "authz"})}
	case "GET /api/v1/admin/gift-cards/{id}":
		return []probe{p("GET", "/api/v1/admin/gift-cards/"+fx.gift.ID, nil)}
	case "POST /api/v1/admin/gift-cards/{id}/disable":
		gc, err := fx.app.GiftCards.Issue(fx.ctx, giftcard.IssueInput{Amount: 100}, "test")
		if err != nil {
			fx.t.Fatal(err)
		}
		return []probe{p("POST", "/api/v1/admin/gift-cards/"+gc.ID+"/disable", map[string]any{"reason": "authz"})}
	case "POST /api/v1/admin/gift-cards/{id}/adjustments":
		return []probe{p("POST", "/api/v1/admin/gift-cards/"+fx.gift.ID+"/adjustments", map[string]any{"amount": 1, "reason": "authz"})}

	case "GET /api/v1/orders/{id}":
		return []probe{ofA(p("GET", "/api/v1/orders/"+o.ID, nil)),
			named("guest order with its token", p("GET", "/api/v1/orders/"+g.ID+"?access_token="+url.QueryEscape(g.AccessToken), nil))}
	case "POST /api/v1/payments/webhook":
		body, _ := json.Marshal(map[string]any{"id": unique("evt_authz"), "type": payment.EventRefunded,
			"data": map[string]any{"payment_ref": "sb_pi_unknown", "amount": 1, "refund_ref": unique("re")}})
		signed := p("POST", "/api/v1/payments/webhook", body)
		signed.header = http.Header{payment.SignatureHeader: {fx.sandboxSign(body)}}
		unsigned := named("unsigned", p("POST", "/api/v1/payments/webhook", body))
		unsigned.everyone = badRequest
		return []probe{signed, unsigned}
	case "POST /api/v1/payments/{provider}/webhook":
		body, _ := json.Marshal(map[string]any{"id": unique("evt_authz"), "type": payment.EventRefunded,
			"data": map[string]any{"payment_ref": "sb_pi_unknown", "amount": 1, "refund_ref": unique("re")}})
		signed := p("POST", "/api/v1/payments/sandbox/webhook", body)
		signed.header = http.Header{payment.SignatureHeader: {fx.sandboxSign(body)}}
		unsigned := named("unsigned", p("POST", "/api/v1/payments/sandbox/webhook", body))
		unsigned.everyone = badRequest
		unconfigured := named("a provider that is not configured", p("POST", "/api/v1/payments/stripe/webhook", body))
		unconfigured.everyone = notFound
		return []probe{signed, unsigned, unconfigured}
	case "POST /api/v1/payments/xendit/callback":
		body, _ := json.Marshal(map[string]any{"id": unique("inv"), "external_id": "authz/pay:x", "status": "PAID", "amount": 150000, "currency": "IDR"})
		withToken := p("POST", "/api/v1/payments/xendit/callback", body)
		withToken.header = http.Header{"X-Callback-Token": {xenditToken}}
		wrong := named("wrong token", p("POST", "/api/v1/payments/xendit/callback", body))
		wrong.header = http.Header{"X-Callback-Token": {xenditToken + "x"}}
		wrong.everyone = badRequest
		none := named("no token", p("POST", "/api/v1/payments/xendit/callback", body))
		none.everyone = badRequest
		return []probe{withToken, wrong, none}

	case "GET /api/v1/admin/orders/{id}":
		return []probe{p("GET", "/api/v1/admin/orders/"+o.ID, nil)}
	case "POST /api/v1/admin/orders/{id}/fulfillments":
		po := fx.newOrder(fx.ctx)
		return []probe{p("POST", "/api/v1/admin/orders/"+po.ID+"/fulfillments", map[string]any{"items": []map[string]any{{"item_id": po.Items[0].ID, "quantity": 1}}})}
	case "POST /api/v1/admin/orders/{id}/fulfillments/{fid}/ship":
		po := fx.parcel("")
		return []probe{p("POST", "/api/v1/admin/orders/"+po.ID+"/fulfillments/"+po.Fulfillments[0].ID+"/ship", map[string]any{"tracking_number": "T-1"})}
	case "POST /api/v1/admin/orders/{id}/deliver":
		return []probe{p("POST", "/api/v1/admin/orders/"+fx.parcel("T-1").ID+"/deliver", nil)}
	case "POST /api/v1/admin/orders/{id}/cancel":
		return []probe{p("POST", "/api/v1/admin/orders/"+fx.newOrder(fx.ctx).ID+"/cancel", map[string]any{"reason": "authz"})}
	case "POST /api/v1/admin/orders/{id}/refunds":
		return []probe{p("POST", "/api/v1/admin/orders/"+fx.newOrder(fx.ctx).ID+"/refunds", map[string]any{"amount": 1})}

	case "POST /api/v1/admin/promotions":
		return []probe{p("POST", "/api/v1/admin/promotions", map[string]any{"name": unique("Authz promotion"), "code": unique("authz"), "type": "fixed", "value": 100})}
	case "GET /api/v1/admin/promotions/{id}":
		return []probe{p("GET", "/api/v1/admin/promotions/"+fx.promo.ID, nil)}
	case "PATCH /api/v1/admin/promotions/{id}":
		return []probe{p("PATCH", "/api/v1/admin/promotions/"+fx.promo.ID, map[string]any{"name": "Authz 10%"})}
	case "DELETE /api/v1/admin/promotions/{id}":
		return []probe{p("DELETE", "/api/v1/admin/promotions/"+fx.newPromotion().ID, nil)}

	case "POST /api/v1/admin/shipping/zones":
		return []probe{p("POST", "/api/v1/admin/shipping/zones", fx.zoneInput())}
	case "PUT /api/v1/admin/shipping/zones/{id}":
		z := fx.newZone()
		return []probe{p("PUT", "/api/v1/admin/shipping/zones/"+z.ID, shipping.ZoneInput{Name: z.Name, Countries: z.Countries, Rates: []shipping.RateInput{{Name: "Standard", Price: eur(1990)}}})}
	case "DELETE /api/v1/admin/shipping/zones/{id}":
		return []probe{p("DELETE", "/api/v1/admin/shipping/zones/"+fx.newZone().ID, nil)}
	case "PUT /api/v1/admin/tax/rates/{country}":
		return []probe{p("PUT", "/api/v1/admin/tax/rates/DE", map[string]any{"rate_bp": 1900})}
	case "POST /api/v1/admin/emails/{id}/resend":
		return []probe{p("POST", "/api/v1/admin/emails/"+fx.email1+"/resend", nil)}
	case "POST /admin/emails/{id}/resend":
		return []probe{p("POST", "/admin/emails/"+fx.email1+"/resend", url.Values{})}
	case "GET /cart/restore/{token}", "GET /unsubscribe/{token}", "POST /unsubscribe/{token}":
		// Public: the mailed token is the credential; an unknown one finds nothing, for anyone.
		method, path, _ := strings.Cut(pattern, " ")
		var body any
		if method == "POST" {
			body = url.Values{}
		}
		pr := p(method, strings.Replace(path, "{token}", unique("not-a-token"), 1), body)
		pr.everyone = notFound
		if pattern == "GET /cart/restore/{token}" {
			pr.everyone, pr.location = allowed, "/cart" // to the caller's own cart page, saying the link is not valid
		}
		return []probe{pr}
	case "GET /api/v1/admin/emails/{id}", "GET /api/v1/admin/emails/{id}/html", "GET /admin/emails/{id}", "GET /admin/emails/{id}/html":
		return []probe{p("GET", strings.Replace(strings.TrimPrefix(pattern, "GET "), "{id}", fx.email1, 1), nil)}

	// The admin panel.
	case "GET /admin/static/{file}":
		return []probe{p("GET", fx.admCSS, nil)}
	case "POST /admin/login":
		return []probe{p("POST", "/admin/login", url.Values{"email": {fx.staff2.Email}, "password": {authzPassword}})}
	case "POST /admin/logout":
		pr := p("POST", "/admin/logout", nil)
		pr.token, pr.location = fx.session(c), "/admin/login"
		return []probe{pr}
	case "GET /admin/{$}":
		return []probe{p("GET", "/admin/", nil)}
	case "GET /admin/orders/{id}":
		return []probe{p("GET", "/admin/orders/"+o.ID, nil)}
	case "POST /admin/orders/{id}/fulfil":
		po := fx.newOrder(fx.ctx)
		return []probe{p("POST", "/admin/orders/"+po.ID+"/fulfil", url.Values{"qty." + po.Items[0].ID: {"1"}})}
	case "POST /admin/orders/{id}/ship":
		po := fx.parcel("")
		return []probe{p("POST", "/admin/orders/"+po.ID+"/ship", url.Values{"fulfillment_id": {po.Fulfillments[0].ID}, "tracking_number": {"T-1"}})}
	case "POST /admin/orders/{id}/deliver":
		return []probe{p("POST", "/admin/orders/"+fx.parcel("T-1").ID+"/deliver", url.Values{})}
	case "POST /admin/orders/{id}/cancel":
		return []probe{p("POST", "/admin/orders/"+fx.newOrder(fx.ctx).ID+"/cancel", url.Values{"reason": {"authz"}})}
	case "POST /admin/orders/{id}/refund":
		return []probe{p("POST", "/admin/orders/"+fx.newOrder(fx.ctx).ID+"/refund", url.Values{"amount": {"0.01"}})}
	case "POST /admin/products":
		return []probe{p("POST", "/admin/products", multipartForm{"title": {unique("Authz form")}, "status": {"draft"}, "rows": {"1"},
			"v.0.sku": {unique("AUTHZ-FORM")}, "v.0.options": {"size=M"}, "v.0.price": {"1.00"}})}
	case "GET /admin/products/{id}":
		return []probe{p("GET", "/admin/products/"+fx.product.ID, nil)}
	case "POST /admin/products/{id}":
		sp := fx.newProduct()
		return []probe{p("POST", "/admin/products/"+sp.ID, multipartForm{"title": {sp.Title}, "status": {"draft"}, "rows": {"1"},
			"v.0.id": {sp.Variants[0].ID}, "v.0.sku": {sp.Variants[0].SKU}, "v.0.options": {"size=M"}, "v.0.price": {"2.00"}})}
	case "POST /admin/products/{id}/archive":
		return []probe{p("POST", "/admin/products/"+fx.newProduct().ID+"/archive", url.Values{})}
	case "GET /admin/inventory/{sku}":
		return []probe{p("GET", "/admin/inventory/"+fx.sku, nil)}
	case "POST /admin/inventory/{sku}/adjust":
		return []probe{p("POST", "/admin/inventory/"+fx.sku+"/adjust", url.Values{"delta": {"+1"}, "reason": {"authz"}})}
	case "POST /admin/inventory/{sku}/set":
		return []probe{p("POST", "/admin/inventory/"+fx.sku+"/set", url.Values{"on_hand": {"100000"}})}
	case "POST /admin/promotions":
		return []probe{p("POST", "/admin/promotions", url.Values{"name": {unique("Authz panel")}, "code": {unique("panel")}, "type": {"fixed"}, "value": {"1.00"}, "active": {"on"}})}
	case "GET /admin/promotions/{id}":
		return []probe{p("GET", "/admin/promotions/"+fx.promo.ID, nil)}
	case "POST /admin/promotions/{id}":
		return []probe{p("POST", "/admin/promotions/"+fx.promo.ID, url.Values{"name": {"Authz 10%"}, "code": {"AUTHZ"}, "type": {"percentage"}, "value": {"10"}, "active": {"on"}})}
	case "POST /admin/promotions/{id}/delete":
		return []probe{p("POST", "/admin/promotions/"+fx.newPromotion().ID+"/delete", url.Values{})}
	case "GET /admin/customers/{id}":
		return []probe{p("GET", "/admin/customers/"+fx.id[customerA], nil)}
	case "POST /admin/staff":
		return []probe{p("POST", "/admin/staff", url.Values{"email": {unique("panel-staff") + "@authz.example"}, "password": {authzPassword}, "name": {"S"}, "role": {"staff"}})}
	case "POST /admin/gift-cards":
		return []probe{p("POST", "/admin/gift-cards", url.Values{"amount": {"10.00"}, "key": {unique("authz-form")}})}
	case "GET /admin/gift-cards/{id}":
		return []probe{p("GET", "/admin/gift-cards/"+fx.gift.ID, nil)}
	case "POST /admin/gift-cards/{id}/adjust":
		pr := p("POST", "/admin/gift-cards/"+fx.gift.ID+"/adjust", url.Values{"amount": {"0.01"}, "reason": {"authz"}})
		pr.location = "/admin/gift-cards/" + fx.gift.ID
		return []probe{pr}
	case "POST /admin/gift-cards/{id}/disable":
		gc, err := fx.app.GiftCards.Issue(fx.ctx, giftcard.IssueInput{Amount: 100}, "test")
		if err != nil {
			fx.t.Fatal(err)
		}
		pr := p("POST", "/admin/gift-cards/"+gc.ID+"/disable", url.Values{"reason": {"authz"}})
		pr.location = "/admin/gift-cards/" + gc.ID
		return []probe{pr}
	case "POST /admin/staff/{id}/role":
		return []probe{p("POST", "/admin/staff/"+fx.staff2.ID+"/role", url.Values{"role": {"staff"}})}

	// The storefront.
	case "GET /static/{file}":
		return []probe{p("GET", fx.static, nil)}
	case "GET /{$}":
		return []probe{p("GET", "/", nil)}
	case "GET /c/{slug}":
		return []probe{p("GET", "/c/"+fx.cat.Slug, nil)}
	case "GET /p/{slug}":
		return []probe{p("GET", "/p/"+fx.product.Slug, nil)}
	case "GET /search":
		return []probe{p("GET", "/search?q=kettle", nil)}
	case "GET /cart", "GET /checkout":
		_, path, _ := strings.Cut(pattern, " ")
		return []probe{ofA(withCart(p("GET", path, nil), a.ID)), named("guest cart", withCart(p("GET", path, nil), fx.guest.ID))}
	case "POST /cart/items":
		form := url.Values{"variant_id": {fx.variant}, "quantity": {"1"}}
		return []probe{ofA(withCart(p("POST", "/cart/items", form), a.ID)), named("guest cart", withCart(p("POST", "/cart/items", form), fx.guest.ID))}
	case "POST /cart/items/{id}":
		form := url.Values{"quantity": {"2"}}
		return []probe{ofA(withCart(p("POST", "/cart/items/"+a.Items[0].ID, form), a.ID)),
			named("guest cart", withCart(p("POST", "/cart/items/"+fx.guest.Items[0].ID, form), fx.guest.ID))}
	case "POST /cart/discounts":
		form := url.Values{"code": {"authz"}}
		return []probe{ofA(withCart(p("POST", "/cart/discounts", form), a.ID)), named("guest cart", withCart(p("POST", "/cart/discounts", form), fx.guest.ID))}
	case "POST /cart/discounts/{code}/delete":
		mine, theirs := fx.codedCart(fx.ctxA), fx.codedCart(fx.ctx)
		return []probe{ofA(withCart(p("POST", "/cart/discounts/AUTHZ/delete", url.Values{}), mine.ID)),
			named("guest cart", withCart(p("POST", "/cart/discounts/AUTHZ/delete", url.Values{}), theirs.ID))}
	case "POST /checkout":
		var out []probe
		for _, ctx := range []context.Context{fx.ctxA, fx.ctx} {
			cc := fx.newCart(ctx)
			in := fx.checkoutInput(ctx, cc.ID)
			ad := in.ShippingAddress
			pr := withCart(p("POST", "/checkout", url.Values{"email": {in.Email}, "name": {ad.Name}, "line1": {ad.Line1}, "city": {ad.City},
				"postal_code": {ad.PostalCode}, "country": {ad.Country}, "shipping_method_id": {in.ShippingMethodID},
				"payment_method": {in.PaymentMethod}, "idempotency_key": {unique("authz")}}), cc.ID)
			if ctx == fx.ctxA {
				pr.location = "/account/orders/"
				out = append(out, ofA(pr))
			} else {
				pr.location = "/orders/" // a guest's order; a customer's own when a customer checks the guest cart out
				if c == customerA || c == customerB {
					pr.location = "/account/orders/"
				}
				out = append(out, named("guest cart", pr))
			}
		}
		return out
	case "GET /orders/{id}":
		return []probe{ofA(p("GET", "/orders/"+o.ID, nil)),
			named("guest order with its token", p("GET", "/orders/"+g.ID+"?token="+url.QueryEscape(g.AccessToken), nil))}
	case "GET /orders/{id}/pay":
		return []probe{ofA(p("GET", "/orders/"+o.ID+"/pay", nil)),
			named("guest order with its token", p("GET", "/orders/"+g.ID+"/pay?token="+url.QueryEscape(g.AccessToken), nil))}
	case "POST /account/login":
		return []probe{p("POST", "/account/login", url.Values{"email": {fx.staff2.Email}, "password": {authzPassword}})}
	case "POST /account/register":
		return []probe{p("POST", "/account/register", url.Values{"email": {unique("shopper") + "@authz.example"}, "password": {authzPassword}, "name": {"Shopper"}})}
	case "POST /account/logout":
		pr := p("POST", "/account/logout", url.Values{})
		pr.token = fx.session(c)
		return []probe{pr}
	case "GET /account/orders/{id}":
		return []probe{ofA(p("GET", "/account/orders/"+o.ID, nil))}
	case "POST /account/addresses":
		ad := addressDE()
		return []probe{p("POST", "/account/addresses", url.Values{"name": {ad.Name}, "line1": {ad.Line1}, "city": {ad.City}, "postal_code": {ad.PostalCode}, "country": {ad.Country}})}
	case "POST /account/addresses/{id}/delete":
		return []probe{ofA(p("POST", "/account/addresses/"+fx.newAddress()+"/delete", url.Values{}))}
	case "POST /api/v1/me/affiliate":
		return []probe{p("POST", "/api/v1/me/affiliate", map[string]any{"note": "authz"})}
	case "GET /api/v1/me/affiliate":
		if c != anonymous {
			fx.applyAffiliate(c) // each account its own; 404 before applying
		}
		return []probe{p("GET", "/api/v1/me/affiliate", nil)}
	case "PATCH /api/v1/admin/affiliates/{id}":
		return []probe{p("PATCH", "/api/v1/admin/affiliates/"+fx.affA, map[string]any{"status": "approved", "commission_percent": 12.5})}
	case "GET /api/v1/admin/affiliates/{id}/payouts":
		return []probe{p("GET", "/api/v1/admin/affiliates/"+fx.affA+"/payouts", nil)}
	case "POST /api/v1/admin/affiliates/{id}/payouts":
		return []probe{p("POST", "/api/v1/admin/affiliates/"+fx.payableAffiliate()+"/payouts", map[string]any{"reference": unique("transfer")})}
	case "POST /admin/affiliates/{id}":
		return []probe{p("POST", "/admin/affiliates/"+fx.affA, url.Values{"status": {"approved"}, "back": {"status=pending"}})}
	case "POST /admin/affiliates/{id}/payouts":
		return []probe{p("POST", "/admin/affiliates/"+fx.payableAffiliate()+"/payouts", url.Values{"reference": {unique("transfer")}})}
	case "POST /account/affiliate":
		pr := p("POST", "/account/affiliate", url.Values{"note": {"authz"}})
		pr.location = "/account/affiliate"
		return []probe{pr}
	case "/":
		pr := p("GET", "/no-such-page", nil)
		pr.everyone, pr.want = allowed, http.StatusNotFound
		return []probe{pr}
	}
	return nil
}

// isAPI reports whether a path is answered as JSON (problem documents),
// not as a page.
func isAPI(path string) bool {
	return strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// send sends a probe as c: API requests with the caller's bearer token,
// pages with its session cookie (as a browser would). Every request comes
// from its own address, so that no rate limit interferes. Documented
// answers are checked against openapi.json.
func (fx *authzFixture) send(t testing.TB, pr probe, c caller, cred func(*http.Request, string)) result {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := pr.body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case multipartForm:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, k := range slices.Sorted(mapKeys(b)) {
			for _, v := range b[k] {
				mw.WriteField(k, v)
			}
		}
		mw.Close()
		rd, ctype = &buf, mw.FormDataContentType()
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	r := httptest.NewRequest(pr.method, pr.target, rd)
	n := fx.uniq()
	r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4711", n>>16&255, n>>8&255, n&255)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	for k, vs := range pr.header {
		r.Header[k] = vs
	}
	for k, v := range pr.cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	token := fx.token[c]
	if pr.token != "" || c == anonymous {
		token = pr.token
	}
	if token != "" {
		cred(r, token)
	}
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	res := result{t: t, req: pr.method + " " + truncate([]byte(pr.target)), Code: w.Code, Header: w.Result().Header, Body: w.Body.Bytes()}
	if res.Code >= 500 {
		t.Fatalf("%s as %s answered %d: %s", res.req, c, res.Code, truncate(res.Body))
	}
	if _, documented := fx.doc.operation(r); documented {
		fx.doc.checkResponse(t, r, res.Code, res.Header, res.Body)
	}
	return res
}

// asBrowserOrClient is the usual credential: a bearer token for the API, the session cookie for pages.
func asBrowserOrClient(r *http.Request, token string) {
	if isAPI(r.URL.Path) {
		r.Header.Set("Authorization", "Bearer "+token)
	} else {
		r.AddCookie(&http.Cookie{Name: customer.SessionCookie, Value: token})
	}
}

// asCookie sends the session cookie from a page of this site, as the shop's
// own pages would.
func asCookie(r *http.Request, token string) {
	r.AddCookie(&http.Cookie{Name: customer.SessionCookie, Value: token})
	r.Header.Set("Sec-Fetch-Site", "same-origin")
}

// fingerprint hashes the rows of every table (or of the tables in only,
// with their WHERE clauses), to show that a refused request wrote nothing.
func (fx *authzFixture) fingerprint(t testing.TB, only map[string]string) string {
	t.Helper()
	ctx := fx.ctx
	tables := only
	if tables == nil && fx.tables != nil {
		tables = fx.tables
	}
	if tables == nil {
		q := `SELECT name FROM sqlite_master WHERE type = 'table'`
		if fx.app.DB.Dialect() == sqldb.Postgres {
			q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
		}
		names, err := sqldb.All(ctx, fx.app.DB, "tables", func(row sqldb.Scanner) (string, error) {
			var s string
			return s, row.Scan(&s)
		}, q)
		if err != nil {
			t.Fatal(err)
		}
		tables = map[string]string{}
		for _, name := range names {
			tables[name] = ""
		}
		fx.tables = tables
	}
	h := sha256.New()
	for _, table := range slices.Sorted(mapKeys(tables)) {
		q := "SELECT * FROM " + table
		if w := tables[table]; w != "" {
			q += " WHERE " + w
		}
		rows, err := fx.app.DB.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		sort.Strings(lines)
		fmt.Fprintf(h, "%s:%d:%s\n", table, len(lines), strings.Join(lines, "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cartOfA is customer A's cart in the database.
func (fx *authzFixture) cartOfA(id string) map[string]string {
	return map[string]string{"cart_carts": "id = '" + id + "'", "cart_items": "cart_id = '" + id + "'"}
}

// check asserts that res is the outcome want.
func (fx *authzFixture) check(t testing.TB, pr probe, res result, c caller, want outcome, rule access) {
	t.Helper()
	loc := res.Header.Get("Location")
	signIn := func() bool {
		return res.Code == http.StatusSeeOther && (strings.HasPrefix(loc, "/account/login") || strings.HasPrefix(loc, "/admin/login"))
	}
	api := isAPI(strings.SplitN(pr.target, "?", 2)[0])
	switch want {
	case allowed, ownCartOnly:
		switch {
		case pr.want != 0 && res.Code != pr.want:
			t.Errorf("%s: %d, want %d: %s", res.req, res.Code, pr.want, truncate(res.Body))
		case pr.location != "" && want == allowed:
			if res.Code != http.StatusSeeOther || !strings.HasPrefix(loc, pr.location) {
				t.Errorf("%s: %d to %q, want a redirect to %s: %s", res.req, res.Code, loc, pr.location, truncate(res.Body))
			}
		case pr.want == 0 && (res.Code >= 400 || signIn()):
			t.Errorf("%s: refused (%d %s), but access %q allows it: %s", res.req, res.Code, loc, rule, truncate(res.Body))
		}
	case unauthorized:
		if api {
			res.wantProblem(http.StatusUnauthorized, "")
			if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("%s: 401 without WWW-Authenticate: Bearer (got %q)", res.req, got)
			}
		} else {
			signInPage := "/account/login?next="
			if strings.HasPrefix(pr.target, "/admin") {
				signInPage = "/admin/login?next="
			}
			if res.Code != http.StatusSeeOther || !strings.HasPrefix(loc, signInPage) {
				t.Errorf("%s: %d %s, want a redirect to %s…: %s", res.req, res.Code, loc, signInPage, truncate(res.Body))
			}
		}
	case forbidden:
		switch {
		case api:
			res.wantProblem(http.StatusForbidden, "")
		case c == staffCaller:
			if res.Code != http.StatusForbidden {
				t.Errorf("%s: %d %s, want 403: %s", res.req, res.Code, loc, truncate(res.Body))
			}
		case res.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/login"):
			// The admin panel sends customers to its sign-in page.
			t.Errorf("%s: %d %s, want a redirect to the admin sign-in page: %s", res.req, res.Code, loc, truncate(res.Body))
		}
	case notFound:
		if api {
			res.wantProblem(http.StatusNotFound, "")
		} else if res.Code != http.StatusNotFound {
			t.Errorf("%s: %d %s, want 404 as for an object that does not exist: %s", res.req, res.Code, loc, truncate(res.Body))
		}
	case badRequest:
		res.wantProblem(http.StatusBadRequest, "")
	default:
		t.Errorf("%s: no outcome for access %q", res.req, rule)
	}
}

// TestAuthorizationMatrix sends every route of routes.go a request as an
// anonymous visitor, customer A, customer B (naming A's objects), staff
// and an admin, and checks each answer against the route's declared access
// rule (see access in routes.go): allowed, 401 (or the sign-in page), 403,
// or 404 for another customer's object, exactly as for one that does not
// exist. A refused request changes nothing in the database; a storefront
// cart page never touches A's cart for anybody else. Every API route also
// refuses a bad token and a Basic header, and the admin API refuses the
// session cookie that opens the account's routes.
func TestAuthorizationMatrix(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		fx := newAuthzFixture(t, db)
		marker := fx.product.Title
		routes := fx.app.routes()
		counts := map[outcome]int{}
		for _, rt := range routes {
			t.Run(rt.pattern, func(t *testing.T) {
				rule := rt.access
				if rule == "" {
					t.Fatalf("route %q declares no access rule: add one in internal/app/routes.go", rt.pattern)
				}
				if expect(rule, anonymous, false, false) == fromRule {
					t.Fatalf("route %q declares access %q, which the matrix does not know", rt.pattern, rule)
				}
				_, path, _ := strings.Cut(rt.pattern, " ")
				page := !isAPI(path) && !strings.HasPrefix(path, "/media/")
				// Refused callers first: they must find everything as it was.
				order := []caller{anonymous, customerB, staffCaller, adminCaller, customerA}
				known := "" // the database's fingerprint when nothing changed it since
				for _, c := range order {
					prs := fx.probes(rt.pattern, c)
					known = "" // the probes may have made objects
					if len(prs) == 0 {
						t.Fatalf("no probe for %q: add one to authzFixture.probes in internal/app/authz_test.go", rt.pattern)
					}
					for _, pr := range prs {
						want := pr.everyone
						if want == fromRule {
							want = expect(rule, c, pr.ofA, page)
						}
						counts[want]++
						var before string
						switch want {
						case unauthorized, forbidden, notFound, badRequest:
							if known == "" {
								known = fx.fingerprint(t, nil)
							}
							before = known
						case ownCartOnly:
							before = fx.fingerprint(t, fx.cartOfA(pr.cookies["mercato_cart"]))
						}
						res := fx.send(t, pr, c, asBrowserOrClient)
						res.req += " as " + c.String()
						if pr.name != "" {
							res.req += " (" + pr.name + ")"
						}
						fx.check(t, pr, res, c, want, rule)
						switch want {
						case unauthorized, forbidden, notFound, badRequest:
							if known = fx.fingerprint(t, nil); known != before {
								t.Errorf("%s: refused, but the database changed", res.req)
							}
						default:
							known = ""
						}
						switch want {
						case ownCartOnly:
							if after := fx.fingerprint(t, fx.cartOfA(pr.cookies["mercato_cart"])); after != before {
								t.Errorf("%s: changed customer A's cart", res.req)
							}
							if bytes.Contains(res.Body, []byte(marker)) {
								t.Errorf("%s: shows customer A's cart", res.req)
							}
						}
					}
				}
				if !isAPI(path) || rule == accessMetrics {
					return // pages; /metrics reads Authorization itself (TestMetricsToken)
				}
				// Bad credentials are refused on every API route, public ones included.
				anon := fx.probes(rt.pattern, anonymous)[0]
				for _, h := range []string{"Bearer mct_not-a-real-token", "Basic c3RhZmY6cGFzcw==", "Bearer "} {
					pr := anon
					pr.header = http.Header{"Authorization": {h}}
					for k, v := range anon.header {
						pr.header[k] = v
					}
					res := fx.send(t, pr, anonymous, asBrowserOrClient)
					res.req += " with Authorization: " + h
					fx.check(t, pr, res, anonymous, unauthorized, rule)
				}
				// The session cookie opens the account's routes, not the admin API.
				switch rule {
				case accessStaff, accessAdmin:
					for _, c := range []caller{staffCaller, adminCaller} {
						pr := fx.probes(rt.pattern, c)[0]
						before := fx.fingerprint(t, nil)
						res := fx.send(t, pr, c, asCookie)
						res.req += " as " + c.String() + " by session cookie"
						fx.check(t, pr, res, c, unauthorized, rule)
						if after := fx.fingerprint(t, nil); after != before {
							t.Errorf("%s: refused, but the database changed", res.req)
						}
					}
				case accessCustomer:
					pr := fx.probes(rt.pattern, customerA)[0]
					res := fx.send(t, pr, customerA, asCookie)
					res.req += " as customer A by session cookie"
					fx.check(t, pr, res, customerA, allowed, rule)
				}
			})
		}
		// The matrix must see every kind of answer, or it proves little.
		for _, o := range []outcome{allowed, unauthorized, forbidden, notFound, badRequest, ownCartOnly} {
			if counts[o] == 0 {
				t.Errorf("no probe expected %s", o)
			}
		}
	})
}
