package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestShop buys from the demo catalog of the real program in Chromium:
// a guest order of two variants, a declined card, the whole purchase with
// JavaScript off, a customer who signs up, buys and finds the order, and
// screenshots of the buying pages. All tabs share one browser profile
// (cookies), so the subtests run in order and each ends signed out with an
// empty cart.
func TestShop(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	chromium := chromiumPath(t)
	base := startServer(t, map[string]string{"MERCATO_SHOP_NAME": shopName})
	browser := startBrowser(t, chromium)
	catalog := products(t, base)
	p := pickVariantProduct(t, catalog)
	var two []string // two buyable variants of p
	for _, v := range p.Variants {
		if v.Available >= 3 || v.Backorder {
			two = append(two, v.ID)
		}
	}
	if len(two) < 2 {
		t.Fatalf("%s has fewer than two variants with stock", p.Slug)
	}
	titles := map[string]string{}
	for _, v := range p.Variants {
		titles[v.ID] = v.Title
	}

	t.Run("guest buys two variants", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		b.addToCart(p.Slug, two[0], 1)
		b.addToCart(p.Slug, two[1], 2)
		if n := eval[int](b, `document.querySelectorAll('.lines .line').length`); n != 2 {
			t.Fatalf("the cart shows %d lines, want 2", n)
		}
		if c := b.text("[data-cart-count]"); c != "3" {
			t.Errorf("the header's cart count is %q, want 3", c)
		}
		b.audit()
		b.toCheckout()
		// No provider keys: the sandbox's test cards, said to move no real
		// money; the first is chosen; no provider script is loaded.
		if help := b.text("#pay-help"); !strings.Contains(help, "no real money moves") {
			t.Errorf("the sandbox checkout says %q, want the test-mode notice", help)
		}
		if !eval[bool](b, `document.querySelector('input[name=payment_method][value=pm_card_visa]').checked && !document.querySelector('script[src*="stripe"]') && !document.querySelector('[data-card-entry]')`) {
			t.Error("the Visa test card is not chosen, or the sandbox checkout loads Stripe.js")
		}
		b.fillAddress("guest@example.com", "Gina Guest", "Hauptstraße 5", "10115", "Berlin")
		if st := b.follow("place the order", chromedp.Click(chromedp.CSS(`button[value=order]`))); st != 200 {
			t.Fatalf("order page: status %d: %s", st, b.text("main"))
		}
		loc := b.location()
		if !strings.HasPrefix(loc.Path, "/orders/") || loc.Query().Get("token") == "" {
			t.Fatalf("after placing the order: at %s, want /orders/{id}?token=", loc)
		}
		number := b.text(".order-head .order-number")
		if number == "" {
			t.Fatal("the confirmation shows no order number")
		}
		lines := b.text(".order-lines")
		for _, id := range two[:2] {
			if !strings.Contains(lines, titles[id]) {
				t.Errorf("the confirmation's lines %q miss %q", lines, titles[id])
			}
		}
		if !strings.Contains(b.text(".confirm"), "confirmed") {
			t.Errorf("no thank-you message: %q", b.text(".confirm"))
		}
		b.audit()
		// The token is remembered for this order: the page reloads without it.
		if st := b.open(loc.Path); st != 200 || b.text(".order-head .order-number") != number {
			t.Errorf("reloading %s without the token: status %d, number %q", loc.Path, st, b.text(".order-head .order-number"))
		}
		if c := b.text("[data-cart-count]"); c != "" {
			t.Errorf("after the order the header still counts %q items", c)
		}
	})

	t.Run("declined card keeps the form", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		b.addToCart(p.Slug, two[0], 1)
		b.toCheckout()
		b.fillAddress("decline@example.com", "Dora Decline", "Lindenweg 12", "80331", "München")
		b.do("choose the declined test card", chromedp.Click(chromedp.CSS(`input[name=payment_method][value=pm_card_chargeDeclined]`)))
		key := eval[string](b, `document.querySelector('input[name=idempotency_key]').value`)
		if st := b.follow("place the order", chromedp.Click(chromedp.CSS(`button[value=order]`))); st != 402 {
			t.Fatalf("declined checkout: status %d, want 402", st)
		}
		if loc := b.location(); loc.Path != "/checkout" {
			t.Fatalf("after a decline: at %s, want /checkout", loc)
		}
		if msg := b.text("#checkout-error"); !strings.Contains(msg, "declined") {
			t.Errorf("the error says %q, want it to mention the decline", msg)
		}
		for sel, want := range map[string]string{"#co-line1": "Lindenweg 12", "#co-city": "München", "#co-postal": "80331", "#co-email": "decline@example.com", "#co-name": "Dora Decline"} {
			if got := b.value(sel); got != want {
				t.Errorf("%s is %q after the decline, want %q", sel, got, want)
			}
		}
		if k := eval[string](b, `document.querySelector('input[name=idempotency_key]').value`); k == key || k == "" {
			t.Errorf("the form after a decline carries idempotency key %q (before: %q); want a new one", k, key)
		}
		b.audit()
		// Another card goes through.
		b.do("choose the Visa test card", chromedp.Click(chromedp.CSS(`input[name=payment_method][value=pm_card_visa]`)))
		if st := b.follow("place the order again", chromedp.Click(chromedp.CSS(`button[value=order]`))); st != 200 || !strings.HasPrefix(b.location().Path, "/orders/") {
			t.Fatalf("second attempt: status %d at %s", st, b.location())
		}
	})

	t.Run("guest buys with JavaScript off", func(t *testing.T) {
		b := newTab(t, browser, base, tabOptions{width: 390, height: 844, noJS: true})
		if eval[bool](b, `document.documentElement.classList.contains('js')`) {
			t.Fatal("the page script ran in a tab with JavaScript disabled")
		}
		b.addToCart(p.Slug, two[1], 1)
		b.toCheckout()
		b.fillAddress("nojs@example.com", "Nora NoScript", "Rue de Rivoli 1", "75001", "Paris")
		// Another country: the shipping methods follow after "Update shipping options".
		b.do("choose France", chromedp.SetValue(chromedp.CSS("#co-country"), "FR"))
		before := b.text(".choices")
		if st := b.follow("update shipping options", chromedp.Click(chromedp.CSS(`button[value=update]`))); st != 200 {
			t.Fatalf("update shipping options: status %d", st)
		}
		if b.value("#co-country") != "FR" || b.value("#co-line1") != "Rue de Rivoli 1" {
			t.Errorf("after updating: country %q, street %q", b.value("#co-country"), b.value("#co-line1"))
		}
		if after := b.text(".choices"); after == before {
			t.Logf("shipping methods for FR are the same as for DE: %q", after)
		}
		b.audit()
		if st := b.follow("place the order", chromedp.Click(chromedp.CSS(`button[value=order]`))); st != 200 {
			t.Fatalf("order page: status %d: %s", st, b.text("main"))
		}
		if !strings.HasPrefix(b.location().Path, "/orders/") || b.text(".order-head .order-number") == "" {
			t.Fatalf("without JavaScript: at %s, number %q", b.location(), b.text(".order-head .order-number"))
		}
		if addr := b.text("address"); !strings.Contains(addr, "France") {
			t.Errorf("the order ships to %q, want France", addr)
		}
	})

	t.Run("customer signs up, buys and finds the order", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		b.addToCart(p.Slug, two[0], 1) // as a guest: the cart follows into the account
		email := fmt.Sprintf("carla-%d@example.com", time.Now().UnixNano())
		b.register("Carla Customer", email)
		if c := b.text("[data-cart-count]"); c != "1" {
			t.Errorf("after signing up the header counts %q items, want the guest cart's 1", c)
		}
		b.open("/cart")
		b.toCheckout()
		if got := b.value("#co-email"); got != email {
			t.Errorf("the checkout's e-mail is %q, want the account's %q", got, email)
		}
		b.fillAddress("", "Carla Customer", "Kastanienallee 7", "10435", "Berlin")
		if st := b.follow("place the order", chromedp.Click(chromedp.CSS(`button[value=order]`))); st != 200 {
			t.Fatalf("order page: status %d", st)
		}
		loc := b.location()
		if !strings.HasPrefix(loc.Path, "/account/orders/") {
			t.Fatalf("after a customer's order: at %s, want /account/orders/{id}", loc)
		}
		number := b.text(".order-head .order-number")
		b.audit()
		if st := b.open("/account/orders"); st != 200 {
			t.Fatalf("order history: status %d", st)
		}
		if got := b.text(".order-list .order-number"); got != number {
			t.Fatalf("the order history's first order is %q, want %q", got, number)
		}
		b.audit()
		if st := b.follow("open the order", chromedp.Click(chromedp.CSS(".order-list a"))); st != 200 || b.location().Path != loc.Path {
			t.Fatalf("opening the order: status %d at %s", st, b.location())
		}
		if !strings.Contains(b.text(".order-lines"), titles[two[0]]) {
			t.Errorf("the order's lines %q miss %q", b.text(".order-lines"), titles[two[0]])
		}
		b.signOut()
		// Signed out, the order is not there for anyone.
		if st := b.open(loc.Path); st == 200 && strings.HasPrefix(b.location().Path, "/account/orders/") {
			t.Errorf("signed out, %s still shows the order", loc.Path)
		}
	})

	t.Run("screenshots", func(t *testing.T) {
		dir := t.TempDir()
		if os.Getenv("MERCATO_UPDATE_SCREENSHOTS") == "1" {
			dir = filepath.Join("..", "..", "docs", "screenshots")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, size := range []struct {
			name string
			opts tabOptions
		}{{"phone", tabOptions{width: 390, height: 1400}}, {"desktop", tabOptions{width: 1280, height: 1300}}} {
			b := newTab(t, browser, base, size.opts)
			shot := func(name string) {
				b.waitImages()
				png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatalf("screenshot of %s: %v", name, err)
				}
				file := filepath.Join(dir, name+"-"+size.name+".png")
				if err := os.WriteFile(file, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s (%d KB)", b.location().Path, file, len(png)/1024)
			}
			b.register("Sam Screenshot", fmt.Sprintf("sam-%s-%d@example.com", size.name, time.Now().UnixNano()))
			b.addToCart(p.Slug, two[0], 1)
			b.addToCart(p.Slug, two[1], 2)
			b.audit()
			shot("cart")
			b.toCheckout()
			b.fillAddress("", "Sam Screenshot", "Oranienstraße 25", "10999", "Berlin")
			b.audit()
			shot("checkout")
			b.follow("place the order", chromedp.Click(chromedp.CSS(`button[value=order]`)))
			b.audit()
			shot("confirmation")
			b.open("/account")
			b.audit()
			shot("account")
			b.signOut()
		}
	})
}

// addToCart opens a product page, chooses the variant and adds qty of it;
// it ends on the cart page.
func (b *tab) addToCart(slug, variantID string, qty int) {
	b.t.Helper()
	if st := b.open("/p/" + slug); st != 200 {
		b.t.Fatalf("product %s: status %d", slug, st)
	}
	if eval[bool](b, `document.querySelector('input[name=variant_id][type=radio]') !== null`) {
		b.do("choose a variant", chromedp.Click(chromedp.CSS(`input[name=variant_id][value="`+variantID+`"]`)))
	}
	b.fill("#qty", fmt.Sprint(qty))
	if st := b.follow("add to cart", chromedp.Click(chromedp.CSS("form.buy button[type=submit]"))); st != 200 {
		b.t.Fatalf("add to cart: status %d", st)
	}
	if loc := b.location(); loc.Path != "/cart" {
		b.t.Fatalf("after adding to the cart: at %s, want /cart", loc)
	}
	if msg := b.text(".notice-error"); msg != "" {
		b.t.Fatalf("adding to the cart: %s", msg)
	}
}

// toCheckout follows the cart's checkout button.
func (b *tab) toCheckout() {
	b.t.Helper()
	if st := b.follow("go to checkout", chromedp.Click(chromedp.CSS(`a[href="/checkout"]`))); st != 200 {
		b.t.Fatalf("checkout: status %d", st)
	}
	if loc := b.location(); loc.Path != "/checkout" {
		b.t.Fatalf("at %s, want /checkout", loc)
	}
}

// fillAddress types the contact and shipping address (email "" keeps the
// prefilled one).
func (b *tab) fillAddress(email, name, street, postal, city string) {
	b.t.Helper()
	if email != "" {
		b.fill("#co-email", email)
	}
	b.fill("#co-name", name)
	b.fill("#co-line1", street)
	b.fill("#co-postal", postal)
	b.fill("#co-city", city)
}

// register signs up through the form and ends on the account page.
func (b *tab) register(name, email string) {
	b.t.Helper()
	if st := b.open("/account/register"); st != 200 {
		b.t.Fatalf("register page: status %d", st)
	}
	b.fill("#acc-name", name)
	b.fill("#acc-email", email)
	b.fill("#acc-password", "correct horse battery")
	if st := b.follow("create the account", chromedp.Click(chromedp.CSS(`main form button[type=submit]`))); st != 200 {
		b.t.Fatalf("register: status %d: %s", st, b.text("main"))
	}
	if loc := b.location(); loc.Path != "/account" {
		b.t.Fatalf("after registering: at %s (%s)", loc, b.text(".notice-error"))
	}
}

// signOut presses the account page's sign-out button.
func (b *tab) signOut() {
	b.t.Helper()
	b.open("/account")
	if st := b.follow("sign out", chromedp.Click(chromedp.CSS(`form[action="/account/logout"] button`))); st != 200 {
		b.t.Fatalf("sign out: status %d", st)
	}
	if got := b.text(".tools a"); !strings.Contains(got, "Sign in") {
		b.t.Errorf("after signing out the header says %q", got)
	}
}

// fill sets a form field's value (through DevTools, so it works with the
// page's scripts disabled).
func (b *tab) fill(sel, value string) {
	b.t.Helper()
	s, _ := json.Marshal(sel)
	v, _ := json.Marshal(value)
	if !eval[bool](b, `(function(){ var e = document.querySelector(`+string(s)+`); if (!e) return false; e.value = `+string(v)+`; return true; })()`) {
		b.t.Fatalf("no field %s on %s", sel, b.location())
	}
}

// value returns a form field's current value.
func (b *tab) value(sel string) string {
	b.t.Helper()
	s, _ := json.Marshal(sel)
	return eval[string](b, `(function(){ var e = document.querySelector(`+string(s)+`); return e ? e.value : ''; })()`)
}
