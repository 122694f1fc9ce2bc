package app

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// Fuzz targets for the query strings of the list and search routes: the
// whole handler (authentication, CheckText, the module's parser and
// service, SQL) on SQLite, and on PostgreSQL too when
// MERCATO_TEST_POSTGRES_URL is set. Whatever the query, the answer is
// never a 5xx; an API refusal is a 4xx problem document as openapi.json
// says, and a 400 names a parameter that was sent. The seeds run in every
// `go test` (make test); `make fuzz` or
// `go test -run '^$' -fuzz '^FuzzProductListQuery$' -fuzztime 20s ./internal/app`
// explores further.

// fuzzApp is one engine's app with data to list, signed-in callers and
// the app's log (shown when an answer is a 5xx).
type fuzzApp struct {
	*authzFixture
	engine string
	log    *syncBuffer
}

// fuzzApps builds the apps once per fuzzing process.
func fuzzApps(f *testing.F) []*fuzzApp {
	f.Helper()
	open := func(engine string, fx func(log *slog.Logger) *authzFixture) *fuzzApp {
		var buf syncBuffer
		fz := &fuzzApp{authzFixture: fx(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))), engine: engine, log: &buf}
		seedFixture(f, fz.app)
		return fz
	}
	apps := []*fuzzApp{open("sqlite", func(log *slog.Logger) *authzFixture {
		return newAuthzFixtureLog(f, sqldbtest.SQLite(f, Migrations()...), log)
	})}
	if os.Getenv("MERCATO_TEST_POSTGRES_URL") != "" {
		apps = append(apps, open("postgres", func(log *slog.Logger) *authzFixture {
			return newAuthzFixtureLog(f, sqldbtest.Postgres(f, Migrations()...), log)
		}))
	}
	return apps
}

// fuzzRoute is a list route and who asks it.
type fuzzRoute struct {
	path string
	as   caller
}

// cursorOf returns the next_cursor of the first page of target (a list with limit=1 or so).
func (fz *fuzzApp) cursorOf(f *testing.F, target string, as caller) string {
	f.Helper()
	r := httptest.NewRequest("GET", target, nil)
	if as != anonymous {
		r.Header.Set("Authorization", "Bearer "+fz.token[as])
	}
	w := httptest.NewRecorder()
	fz.h.ServeHTTP(w, r)
	var page struct {
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || page.NextCursor == nil {
		f.Fatalf("%s: %d %s: no next_cursor", target, w.Code, truncate(w.Body.Bytes()))
	}
	return *page.NextCursor
}

// b64Marker matches <b64>…</b64> in a fuzzed query: the harness sends its
// content base64url-encoded, so that the fuzzer can reach inside the
// cursors (base64url JSON or ids), which byte mutations of the encoded
// text hardly ever keep decodable.
var b64Marker = regexp.MustCompile(`(?s)<b64>(.*?)</b64>`)

// fuzzQuery sends GET route?raw to every app and checks the answer.
// "{cart}" in raw becomes the id of a guest cart, <b64>x</b64> x in base64url.
func fuzzQuery(t *testing.T, apps []*fuzzApp, routes []fuzzRoute, raw string) {
	raw = b64Marker.ReplaceAllStringFunc(raw, func(m string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(b64Marker.FindStringSubmatch(m)[1]))
	})
	if strings.ContainsAny(raw, " #\x7f") || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 }) {
		return // no HTTP client can send these in a request line
	}
	for _, fz := range apps {
		raw := strings.ReplaceAll(raw, "{cart}", fz.guest.ID)
		sent, _ := url.ParseQuery(raw)
		for _, rt := range routes {
			r := httptest.NewRequest("GET", rt.path, nil)
			r.URL.RawQuery, r.RequestURI = raw, rt.path+"?"+raw
			if rt.as != anonymous {
				if isAPI(rt.path) {
					r.Header.Set("Authorization", "Bearer "+fz.token[rt.as])
				} else {
					r.AddCookie(&http.Cookie{Name: "mercato_session", Value: fz.token[rt.as]})
				}
			}
			w := httptest.NewRecorder()
			fz.h.ServeHTTP(w, r)
			where := fz.engine + ": GET " + rt.path + "?" + raw
			if w.Code >= 500 {
				t.Fatalf("%s: %d %s\nlog:\n%s", where, w.Code, truncate(w.Body.Bytes()), fz.log.String())
			}
			if !isAPI(rt.path) || w.Code < 400 {
				if isAPI(rt.path) {
					fz.doc.checkResponse(t, r, w.Code, w.Header(), w.Body.Bytes())
				}
				continue
			}
			fz.doc.checkResponse(t, r, w.Code, w.Header(), w.Body.Bytes())
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%s: %d with Content-Type %q, want a problem document", where, w.Code, ct)
			}
			if w.Code != http.StatusBadRequest {
				continue
			}
			var p problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			named := false
			documented := fz.queryParams(r)
			for _, e := range p.Errors {
				named = named || documented[e.Field]
				for k := range sent {
					named = named || e.Field == k || e.Field == "query" || strings.HasPrefix(k, e.Field+".")
				}
			}
			if !named {
				t.Fatalf("%s: 400 naming %+v: neither a parameter sent nor one the route documents", where, p.Errors)
			}
		}
	}
}

// queryParams returns the query parameters openapi.json documents for r's operation.
func (fz *fuzzApp) queryParams(r *http.Request) map[string]bool {
	out := map[string]bool{}
	if o, ok := fz.doc.operation(r); ok {
		for _, p := range asSlice(o.op["parameters"]) {
			if pm := fz.doc.deref(p); pm["in"] == "query" {
				name, _ := pm["name"].(string)
				out[name] = true
			}
		}
	}
	return out
}

// FuzzProductListQuery: the catalog list, public and staff (limit, cursor,
// category, q, sort, featured, attr.KEY, status).
func FuzzProductListQuery(f *testing.F) {
	apps := fuzzApps(f)
	cursor := apps[0].cursorOf(f, "/api/v1/products?limit=2&sort=price", anonymous)
	for _, s := range []string{
		"", "limit=5", "limit=0", "limit=101", "limit=-1", "limit=9999999999999999999999", "limit=1e3", "limit=%20", "sort=price", "sort=-price",
		"sort=title", "sort=newest", "sort=PRICE", "sort=", "q=kettle", "q=%00", "q=%ff", "q=%25_%5C", "q=" + strings.Repeat("a", 201),
		"category=clothing", "category=nope", "category=%ff", "featured=true", "featured=1", "attr.color=red", "attr.color=red,blue",
		"attr.=x", "attr.color=", "attr.%ff=x", "status=draft", "status=active", "status=bogus",
		"limit=2&sort=price&cursor=" + url.QueryEscape(cursor), "sort=title&cursor=" + url.QueryEscape(cursor), "cursor=abc", "cursor=%00",
		"cursor=" + strings.Repeat("A", 600), "a=1&a=2&limit=1&limit=x", "%zz=1", "q=a&q=b",
		`sort=title&cursor=<b64>{"s":"title","k":"Alpha","id":"01a20004-ed7c-7000-8000-000000000000"}</b64>`,
		`sort=price&cursor=<b64>{"s":"price","n":500,"id":"x"}</b64>`,
		`cursor=<b64>{"s":"newest","t":"2026-03-01T12:00:00Z","id":"01a20004-ed7c-7000-8000-000000000000"}</b64>`,
		`cursor=<b64>{"s":"newest","t":"0001-01-01T00:00:00Z","id":"a"}</b64>`, `sort=-price&cursor=<b64>{"s":"-price","n":-9223372036854775808,"id":"\u0000"}</b64>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzQuery(t, apps, []fuzzRoute{{"/api/v1/products", anonymous}, {"/api/v1/admin/products", staffCaller}}, raw)
	})
}

// FuzzOrderListQuery: the staff's and the customer's order lists (status,
// email, customer_id, from, to, limit, cursor).
func FuzzOrderListQuery(f *testing.F) {
	apps := fuzzApps(f)
	cursor := apps[0].cursorOf(f, "/api/v1/admin/orders?limit=1", staffCaller)
	for _, s := range []string{
		"", "limit=1", "limit=0", "limit=x", "status=paid", "status=bogus", "email=buyer@authz.example", "email=%ff", "customer_id=x",
		"from=2026-01-01", "to=2026-12-31", "from=2026-13-01", "from=yesterday", "from=0000-01-01", "to=9999-12-31", "from=2026-02-30",
		"from=2030-01-01&to=2020-01-01", "cursor=" + url.QueryEscape(cursor), "limit=1&cursor=" + url.QueryEscape(cursor), "cursor=abc",
		"cursor=%00", "cursor=" + strings.Repeat("Z", 500), "from=-001-01-01", "to=+2026-01-01",
		`cursor=<b64>{"t":"2026-03-01T12:00:00Z","id":"01a20004-ed7c-7000-8000-000000000000"}</b64>`,
		`cursor=<b64>{"t":"9999-12-31T23:59:59.999999999Z","id":"01a20004-ed7c-7000-8000-000000000000"}</b64>`,
		`cursor=<b64>{"t":"0000-01-01T00:00:00Z","id":"01a20004-ed7c-7000-8000-000000000000"}</b64>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzQuery(t, apps, []fuzzRoute{{"/api/v1/admin/orders", staffCaller}, {"/api/v1/me/orders", customerA}}, raw)
	})
}

// FuzzAdminListQuery: the other staff lists (customers, e-mails, low-stock
// alerts and levels, stock movements, sales).
func FuzzAdminListQuery(f *testing.F) {
	apps := fuzzApps(f)
	customers := apps[0].cursorOf(f, "/api/v1/admin/customers?limit=1", staffCaller)
	emails := apps[0].cursorOf(f, "/api/v1/admin/emails?limit=1", staffCaller)
	for _, s := range []string{
		"", "limit=1", "limit=0", "limit=500", "limit=501", "limit=x", "q=authz", "q=%ff", "q=%25", "q=" + strings.Repeat("q", 300),
		"cursor=" + url.QueryEscape(customers), "cursor=" + url.QueryEscape(emails), "cursor=x", "cursor=%00", "days=1", "days=0",
		"days=366", "days=x", "currency=EUR", "currency=eur", "currency=XXX", "currency=%ff", "currency=" + strings.Repeat("E", 100),
		"cursor=<b64>01a20004-ed7c-7000-8000-000000000000</b64>", "cursor=<b64>\x00</b64>", "cursor=<b64>x'--</b64>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzQuery(t, apps, []fuzzRoute{
			{"/api/v1/admin/customers", staffCaller}, {"/api/v1/admin/emails", staffCaller}, {"/api/v1/admin/alerts/low-stock", staffCaller},
			{"/api/v1/admin/inventory/low-stock", staffCaller}, {"/api/v1/admin/inventory/AUTHZ-KETTLE/movements", staffCaller},
			{"/api/v1/admin/analytics/sales", staffCaller},
		}, raw)
	})
}

// FuzzShippingMethodsQuery: GET /api/v1/shipping-methods?cart_id=&country=.
func FuzzShippingMethodsQuery(f *testing.F) {
	apps := fuzzApps(f)
	for _, s := range []string{
		"", "cart_id={cart}", "cart_id={cart}&country=DE", "cart_id={cart}&country=de", "cart_id={cart}&country=XX",
		"cart_id={cart}&country=DEU", "cart_id={cart}&country=%ff", "cart_id=cart_x", "cart_id=%00", "cart_id={cart}&country=",
		"cart_id={cart}{cart}", "country=DE",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzQuery(t, apps, []fuzzRoute{{"/api/v1/shipping-methods", anonymous}}, raw)
	})
}

// FuzzListPageQuery: the storefront's search and category pages and the
// admin panel's lists, which parse the same kinds of parameters for
// browsers. Never a 5xx.
func FuzzListPageQuery(f *testing.F) {
	apps := fuzzApps(f)
	for _, s := range []string{
		"", "q=kettle", "q=%00", "q=%ff", "q=" + strings.Repeat("ü", 300), "sort=price", "sort=bogus", "color=red", "color=red&color=blue",
		"page=2", "cursor=x", "cursor=%00", "status=paid", "status=bogus", "from=2026-01-01", "from=x", "to=9999-12-31", "sku=AUTHZ",
		"featured=1", "min=1&max=0", "attr.color=red",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzQuery(t, apps, []fuzzRoute{
			{"/search", anonymous}, {"/c/clothing", anonymous}, {"/account/orders", customerA},
			{"/admin/orders", staffCaller}, {"/admin/products", staffCaller}, {"/admin/customers", staffCaller},
			{"/admin/emails", staffCaller}, {"/admin/inventory", staffCaller},
		}, raw)
	})
}
