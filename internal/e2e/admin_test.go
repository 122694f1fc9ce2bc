package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

const (
	adminEmail    = "ada@shop.test"
	adminPassword = "correct-horse-battery"
)

// TestAdmin drives the admin panel of the real program in Chromium: an
// admin made with `mercato admin create` signs in, creates a product with
// two sizes (which the storefront then sells), fulfils part of a customer's
// order with a tracking number and refunds part of it; the customer sees
// the new state of the order.
func TestAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	chromium := chromiumPath(t)
	dir := t.TempDir()
	env := map[string]string{"MERCATO_DATA_DIR": dir, "MERCATO_SHOP_NAME": shopName, "MERCATO_LOG_LEVEL": "warn"}
	createAdmin(t, env)
	base := startServer(t, env)
	browser := startBrowser(t, chromium)

	const customerEmail, customerPassword = "carla@example.com", "customer-secret-1"
	apiCall(t, base, nil, "POST", "/api/v1/auth/register", map[string]any{"email": customerEmail, "password": customerPassword, "name": "Carla Customer"}, nil)

	t.Run("sign in: customers are refused, staff get the dashboard", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		b.open("/admin/orders")
		if loc := b.location(); loc.Path != "/admin/login" || loc.Query().Get("next") != "/admin/orders" {
			t.Fatalf("anonymous /admin/orders went to %s, want the sign-in page", loc)
		}
		b.audit()
		signIn(b, customerEmail, customerPassword)
		if msg := b.text(".flash-error"); !strings.Contains(msg, "customer account") {
			t.Errorf("a customer signing in reads %q, want a refusal naming the customer account", msg)
		}
		if st := signIn(b, adminEmail, adminPassword); st != 200 {
			t.Fatalf("sign in: status %d", st)
		}
		if loc := b.location(); loc.Path != "/admin/orders" {
			t.Errorf("after signing in: at %s, want /admin/orders (the page asked for)", loc)
		}
		b.open("/admin")
		if h1 := b.text("h1"); h1 != "Dashboard" {
			t.Fatalf("dashboard h1 %q", h1)
		}
		if !eval[bool](b, `!!document.querySelector('.chart svg[role=img] rect.c-bar') && !!document.querySelector('details table')`) {
			t.Error("the dashboard has no sales chart with a table of its figures")
		}
		b.audit()
	})

	var productID string
	t.Run("create a product with two sizes", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		b.open("/admin/products/new")
		pic := filepath.Join(t.TempDir(), "tee.png")
		writePNG(t, pic, 900, 600)
		// A first attempt with mistakes keeps the input and names the fields.
		b.do("fill the form with mistakes",
			chromedp.SetValue(chromedp.CSS("#title"), "Trail Tee"),
			chromedp.SetValue(chromedp.CSS(`[name="v.0.sku"]`), "TRAIL-S"),
			chromedp.SetValue(chromedp.CSS(`[name="v.0.options"]`), "size=S"),
			chromedp.SetValue(chromedp.CSS(`[name="v.0.price"]`), "19,9x"),
			chromedp.SetValue(chromedp.CSS(`[name="v.0.stock"]`), "5"),
		)
		if st := b.follow("submit", chromedp.Click(chromedp.CSS("#product-form button[type=submit]"))); st != 422 {
			t.Fatalf("a bad price: status %d, want 422", st)
		}
		if msg := eval[string](b, `(document.querySelector('[name="v.0.price"]').closest('td').querySelector('.ferr')||{}).textContent||''`); !strings.Contains(msg, "amount") {
			t.Errorf("the price field's message is %q, want one about the amount", msg)
		}
		if v := eval[string](b, `document.querySelector('#title').value`); v != "Trail Tee" {
			t.Errorf("the title was not kept: %q", v)
		}
		b.audit()
		b.do("correct and complete the form",
			chromedp.SetValue(chromedp.CSS(`[name="v.0.price"]`), "19.90"),
			chromedp.SetValue(chromedp.CSS(`[name="v.1.sku"]`), "TRAIL-M"),
			chromedp.SetValue(chromedp.CSS(`[name="v.1.options"]`), "size=M"),
			chromedp.SetValue(chromedp.CSS(`[name="v.1.price"]`), "19.90"),
			chromedp.SetValue(chromedp.CSS(`[name="v.1.stock"]`), "3"),
			chromedp.SetValue(chromedp.CSS("#status"), "active"),
			chromedp.SetValue(chromedp.CSS("#description"), "A light tee for long runs."),
			chromedp.SetValue(chromedp.CSS("#attributes"), "material: merino"),
			chromedp.Click(chromedp.CSS(`[name=category_ids]`)),
			chromedp.SetUploadFiles(chromedp.CSS("#image"), []string{pic}),
			chromedp.SetValue(chromedp.CSS("#image_alt"), "The Trail Tee, front"),
		)
		if st := b.follow("create", chromedp.Click(chromedp.CSS("#product-form button[type=submit]"))); st != 200 {
			t.Fatalf("create product: status %d", st)
		}
		loc := b.location()
		if !strings.HasPrefix(loc.Path, "/admin/products/") || strings.HasSuffix(loc.Path, "/new") {
			t.Fatalf("after creating: at %s", loc)
		}
		productID = strings.TrimPrefix(loc.Path, "/admin/products/")
		if flash := b.text(".flash"); !strings.Contains(flash, "Created Trail Tee") {
			t.Errorf("flash %q", flash)
		}
		if n := eval[int](b, `document.querySelectorAll('.gallery img').length`); n != 1 {
			t.Errorf("%d pictures on the product, want the uploaded one", n)
		}
		b.audit()

		s := newTab(t, browser, base, desktop)
		if st := s.open("/p/trail-tee"); st != 200 {
			t.Fatalf("storefront product page: status %d", st)
		}
		if h1 := s.text("h1"); h1 != "Trail Tee" {
			t.Errorf("storefront h1 %q", h1)
		}
		if sizes := s.text(".variants"); !strings.Contains(sizes, "S") || !strings.Contains(sizes, "M") {
			t.Errorf("the storefront offers %q, want sizes S and M", sizes)
		}
	})
	if productID == "" {
		t.Fatal("no product to sell")
	}

	// A customer orders two of size M through the REST API.
	ord := placeOrder(t, base, "trail-tee", "TRAIL-M", 2, customerEmail)

	t.Run("fulfil part of the order with tracking, refund part", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		b.open("/admin/orders/" + ord.ID)
		if h1 := b.text("h1"); h1 != "Order #"+ord.Number {
			t.Fatalf("order page h1 %q", h1)
		}
		b.audit()
		itemSel := `#fulfil-form input[type=number]`
		b.do("one of two, with a tracking number",
			chromedp.SetValue(chromedp.CSS(itemSel), "1"),
			chromedp.SetValue(chromedp.CSS("#tracking"), "TRK-4242"),
		)
		if st := b.follow("fulfil", chromedp.Click(chromedp.CSS("#fulfil-form button"))); st != 200 {
			t.Fatalf("fulfil: status %d", st)
		}
		if flash := b.text(".flash"); !strings.Contains(flash, "TRK-4242") {
			t.Errorf("after fulfilling: flash %q", flash)
		}
		b.do("refund 5.00", chromedp.SetValue(chromedp.CSS("#amount"), "5.00"))
		if st := b.follow("refund", chromedp.Click(chromedp.CSS("#refund-form button"))); st != 200 {
			t.Fatalf("refund: status %d", st)
		}
		if flash := b.text(".flash"); !strings.Contains(flash, "Refunded €5.00") {
			t.Errorf("after refunding: flash %q", flash)
		}
		timeline := b.text(".timeline")
		for _, want := range []string{"TRK-4242", "5.00"} {
			if !strings.Contains(timeline, want) {
				t.Errorf("the timeline does not mention %q: %s", want, timeline)
			}
		}
		b.audit()
		// Too much refunded is refused next to the field, the input kept.
		b.do("refund too much", chromedp.SetValue(chromedp.CSS("#amount"), "100000"))
		if st := b.follow("refund too much", chromedp.Click(chromedp.CSS("#refund-form button"))); st != 422 {
			t.Errorf("refunding too much: status %d, want 422", st)
		}
		if msg := b.text("#refund-form .ferr"); !strings.Contains(msg, "at most") {
			t.Errorf("refunding too much: field message %q", msg)
		}

		// The customer sees the new state.
		var got struct {
			Status        string `json:"status"`
			PaymentStatus string `json:"payment_status"`
			Fulfillments  []struct {
				TrackingNumber string `json:"tracking_number"`
			} `json:"fulfillments"`
			Refunded struct {
				Amount int64 `json:"amount"`
			} `json:"refunded"`
		}
		apiCall(t, base, nil, "GET", "/api/v1/orders/"+ord.ID+"?access_token="+url.QueryEscape(ord.AccessToken), nil, &got)
		if got.Status != "partially_fulfilled" || got.PaymentStatus != "partially_refunded" || got.Refunded.Amount != 500 ||
			len(got.Fulfillments) != 1 || got.Fulfillments[0].TrackingNumber != "TRK-4242" {
			t.Errorf("the customer sees %+v", got)
		}
	})

	t.Run("cross-origin form posts are refused", func(t *testing.T) {
		c := httpSignIn(t, base, adminEmail, adminPassword)
		req, _ := http.NewRequest("POST", base+"/admin/orders/"+ord.ID+"/cancel", strings.NewReader("reason=forged"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin POST: status %d, want 403", res.StatusCode)
		}
	})

	t.Run("staff accounts are for admins only", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		b.open("/admin/staff")
		b.do("add a staff member",
			chromedp.SetValue(chromedp.CSS("#s-email"), "sam@shop.test"),
			chromedp.SetValue(chromedp.CSS("#s-name"), "Sam Staff"),
			chromedp.SetValue(chromedp.CSS("#s-password"), "staff-secret-9"),
		)
		if st := b.follow("add", chromedp.Click(chromedp.CSS(`form[action="/admin/staff"] button`))); st != 200 {
			t.Fatalf("add staff: status %d", st)
		}
		if flash := b.text(".flash"); !strings.Contains(flash, "sam@shop.test") {
			t.Errorf("flash %q", flash)
		}
		b.audit()
		c := httpSignIn(t, base, "sam@shop.test", "staff-secret-9")
		for path, want := range map[string]int{"/admin": 200, "/admin/orders/" + ord.ID: 200, "/admin/staff": 403} {
			res, err := c.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != want {
				t.Errorf("staff GET %s: %d, want %d", path, res.StatusCode, want)
			}
		}
	})

	t.Run("issue a gift card: its code is shown once", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		b.open("/admin/gift-cards")
		if st := b.follow("open the form", chromedp.Click(chromedp.CSS(`a[href="/admin/gift-cards/new"]`))); st != 200 {
			t.Fatalf("gift card form: status %d", st)
		}
		b.audit()
		b.do("fill the form", chromedp.SetValue(chromedp.CSS("#gc-amount"), "25.00"), chromedp.SetValue(chromedp.CSS("#gc-email"), "friend@example.com"))
		if st := b.follow("issue", chromedp.Click(chromedp.CSS(`form[action="/admin/gift-cards"] button`))); st != 201 {
			t.Fatalf("issue: status %d", st)
		}
		code := b.text("#gift-code")
		b.audit()
		var bal struct {
			Balance struct{ Amount int64 }
		}
		apiCall(t, base, nil, "GET", "/api/v1/gift-cards/"+url.PathEscape(code), nil, &bal)
		if bal.Balance.Amount != 2500 {
			t.Fatalf("the code %q has %d", code, bal.Balance.Amount)
		}
		if st := b.follow("open the card", chromedp.Click(chromedp.CSS(`a[href^="/admin/gift-cards/0"]`))); st != 200 {
			t.Fatalf("card page: status %d", st)
		}
		if page := b.text("main"); strings.Contains(page, code) || !strings.Contains(page, "Issue") {
			t.Errorf("the card's page shows the code, or no ledger: %s", page)
		}
		b.audit()
		b.open("/admin/gift-cards")
		if page := b.text("main"); strings.Contains(page, code) || !strings.Contains(page, code[len(code)-4:]) {
			t.Errorf("the list shows the code, or not its last 4 characters: %s", page)
		}
		b.audit()
	})

	t.Run("every page passes the audit", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		for _, path := range []string{"/admin/products", "/admin/products?status=active&q=tee", "/admin/inventory", "/admin/inventory/TRAIL-M",
			"/admin/orders?status=partially_fulfilled", "/admin/customers", "/admin/emails"} {
			if st := b.open(path); st != 200 {
				t.Errorf("%s: status %d", path, st)
				continue
			}
			b.audit()
		}
		b.open("/admin/emails")
		if st := b.follow("open the first e-mail", chromedp.Click(chromedp.CSS("table.data a"))); st != 200 {
			t.Fatalf("e-mail: status %d", st)
		}
		if !eval[bool](b, `!!document.querySelector('iframe.email-frame[sandbox=""]')`) {
			t.Error("the e-mail is not shown in a sandboxed frame")
		}
		// The frame's page opens with the panel's session cookie (the admin API would refuse it: 401).
		if st := eval[int](b, `fetch(document.querySelector('iframe.email-frame').src).then(r => r.status)`); st != 200 {
			t.Errorf("the e-mail frame's page answered %d", st)
		}
		if state := b.text(".facts"); !strings.Contains(state, "not sent: no SMTP server is configured") {
			t.Errorf("the e-mail's state: %q", state)
		}
		b.audit()
		if st := b.follow("send it now", chromedp.Click(chromedp.CSS(`form[action$="/resend"] button`))); st != 200 {
			t.Fatalf("resend: status %d", st)
		}
		if flash := b.text(".flash"); !strings.Contains(flash, "Queued the e-mail again") {
			t.Errorf("after resend: flash %q", flash)
		}
		b.audit()
	})

	t.Run("screenshots", func(t *testing.T) {
		dir := t.TempDir()
		if os.Getenv("MERCATO_UPDATE_SCREENSHOTS") == "1" {
			dir = filepath.Join("..", "..", "docs", "screenshots")
		}
		for _, shot := range []struct {
			name, path string
			size       tabOptions
		}{
			{"admin-dashboard-desktop", "/admin", desktop},
			{"admin-product-desktop", "/admin/products/" + productID, desktop},
			{"admin-order-desktop", "/admin/orders/" + ord.ID, desktop},
			{"admin-order-phone", "/admin/orders/" + ord.ID, phone},
		} {
			b := newTab(t, browser, base, shot.size)
			b.open(shot.path)
			b.waitImages()
			b.audit()
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot of %s: %v", shot.path, err)
			}
			file := filepath.Join(dir, shot.name+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s (%d KB)", shot.path, file, len(png)/1024)
		}
	})
}

// signIn fills the admin sign-in form and returns the status of the answer.
func signIn(b *tab, email, password string) int64 {
	b.t.Helper()
	if b.location().Path != "/admin/login" {
		b.open("/admin/login")
	}
	b.do("fill the sign-in form", chromedp.SetValue(chromedp.CSS("#email"), email), chromedp.SetValue(chromedp.CSS("#password"), password))
	return b.follow("sign in", chromedp.Click(chromedp.CSS(".login-card button")))
}

// httpSignIn signs in to the admin with a plain HTTP client (same-origin
// form post) and returns the client with the session cookie.
func httpSignIn(t *testing.T, base, email, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.PostForm(base+"/admin/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Request.URL.Path != "/admin" {
		t.Fatalf("sign in as %s: %d at %s", email, res.StatusCode, res.Request.URL)
	}
	return c
}

// apiCall sends a JSON request to the REST API and decodes the answer into
// out (when not nil); any status from 300 up fails the test.
func apiCall(t *testing.T, base string, header http.Header, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

type placedOrder struct {
	ID          string `json:"id"`
	Number      string `json:"number"`
	AccessToken string `json:"access_token"`
}

// placeOrder buys qty of a product's variant as a guest through the REST
// API (cart, item, shipping method, checkout with the sandbox Visa card).
func placeOrder(t *testing.T, base, slug, sku string, qty int, email string) placedOrder {
	t.Helper()
	var p struct {
		Variants []struct {
			ID  string `json:"id"`
			SKU string `json:"sku"`
		} `json:"variants"`
	}
	apiCall(t, base, nil, "GET", "/api/v1/products/"+slug, nil, &p)
	variant := ""
	for _, v := range p.Variants {
		if v.SKU == sku {
			variant = v.ID
		}
	}
	var c struct {
		ID string `json:"id"`
	}
	apiCall(t, base, nil, "POST", "/api/v1/carts", nil, &c)
	apiCall(t, base, nil, "POST", "/api/v1/carts/"+c.ID+"/items", map[string]any{"variant_id": variant, "quantity": qty}, nil)
	var methods struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	apiCall(t, base, nil, "GET", "/api/v1/shipping-methods?cart_id="+c.ID+"&country=DE", nil, &methods)
	if len(methods.Items) == 0 {
		t.Fatal("no shipping method to DE")
	}
	var res struct {
		Order placedOrder `json:"order"`
	}
	apiCall(t, base, http.Header{"Idempotency-Key": {fmt.Sprintf("admin-e2e-%s", c.ID)}}, "POST", "/api/v1/carts/"+c.ID+"/checkout", map[string]any{
		"email":              email,
		"shipping_address":   map[string]string{"name": "Carla Customer", "line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
		"shipping_method_id": methods.Items[0].ID,
		"payment_method":     "pm_card_visa",
	}, &res)
	if res.Order.ID == "" || res.Order.AccessToken == "" {
		t.Fatalf("checkout returned %+v", res.Order)
	}
	return res.Order
}

// writePNG writes a w×h picture with a gradient (so it compresses like a photo).
func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 160, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
