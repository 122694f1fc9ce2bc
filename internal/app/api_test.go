package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// HTTP contract tests: the whole handler (authentication, routing, metrics,
// error mapping) over real SQLite and PostgreSQL, every answer checked
// against openapi.json.

const (
	staffEmail       = "staff@example.com"
	customerEmail    = "customer@example.com"
	testPassword     = "correct horse battery"
	catalogCacheCtrl = "public, max-age=30"
)

// testAPI drives an App's HTTP handler in-process.
type testAPI struct {
	t        testing.TB
	app      *App
	h        http.Handler
	doc      *apiDoc
	staff    string // bearer token of a staff account
	customer string // bearer token of a customer account
}

// tlogWriter sends the app's log lines to the test log.
type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newTestAPI(t testing.TB, db *sqldb.DB) *testAPI {
	t.Helper()
	log := slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := Wire(Config{Currency: "EUR", ShopName: "Test shop"}, log, db)
	if err != nil {
		t.Fatal(err)
	}
	api := &testAPI{t: t, app: a, h: a.Handler(), doc: loadAPIDoc(t)}
	ctx := context.Background()
	if _, err := a.Customers.CreateAccount(ctx, staffEmail, testPassword, "Stella Staff", auth.RoleStaff); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Customers.CreateAccount(ctx, customerEmail, testPassword, "Carl Customer", auth.RoleCustomer); err != nil {
		t.Fatal(err)
	}
	api.staff = api.login(staffEmail, testPassword)
	api.customer = api.login(customerEmail, testPassword)
	return api
}

func (a *testAPI) login(email, password string) string {
	a.t.Helper()
	res := a.do("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password})
	res.wantStatus(http.StatusOK)
	var out struct{ Token string }
	res.decode(&out)
	if !strings.HasPrefix(out.Token, "mct_") {
		a.t.Fatalf("login: token %q", out.Token)
	}
	return out.Token
}

// reqOpt changes a request before it is sent.
type reqOpt func(*http.Request)

func bearer(token string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// result is an answer.
type result struct {
	t      testing.TB
	req    string
	Code   int
	Header http.Header
	Body   []byte
}

// do sends a request. body is nil, a string or []byte (sent as is), or a
// value sent as JSON. Every answer is checked against openapi.json, and a
// 5xx fails the test: nothing a client sends may cause one.
func (a *testAPI) do(method, target string, body any, opts ...reqOpt) result {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	r := httptest.NewRequest(method, target, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	res := result{t: a.t, req: method + " " + truncate([]byte(target)), Code: w.Code, Header: w.Result().Header, Body: w.Body.Bytes()}
	if res.Code >= 500 {
		a.t.Fatalf("%s answered %d: %s", res.req, res.Code, res.Body)
	}
	a.doc.checkResponse(a.t, r, res.Code, res.Header, res.Body)
	return res
}

func (r result) wantStatus(code int) result {
	r.t.Helper()
	if r.Code != code {
		r.t.Fatalf("%s: status %d, want %d: %s", r.req, r.Code, code, truncate(r.Body))
	}
	return r
}

func (r result) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("%s: decode %s: %v", r.req, truncate(r.Body), err)
	}
}

// problem is what tests read of a problem document.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// wantProblem asserts a problem+json answer with the status and, when field
// is not empty, an error naming that field.
func (r result) wantProblem(status int, field string) problem {
	r.t.Helper()
	r.wantStatus(status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("%s: Content-Type %q, want application/problem+json", r.req, ct)
	}
	var p problem
	r.decode(&p)
	if p.Status != status || p.Title == "" || p.Type == "" || p.Detail == "" {
		r.t.Fatalf("%s: incomplete problem %+v", r.req, p)
	}
	if field != "" {
		var fields []string
		for _, e := range p.Errors {
			fields = append(fields, e.Field)
			if e.Message == "" {
				r.t.Errorf("%s: error for %q has no message", r.req, e.Field)
			}
		}
		if !slices.Contains(fields, field) {
			r.t.Fatalf("%s: problem names fields %q, want %q (%s)", r.req, fields, field, p.Detail)
		}
	}
	return p
}

// productsPage is a decoded list answer.
type productsPage struct {
	Items      []catalog.Product `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

func (a *testAPI) page(target string, opts ...reqOpt) productsPage {
	a.t.Helper()
	var p productsPage
	a.do("GET", target, nil, opts...).wantStatus(http.StatusOK).decode(&p)
	return p
}

// walk follows next_cursor from the first page of base (a URL with query)
// to the end and returns every product in order.
func (a *testAPI) walk(base string, opts ...reqOpt) []catalog.Product {
	a.t.Helper()
	var out []catalog.Product
	next := base
	for pages := 0; ; pages++ {
		if pages > 1000 {
			a.t.Fatalf("walk %s: no end after 1000 pages", base)
		}
		p := a.page(next, opts...)
		out = append(out, p.Items...)
		if p.NextCursor == nil {
			return out
		}
		if *p.NextCursor == "" {
			a.t.Fatalf("walk %s: empty next_cursor: want null on the last page", base)
		}
		next = base + "&cursor=" + url.QueryEscape(*p.NextCursor)
	}
}

func ids(ps []catalog.Product) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func eur(amount int64) money.Money { return money.Money{Amount: amount, Currency: "EUR"} }
func ptr[T any](v T) *T            { return &v }

// level is a stock level answer.
type level struct {
	SKU               string `json:"sku"`
	OnHand            int64  `json:"on_hand"`
	Reserved          int64  `json:"reserved"`
	Available         int64  `json:"available"`
	Backorder         bool   `json:"backorder"`
	LowStockThreshold int64  `json:"low_stock_threshold"`
}

// fixture is a small catalog with ties in every sort key, a category tree,
// attributes, and products that are not public.
type fixture struct {
	clothing, shirts, tees, home catalog.Category
	active                       []catalog.Product // every active product
	hidden                       []catalog.Product // drafts and archived
	byCategory                   map[string][]string
}

func seedFixture(t testing.TB, a *App) fixture {
	t.Helper()
	ctx := context.Background()
	var f fixture
	mk := func(name, parent string) catalog.Category {
		in := catalog.CategoryInput{Name: name}
		if parent != "" {
			in.ParentID = &parent
		}
		c, err := a.Catalog.CreateCategory(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f.clothing = mk("Clothing", "")
	f.shirts = mk("Shirts", f.clothing.ID)
	f.tees = mk("Tees", f.shirts.ID)
	f.home = mk("Home", "")
	f.byCategory = map[string][]string{}

	colors := []string{"red", "blue", "green"}
	cats := []catalog.Category{f.clothing, f.shirts, f.tees, f.home}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 43 {
		status := catalog.StatusActive
		switch {
		case i%13 == 5:
			status = catalog.StatusDraft
		case i%17 == 7:
			status = catalog.StatusArchived
		}
		cat := cats[i%len(cats)]
		in := catalog.ProductInput{
			// Titles, prices and creation times repeat, so every sort has ties
			// that only the id breaks.
			Title:       fmt.Sprintf("%s item %02d", []string{"Alpha", "Bravo", "Charlie", "Delta"}[i%4], i%9),
			Description: fmt.Sprintf("Number %d in the test catalog.", i),
			Status:      status,
			Featured:    i%6 == 0,
			Attributes:  map[string]string{"color": colors[i%3], "size": []string{"s", "m"}[i%2]},
			CategoryIDs: []string{cat.ID},
			CreatedAt:   base.Add(time.Duration(i%7) * time.Hour),
			Variants: []catalog.VariantInput{
				{SKU: fmt.Sprintf("FX-%02d-A", i), Price: eur(int64(500 + (i%5)*250)), Stock: ptr(int64(i % 4)), Options: map[string]string{"size": "S"}},
				{SKU: fmt.Sprintf("FX-%02d-B", i), Price: eur(int64(900 + (i%3)*100)), Options: map[string]string{"size": "M"}, Backorder: ptr(i%2 == 0)},
			},
		}
		if i == 0 {
			in.Title, in.Description = "Zebra linen shirt", "Breathes in the heat."
			in.Images = []catalog.Image{{URL: "/media/zebra.svg", Alt: "A striped shirt"}}
		}
		p, err := a.Catalog.CreateProduct(ctx, in, "test")
		if err != nil {
			t.Fatal(err)
		}
		if status == catalog.StatusActive {
			f.active = append(f.active, p)
			f.byCategory[cat.ID] = append(f.byCategory[cat.ID], p.ID)
		} else {
			f.hidden = append(f.hidden, p)
		}
	}
	return f
}

// activeWhere returns the ids of the fixture's active products that keep says yes to, sorted.
func (f fixture) activeWhere(keep func(catalog.Product) bool) []string {
	var out []string
	for _, p := range f.active {
		if keep(p) {
			out = append(out, p.ID)
		}
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func TestCatalogPagination(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		f := seedFixture(t, api.app)
		all := f.activeWhere(func(catalog.Product) bool { return true })
		if len(all) < 30 || len(all) > 100 {
			t.Fatalf("fixture has %d active products; the test wants 30..100", len(all))
		}
		for _, sortBy := range []string{"", "newest", "price", "-price", "title"} {
			t.Run("sort="+sortBy, func(t *testing.T) {
				// One page of 100 is the reference order.
				full := api.page("/api/v1/products?limit=100&sort=" + sortBy)
				if full.NextCursor != nil {
					t.Fatalf("%d products fit one page of 100, but next_cursor = %q", len(full.Items), *full.NextCursor)
				}
				if got := sorted(ids(full.Items)); !slices.Equal(got, all) {
					t.Fatalf("one page: %d products, want the %d active ones", len(got), len(all))
				}
				checkOrder(t, sortBy, full.Items)
				for _, limit := range []int{1, 7, 20, len(all) - 1, len(all)} {
					got := api.walk(fmt.Sprintf("/api/v1/products?limit=%d&sort=%s", limit, sortBy))
					seen := map[string]bool{}
					for _, p := range got {
						if seen[p.ID] {
							t.Fatalf("limit %d: product %s (%s) listed twice", limit, p.ID, p.Title)
						}
						seen[p.ID] = true
					}
					if !slices.Equal(ids(got), ids(full.Items)) {
						t.Fatalf("limit %d: walked %d products in another order than one page of 100 (%d)", limit, len(got), len(full.Items))
					}
				}
			})
		}
		// Default limit is 20.
		if p := api.page("/api/v1/products"); len(p.Items) != 20 || p.NextCursor == nil {
			t.Fatalf("default page: %d items, next %v", len(p.Items), p.NextCursor)
		}
		// A page of exactly the remaining products ends the list.
		p := api.page(fmt.Sprintf("/api/v1/products?limit=%d", len(all)))
		if len(p.Items) != len(all) || p.NextCursor != nil {
			t.Fatalf("exact page: %d items, next %v", len(p.Items), p.NextCursor)
		}
	})
}

// checkOrder asserts the collation-independent sort orders.
func checkOrder(t *testing.T, sortBy string, ps []catalog.Product) {
	t.Helper()
	for i := 1; i < len(ps); i++ {
		a, b := ps[i-1], ps[i]
		alo, _ := a.PriceRange()
		blo, _ := b.PriceRange()
		var ok bool
		switch sortBy {
		case "", "newest":
			ok = a.CreatedAt.After(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID)
		case "price":
			ok = alo.Amount < blo.Amount || (alo.Amount == blo.Amount && a.ID < b.ID)
		case "-price":
			ok = alo.Amount > blo.Amount || (alo.Amount == blo.Amount && a.ID > b.ID)
		case "title":
			ok = a.Title != b.Title || a.ID < b.ID // the collation is the database's; ties go by id
		}
		if !ok {
			t.Fatalf("sort %q: %s (%s, %v, %d) before %s (%s, %v, %d)", sortBy, a.ID, a.Title, a.CreatedAt, alo.Amount, b.ID, b.Title, b.CreatedAt, blo.Amount)
		}
	}
}

func TestCatalogFilters(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		f := seedFixture(t, api.app)
		inCats := func(cs ...catalog.Category) func(catalog.Product) bool {
			return func(p catalog.Product) bool {
				return slices.ContainsFunc(cs, func(c catalog.Category) bool { return slices.Contains(p.CategoryIDs, c.ID) })
			}
		}
		attr := func(k string, vs ...string) func(catalog.Product) bool {
			return func(p catalog.Product) bool { return slices.Contains(vs, p.Attributes[k]) }
		}
		tests := []struct {
			query string
			want  []string
		}{
			{"category=clothing", f.activeWhere(inCats(f.clothing, f.shirts, f.tees))},
			{"category=" + f.clothing.ID, f.activeWhere(inCats(f.clothing, f.shirts, f.tees))},
			{"category=shirts", f.activeWhere(inCats(f.shirts, f.tees))},
			{"category=tees", f.activeWhere(inCats(f.tees))},
			{"category=home", f.activeWhere(inCats(f.home))},
			{"q=zebra", f.activeWhere(func(p catalog.Product) bool { return p.Title == "Zebra linen shirt" })},
			{"q=ZEBRA+heat", f.activeWhere(func(p catalog.Product) bool { return p.Title == "Zebra linen shirt" })},
			{"q=zebra+nothing", nil},
			{"q=fx-01-a", f.activeWhere(func(p catalog.Product) bool { return p.Variants[0].SKU == "FX-01-A" })},
			{"q=bravo", f.activeWhere(func(p catalog.Product) bool { return strings.HasPrefix(p.Title, "Bravo") })},
			{"q=100%25", nil},
			{"q=_", nil},
			{"attr.color=red", f.activeWhere(attr("color", "red"))},
			{"attr.color=red,blue", f.activeWhere(attr("color", "red", "blue"))},
			{"attr.color=red&attr.size=m", f.activeWhere(func(p catalog.Product) bool { return attr("color", "red")(p) && attr("size", "m")(p) })},
			{"attr.color=purple", nil},
			{"attr.material=linen", nil},
			{"featured=true", f.activeWhere(func(p catalog.Product) bool { return p.Featured })},
			{"category=clothing&attr.color=green&featured=true", f.activeWhere(func(p catalog.Product) bool {
				return inCats(f.clothing, f.shirts, f.tees)(p) && attr("color", "green")(p) && p.Featured
			})},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				for _, sortBy := range []string{"newest", "price", "title"} {
					got := api.walk("/api/v1/products?limit=3&sort=" + sortBy + "&" + tt.query)
					if !slices.Equal(sorted(ids(got)), tt.want) {
						t.Fatalf("sort %s: got %d products, want %d\n got %v\nwant %v", sortBy, len(got), len(tt.want), sorted(ids(got)), tt.want)
					}
					for _, p := range got {
						if p.Status != catalog.StatusActive {
							t.Fatalf("%s is %s but listed publicly", p.ID, p.Status)
						}
					}
				}
			})
		}
	})
}

func TestProductDetail(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		f := seedFixture(t, api.app)
		want := f.active[0] // the zebra shirt
		for _, key := range []string{want.ID, want.Slug} {
			var got catalog.Product
			api.do("GET", "/api/v1/products/"+key, nil).wantStatus(http.StatusOK).decode(&got)
			if got.ID != want.ID || got.Slug != "zebra-linen-shirt" || got.Title != "Zebra linen shirt" || got.Status != catalog.StatusActive {
				t.Fatalf("GET %s = %+v", key, got)
			}
			if len(got.Images) != 1 || got.Images[0].Alt != "A striped shirt" || got.Attributes["color"] != "red" ||
				!slices.Equal(got.CategoryIDs, []string{f.clothing.ID}) {
				t.Fatalf("GET %s: images %v, attributes %v, categories %v", key, got.Images, got.Attributes, got.CategoryIDs)
			}
			v := got.Variants
			if len(v) != 2 || v[0].SKU != "FX-00-A" || v[0].Price != eur(500) || v[0].Available != 0 || v[1].Price != eur(900) || !v[1].Backorder {
				t.Fatalf("GET %s: variants %+v", key, v)
			}
		}
		api.do("GET", "/api/v1/products/no-such-product", nil).wantProblem(http.StatusNotFound, "")

		// Drafts and archived products are invisible to the public, even to
		// signed-in customers, and visible to staff.
		for _, p := range f.hidden {
			for _, key := range []string{p.ID, p.Slug} {
				api.do("GET", "/api/v1/products/"+key, nil).wantProblem(http.StatusNotFound, "")
				api.do("GET", "/api/v1/products/"+key, nil, bearer(api.customer)).wantProblem(http.StatusNotFound, "")
				api.do("GET", "/api/v1/products/"+key, nil, bearer(api.staff)).wantProblem(http.StatusNotFound, "")
				var got catalog.Product
				api.do("GET", "/api/v1/admin/products/"+key, nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&got)
				if got.ID != p.ID || got.Status != p.Status {
					t.Fatalf("admin GET %s = %s %s", key, got.ID, got.Status)
				}
			}
		}
		everything := append(slices.Clone(ids(f.active)), ids(f.hidden)...)
		if got := api.walk("/api/v1/admin/products?limit=9", bearer(api.staff)); !slices.Equal(sorted(ids(got)), sorted(everything)) {
			t.Fatalf("admin list: %d products, want %d", len(got), len(everything))
		}
		for _, st := range []catalog.Status{catalog.StatusDraft, catalog.StatusArchived, catalog.StatusActive} {
			got := api.walk("/api/v1/admin/products?limit=5&status="+string(st), bearer(api.staff))
			var want []string
			for _, p := range append(slices.Clone(f.active), f.hidden...) {
				if p.Status == st {
					want = append(want, p.ID)
				}
			}
			if !slices.Equal(sorted(ids(got)), sorted(want)) {
				t.Fatalf("admin list status=%s: %d products, want %d", st, len(got), len(want))
			}
		}
		if got := api.walk("/api/v1/products?limit=100", bearer(api.staff)); len(got) != len(f.active) {
			t.Fatalf("public list as staff: %d products, want only the %d active", len(got), len(f.active))
		}
	})
}

func TestCatalogCaching(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		f := seedFixture(t, api.app)
		p := f.active[1]
		targets := []string{"/api/v1/products?limit=5", "/api/v1/products/" + p.Slug, "/api/v1/categories"}
		etags := map[string]string{}
		for _, target := range targets {
			res := api.do("GET", target, nil).wantStatus(http.StatusOK)
			etag := res.Header.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
				t.Fatalf("%s: ETag %q", target, etag)
			}
			if cc := res.Header.Get("Cache-Control"); cc != catalogCacheCtrl {
				t.Fatalf("%s: Cache-Control %q, want %q", target, cc, catalogCacheCtrl)
			}
			etags[target] = etag
			// Same answer, same ETag.
			if again := api.do("GET", target, nil).Header.Get("ETag"); again != etag {
				t.Fatalf("%s: ETag changed from %s to %s without a change", target, etag, again)
			}
			for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				res := api.do("GET", target, nil, header("If-None-Match", inm)).wantStatus(http.StatusNotModified)
				if len(res.Body) != 0 || res.Header.Get("ETag") != etag {
					t.Fatalf("%s If-None-Match %s: 304 with body %q, ETag %q", target, inm, res.Body, res.Header.Get("ETag"))
				}
			}
			api.do("GET", target, nil, header("If-None-Match", `"stale"`)).wantStatus(http.StatusOK)
		}
		// A change makes a new ETag for the product and the list it is on.
		api.do("PATCH", "/api/v1/admin/products/"+p.ID, map[string]any{"title": "Renamed"}, bearer(api.staff)).wantStatus(http.StatusOK)
		api.do("GET", "/api/v1/products/"+p.Slug, nil, header("If-None-Match", etags["/api/v1/products/"+p.Slug])).wantStatus(http.StatusOK)
		// Admin reads and problems are never cached.
		if cc := api.do("GET", "/api/v1/admin/products?limit=1", nil, bearer(api.staff)).Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("admin list Cache-Control %q, want no-store", cc)
		}
		if cc := api.do("GET", "/api/v1/products/nope", nil).Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("404 Cache-Control %q, want no-store", cc)
		}
	})
}

// Who may call which route is TestAuthorizationMatrix's (authz_test.go);
// this is what signing in must not give away.
func TestLoginFailuresLookAlike(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		// Wrong password and unknown e-mail look the same.
		p1 := api.do("POST", "/api/v1/auth/login", map[string]string{"email": staffEmail, "password": "wrong password"}).wantProblem(http.StatusUnauthorized, "")
		p2 := api.do("POST", "/api/v1/auth/login", map[string]string{"email": "nobody@example.com", "password": testPassword}).wantProblem(http.StatusUnauthorized, "")
		if p1.Detail != p2.Detail {
			t.Fatalf("login failures differ: %q vs %q", p1.Detail, p2.Detail)
		}
		// E-mail is case-insensitive.
		api.login(" STAFF@example.com ", testPassword)
	})
}

func TestAdminProductLifecycle(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		staff := bearer(api.staff)

		// Categories.
		var parent, child catalog.Category
		api.do("POST", "/api/v1/admin/categories", map[string]any{"name": "Kitchen"}, staff).wantStatus(http.StatusCreated).decode(&parent)
		api.do("POST", "/api/v1/admin/categories", map[string]any{"name": "Knives & Boards", "parent_id": parent.ID, "position": 2}, staff).
			wantStatus(http.StatusCreated).decode(&child)
		if parent.Slug != "kitchen" || parent.ParentID != nil || child.Slug != "knives-boards" || child.ParentID == nil || *child.ParentID != parent.ID {
			t.Fatalf("categories %+v %+v", parent, child)
		}
		var cats struct{ Items []catalog.Category }
		api.do("GET", "/api/v1/categories", nil).wantStatus(http.StatusOK).decode(&cats)
		if len(cats.Items) != 2 {
			t.Fatalf("categories: %+v", cats.Items)
		}
		api.do("POST", "/api/v1/admin/categories", map[string]any{"name": "Kitchen"}, staff).wantProblem(http.StatusConflict, "slug")

		// Create.
		in := map[string]any{
			"title":        "Oak board",
			"description":  "Solid oak.",
			"status":       "draft",
			"attributes":   map[string]string{"material": "oak"},
			"category_ids": []string{child.ID},
			"images":       []map[string]string{{"url": "/media/board.svg", "alt": "A board"}},
			"variants": []map[string]any{
				{"sku": "OAK-S", "options": map[string]string{"size": "S"}, "price": map[string]any{"amount": 2900, "currency": "EUR"}, "stock": 7},
				{"sku": "OAK-L", "options": map[string]string{"size": "L"}, "price": map[string]any{"amount": 4900, "currency": "EUR"}, "backorder": true},
			},
		}
		res := api.do("POST", "/api/v1/admin/products", in, staff).wantStatus(http.StatusCreated)
		var p catalog.Product
		res.decode(&p)
		if loc := res.Header.Get("Location"); loc != "/api/v1/admin/products/"+p.ID {
			t.Fatalf("Location %q", loc)
		}
		if p.Slug != "oak-board" || p.Status != catalog.StatusDraft || len(p.Variants) != 2 || p.Variants[0].Available != 7 ||
			p.Variants[0].Title != "S" || !p.Variants[1].Backorder || p.Variants[1].Available != 0 {
			t.Fatalf("created %+v", p)
		}
		api.do("GET", "/api/v1/products/oak-board", nil).wantProblem(http.StatusNotFound, "")
		api.do("POST", "/api/v1/admin/products", in, staff).wantProblem(http.StatusConflict, "variants[0].sku")

		// Patch: publish, rename, reprice one variant, add one.
		patch := map[string]any{
			"status": "active", "title": "Oak chopping board", "featured": true,
			"variants": []map[string]any{
				{"id": p.Variants[0].ID, "price": map[string]any{"amount": 3100, "currency": "EUR"}},
				{"sku": "OAK-XL", "options": map[string]string{"size": "XL"}, "price": map[string]any{"amount": 6900, "currency": "EUR"}, "stock": 2},
			},
		}
		var patched catalog.Product
		api.do("PATCH", "/api/v1/admin/products/"+p.ID, patch, staff).wantStatus(http.StatusOK).decode(&patched)
		if patched.Title != "Oak chopping board" || patched.Status != catalog.StatusActive || !patched.Featured || len(patched.Variants) != 3 ||
			patched.Variants[0].Price != eur(3100) || patched.Variants[0].Available != 7 || patched.Variants[2].SKU != "OAK-XL" || patched.Variants[2].Available != 2 {
			t.Fatalf("patched %+v", patched)
		}
		if patched.Slug != "oak-board" || patched.Description != "Solid oak." || patched.Attributes["material"] != "oak" {
			t.Fatalf("patch changed fields it did not name: %+v", patched)
		}
		var pub catalog.Product
		api.do("GET", "/api/v1/products/oak-board", nil).wantStatus(http.StatusOK).decode(&pub)
		if pub.ID != p.ID || pub.Title != "Oak chopping board" {
			t.Fatalf("public %+v", pub)
		}
		if got := api.walk("/api/v1/products?limit=10&category=kitchen"); !slices.Equal(ids(got), []string{p.ID}) {
			t.Fatalf("category kitchen (parent of the board's category): %v", ids(got))
		}
		if got := api.walk("/api/v1/products?limit=10&featured=true&attr.material=oak"); !slices.Equal(ids(got), []string{p.ID}) {
			t.Fatalf("featured oak: %v", ids(got))
		}

		// Inventory.
		var lvl level
		api.do("PUT", "/api/v1/admin/inventory/OAK-S", map[string]any{"on_hand": 12}, staff).wantStatus(http.StatusOK).decode(&lvl)
		if lvl.SKU != "OAK-S" || lvl.OnHand != 12 || lvl.Reserved != 0 || lvl.Available != 12 {
			t.Fatalf("PUT inventory: %+v", lvl)
		}
		api.do("PUT", "/api/v1/admin/inventory/OAK-S", map[string]any{"low_stock_threshold": 20, "backorder": false}, staff).wantStatus(http.StatusOK).decode(&lvl)
		if lvl.OnHand != 12 || lvl.LowStockThreshold != 20 {
			t.Fatalf("PUT settings: %+v", lvl)
		}
		api.do("POST", "/api/v1/admin/inventory/OAK-S/adjustments", map[string]any{"delta": -2, "reason": "broken in transit"}, staff).
			wantStatus(http.StatusOK).decode(&lvl)
		if lvl.OnHand != 10 {
			t.Fatalf("adjust: %+v", lvl)
		}
		api.do("GET", "/api/v1/admin/inventory/OAK-S", nil, staff).wantStatus(http.StatusOK).decode(&lvl)
		if lvl.OnHand != 10 || lvl.Available != 10 {
			t.Fatalf("GET inventory: %+v", lvl)
		}
		var moves struct {
			Items []struct {
				DeltaOnHand int64  `json:"delta_on_hand"`
				OnHandAfter int64  `json:"on_hand_after"`
				Reason      string `json:"reason"`
				Actor       string `json:"actor"`
			}
		}
		api.do("GET", "/api/v1/admin/inventory/OAK-S/movements?limit=2", nil, staff).wantStatus(http.StatusOK).decode(&moves)
		if len(moves.Items) != 2 || moves.Items[0].DeltaOnHand != -2 || moves.Items[0].Reason != "broken in transit" ||
			moves.Items[0].Actor != staffEmail || moves.Items[1].OnHandAfter != 12 {
			t.Fatalf("movements: %+v", moves.Items)
		}
		var low struct{ Items []struct{ SKU string } }
		api.do("GET", "/api/v1/admin/inventory/low-stock", nil, staff).wantStatus(http.StatusOK).decode(&low)
		if !slices.ContainsFunc(low.Items, func(l struct{ SKU string }) bool { return l.SKU == "OAK-S" }) ||
			slices.ContainsFunc(low.Items, func(l struct{ SKU string }) bool { return l.SKU == "OAK-L" }) {
			t.Fatalf("low stock: %+v (OAK-S is below its threshold; OAK-L is on backorder)", low.Items)
		}
		api.do("GET", "/api/v1/products/"+p.ID, nil).wantStatus(http.StatusOK).decode(&pub)
		if pub.Variants[0].Available != 10 {
			t.Fatalf("public stock %d, want 10", pub.Variants[0].Available)
		}

		// Archive: gone from the public catalog, kept for staff.
		var archived catalog.Product
		api.do("DELETE", "/api/v1/admin/products/"+p.ID, nil, staff).wantStatus(http.StatusOK).decode(&archived)
		if archived.Status != catalog.StatusArchived {
			t.Fatalf("archived %+v", archived)
		}
		api.do("GET", "/api/v1/products/"+p.ID, nil).wantProblem(http.StatusNotFound, "")
		if got := api.walk("/api/v1/products?limit=10"); len(got) != 0 {
			t.Fatalf("public list after archive: %v", ids(got))
		}
		api.do("GET", "/api/v1/admin/products/"+p.ID, nil, staff).wantStatus(http.StatusOK)
		api.do("DELETE", "/api/v1/admin/products/no-such-id", nil, staff).wantProblem(http.StatusNotFound, "")

		// Unknown API routes are problem documents too.
		api.do("GET", "/api/v1/nothing-here", nil).wantProblem(http.StatusNotFound, "")
	})
}

// usesScheme reports whether an operation's security names scheme.
func usesScheme(op map[string]any, scheme string) bool {
	sec, _ := op["security"].([]any)
	for _, req := range sec {
		if _, ok := req.(map[string]any)[scheme]; ok {
			return true
		}
	}
	return false
}

// TestMetricsToken: with MERCATO_METRICS_TOKEN set, /metrics answers only
// "Authorization: Bearer <token>"; anything else, an account's token
// included, gets a 401 problem. Unset, it stays public (TestOperationsEndpoints).
func TestMetricsToken(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		const token = "metrics-0123456789abcdef"
		api.app.Config.MetricsToken = token
		api.h = api.app.Handler()
		for name, opts := range map[string][]reqOpt{
			"no credentials":        nil,
			"another token":         {bearer("metrics-0123456789abcdeX")},
			"the token and more":    {bearer(token + "0")},
			"a prefix of the token": {bearer(token[:len(token)-1])},
			"not bearer":            {header("Authorization", "Basic "+token)},
			"a staff account":       {bearer(api.staff)},
		} {
			t.Run(name, func(t *testing.T) {
				api := *api
				api.t = t
				res := api.do("GET", "/metrics", nil, opts...)
				res.wantProblem(http.StatusUnauthorized, "")
				if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Fatalf("401 without WWW-Authenticate: Bearer (got %q)", got)
				}
				if strings.Contains(string(res.Body), "mercato_") {
					t.Fatalf("a refused request got metrics: %s", res.Body)
				}
			})
		}
		res := api.do("GET", "/metrics", nil, bearer(token)).wantStatus(http.StatusOK)
		if !strings.Contains(string(res.Body), "mercato_outbox_pending") {
			t.Fatalf("metrics with the token lack mercato_outbox_pending:\n%s", res.Body)
		}
		// Other routes still take account tokens, and refuse the metrics token.
		api.do("GET", "/api/v1/admin/products", nil, bearer(api.staff)).wantStatus(http.StatusOK)
		api.do("GET", "/api/v1/products", nil, bearer(token)).wantProblem(http.StatusUnauthorized, "")
	})
}

func TestOperationsEndpoints(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		api.do("GET", "/healthz", nil).wantStatus(http.StatusOK)
		var ready struct{ Status, Database string }
		api.do("GET", "/readyz", nil).wantStatus(http.StatusOK).decode(&ready)
		if ready.Status != "ok" || ready.Database != string(db.Dialect()) {
			t.Fatalf("readyz %+v", ready)
		}
		api.do("GET", "/api/v1/products", nil).wantStatus(http.StatusOK)
		res := api.do("GET", "/metrics", nil).wantStatus(http.StatusOK)
		want := `mercato_http_requests_total{method="GET",route="GET /api/v1/products",status="200"} 1`
		if !strings.Contains(string(res.Body), want) {
			t.Fatalf("metrics lack %s", want)
		}
		res = api.do("GET", "/api/v1/openapi.json", nil).wantStatus(http.StatusOK)
		if !bytes.Equal(res.Body, openAPIDoc) {
			t.Fatal("GET /api/v1/openapi.json does not serve the embedded document")
		}
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy"} {
			if res.Header.Get(h) == "" {
				t.Errorf("security header %s missing", h)
			}
		}
	})
}

// A client that disconnects mid-request is not a server error: no ERROR log
// line, no 5xx in the metrics (wrk's last requests at the end of a run did
// both).
func TestClientGoneIsNotAServerError(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		var logs syncBuffer
		a, err := Wire(Config{Currency: "EUR", DataDir: t.TempDir()}, slog.New(slog.NewTextHandler(&logs, nil)), db)
		if err != nil {
			t.Fatal(err)
		}
		seedFixture(t, a)
		h := a.Handler()
		for _, target := range []string{"/api/v1/products", "/api/v1/products/zebra-linen-shirt", "/api/v1/categories"} {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", target, nil).WithContext(ctx))
			if w.Code < 400 || w.Code == http.StatusNotFound {
				continue // answered before it noticed; fine
			}
			if w.Code != 499 {
				t.Errorf("GET %s with the client gone: %d %s, want 499", target, w.Code, w.Body)
			}
		}
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Fatalf("a client going away was logged as an error:\n%s", logs.String())
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if strings.Contains(w.Body.String(), `status="500"`) {
			t.Fatal("a client going away was counted as a 500")
		}
	})
}
