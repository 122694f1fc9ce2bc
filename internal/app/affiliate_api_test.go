package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// applyAffiliate makes caller c an affiliate applicant (once; again it
// changes nothing) and returns its id.
func (fx *authzFixture) applyAffiliate(c caller) string {
	fx.t.Helper()
	a, _, err := fx.app.Affiliates.Apply(fx.ctx, auth.Principal{AccountID: fx.id[c], Email: fx.email[c], Name: fx.name[c]}, "")
	if err != nil {
		fx.t.Fatal(err)
	}
	return a.ID
}

// payableAffiliate makes a new approved affiliate with one approved
// commission (a guest order it referred, past its return window), for the
// payout routes, and returns its id.
func (fx *authzFixture) payableAffiliate() string {
	fx.t.Helper()
	ctx, n := fx.ctx, fx.uniq()
	acc, err := fx.app.Customers.CreateAccount(ctx, fmt.Sprintf("affiliate-%d@authz.example", n), authzPassword, "Affiliate", auth.RoleCustomer)
	if err != nil {
		fx.t.Fatal(err)
	}
	a, _, err := fx.app.Affiliates.Apply(ctx, auth.Principal{AccountID: acc.ID, Email: acc.Email, Name: acc.Name}, "")
	if err != nil {
		fx.t.Fatal(err)
	}
	st := affiliate.StatusApproved
	if _, err := fx.app.Affiliates.Update(ctx, a.ID, affiliate.Patch{Status: &st}); err != nil {
		fx.t.Fatal(err)
	}
	c := fx.newCart(ctx)
	if err := fx.app.Affiliates.ReferCart(ctx, c.ID, a.Code); err != nil {
		fx.t.Fatal(err)
	}
	if _, err := fx.app.Checkout.Checkout(ctx, c.ID, fmt.Sprintf("authz-aff-%d", n), fx.checkoutInput(ctx, c.ID)); err != nil {
		fx.t.Fatal(err)
	}
	drainOutbox(fx.t, fx.app)
	if _, err := fx.app.Affiliates.ApproveDue(ctx, time.Now().Add(affiliate.DefaultReturnWindow+time.Hour)); err != nil {
		fx.t.Fatal(err)
	}
	return a.ID
}

func from(addr string) reqOpt { return func(r *http.Request) { r.RemoteAddr = addr } }

func withRef(c *http.Cookie) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value}) }
}

func refCookie(res result) *http.Cookie {
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == affiliate.CookieName {
			return c
		}
	}
	return nil
}

// expectedCommission is the commission on an order at percent, computed
// here from the definition (docs/API.md): the subtotal minus discounts,
// less the tax share of the goods when prices include tax (the order's tax
// split between goods and shipping in proportion), rounded half up.
func expectedCommission(o order.Order, percent float64) int64 {
	t := o.Totals
	goods := float64(t.Subtotal.Amount - t.Discount.Amount)
	net := goods
	if o.TaxIncluded {
		net -= math.Round(float64(t.Tax.Amount) * goods / (goods + float64(t.Shipping.Amount)))
	}
	return int64(math.Round(net * percent / 100))
}

// storePage sends a request to a storefront page (not part of the API
// document, so not checked against it).
func (a *testAPI) storePage(target string, opts ...reqOpt) result {
	a.t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return result{t: a.t, req: "GET " + target, Code: w.Code, Header: w.Result().Header, Body: w.Body.Bytes()}
}

func (a *testAPI) myAffiliate(opts ...reqOpt) affiliate.Dashboard {
	a.t.Helper()
	var d affiliate.Dashboard
	a.do("GET", "/api/v1/me/affiliate", nil, opts...).wantStatus(http.StatusOK).decode(&d)
	return d
}

// checkoutGuest checks out cart c (made with opts) as a guest with email.
func (a *testAPI) checkoutCart(c cart.Cart, email string, opts ...reqOpt) order.Order {
	a.t.Helper()
	var res checkout.Result
	a.checkout(c.ID, "aff-"+c.ID, a.checkoutBody(c.ID, email, "pm_card_visa", opts...), opts...).wantStatus(http.StatusCreated).decode(&res)
	return res.Order
}

// TestAffiliateProgramme drives the programme over HTTP on both engines: a
// customer applies, staff approve, a visitor follows the link (the click
// counted once per address and hour), a headless cart honours the cookie
// and another names the code, the orders earn commissions, a refund
// reverses its share, the return window passes, staff record the payout,
// a refund after it is owed back; self-referrals earn nothing; the staff
// list and its CSV export.
func TestAffiliateProgramme(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		ctx := context.Background()
		stock := int64(100)
		p, err := api.app.Catalog.CreateProduct(ctx, catalog.ProductInput{Title: "Referred kettle", Status: catalog.StatusActive,
			Variants: []catalog.VariantInput{{SKU: "AFF-KETTLE", Price: eur(11900), Stock: &stock}}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		v := p.Variants[0].ID
		staff, customer := bearer(api.staff), bearer(api.customer)
		if _, err := api.app.Customers.CreateAccount(ctx, "affi@example.com", testPassword, `=HYPERLINK("http://evil.test")`, auth.RoleCustomer); err != nil {
			t.Fatal(err)
		}
		aff := bearer(api.login("affi@example.com", testPassword))

		// Applying.
		api.do("GET", "/api/v1/me/affiliate", nil, aff).wantProblem(http.StatusNotFound, "")
		api.do("POST", "/api/v1/me/affiliate", map[string]any{"note": strings.Repeat("x", affiliate.MaxNote+1)}, aff).wantProblem(http.StatusBadRequest, "note")
		var a affiliate.Affiliate
		api.do("POST", "/api/v1/me/affiliate", map[string]any{"note": "I review kitchen things"}, aff).wantStatus(http.StatusCreated).decode(&a)
		if a.Status != affiliate.StatusPending || len(a.Code) != 8 || a.Email != "affi@example.com" || a.CommissionPercent != 10 || !a.DefaultCommission {
			t.Fatalf("application: %+v", a)
		}
		var again affiliate.Affiliate
		api.do("POST", "/api/v1/me/affiliate", nil, aff).wantStatus(http.StatusOK).decode(&again)
		if again.ID != a.ID || again.Code != a.Code || again.Note != "I review kitchen things" {
			t.Fatalf("applying again: %+v", again)
		}
		if d := api.myAffiliate(aff); d.Status != affiliate.StatusPending || !strings.HasSuffix(d.Link, "/?ref="+a.Code) {
			t.Fatalf("dashboard: %+v", d)
		}

		// A pending code refers nobody.
		if res := api.storePage("/?ref="+a.Code, from("192.0.2.1:1000")).wantStatus(http.StatusOK); refCookie(res) != nil {
			t.Fatal("a pending affiliate's link set the cookie")
		}

		// Staff decide.
		target := "/api/v1/admin/affiliates/" + a.ID
		api.do("PATCH", target, map[string]any{"status": "approved"}, customer).wantProblem(http.StatusForbidden, "")
		for _, bad := range []struct {
			body  string
			field string
		}{
			{`{"status":"maybe"}`, "status"}, {`{"commission_percent":101}`, "commission_percent"}, {`{"commission_percent":12.345}`, "commission_percent"},
			{`{"commission_percent":"ten"}`, "commission_percent"}, {`{"commission_percent":-1}`, "commission_percent"}, {`{"code":"MINE"}`, "code"},
		} {
			api.do("PATCH", target, bad.body, staff).wantProblem(http.StatusBadRequest, bad.field)
		}
		api.do("PATCH", "/api/v1/admin/affiliates/no-such-affiliate", map[string]any{"status": "approved"}, staff).wantProblem(http.StatusNotFound, "")
		api.do("PATCH", target, map[string]any{"status": "approved"}, staff).wantStatus(http.StatusOK).decode(&a)
		if a.Status != affiliate.StatusApproved || a.DecidedAt == nil {
			t.Fatalf("approved: %+v", a)
		}

		// A visitor follows the link: the cookie for 30 days; a click per address and hour.
		res := api.storePage("/p/"+p.Slug+"?ref="+strings.ToLower(a.Code), from("192.0.2.1:1000")).wantStatus(http.StatusOK)
		ref := refCookie(res)
		if ref == nil || !ref.HttpOnly || ref.SameSite != http.SameSiteLaxMode || ref.MaxAge != 30*24*3600 || ref.Path != "/" ||
			!strings.HasPrefix(ref.Value, a.Code+".") || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("referral cookie %+v (Cache-Control %q)", ref, res.Header.Get("Cache-Control"))
		}
		api.storePage("/?ref="+a.Code, from("192.0.2.1:2000")).wantStatus(http.StatusOK)
		api.storePage("/search?q=kettle&ref="+a.Code, from("192.0.2.2:1000")).wantStatus(http.StatusOK)
		bot := api.storePage("/?ref="+a.Code, from("192.0.2.3:1000"), header("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1)"))
		api.do("GET", "/api/v1/products?ref="+a.Code, nil, from("192.0.2.4:1000")).wantStatus(http.StatusOK) // not a storefront page
		if d := api.myAffiliate(aff); d.Clicks != 2 || refCookie(bot) != nil {
			t.Fatalf("clicks %d (want 2: two addresses; the robot and the API not counted)", d.Clicks)
		}

		// A headless cart honours the cookie.
		c1 := api.cartWith([]reqOpt{withRef(ref)}, v, 1)
		o1 := api.checkoutCart(c1, "buyer@example.com")
		// Another names the code, at the affiliate's own rate by then.
		api.do("PATCH", target, map[string]any{"commission_percent": 12.5}, staff).wantStatus(http.StatusOK)
		var c2 cart.Cart
		api.do("POST", "/api/v1/carts", map[string]any{"referral_code": strings.ToLower(a.Code)}).wantStatus(http.StatusCreated).decode(&c2)
		api.addItem(c2.ID, v, 2)
		o2 := api.checkoutCart(c2, "buyer2@example.com")
		drainOutbox(t, api.app)
		c1Want, c2Want := expectedCommission(o1, 10), expectedCommission(o2, 12.5)
		if c1Want <= 0 || c2Want <= 0 {
			t.Fatalf("expected commissions %d and %d", c1Want, c2Want)
		}
		d := api.myAffiliate(aff)
		if d.Orders != 2 || d.Commissions.Pending != (affiliate.Bucket{Count: 2, Amount: eur(c1Want + c2Want)}) || len(d.Recent) != 2 {
			t.Fatalf("after two orders: %+v", d)
		}

		// Codes a cart cannot take; nothing is made.
		carts := api.rows(`SELECT COUNT(*) FROM cart_carts`)
		api.do("POST", "/api/v1/carts", map[string]any{"referral_code": "no!"}).wantProblem(http.StatusBadRequest, "referral_code")
		api.do("POST", "/api/v1/carts", map[string]any{"referral_code": "NOSUCH99"}).wantProblem(http.StatusUnprocessableEntity, "referral_code")
		api.do("POST", "/api/v1/carts", map[string]any{"referral_code": a.Code}, aff).wantProblem(http.StatusUnprocessableEntity, "referral_code")
		if n := api.rows(`SELECT COUNT(*) FROM cart_carts`); n != carts {
			t.Fatalf("refused carts were made: %d, want %d", n, carts)
		}

		// Self-referral earns nothing: the affiliate's own account with its
		// cookie, and a guest order to its address.
		own := api.cartWith([]reqOpt{aff, withRef(ref)}, v, 1)
		api.checkoutCart(own, "", aff)
		guest := api.cartWith([]reqOpt{withRef(ref)}, v, 1)
		api.checkoutCart(guest, "Affi+deals@example.com")
		drainOutbox(t, api.app)
		if d := api.myAffiliate(aff); d.Orders != 2 {
			t.Fatalf("self-referred orders earned: %d orders", d.Orders)
		}

		// Half of order 1 refunded: half of its commission reversed.
		api.do("POST", "/api/v1/admin/orders/"+o1.ID+"/refunds", map[string]any{"amount": o1.Totals.Total.Amount / 2}, staff).wantStatus(http.StatusCreated)
		drainOutbox(t, api.app)
		half := int64(math.Round(float64(c1Want) * float64(o1.Totals.Total.Amount/2) / float64(o1.Totals.Total.Amount)))
		if d := api.myAffiliate(aff); d.Commissions.Reversed != (affiliate.Bucket{Count: 1, Amount: eur(half)}) ||
			d.Commissions.Pending.Amount != eur(c1Want+c2Want-half) {
			t.Fatalf("after a half refund: %+v", d.Commissions)
		}

		// The periodic job is registered; run now, it approves nothing yet.
		var ledgerJob *job
		for i, j := range api.app.jobs.list {
			if j.name == "affiliate-ledger" {
				ledgerJob = &api.app.jobs.list[i]
			}
		}
		if ledgerJob == nil || ledgerJob.interval != affiliateEvery {
			t.Fatalf("no affiliate-ledger job every %v: %+v", affiliateEvery, ledgerJob)
		}
		if err := ledgerJob.run(ctx); err != nil {
			t.Fatal(err)
		}
		// Nothing to pay yet; the return window passes (the job's clock).
		api.do("POST", target+"/payouts", nil, staff).wantProblem(http.StatusConflict, "")
		if n, err := api.app.Affiliates.ApproveDue(ctx, time.Now().Add(affiliate.DefaultReturnWindow+time.Minute)); err != nil || n != 2 {
			t.Fatalf("approved %d, %v", n, err)
		}
		due := c1Want - half + c2Want
		if d := api.myAffiliate(aff); d.Commissions.Approved != (affiliate.Bucket{Count: 2, Amount: eur(due)}) || d.Payable != eur(due) {
			t.Fatalf("approved: %+v", d.Commissions)
		}

		// The payout.
		api.do("POST", target+"/payouts", map[string]any{"reference": "SEPA 2026-04"}, customer).wantProblem(http.StatusForbidden, "")
		api.do("POST", target+"/payouts", map[string]any{"reference": strings.Repeat("r", 201)}, staff).wantProblem(http.StatusBadRequest, "reference")
		var po affiliate.Payout
		api.do("POST", target+"/payouts", map[string]any{"reference": "SEPA 2026-04"}, staff).wantStatus(http.StatusCreated).decode(&po)
		if po.Amount != eur(due) || po.Commissions != 2 || po.CreatedBy != staffEmail || po.Reference != "SEPA 2026-04" {
			t.Fatalf("payout %+v", po)
		}
		api.do("POST", target+"/payouts", nil, staff).wantProblem(http.StatusConflict, "")
		var payouts struct{ Items []affiliate.Payout }
		api.do("GET", target+"/payouts", nil, staff).wantStatus(http.StatusOK).decode(&payouts)
		if len(payouts.Items) != 1 || payouts.Items[0].ID != po.ID {
			t.Fatalf("payouts: %+v", payouts)
		}
		if d := api.myAffiliate(aff); d.Commissions.Paid != (affiliate.Bucket{Count: 2, Amount: eur(due)}) || d.Commissions.Approved.Count != 0 {
			t.Fatalf("paid: %+v", d.Commissions)
		}

		// Order 2 cancelled after the payout cannot be: it is refunded in
		// full instead; its commission is owed back from the next payout.
		api.do("POST", "/api/v1/admin/orders/"+o2.ID+"/refunds", map[string]any{"amount": o2.Totals.Total.Amount}, staff).wantStatus(http.StatusCreated)
		drainOutbox(t, api.app)
		if d := api.myAffiliate(aff); d.Payable != eur(-c2Want) || d.Commissions.Reversed.Amount != eur(half+c2Want) || d.Commissions.Paid.Amount != eur(due) {
			t.Fatalf("refund after the payout: payable %v, %+v", d.Payable, d.Commissions)
		}

		// The staff list and its export.
		var page affiliate.Page
		api.do("GET", "/api/v1/admin/affiliates?status=approved&q="+strings.ToLower(a.Code), nil, staff).wantStatus(http.StatusOK).decode(&page)
		if len(page.Items) != 1 || page.Items[0].ID != a.ID || page.Items[0].Orders != 2 || page.Items[0].CommissionPercent != 12.5 {
			t.Fatalf("staff list: %+v", page)
		}
		api.do("GET", "/api/v1/admin/affiliates?status=paid", nil, staff).wantProblem(http.StatusBadRequest, "status")
		api.do("GET", "/api/v1/admin/affiliates?limit=0", nil, staff).wantProblem(http.StatusBadRequest, "limit")
		api.do("GET", "/api/v1/admin/affiliates", nil, customer).wantProblem(http.StatusForbidden, "")
		exp := api.do("GET", "/api/v1/admin/affiliates/export.csv?status=approved", nil, staff).wantStatus(http.StatusOK)
		if ct := exp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.HasPrefix(exp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("export headers: %q %q", ct, exp.Header.Get("Content-Disposition"))
		}
		rows, err := csv.NewReader(bytes.NewReader(exp.Body)).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("export: %q, %v", rows, err)
		}
		if r := rows[1]; r[0] != a.ID || r[1] != `'=HYPERLINK("http://evil.test")` || r[3] != a.Code || r[5] != "12.5" || r[6] != "2" || r[7] != "2" {
			t.Fatalf("export row: %q", r)
		}
	})
}

// TestAffiliateSettings: the defaults and the forms the settings take.
func TestAffiliateSettings(t *testing.T) {
	for _, tc := range []struct {
		env         map[string]string
		window, ret time.Duration
		rate        affiliate.Rate
	}{
		{nil, 30 * 24 * time.Hour, 30 * 24 * time.Hour, 1000},
		{map[string]string{"MERCATO_AFFILIATE_WINDOW": "48h", "MERCATO_AFFILIATE_RETURN_WINDOW": "14d", "MERCATO_AFFILIATE_COMMISSION_PERCENT": "7.5"},
			48 * time.Hour, 14 * 24 * time.Hour, 750},
		{map[string]string{"MERCATO_AFFILIATE_WINDOW": "366d", "MERCATO_AFFILIATE_RETURN_WINDOW": "1h", "MERCATO_AFFILIATE_COMMISSION_PERCENT": "0"},
			366 * 24 * time.Hour, time.Hour, 0},
	} {
		c := defaultConfig(func(k string) string { return tc.env[k] })
		if err := c.parseAffiliate(); err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if c.AffiliateWindow != tc.window || c.AffiliateReturnWindow != tc.ret || c.AffiliateRate == nil || *c.AffiliateRate != tc.rate {
			t.Errorf("%v: window %v, return window %v, rate %v", tc.env, c.AffiliateWindow, c.AffiliateReturnWindow, c.AffiliateRate)
		}
	}
}

var affiliateTables = []string{"affiliate_affiliates", "affiliate_referrals", "affiliate_commissions", "affiliate_clawbacks", "affiliate_payouts",
	"affiliate_rate_changes", "affiliate_click_marks", "cart_carts"}

// TestAffiliateBadInput: every input of the programme's routes a client
// should not send is a 4xx problem naming the field, and changes nothing.
func TestAffiliateBadInput(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newShopAPI(t, db, shopConfig(t))
		ctx := context.Background()
		staff, customer := []reqOpt{bearer(api.staff)}, []reqOpt{bearer(api.customer)}
		var a affiliate.Affiliate
		api.do("POST", "/api/v1/me/affiliate", nil, customer...).wantStatus(http.StatusCreated).decode(&a)
		if _, err := api.app.Affiliates.Update(ctx, a.ID, affiliate.Patch{Status: ptr(affiliate.StatusApproved)}); err != nil {
			t.Fatal(err)
		}
		target := "/api/v1/admin/affiliates/" + a.ID
		long := strings.Repeat("x", 5000)
		cases := []badCase{
			{"apply: note too long", "POST", "/api/v1/me/affiliate", map[string]any{"note": long}, customer, 400, "note"},
			{"apply: note a number", "POST", "/api/v1/me/affiliate", `{"note":5}`, customer, 400, "note"},
			{"apply: note NUL", "POST", "/api/v1/me/affiliate", `{"note":"\u0000"}`, customer, 400, "note"},
			{"apply: anonymous", "POST", "/api/v1/me/affiliate", nil, nil, 401, ""},
			{"dashboard: anonymous", "GET", "/api/v1/me/affiliate", nil, nil, 401, ""},
			{"dashboard: staff never applied", "GET", "/api/v1/me/affiliate", nil, staff, 404, ""},
			{"list: status", "GET", "/api/v1/admin/affiliates?status=PENDING", nil, staff, 400, "status"},
			{"list: q too long", "GET", "/api/v1/admin/affiliates?q=" + strings.Repeat("q", 201), nil, staff, 400, "q"},
			{"list: cursor", "GET", "/api/v1/admin/affiliates?cursor=!!", nil, staff, 400, "cursor"},
			{"list: limit", "GET", "/api/v1/admin/affiliates?limit=101", nil, staff, 400, "limit"},
			{"list: q invalid UTF-8", "GET", "/api/v1/admin/affiliates?q=%ff", nil, staff, 400, "q"},
			{"export: status", "GET", "/api/v1/admin/affiliates/export.csv?status=all", nil, staff, 400, "status"},
			{"patch: status", "PATCH", target, `{"status":"pending"}`, staff, 400, "status"},
			{"patch: status null", "PATCH", target, `{"status":null,"commission_percent":true}`, staff, 400, "commission_percent"},
			{"patch: percent a string", "PATCH", target, `{"commission_percent":"12"}`, staff, 400, "commission_percent"},
			{"patch: percent huge", "PATCH", target, `{"commission_percent":1e400}`, staff, 400, "commission_percent"},
			{"patch: percent three decimals", "PATCH", target, `{"commission_percent":0.001}`, staff, 400, "commission_percent"},
			{"patch: unknown field", "PATCH", target, `{"rate":5}`, staff, 400, "rate"},
			{"patch: unknown affiliate", "PATCH", "/api/v1/admin/affiliates/" + long, `{"status":"approved"}`, staff, 404, ""},
			{"patch: id invalid UTF-8", "PATCH", "/api/v1/admin/affiliates/%ff", `{"status":"approved"}`, staff, 400, "id"},
			{"payout: nothing approved", "POST", target + "/payouts", nil, staff, 409, ""},
			{"payout: reference too long", "POST", target + "/payouts", map[string]any{"reference": long}, staff, 400, "reference"},
			{"payout: unknown affiliate", "POST", "/api/v1/admin/affiliates/nope/payouts", nil, staff, 404, ""},
			{"payouts: unknown affiliate", "GET", "/api/v1/admin/affiliates/nope/payouts", nil, staff, 404, ""},
			{"cart: code malformed", "POST", "/api/v1/carts", `{"referral_code":"a b"}`, nil, 400, "referral_code"},
			{"cart: code too long", "POST", "/api/v1/carts", map[string]any{"referral_code": long}, nil, 400, "referral_code"},
			{"cart: code a number", "POST", "/api/v1/carts", `{"referral_code":12345678}`, nil, 400, "referral_code"},
			{"cart: unknown code", "POST", "/api/v1/carts", `{"referral_code":"ZZZZ9999"}`, nil, 422, "referral_code"},
			{"cart: own code", "POST", "/api/v1/carts", map[string]any{"referral_code": a.Code}, customer, 422, "referral_code"},
		}
		for _, route := range []struct {
			method, target string
			opts           []reqOpt
			emptyOK        bool
		}{
			{"POST", "/api/v1/me/affiliate", customer, true},
			{"PATCH", target, staff, false},
			{"POST", target + "/payouts", staff, true},
		} {
			for _, c := range malformedBodies(route.method, route.target, route.opts...) {
				if c.name == "empty body" && route.emptyOK {
					continue
				}
				c.name = route.method + " " + route.target + ": " + c.name
				cases = append(cases, c)
			}
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				api := *api
				api.t = t
				before := dumpTables(t, db, affiliateTables...)
				r := api.do(c.method, c.target, c.body, c.opts...)
				r.wantProblem(c.status, c.field)
				if after := dumpTables(t, db, affiliateTables...); after != before {
					t.Fatalf("the refused request changed the database: %s", firstDiff(before, after))
				}
			})
		}
	})
}
