package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAffiliate drives the affiliate programme in Chromium against the real
// program: a customer applies on a phone, staff approve the application in
// the admin panel, a visitor follows the share link and buys as a guest,
// and the affiliate's page then counts the click and the order. Every page
// passes the audit.
func TestAffiliate(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	chromium := chromiumPath(t)
	dir := t.TempDir()
	env := map[string]string{"MERCATO_DATA_DIR": dir, "MERCATO_SHOP_NAME": shopName, "MERCATO_LOG_LEVEL": "warn"}
	createAdmin(t, env)
	base := startServer(t, env)
	browser := startBrowser(t, chromium)
	p := pickVariantProduct(t, products(t, base))
	variant := ""
	for _, v := range p.Variants {
		if v.Available >= 3 || v.Backorder {
			variant = v.ID
			break
		}
	}

	// The customer applies (tabs share the browser's cookies: each part signs out).
	ann := newTab(t, browser, base, phone)
	ann.register("Ann Affiliate", "ann.affiliate@example.com")
	if st := ann.follow("open the programme page", chromedp.Click(chromedp.CSS(`.account-nav a[href="/account/affiliate"]`))); st != 200 {
		t.Fatalf("programme page: status %d", st)
	}
	ann.audit()
	ann.fill("#aff-note", "I write about slow living.")
	if st := ann.follow("apply", chromedp.Click(chromedp.CSS(`form[action="/account/affiliate"] button[type=submit]`))); st != 200 {
		t.Fatalf("apply: status %d", st)
	}
	code := ann.text("#aff-code")
	if len(code) != 8 || !strings.Contains(ann.text(".status-grid"), "Under review") {
		t.Fatalf("after applying: code %q, %q", code, ann.text(".status-grid"))
	}
	ann.audit()
	ann.signOut()

	// Staff approve it in the panel.
	staff := newTab(t, browser, base, desktop)
	if st := signIn(staff, adminEmail, adminPassword); st != 200 {
		t.Fatalf("admin sign in: status %d", st)
	}
	staff.open("/admin/affiliates?status=pending")
	staff.audit()
	if st := staff.follow("approve", chromedp.Click(chromedp.CSS(`tr:has(code) button[name=status][value=approved]`))); st != 200 {
		t.Fatalf("approve: status %d", st)
	}
	if msg := staff.text(".flash"); !strings.Contains(msg, "ann.affiliate@example.com is approved") {
		t.Fatalf("after approving: flash %q", msg)
	}
	staff.do("sign out of the admin", chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)))

	// A visitor follows the link, buys as a guest.
	visitor := newTab(t, browser, base, desktop)
	visitor.open("/?ref=" + code)
	visitor.addToCart(p.Slug, variant, 1)
	visitor.toCheckout()
	visitor.fillAddress("vera.visitor@example.com", "Vera Visitor", "Hauptstraße 5", "10115", "Berlin")
	if st := visitor.follow("place the order", chromedp.Click(chromedp.CSS(`button[value=order]`))); st != 200 {
		t.Fatalf("order: status %d: %s", st, visitor.text("main"))
	}

	// The affiliate sees the click and the order (the relay delivers order.placed within moments).
	ann.open("/account/login?next=/account/affiliate")
	ann.fill("#acc-email", "ann.affiliate@example.com")
	ann.fill("#acc-password", "correct horse battery")
	ann.follow("sign in", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	for i := 0; ann.text("#aff-orders") != "1" && i < 50; i++ {
		eval[bool](ann, `new Promise(function (r) { setTimeout(function () { r(true); }, 100); })`)
		ann.open("/account/affiliate")
	}
	if o, c := ann.text("#aff-orders"), ann.text("#aff-clicks"); o != "1" || c != "1" {
		t.Fatalf("the programme page shows %s orders and %s clicks, want 1 and 1", o, c)
	}
	if link := ann.text("#aff-link"); !strings.HasSuffix(link, "/?ref="+code) {
		t.Errorf("share link %q", link)
	}
	ann.audit()
}
