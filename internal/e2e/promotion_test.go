package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPromotions: staff create a discount code in the admin panel (a
// mistake first, shown beside its field), and a shopper applies it on the
// cart page (with scripts off: the form works without them), sees the
// discount with its label, is told why a bad code fails, and places the
// order at the discounted price.
func TestPromotions(t *testing.T) {
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
		if v.Available >= 2 || v.Backorder {
			variant = v.ID
			break
		}
	}
	if variant == "" {
		t.Fatalf("%s has no variant with stock", p.Slug)
	}

	t.Run("staff create a discount code", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		b.open("/admin/promotions")
		signIn(b, adminEmail, adminPassword)
		if loc := b.location(); loc.Path != "/admin/promotions" {
			t.Fatalf("after signing in: at %s", loc)
		}
		if st := b.follow("new promotion", chromedp.Click(chromedp.CSS(`a[href="/admin/promotions/new"]`))); st != 200 {
			t.Fatalf("new promotion page: %d", st)
		}
		b.audit()
		b.do("fill the form with a mistake",
			chromedp.SetValue(chromedp.CSS("#p-name"), "Spring sale"),
			chromedp.SetValue(chromedp.CSS("#p-code"), "spring15"),
			chromedp.SetValue(chromedp.CSS("#p-type"), "percentage"),
			chromedp.SetValue(chromedp.CSS("#p-value"), "150"),
		)
		if st := b.follow("submit", chromedp.Click(chromedp.CSS(`main form button[type=submit]`))); st != 422 {
			t.Fatalf("a percentage of 150: status %d, want 422", st)
		}
		if msg := eval[string](b, `(document.querySelector('#p-value').closest('.field').querySelector('.ferr')||{}).textContent||''`); !strings.Contains(msg, "100") {
			t.Errorf("the value's message is %q", msg)
		}
		if v := b.value("#p-name"); v != "Spring sale" {
			t.Errorf("the name was not kept: %q", v)
		}
		b.audit()
		b.do("correct it", chromedp.SetValue(chromedp.CSS("#p-value"), "15"))
		if st := b.follow("create", chromedp.Click(chromedp.CSS(`main form button[type=submit]`))); st != 200 {
			t.Fatalf("create: status %d: %s", st, b.text("main"))
		}
		if loc := b.location(); !strings.HasPrefix(loc.Path, "/admin/promotions/") {
			t.Fatalf("after creating: at %s", loc)
		}
		if msg := b.text(".flash"); !strings.Contains(msg, "Created Spring sale") {
			t.Errorf("flash %q", msg)
		}
		if h := b.text("#usage-h"); h != "Usage" {
			t.Errorf("no usage report: %q", h)
		}
		b.audit()
		b.open("/admin/promotions")
		if row := b.text("table.data tbody"); !strings.Contains(row, "Spring sale") || !strings.Contains(row, "SPRING15") || !strings.Contains(row, "15% off") {
			t.Errorf("the list shows %q", row)
		}
	})

	t.Run("a shopper applies the code without scripts", func(t *testing.T) {
		b := newTab(t, browser, base, tabOptions{width: 390, height: 844, noJS: true})
		b.addToCart(p.Slug, variant, 2)
		subtotal := b.text(".totals div:first-child dd")
		b.fill("#discount-code", "nope")
		if st := b.follow("apply a bad code", chromedp.Click(chromedp.CSS(`form.code-form button`))); st != 200 {
			t.Fatalf("apply: %d", st)
		}
		if msg := b.text(".notice-error"); !strings.Contains(msg, "NOPE") || !strings.Contains(msg, "no such code") {
			t.Errorf("a bad code reads %q", msg)
		}
		b.fill("#discount-code", "spring15")
		if st := b.follow("apply the code", chromedp.Click(chromedp.CSS(`form.code-form button`))); st != 200 {
			t.Fatalf("apply: %d", st)
		}
		if msg := b.text(".notice-ok"); !strings.Contains(msg, "Spring sale") {
			t.Errorf("applying the code reads %q", msg)
		}
		line := b.text(".totals .discount")
		if !strings.Contains(line, "Spring sale") || !strings.Contains(line, "SPRING15") || !strings.Contains(line, "−") {
			t.Fatalf("the totals show %q for the discount (subtotal %s)", line, subtotal)
		}
		b.audit()
		b.toCheckout()
		if line := b.text(".totals .discount"); !strings.Contains(line, "Spring sale") {
			t.Errorf("the checkout's totals show %q", line)
		}
		b.fillAddress("spring@example.com", "Sam Spring", "Hauptstraße 9", "10115", "Berlin")
		if st := b.follow("place the order", chromedp.Click(chromedp.CSS(`button[value=order]`))); st != 200 {
			t.Fatalf("order page: status %d: %s", st, b.text("main"))
		}
		if line := b.text(".totals .discount"); !strings.Contains(line, "Spring sale") {
			t.Errorf("the order's totals show %q", line)
		}
		b.audit()
	})
}
