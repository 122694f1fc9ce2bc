package storefront_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var affCode = regexp.MustCompile(`<code id="aff-code">([A-Z0-9]+)</code>`)

// becomeAffiliate signs a new browser up, applies on the programme page,
// has staff approve it and returns the browser and its code.
func becomeAffiliate(t *testing.T, s *shop, name, email string) (*browser, string) {
	t.Helper()
	ctx := context.Background()
	b := s.browser()
	if a := b.post("/account/register", url.Values{"name": {name}, "email": {email}, "password": {"long enough password"}}); a.code != http.StatusSeeOther {
		t.Fatalf("register: %d", a.code)
	}
	if a := b.post("/account/affiliate", url.Values{"note": {"My blog"}}); a.code != http.StatusSeeOther || a.location != "/account/affiliate" {
		t.Fatalf("apply: %d to %q: %s", a.code, a.location, a.body)
	}
	page := b.get("/account/affiliate")
	m := affCode.FindStringSubmatch(page.body)
	if page.code != http.StatusOK || m == nil || !strings.Contains(page.body, "Under review") || !strings.Contains(page.body, "Thank you for applying") {
		t.Fatalf("after applying: %d\n%s", page.code, page.body)
	}
	list, err := s.a.Affiliates.List(ctx, affiliate.ListQuery{Q: m[1]})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("find %s: %v %v", m[1], list, err)
	}
	st := affiliate.StatusApproved
	if _, err := s.a.Affiliates.Update(ctx, list.Items[0].ID, affiliate.Patch{Status: &st}); err != nil {
		t.Fatal(err)
	}
	return b, m[1]
}

// figure reads one of the programme page's figures.
func figure(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s on the page:\n%s", id, body)
	}
	return m[1]
}

// TestAffiliatePages: the programme page in the account (the application
// form, the status, the code, the share link and the figures), a visitor
// following the link and buying from the storefront, and the last click
// winning the visitor's cart.
func TestAffiliatePages(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db, false)
		if a := s.browser().get("/account/affiliate"); a.code != http.StatusSeeOther || !strings.HasPrefix(a.location, "/account/login") {
			t.Fatalf("anonymous: %d to %q, want the sign-in page", a.code, a.location)
		}

		// The form, a refused note, then the application.
		b := s.browser()
		b.post("/account/register", url.Values{"name": {"Nora"}, "email": {"nora@example.com"}, "password": {"long enough password"}})
		if acc := b.get("/account"); !strings.Contains(acc.body, `href="/account/affiliate"`) {
			t.Fatal("the account menu has no affiliate programme")
		}
		form := b.get("/account/affiliate")
		if form.code != http.StatusOK || !strings.Contains(form.body, "Apply to the programme") || !strings.Contains(form.body, "<strong>10 %</strong>") {
			t.Fatalf("the application form: %d\n%s", form.code, form.body)
		}
		long := b.post("/account/affiliate", url.Values{"note": {strings.Repeat("x", affiliate.MaxNote+1)}})
		if long.code != http.StatusBadRequest || !strings.Contains(long.body, "field-error") || !strings.Contains(long.body, "Apply to the programme") {
			t.Fatalf("a note too long: %d\n%s", long.code, long.body)
		}

		ann, code := becomeAffiliate(t, s, "Ann", "ann@example.com")
		page := ann.get("/account/affiliate")
		link := "http://shop.test/?ref=" + code
		if !strings.Contains(page.body, `id="aff-link" href="`+link+`"`) || !strings.Contains(page.body, "Approved") || figure(t, page.body, "aff-clicks") != "0" {
			t.Fatalf("the approved affiliate's page:\n%s", page.body)
		}
		if again := ann.post("/account/affiliate", url.Values{}); again.code != http.StatusSeeOther {
			t.Fatalf("applying again: %d", again.code)
		}

		// A visitor follows the link and buys.
		bo := s.browser()
		if a := bo.get("/?ref=" + code); a.code != http.StatusOK || bo.cookies[affiliate.CookieName] == nil {
			t.Fatalf("following the link: %d, cookies %v", a.code, bo.cookies)
		}
		if a := bo.buy("pm_card_visa"); a.code != http.StatusSeeOther {
			t.Fatalf("buy: %d %s", a.code, a.body)
		}
		// Another visitor: referred by Ann, then by Cy before buying; the last click wins.
		cy, cyCode := becomeAffiliate(t, s, "Cy", "cy@example.com")
		dee := s.browser()
		dee.get("/?ref=" + code)
		if a := dee.post("/cart/items", url.Values{"variant_id": {s.vs[0]}, "quantity": {"1"}}); a.code != http.StatusSeeOther {
			t.Fatalf("add to cart: %d", a.code)
		}
		dee.get("/cart?ref=" + strings.ToLower(cyCode))
		if a := dee.buy("pm_card_visa"); a.code != http.StatusSeeOther {
			t.Fatalf("buy: %d %s", a.code, a.body)
		}
		s.flushMail()

		// All requests come from one address: one click per code and hour.
		page = ann.get("/account/affiliate")
		if figure(t, page.body, "aff-clicks") != "1" || figure(t, page.body, "aff-orders") != "1" ||
			!regexp.MustCompile(`pill-pending">Pending</span></th><td class="num">1</td>`).MatchString(page.body) {
			t.Fatalf("Ann's page after one referred order:\n%s", page.body)
		}
		if page := cy.get("/account/affiliate"); figure(t, page.body, "aff-orders") != "1" {
			t.Fatalf("Cy's page after the last click:\n%s", page.body)
		}
	})
}
