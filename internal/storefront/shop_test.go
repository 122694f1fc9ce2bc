package storefront_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/demo"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// shop is the whole program's handler (authentication, CSRF, routes) on a
// real database: the buying pages as a browser meets them.
type shop struct {
	t  testing.TB
	a  *app.App
	h  http.Handler
	vs []string // variant ids with stock
}

func newShop(t testing.TB, db *sqldb.DB, seedDemo bool) *shop {
	t.Helper()
	ctx := context.Background()
	a, err := app.Wire(app.Config{Currency: "EUR", DataDir: t.TempDir(), DefaultCountry: "DE", PricesIncludeTax: true, ShopName: "Test shop", BaseURL: "http://shop.test"},
		slog.New(slog.NewTextHandler(io.Discard, nil)), db)
	if err != nil {
		t.Fatal(err)
	}
	s := &shop{t: t, a: a, h: a.Handler()}
	if seedDemo {
		if _, err := demo.Seed(ctx, a.Catalog, a.Blob, "EUR", nil); err != nil {
			t.Fatal(err)
		}
	} else {
		stock := int64(5)
		for _, title := range []string{"Blue mug", "Red mug"} {
			if _, err := a.Catalog.CreateProduct(ctx, catalog.ProductInput{Title: title, Status: catalog.StatusActive,
				Variants: []catalog.VariantInput{{SKU: strings.ToUpper(strings.ReplaceAll(title, " ", "-")), Price: money.Money{Amount: 1200, Currency: "EUR"}, Stock: &stock}}}, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	page, err := a.Catalog.ListProducts(ctx, catalog.ListQuery{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range page.Items {
		for _, v := range p.Variants {
			if v.Available >= 5 && len(s.vs) < 2 {
				s.vs = append(s.vs, v.ID)
			}
		}
	}
	if len(s.vs) < 2 {
		t.Fatal("no two variants with stock")
	}
	return s
}

// browser is a cookie-keeping client of a shop's handler; it does not
// follow redirects.
type browser struct {
	s       *shop
	cookies map[string]*http.Cookie
}

func (s *shop) browser() *browser { return &browser{s: s, cookies: map[string]*http.Cookie{}} }

type answer struct {
	code     int
	body     string
	location string
	res      *http.Response
}

func (b *browser) do(method, target string, form url.Values, headers ...string) answer {
	b.s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	for _, c := range b.cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	w := httptest.NewRecorder()
	b.s.h.ServeHTTP(w, r)
	res := w.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return answer{code: res.StatusCode, body: w.Body.String(), location: res.Header.Get("Location"), res: res}
}

func (b *browser) get(target string) answer { return b.do("GET", target, nil) }

func (b *browser) post(target string, form url.Values) answer { return b.do("POST", target, form) }

var keyRe = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)
var methodRe = regexp.MustCompile(`name="shipping_method_id" value="([^"]+)" checked`)

// buy fills the cart with one of each variant and places an order; it
// returns where the browser was sent.
func (b *browser) buy(card string) answer {
	b.s.t.Helper()
	for _, v := range b.s.vs {
		if a := b.post("/cart/items", url.Values{"variant_id": {v}, "quantity": {"1"}}); a.code != http.StatusSeeOther {
			b.s.t.Fatalf("add to cart: %d %s", a.code, a.body)
		}
	}
	page := b.get("/checkout")
	if page.code != http.StatusOK {
		b.s.t.Fatalf("GET /checkout: %d", page.code)
	}
	key, method := keyRe.FindStringSubmatch(page.body), methodRe.FindStringSubmatch(page.body)
	if key == nil || method == nil {
		b.s.t.Fatalf("the checkout has no idempotency key or chosen method:\n%s", page.body)
	}
	return b.post("/checkout", url.Values{"idempotency_key": {key[1]}, "email": {"buyer@example.com"}, "name": {"Bo Buyer"}, "line1": {"Hauptstr. 1"},
		"postal_code": {"10115"}, "city": {"Berlin"}, "country": {"DE"}, "shipping_method_id": {method[1]}, "payment_method": {card}, "action": {"order"}})
}

func TestShopPages(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db, false)

		t.Run("cart cookie", func(t *testing.T) {
			b := s.browser()
			a := b.do("POST", "/cart/items", url.Values{"variant_id": {s.vs[0]}, "quantity": {"2"}}, "X-Forwarded-Proto", "https")
			if a.code != http.StatusSeeOther || a.location != "/cart" {
				t.Fatalf("add: %d to %q", a.code, a.location)
			}
			c := b.cookies["mercato_cart"]
			// X-Forwarded-Proto from a client that is no trusted proxy (none
			// is configured here) is not believed: no Secure flag.
			if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" {
				t.Fatalf("cart cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP, Path=/", c)
			}
			cart := b.get("/cart")
			if cart.code != 200 || !strings.Contains(cart.body, "Blue mug") && !strings.Contains(cart.body, "Red mug") {
				t.Fatalf("GET /cart: %d", cart.code)
			}
			if !regexp.MustCompile(`data-cart-count>2<`).MatchString(cart.body) {
				t.Error("the header does not count the 2 items")
			}
			// More than in stock: a message on the cart page, not an error page.
			a = b.post("/cart/items", url.Values{"variant_id": {s.vs[0]}, "quantity": {"50"}})
			if a.code != http.StatusSeeOther || a.location != "/cart" {
				t.Fatalf("add 50: %d to %q", a.code, a.location)
			}
			if cart = b.get("/cart"); !strings.Contains(cart.body, "notice-error") || !strings.Contains(cart.body, "available") {
				t.Errorf("no stock message on the cart page:\n%s", cart.body)
			}
		})

		t.Run("sign-in next stays on this site", func(t *testing.T) {
			hostile := []string{"/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example/", "/\n/evil.example"}
			b := s.browser()
			for i, next := range hostile {
				email := fmt.Sprintf("redirect%d@example.com", i)
				p := b.post("/account/register", url.Values{"name": {"R"}, "email": {email}, "password": {"long enough password"}, "next": {next}})
				if p.code != http.StatusSeeOther || p.location != "/account" {
					t.Errorf("register with next %q: %d to %q, want 303 to /account", next, p.code, p.location)
				}
				for _, path := range []string{"/account/login", "/account/register"} { // signed in: GET redirects to next
					if p := b.get(path + "?next=" + url.QueryEscape(next)); p.code != http.StatusSeeOther || p.location != "/account" {
						t.Errorf("GET %s?next=%q signed in: %d to %q, want 303 to /account", path, next, p.code, p.location)
					}
				}
				b.post("/account/logout", nil)
				p = b.post("/account/login", url.Values{"email": {email}, "password": {"long enough password"}, "next": {next}})
				if p.code != http.StatusSeeOther || p.location != "/account" {
					t.Errorf("login with next %q: %d to %q, want 303 to /account", next, p.code, p.location)
				}
				b.post("/account/logout", nil)
			}
			p := b.post("/account/register", url.Values{"name": {"R"}, "email": {"redirect-ok@example.com"}, "password": {"long enough password"}, "next": {"/account/orders"}})
			if p.code != http.StatusSeeOther || p.location != "/account/orders" {
				t.Errorf("register with a local next: %d to %q, want /account/orders", p.code, p.location)
			}
		})

		t.Run("cross-origin POST is refused", func(t *testing.T) {
			for _, path := range []string{"/cart/items", "/checkout", "/account/login", "/account/register", "/account/logout"} {
				b := s.browser()
				a := b.do("POST", path, url.Values{"variant_id": {s.vs[0]}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
				if a.code != http.StatusForbidden {
					t.Errorf("cross-site POST %s: %d, want 403", path, a.code)
				}
				if b.cookies["mercato_cart"] != nil {
					t.Errorf("cross-site POST %s made a cart", path)
				}
			}
			// The storefront's own guard, without the customer middleware in front.
			r := httptest.NewRequest("POST", "/cart/items", strings.NewReader("variant_id="+s.vs[0]))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			w := httptest.NewRecorder()
			s.a.Storefront.AddToCart().ServeHTTP(w, r)
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "another site") {
				t.Errorf("storefront alone: %d %.200s", w.Code, w.Body.String())
			}
		})

		t.Run("guest order and its token", func(t *testing.T) {
			b := s.browser()
			a := b.buy("pm_card_visa")
			u, _ := url.Parse(a.location)
			if a.code != http.StatusSeeOther || !strings.HasPrefix(u.Path, "/orders/") || u.Query().Get("token") == "" {
				t.Fatalf("checkout: %d to %q", a.code, a.location)
			}
			if b.cookies["mercato_cart"] != nil {
				t.Error("the cart cookie survived the order")
			}
			if p := b.get(a.location); p.code != 200 || !strings.Contains(p.body, "Blue mug") || !strings.Contains(p.body, "Red mug") {
				t.Fatalf("order page: %d", p.code)
			}
			if p := b.get(u.Path); p.code != 200 {
				t.Errorf("order page without the token (cookie): %d", p.code)
			}
			if p := s.browser().get(u.Path); p.code != 404 {
				t.Errorf("another browser without the token: %d, want 404", p.code)
			}
			if p := s.browser().get(u.Path + "?token=oat_wrong"); p.code != 404 {
				t.Errorf("a wrong token: %d, want 404", p.code)
			}
		})

		t.Run("declined card keeps the input", func(t *testing.T) {
			b := s.browser()
			a := b.buy("pm_card_chargeDeclined")
			if a.code != http.StatusPaymentRequired || !strings.Contains(a.body, "declined") || !strings.Contains(a.body, `value="Hauptstr. 1"`) {
				t.Fatalf("decline: %d\n%s", a.code, a.body)
			}
		})

		t.Run("accounts see only their own orders", func(t *testing.T) {
			alice, bob := s.browser(), s.browser()
			for _, x := range []struct {
				b           *browser
				name, email string
			}{{alice, "Alice", "alice@example.com"}, {bob, "Bob", "bob@example.com"}} {
				a := x.b.post("/account/register", url.Values{"name": {x.name}, "email": {x.email}, "password": {"long enough password"}})
				if a.code != http.StatusSeeOther || a.location != "/account" || x.b.cookies["mercato_session"] == nil {
					t.Fatalf("register %s: %d to %q", x.email, a.code, a.location)
				}
			}
			a := alice.buy("pm_card_visa")
			if a.code != http.StatusSeeOther || !strings.HasPrefix(a.location, "/account/orders/") {
				t.Fatalf("alice's checkout: %d to %q", a.code, a.location)
			}
			if p := alice.get(a.location); p.code != 200 {
				t.Fatalf("alice's order: %d", p.code)
			}
			if p := alice.get("/account/orders"); !strings.Contains(p.body, a.location) {
				t.Error("alice's order history does not link the order")
			}
			id := strings.TrimPrefix(a.location, "/account/orders/")
			for _, path := range []string{a.location, "/orders/" + id} {
				if p := bob.get(path); p.code != 404 {
					t.Errorf("bob GET %s: %d, want 404", path, p.code)
				}
			}
			if p := s.browser().get("/account"); p.code != http.StatusSeeOther || !strings.HasPrefix(p.location, "/account/login") {
				t.Errorf("GET /account signed out: %d to %q", p.code, p.location)
			}
			// A wrong password: the e-mail stays, the password does not.
			p := s.browser().post("/account/login", url.Values{"email": {"alice@example.com"}, "password": {"wrong password!"}})
			if p.code != http.StatusUnauthorized || !strings.Contains(p.body, `value="alice@example.com"`) || strings.Contains(p.body, "wrong password!") {
				t.Errorf("bad login: %d", p.code)
			}
		})
	})
}

// BenchmarkShopPages measures the server time of the buying pages with the
// demo catalog on SQLite, through the whole handler (authentication,
// routing, metrics, templates). Budget: 5 ms each.
//
//	go test -run '^$' -bench ShopPages -benchmem ./internal/storefront
func BenchmarkShopPages(b *testing.B) {
	s := newShop(b, sqldbtest.SQLite(b, app.Migrations()...), true)
	guest := s.browser()
	order := guest.buy("pm_card_visa")
	cust := s.browser()
	cust.post("/account/register", url.Values{"name": {"Bench"}, "email": {"bench@example.com"}, "password": {"long enough password"}})
	corder := cust.buy("pm_card_visa")
	for _, v := range s.vs { // a full cart again for the cart and checkout pages
		cust.post("/cart/items", url.Values{"variant_id": {v}, "quantity": {"1"}})
	}
	for _, pg := range []struct {
		name string
		b    *browser
		path string
	}{
		{"cart", cust, "/cart"},
		{"checkout", cust, "/checkout"},
		{"order_guest", guest, order.location},
		{"order_account", cust, corder.location},
		{"account", cust, "/account"},
		{"account_orders", cust, "/account/orders"},
	} {
		b.Run(pg.name, func(b *testing.B) {
			if a := pg.b.get(pg.path); a.code != 200 {
				b.Fatalf("GET %s: %d", pg.path, a.code)
			}
			b.ReportAllocs()
			for b.Loop() {
				pg.b.get(pg.path)
			}
		})
	}
}
