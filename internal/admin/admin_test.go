package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/demo"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// shop is the whole program's handler on a database, with an admin signed in.
type shop struct {
	a       *app.App
	h       http.Handler
	dataDir string
	cookie  string // the admin's session cookie ("name=value")
}

func newShop(tb testing.TB, db *sqldb.DB) *shop {
	tb.Helper()
	dir := tb.TempDir()
	a, err := app.Wire(app.Config{Currency: "EUR", ShopName: "Test shop", DataDir: dir, DefaultCountry: "DE"}, slog.New(slog.NewTextHandler(io.Discard, nil)), db)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Customers.CreateAccount(ctx, "ada@shop.test", "admin-secret-1", "Ada", auth.RoleAdmin); err != nil {
		tb.Fatal(err)
	}
	_, sess, err := a.Customers.Login(ctx, "ada@shop.test", "admin-secret-1")
	if err != nil {
		tb.Fatal(err)
	}
	return &shop{a: a, h: a.Handler(), dataDir: dir, cookie: "mercato_session=" + sess.Token}
}

// do sends a request as the admin (cookie may be "" for anonymous).
func (s *shop) do(tb testing.TB, cookie, method, path string, body io.Reader, ctype string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

func (s *shop) form(tb testing.TB, cookie, path string, v url.Values) *httptest.ResponseRecorder {
	return s.do(tb, cookie, "POST", path, strings.NewReader(v.Encode()), "application/x-www-form-urlencoded")
}

func (s *shop) api(tb testing.TB, method, path string, body any, header http.Header, out any) {
	tb.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		tb.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			tb.Fatal(err)
		}
	}
}

// order places a guest order of qty of a variant through the REST API.
func (s *shop) order(tb testing.TB, variantID string, qty int) (id string) {
	tb.Helper()
	var c struct{ ID string }
	s.api(tb, "POST", "/api/v1/carts", nil, nil, &c)
	s.api(tb, "POST", "/api/v1/carts/"+c.ID+"/items", map[string]any{"variant_id": variantID, "quantity": qty}, nil, nil)
	var ms struct{ Items []struct{ ID string } }
	s.api(tb, "GET", "/api/v1/shipping-methods?cart_id="+c.ID+"&country=DE", nil, nil, &ms)
	var res struct{ Order struct{ ID string } }
	s.api(tb, "POST", "/api/v1/carts/"+c.ID+"/checkout", map[string]any{
		"email": "buyer@example.com", "payment_method": "pm_card_visa", "shipping_method_id": ms.Items[0].ID,
		"shipping_address": map[string]string{"name": "B", "line1": "Weg 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
	}, http.Header{"Idempotency-Key": {"k-" + c.ID}}, &res)
	return res.Order.ID
}

func pngBytes(tb testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func multipartForm(tb testing.TB, fields url.Values, file []byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("image", "photo.bin")
		fw.Write(file)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestPanel(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db)
		ctx := context.Background()

		t.Run("access", func(t *testing.T) {
			if rec := s.do(t, "", "GET", "/admin/orders", nil, ""); rec.Code != 303 || rec.Header().Get("Location") != "/admin/login?next=%2Fadmin%2Forders" {
				t.Errorf("anonymous: %d to %q", rec.Code, rec.Header().Get("Location"))
			}
			if _, err := s.a.Customers.CreateAccount(ctx, "cust@example.com", "customer-pass-1", "C", auth.RoleCustomer); err != nil {
				t.Fatal(err)
			}
			rec := s.form(t, "", "/admin/login", url.Values{"email": {"cust@example.com"}, "password": {"customer-pass-1"}})
			if rec.Code != 403 || !strings.Contains(rec.Body.String(), "customer account") || rec.Header().Get("Set-Cookie") != "" {
				t.Errorf("customer sign-in: %d, cookie %q", rec.Code, rec.Header().Get("Set-Cookie"))
			}
			rec = s.form(t, "", "/admin/login", url.Values{"email": {"ada@shop.test"}, "password": {"wrong-password"}})
			if rec.Code != 401 {
				t.Errorf("wrong password: %d", rec.Code)
			}
			if _, err := s.a.Customers.CreateStaff(ctx, "sam@shop.test", "staff-pass-12", "Sam", auth.RoleStaff); err != nil {
				t.Fatal(err)
			}
			_, sess, _ := s.a.Customers.Login(ctx, "sam@shop.test", "staff-pass-12")
			staff := "mercato_session=" + sess.Token
			for path, want := range map[string]int{"/admin": 200, "/admin/staff": 403, "/admin/emails": 200} {
				if rec := s.do(t, staff, "GET", path, nil, ""); rec.Code != want {
					t.Errorf("staff GET %s: %d, want %d", path, rec.Code, want)
				}
			}
			if rec := s.form(t, staff, "/admin/staff", url.Values{"email": {"x@shop.test"}, "password": {"long-enough-1"}, "role": {"admin"}}); rec.Code != 403 {
				t.Errorf("staff creating an admin: %d", rec.Code)
			}
			req := httptest.NewRequest("POST", "/admin/products/x/archive", nil)
			req.Header.Set("Cookie", s.cookie)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.Header.Set("Origin", "https://evil.example")
			rec = httptest.NewRecorder()
			s.h.ServeHTTP(rec, req)
			if rec.Code != 403 {
				t.Errorf("cross-origin POST: %d", rec.Code)
			}
		})

		var productID string
		t.Run("product form", func(t *testing.T) {
			fields := url.Values{"title": {"Rain Jacket"}, "status": {"active"}, "rows": {"3"}, "attributes": {"material: nylon"},
				"v.0.sku": {"RJ-S"}, "v.0.options": {"size=S"}, "v.0.price": {"79.9"}, "v.0.stock": {"4"},
				"v.1.sku": {"RJ-M"}, "v.1.options": {"size"}, "v.1.price": {"abc"}, "v.1.stock": {"2"}}
			body, ct := multipartForm(t, fields, nil)
			rec := s.do(t, s.cookie, "POST", "/admin/products", body, ct)
			page := rec.Body.String()
			if rec.Code != 422 || !strings.Contains(page, "name=value pairs") || !strings.Contains(page, "must be an amount") || !strings.Contains(page, `value="Rain Jacket"`) {
				t.Fatalf("bad variant row: %d\n%s", rec.Code, page)
			}
			fields.Set("v.1.options", "size=M")
			fields.Set("v.1.price", "79.90")
			fields.Set("v.0.sku", "RJ-M") // twice: the service names variants[1].sku -> row 1
			body, ct = multipartForm(t, fields, nil)
			if rec := s.do(t, s.cookie, "POST", "/admin/products", body, ct); rec.Code != 422 || !strings.Contains(rec.Body.String(), "is used twice") {
				t.Fatalf("duplicate SKU: %d", rec.Code)
			}
			fields.Set("v.0.sku", "RJ-S")
			body, ct = multipartForm(t, fields, []byte("GIF89a not a picture"))
			if rec := s.do(t, s.cookie, "POST", "/admin/products", body, ct); rec.Code != 422 || !strings.Contains(rec.Body.String(), "JPEG, PNG or WebP") {
				t.Fatalf("not a picture: %d", rec.Code)
			}
			body, ct = multipartForm(t, fields, pngBytes(t, 2000, 1000))
			rec = s.do(t, s.cookie, "POST", "/admin/products", body, ct)
			if rec.Code != 303 {
				t.Fatalf("create: %d %s", rec.Code, rec.Body)
			}
			productID = strings.TrimPrefix(rec.Header().Get("Location"), "/admin/products/")
			p, err := s.a.Catalog.GetProduct(ctx, productID, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Variants) != 2 || p.Variants[1].Title != "M" || p.Variants[0].Price != (money.Money{Amount: 7990, Currency: "EUR"}) || p.Variants[0].Available != 4 ||
				p.Status != catalog.StatusActive || p.Attributes["material"] != "nylon" || len(p.Images) != 1 {
				t.Fatalf("created %+v", p)
			}
			for _, u := range []string{p.Images[0].URL, strings.Replace(p.Images[0].URL, "/media/products/", "/media/products/thumbs/", 1)} {
				f, err := os.Open(filepath.Join(s.dataDir, "media", strings.TrimPrefix(u, "/media/")))
				if err != nil {
					t.Fatalf("stored picture: %v", err)
				}
				cfg, _, err := image.DecodeConfig(f)
				f.Close()
				if err != nil || max(cfg.Width, cfg.Height) > 1600 {
					t.Errorf("%s: %dx%d %v", u, cfg.Width, cfg.Height, err)
				}
			}
			// Edit: a new variant row, remove the picture.
			edit := url.Values{"title": {"Rain Jacket"}, "status": {"active"}, "rows": {"3"}, "remove_image.0": {"on"},
				"v.0.id": {p.Variants[0].ID}, "v.0.sku": {"RJ-S"}, "v.0.options": {"size=S"}, "v.0.price": {"69.90"},
				"v.1.id": {p.Variants[1].ID}, "v.1.sku": {"RJ-M"}, "v.1.options": {"size=M"}, "v.1.price": {"79.90"},
				"v.2.sku": {"RJ-L"}, "v.2.options": {"size=L"}, "v.2.price": {"79.90"}, "v.2.stock": {"1"}}
			body, ct = multipartForm(t, edit, nil)
			if rec := s.do(t, s.cookie, "POST", "/admin/products/"+productID, body, ct); rec.Code != 303 {
				t.Fatalf("edit: %d %s", rec.Code, rec.Body)
			}
			p, _ = s.a.Catalog.GetProduct(ctx, productID, false)
			if len(p.Variants) != 3 || p.Variants[0].Price.Amount != 6990 || len(p.Images) != 0 {
				t.Errorf("edited %+v", p)
			}
			if rec := s.do(t, s.cookie, "GET", "/admin/products?q=rain&status=active", nil, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), "Rain Jacket") {
				t.Errorf("search: %d", rec.Code)
			}
		})

		t.Run("stock", func(t *testing.T) {
			rec := s.form(t, s.cookie, "/admin/inventory/RJ-S/adjust", url.Values{"delta": {"+6"}, "reason": {"received"}})
			if rec.Code != 303 {
				t.Fatalf("adjust: %d %s", rec.Code, rec.Body)
			}
			if rec := s.form(t, s.cookie, "/admin/inventory/RJ-S/adjust", url.Values{"delta": {"0"}, "reason": {""}}); rec.Code != 422 ||
				!strings.Contains(rec.Body.String(), "must not be zero") || !strings.Contains(rec.Body.String(), "is required") {
				t.Errorf("bad adjustment: %d", rec.Code)
			}
			if rec := s.form(t, s.cookie, "/admin/inventory/RJ-S/set", url.Values{"on_hand": {"20"}, "low_stock_threshold": {"3"}}); rec.Code != 303 {
				t.Errorf("set: %d", rec.Code)
			}
			page := s.do(t, s.cookie, "GET", "/admin/inventory/RJ-S", nil, "").Body.String()
			if !strings.Contains(page, "received") || !strings.Contains(page, `id="on-hand">20<`) {
				t.Errorf("ledger page lacks the movements:\n%s", page)
			}
		})

		t.Run("order actions", func(t *testing.T) {
			p, _ := s.a.Catalog.GetProduct(ctx, productID, false)
			id := s.order(t, p.Variants[0].ID, 2)
			o, _ := s.a.Orders.Get(ctx, id)
			item := o.Items[0].ID
			if rec := s.form(t, s.cookie, "/admin/orders/"+id+"/fulfil", url.Values{"qty." + item: {"3"}}); rec.Code != 422 || !strings.Contains(rec.Body.String(), "from 0 to 2") {
				t.Errorf("over-fulfil: %d", rec.Code)
			}
			if rec := s.form(t, s.cookie, "/admin/orders/"+id+"/fulfil", url.Values{"qty." + item: {"2"}}); rec.Code != 303 {
				t.Fatalf("fulfil: %d %s", rec.Code, rec.Body)
			}
			o, _ = s.a.Orders.Get(ctx, id)
			if rec := s.form(t, s.cookie, "/admin/orders/"+id+"/ship", url.Values{"fulfillment_id": {o.Fulfillments[0].ID}, "tracking_number": {"ZX-1"}}); rec.Code != 303 {
				t.Fatalf("ship: %d %s", rec.Code, rec.Body)
			}
			if rec := s.form(t, s.cookie, "/admin/orders/"+id+"/deliver", nil); rec.Code != 303 {
				t.Fatalf("deliver: %d", rec.Code)
			}
			if rec := s.form(t, s.cookie, "/admin/orders/"+id+"/refund", url.Values{"amount": {"1.5"}, "restock": {"on"}}); rec.Code != 303 {
				t.Fatalf("refund: %d %s", rec.Code, rec.Body)
			}
			rec := s.do(t, s.cookie+"; mercato_admin_flash="+base64.RawURLEncoding.EncodeToString([]byte("ok:hello")), "GET", "/admin/orders/"+id, nil, "")
			page := rec.Body.String()
			for _, want := range []string{"ZX-1", "Delivered", "Refunded €1.50", `role="status">hello<`} {
				if !strings.Contains(page, want) {
					t.Errorf("order page lacks %q", want)
				}
			}
			if rec := s.form(t, s.cookie, "/admin/orders/"+id+"/cancel", nil); rec.Code != 409 {
				t.Errorf("cancelling a delivered order: %d", rec.Code)
			}
			if rec := s.do(t, s.cookie, "GET", "/admin/orders?status=delivered&from=2000-01-01", nil, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), id) {
				t.Errorf("filtered list: %d", rec.Code)
			}
			if rec := s.do(t, s.cookie, "GET", "/admin/orders?from=yesterday", nil, ""); rec.Code != 400 {
				t.Errorf("bad date: %d", rec.Code)
			}
		})
	})
}

// BenchmarkPages renders every admin page over the demo catalog with a
// few orders (SQLite), through the whole handler: authentication, routing,
// the services and the templates.
func BenchmarkPages(b *testing.B) {
	db := sqldbtest.SQLite(b, app.Migrations()...)
	s := newShop(b, db)
	ctx := context.Background()
	if _, err := demo.Seed(ctx, s.a.Catalog, s.a.Blob, "EUR", nil); err != nil {
		b.Fatal(err)
	}
	page, err := s.a.Catalog.ListProducts(ctx, catalog.ListQuery{Limit: 5})
	if err != nil {
		b.Fatal(err)
	}
	p := page.Items[0]
	var orderID string
	for _, q := range page.Items {
		if q.Variants[0].Available > 0 {
			orderID = s.order(b, q.Variants[0].ID, 1)
		}
	}
	stop := s.a.Start(ctx) // the relay turns the orders into e-mails and sales
	defer stop()
	var emailID string
	for range 200 {
		if es, _ := s.a.Notify.ListEmails(ctx, notifyFirst); len(es.Items) > 0 {
			emailID = es.Items[0].ID
			break
		}
		sleep()
	}
	paths := map[string]string{
		"dashboard":    "/admin",
		"products":     "/admin/products",
		"product-find": "/admin/products?q=shirt&status=active",
		"product":      "/admin/products/" + p.ID,
		"product-new":  "/admin/products/new",
		"inventory":    "/admin/inventory",
		"stock":        "/admin/inventory/" + p.Variants[0].SKU,
		"orders":       "/admin/orders",
		"order":        "/admin/orders/" + orderID,
		"customers":    "/admin/customers",
		"staff":        "/admin/staff",
		"emails":       "/admin/emails",
		"email":        "/admin/emails/" + emailID,
		"login":        "/admin/login", // anonymous: signed in, it redirects
	}
	for name, path := range paths {
		cookie := s.cookie
		if name == "login" {
			cookie = ""
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if rec := s.do(b, cookie, "GET", path, nil, ""); rec.Code != 200 {
					b.Fatalf("%s: %d", path, rec.Code)
				}
			}
		})
	}
}

// TestSignInLimits: a stranger's wrong passwords for an admin do not keep
// the admin's browser out; a browser the account does not know is told how
// long to wait.
func TestSignInLimits(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db)
		signIn := func(device, password, remote string) *httptest.ResponseRecorder {
			req := httptest.NewRequest("POST", "/admin/login", strings.NewReader(url.Values{"email": {"ada@shop.test"}, "password": {password}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.RemoteAddr = remote
			if device != "" {
				req.AddCookie(&http.Cookie{Name: customer.DeviceCookie, Value: device})
			}
			rec := httptest.NewRecorder()
			s.h.ServeHTTP(rec, req)
			return rec
		}
		rec := signIn("", "admin-secret-1", "192.0.2.50:1000")
		var device string
		for _, c := range rec.Result().Cookies() {
			if c.Name == customer.DeviceCookie {
				device = c.Value
			}
		}
		if rec.Code != http.StatusSeeOther || device == "" {
			t.Fatalf("sign-in: %d, device cookie %q", rec.Code, device)
		}
		for i := range customer.LoginFreeAttempts {
			if rec := signIn("", "wrong-password", fmt.Sprintf("198.51.100.%d:1000", i)); rec.Code != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", rec.Code)
			}
		}
		rec = signIn("", "admin-secret-1", "203.0.113.9:1000")
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "60" ||
			!strings.Contains(rec.Body.String(), "Too many failed sign-ins for this account; try again in 1 minute") {
			t.Fatalf("unknown browser: %d, Retry-After %q:\n%s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
		if rec := signIn(device, "admin-secret-1", "203.0.113.9:1000"); rec.Code != http.StatusSeeOther {
			t.Fatalf("the admin's browser: %d", rec.Code)
		}
	})
}
