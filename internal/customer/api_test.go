package customer_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// HTTP tests: the real handlers behind the real Authenticate middleware,
// routed like internal/app/routes.go, over SQLite and PostgreSQL.

type server struct {
	t   *testing.T
	svc *customer.Service
	h   http.Handler
}

func newServer(t *testing.T, db *sqldb.DB, onLogin customer.LoginHook, opts ...customer.Option) *server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := customer.NewService(db, opts...)
	h := func(f web.HandlerFunc) http.Handler { return web.Handle(log, f) }
	mux := http.NewServeMux()
	for pattern, handler := range map[string]http.Handler{
		"POST /api/v1/auth/register":               h(customer.HandleRegister(svc, onLogin)),
		"POST /api/v1/auth/login":                  h(customer.HandleLogin(svc, onLogin)),
		"POST /api/v1/auth/logout":                 h(customer.HandleLogout(svc)),
		"POST /api/v1/auth/password-reset":         h(customer.HandlePasswordReset(svc)),
		"POST /api/v1/auth/password-reset/confirm": h(customer.HandlePasswordResetConfirm(svc)),
		"POST /api/v1/auth/verify-email":           h(customer.HandleVerifyEmail(svc)),
		"POST /api/v1/auth/email-change/confirm":   h(customer.HandleConfirmEmailChange(svc)),
		"POST /api/v1/me/email-verification":       h(customer.HandleResendVerification(svc)),
		"POST /api/v1/me/email-change":             h(customer.HandleRequestEmailChange(svc)),
		"GET /api/v1/me":                           h(customer.HandleGetMe(svc)),
		"PATCH /api/v1/me":                         h(customer.HandleUpdateMe(svc)),
		"GET /api/v1/me/addresses":                 h(customer.HandleListAddresses(svc)),
		"POST /api/v1/me/addresses":                h(customer.HandleCreateAddress(svc)),
		"PATCH /api/v1/me/addresses/{id}":          h(customer.HandleUpdateAddress(svc)),
		"DELETE /api/v1/me/addresses/{id}":         h(customer.HandleDeleteAddress(svc)),
		"GET /api/v1/admin/customers":              h(customer.HandleAdminListCustomers(svc)),
		"GET /api/v1/admin/customers/{id}":         h(customer.HandleAdminGetCustomer(svc)),
		"GET /api/v1/admin/staff":                  h(customer.HandleListStaff(svc)),
		"POST /api/v1/admin/staff":                 h(customer.HandleCreateStaff(svc)),
		"PATCH /api/v1/admin/staff/{id}":           h(customer.HandleUpdateStaff(svc)),
		"POST /api/v1/things/{id}/unprotected":     h(func(w http.ResponseWriter, r *http.Request) error { w.WriteHeader(204); return nil }),
	} {
		mux.Handle(pattern, handler)
	}
	writeErr := func(w http.ResponseWriter, r *http.Request, err error) { web.Error(w, r, log, err) }
	return &server{t: t, svc: svc, h: customer.Authenticate(svc, writeErr, mux)}
}

type opt func(*http.Request)

func bearer(token string) opt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}
func cookie(token string) opt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: customer.SessionCookie, Value: token}) }
}
func header(k, v string) opt { return func(r *http.Request) { r.Header.Set(k, v) } }
func remote(addr string) opt { return func(r *http.Request) { r.RemoteAddr = addr } }
func sameOrigin() opt        { return header("Sec-Fetch-Site", "same-origin") }
func crossSite() opt {
	return func(r *http.Request) {
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", "https://evil.example")
	}
}

type resp struct {
	t      *testing.T
	req    string
	Code   int
	Header http.Header
	Body   []byte
}

func (s *server) do(method, target string, body any, opts ...opt) resp {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequest(method, target, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	res := resp{t: s.t, req: method + " " + target, Code: w.Code, Header: w.Result().Header, Body: w.Body.Bytes()}
	if res.Code >= 500 {
		s.t.Fatalf("%s answered %d: %s", res.req, res.Code, res.Body)
	}
	return res
}

func (r resp) want(code int) resp {
	r.t.Helper()
	if r.Code != code {
		r.t.Fatalf("%s: status %d, want %d: %s", r.req, r.Code, code, r.Body)
	}
	return r
}

// problem checks a problem answer and, when field is set, that it names it.
func (r resp) problem(code int, field string) web.Problem {
	r.t.Helper()
	r.want(code)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("%s: Content-Type %q", r.req, ct)
	}
	var p web.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		r.t.Fatal(err)
	}
	if field != "" && !func() bool {
		for _, f := range p.Errors {
			if f.Field == field {
				return true
			}
		}
		return false
	}() {
		r.t.Fatalf("%s: problem does not name %q: %s", r.req, field, r.Body)
	}
	return p
}

func (r resp) decode(v any) resp {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("%s: %v: %s", r.req, err, r.Body)
	}
	return r
}

func (r resp) cookie() *http.Cookie {
	r.t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == customer.SessionCookie {
			return c
		}
	}
	return nil
}

type authBody struct {
	Token     string           `json:"token"`
	ExpiresAt time.Time        `json:"expires_at"`
	Customer  customer.Account `json:"customer"`
}

func (s *server) register(email, name string) authBody {
	s.t.Helper()
	var out authBody
	s.do("POST", "/api/v1/auth/register", map[string]string{"email": email, "password": pw, "name": name}).want(201).decode(&out)
	return out
}

func (s *server) login(email string) string {
	s.t.Helper()
	var out authBody
	s.do("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": pw}).want(200).decode(&out)
	return out.Token
}

func TestHTTPRegisterLoginLogout(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newServer(t, db, nil)
		res := s.do("POST", "/api/v1/auth/register", map[string]string{"email": "Ada@Example.com", "password": pw, "name": "Ada"}).want(201)
		var reg authBody
		res.decode(&reg)
		if !strings.HasPrefix(reg.Token, "mct_") || reg.Customer.ID == "" || reg.Customer.Email != "ada@example.com" || reg.Customer.Name != "Ada" {
			t.Fatalf("register body %s", res.Body)
		}
		for _, k := range []string{"id", "email", "name"} {
			var raw map[string]map[string]any
			json.Unmarshal(res.Body, &raw)
			if _, ok := raw["customer"][k]; !ok {
				t.Fatalf("customer.%s missing: %s", k, res.Body)
			}
		}
		if c := res.cookie(); c == nil || c.Value != reg.Token {
			t.Fatalf("register sets no session cookie: %v", res.Header["Set-Cookie"])
		}
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", res.Header.Get("Cache-Control"))
		}

		t.Run("bad input", func(t *testing.T) {
			for _, tt := range []struct {
				name  string
				body  map[string]any
				code  int
				field string
			}{
				{"duplicate e-mail", map[string]any{"email": "ADA@example.com", "password": pw, "name": "A"}, 409, "email"},
				{"weak password", map[string]any{"email": "b@example.com", "password": "1234567", "name": "B"}, 400, "password"},
				{"bad e-mail", map[string]any{"email": "b@", "password": pw, "name": "B"}, 400, "email"},
				{"missing name", map[string]any{"email": "b@example.com", "password": pw}, 400, "name"},
				{"unknown field", map[string]any{"email": "b@example.com", "password": pw, "name": "B", "role": "admin"}, 400, "role"},
				{"wrong type", map[string]any{"email": 5, "password": pw, "name": "B"}, 400, "email"},
				{"long cart id", map[string]any{"email": "b@example.com", "password": pw, "name": "B", "cart_id": strings.Repeat("x", 101)}, 400, "cart_id"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					s.do("POST", "/api/v1/auth/register", tt.body).problem(tt.code, tt.field)
				})
			}
			s.do("POST", "/api/v1/auth/login", map[string]any{"email": "", "password": ""}).problem(400, "email")
			s.do("POST", "/api/v1/auth/login", map[string]any{"email": "ada@example.com"}).problem(400, "password")
		})

		// Login: token in the body and the same session in a cookie.
		res = s.do("POST", "/api/v1/auth/login", map[string]string{"email": "ada@example.com", "password": pw}).want(200)
		var in authBody
		res.decode(&in)
		c := res.cookie()
		if c == nil || c.Value != in.Token || in.Customer.ID != reg.Customer.ID {
			t.Fatalf("login: body %s cookies %v", res.Body, res.Header["Set-Cookie"])
		}

		var me customer.Account
		s.do("GET", "/api/v1/me", nil, bearer(in.Token)).want(200).decode(&me)
		if me.ID != reg.Customer.ID || me.Email != "ada@example.com" {
			t.Fatalf("me %+v", me)
		}
		s.do("GET", "/api/v1/me", nil, cookie(in.Token)).want(200)
		s.do("GET", "/api/v1/me", nil).problem(401, "")
		s.do("GET", "/api/v1/me", nil, bearer("mct_forged")).problem(401, "")
		s.do("GET", "/api/v1/me", nil, header("Authorization", "Basic YTpi")).problem(401, "")

		// Rename, then change the password.
		s.do("PATCH", "/api/v1/me", map[string]any{"name": "Ada L."}, bearer(in.Token)).want(200).decode(&me)
		if me.Name != "Ada L." {
			t.Fatalf("renamed %+v", me)
		}
		s.do("PATCH", "/api/v1/me", map[string]any{"password": "a brand new one"}, bearer(in.Token)).problem(400, "current_password")
		s.do("PATCH", "/api/v1/me", map[string]any{"password": "a brand new one", "current_password": "wrong wrong"}, bearer(in.Token)).problem(400, "current_password")
		s.do("PATCH", "/api/v1/me", map[string]any{"email": "x@example.com"}, bearer(in.Token)).problem(400, "email")

		// Logout revokes the token that was used and clears the cookie.
		res = s.do("POST", "/api/v1/auth/logout", nil, bearer(in.Token)).want(204)
		if c := res.cookie(); c == nil || c.MaxAge >= 0 || c.Value != "" {
			t.Fatalf("logout does not clear the cookie: %v", res.Header["Set-Cookie"])
		}
		s.do("GET", "/api/v1/me", nil, bearer(in.Token)).problem(401, "")
		// The revoked session's cookie is now anonymous (and cleared), not an error on public routes.
		res = s.do("GET", "/api/v1/me", nil, cookie(in.Token))
		res.problem(401, "")
		if c := res.cookie(); c == nil || c.MaxAge >= 0 {
			t.Fatalf("stale cookie not cleared: %v", res.Header["Set-Cookie"])
		}
		// The registration's own session still works; logging out by cookie revokes it.
		s.do("POST", "/api/v1/auth/logout", nil, cookie(reg.Token), sameOrigin()).want(204)
		s.do("GET", "/api/v1/me", nil, bearer(reg.Token)).problem(401, "")
		// Logout without a session is a no-op.
		s.do("POST", "/api/v1/auth/logout", nil).want(204)
	})
}

func TestHTTPSessionCookie(t *testing.T) {
	db := sqldbtest.SQLite(t, migrations...)
	s := newServer(t, db, nil)
	s.register("ada@example.com", "Ada")
	for _, tt := range []struct {
		name       string
		opts       []opt
		wantSecure bool
	}{
		{"plain HTTP", nil, false},
		{"TLS", []opt{func(r *http.Request) { r.TLS = &tls.ConnectionState{} }}, true},
		{"behind a TLS proxy", []opt{header("X-Forwarded-Proto", "https")}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := s.do("POST", "/api/v1/auth/login", map[string]string{"email": "ada@example.com", "password": pw}, tt.opts...).want(200)
			raw := res.Header.Get("Set-Cookie")
			c := res.cookie()
			if c == nil {
				t.Fatalf("no cookie: %q", raw)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tt.wantSecure {
				t.Fatalf("cookie %q: HttpOnly %v SameSite %v Path %q Secure %v (want Secure %v)", raw, c.HttpOnly, c.SameSite, c.Path, c.Secure, tt.wantSecure)
			}
			if c.MaxAge < int((customer.SessionTTL-time.Minute).Seconds()) || c.MaxAge > int(customer.SessionTTL.Seconds()) {
				t.Fatalf("cookie Max-Age %d, want about %v", c.MaxAge, customer.SessionTTL)
			}
			if c.Domain != "" {
				t.Fatalf("cookie Domain %q: host-only wanted", c.Domain)
			}
		})
	}
}

func TestHTTPCrossOriginProtection(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newServer(t, db, nil)
		ada := s.register("ada@example.com", "Ada")
		addr := map[string]any{"name": "Ada", "line1": "1 Road", "city": "Town", "country": "DE"}
		for _, tt := range []struct {
			name string
			opts []opt
			want int
		}{
			{"cookie, cross-site", []opt{cookie(ada.Token), crossSite()}, 403},
			{"cookie, Origin of another host (old browser)", []opt{cookie(ada.Token), header("Origin", "https://evil.example")}, 403},
			{"cookie, same origin", []opt{cookie(ada.Token), sameOrigin()}, 201},
			{"cookie, same Origin and Host (old browser)", []opt{cookie(ada.Token), header("Origin", "http://example.com")}, 201},
			{"cookie, no browser headers (not a browser)", []opt{cookie(ada.Token)}, 201},
			{"bearer, cross-site", []opt{bearer(ada.Token), crossSite()}, 201},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := s.do("POST", "/api/v1/me/addresses", addr, tt.opts...)
				if tt.want == 403 {
					r.problem(403, "")
				} else {
					r.want(tt.want)
				}
			})
		}
		// Safe methods are never refused.
		s.do("GET", "/api/v1/me/addresses", nil, cookie(ada.Token), crossSite()).want(200)
		// Every unsafe cookie route is covered, the logout too.
		s.do("PATCH", "/api/v1/me", map[string]any{"name": "Mallory"}, cookie(ada.Token), crossSite()).problem(403, "")
		s.do("POST", "/api/v1/auth/logout", nil, cookie(ada.Token), crossSite()).problem(403, "")
		s.do("GET", "/api/v1/me", nil, cookie(ada.Token)).want(200) // still signed in
		// A cross-site sign-in form (login CSRF) is refused too.
		s.do("POST", "/api/v1/auth/login", map[string]string{"email": "ada@example.com", "password": pw}, crossSite()).problem(403, "")
	})
}

func TestHTTPCSRFBypass(t *testing.T) {
	db := sqldbtest.SQLite(t, migrations...)
	s := newServer(t, db, nil, customer.WithCSRFBypass("POST /api/v1/things/{id}/unprotected"))
	s.do("POST", "/api/v1/things/x/unprotected", nil, crossSite()).want(204)
	s.do("POST", "/api/v1/auth/logout", nil, crossSite()).problem(403, "")
}

func TestHTTPAddressesIsolation(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newServer(t, db, nil)
		ada := bearer(s.register("ada@example.com", "Ada").Token)
		bob := bearer(s.register("bob@example.com", "Bob").Token)
		in := map[string]any{"name": "Ada", "line1": "1 Road", "line2": "", "city": "Town", "postal_code": "10115", "country": "de", "phone": "+49 30 1234567"}

		res := s.do("POST", "/api/v1/me/addresses", in, ada).want(201)
		var a customer.Address
		res.decode(&a)
		if a.Country != "DE" || !a.IsDefault || res.Header.Get("Location") != "/api/v1/me/addresses/"+a.ID {
			t.Fatalf("created %s (Location %q)", res.Body, res.Header.Get("Location"))
		}
		s.do("POST", "/api/v1/me/addresses", map[string]any{"name": "", "line1": "", "city": "", "country": "XX"}, ada).problem(400, "country")
		s.do("POST", "/api/v1/me/addresses", map[string]any{"name": "", "line1": "x", "city": "x", "country": "DE"}, ada).problem(400, "name")
		s.do("POST", "/api/v1/me/addresses", map[string]any{"name": "x", "line1": "x", "city": "x", "country": "DE", "is_default": "yes"}, ada).problem(400, "is_default")

		var list struct{ Items []customer.Address }
		s.do("GET", "/api/v1/me/addresses", nil, ada).want(200).decode(&list)
		if len(list.Items) != 1 || list.Items[0].ID != a.ID {
			t.Fatalf("ada's list %+v", list)
		}

		t.Run("every route hides other accounts' addresses", func(t *testing.T) {
			var bobs struct{ Items []customer.Address }
			s.do("GET", "/api/v1/me/addresses", nil, bob).want(200).decode(&bobs)
			if len(bobs.Items) != 0 {
				t.Fatalf("bob lists %+v", bobs.Items)
			}
			s.do("PATCH", "/api/v1/me/addresses/"+a.ID, map[string]any{"line1": "Bob was here"}, bob).problem(404, "")
			s.do("DELETE", "/api/v1/me/addresses/"+a.ID, nil, bob).problem(404, "")
			// Bob's own creation cannot take over Ada's: ids are server-made.
			s.do("POST", "/api/v1/me/addresses", map[string]any{"id": a.ID, "name": "B", "line1": "x", "city": "x", "country": "DE"}, bob).problem(400, "id")
			var after struct{ Items []customer.Address }
			s.do("GET", "/api/v1/me/addresses", nil, ada).want(200).decode(&after)
			if len(after.Items) != 1 || after.Items[0] != a {
				t.Fatalf("ada's address changed: %+v, was %+v", after.Items, a)
			}
		})
		t.Run("anonymous", func(t *testing.T) {
			s.do("GET", "/api/v1/me/addresses", nil).problem(401, "")
			s.do("POST", "/api/v1/me/addresses", in).problem(401, "")
			s.do("PATCH", "/api/v1/me/addresses/"+a.ID, map[string]any{}).problem(401, "")
			s.do("DELETE", "/api/v1/me/addresses/"+a.ID, nil).problem(401, "")
		})

		var got customer.Address
		s.do("PATCH", "/api/v1/me/addresses/"+a.ID, map[string]any{"line2": "Flat 2", "phone": ""}, ada).want(200).decode(&got)
		if got.Line2 != "Flat 2" || got.Phone != "" || got.Line1 != "1 Road" {
			t.Fatalf("patched %+v", got)
		}
		s.do("PATCH", "/api/v1/me/addresses/"+a.ID, map[string]any{"postal_code": "<script>"}, ada).problem(400, "postal_code")
		s.do("PATCH", "/api/v1/me/addresses/nope", map[string]any{}, ada).problem(404, "")
		s.do("DELETE", "/api/v1/me/addresses/"+a.ID, nil, ada).want(204)
		s.do("DELETE", "/api/v1/me/addresses/"+a.ID, nil, ada).problem(404, "")
	})
}

func TestHTTPStaffAuthorization(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newServer(t, db, nil)
		ctx := context.Background()
		cust := s.register("cust@example.com", "Cust")
		for _, acc := range []struct {
			email string
			role  auth.Role
		}{{"staff@example.com", auth.RoleStaff}, {"admin@example.com", auth.RoleAdmin}} {
			if _, err := s.svc.CreateAccount(ctx, acc.email, pw, "X", acc.role); err != nil {
				t.Fatal(err)
			}
		}
		tokens := map[string]string{"customer": cust.Token, "staff": s.login("staff@example.com"), "admin": s.login("admin@example.com")}
		var staffID string
		var staffList struct{ Items []customer.Account }
		s.do("GET", "/api/v1/admin/staff", nil, bearer(tokens["admin"])).want(200).decode(&staffList)
		for _, a := range staffList.Items {
			if a.Role == auth.RoleStaff {
				staffID = a.ID
			}
		}
		for _, tt := range []struct {
			method, path string
			body         any
			adminOnly    bool
			okStatus     int
		}{
			{"GET", "/api/v1/admin/customers", nil, false, 200},
			{"GET", "/api/v1/admin/customers/" + cust.Customer.ID, nil, false, 200},
			{"GET", "/api/v1/admin/staff", nil, true, 200},
			{"POST", "/api/v1/admin/staff", map[string]any{"email": "new@example.com", "password": pw, "name": "New", "role": "staff"}, true, 201},
			{"PATCH", "/api/v1/admin/staff/" + staffID, map[string]any{"role": "staff"}, true, 200},
		} {
			t.Run(tt.method+" "+tt.path, func(t *testing.T) {
				s.do(tt.method, tt.path, tt.body).problem(401, "")
				s.do(tt.method, tt.path, tt.body, bearer("mct_forged")).problem(401, "")
				s.do(tt.method, tt.path, tt.body, bearer(tokens["customer"])).problem(403, "")
				if tt.adminOnly {
					s.do(tt.method, tt.path, tt.body, bearer(tokens["staff"])).problem(403, "")
				} else {
					s.do(tt.method, tt.path, tt.body, bearer(tokens["staff"])).want(tt.okStatus)
				}
				s.do(tt.method, tt.path, tt.body, bearer(tokens["admin"])).want(tt.okStatus)
			})
		}

		// The listing and the detail.
		var page customer.AccountPage
		s.do("GET", "/api/v1/admin/customers?q=cust&limit=1", nil, bearer(tokens["staff"])).want(200).decode(&page)
		if len(page.Items) != 1 || page.Items[0].ID != cust.Customer.ID || page.NextCursor != nil {
			t.Fatalf("page %+v", page)
		}
		s.do("GET", "/api/v1/admin/customers?limit=0", nil, bearer(tokens["staff"])).problem(400, "limit")
		s.do("GET", "/api/v1/admin/customers?cursor=%21", nil, bearer(tokens["staff"])).problem(400, "cursor")
		s.do("GET", "/api/v1/admin/customers/"+staffID, nil, bearer(tokens["staff"])).problem(404, "")

		// Staff administration.
		admin := bearer(tokens["admin"])
		s.do("POST", "/api/v1/admin/staff", map[string]any{"email": "new@example.com", "password": pw, "name": "N", "role": "staff"}, admin).problem(409, "email")
		s.do("POST", "/api/v1/admin/staff", map[string]any{"email": "c@example.com", "password": pw, "name": "N", "role": "customer"}, admin).problem(400, "role")
		s.do("POST", "/api/v1/admin/staff", map[string]any{"email": "c@example.com", "password": "short", "name": "N", "role": "staff"}, admin).problem(400, "password")
		s.do("PATCH", "/api/v1/admin/staff/"+staffID, map[string]any{}, admin).problem(400, "role")
		s.do("PATCH", "/api/v1/admin/staff/"+cust.Customer.ID, map[string]any{"role": "admin"}, admin).problem(404, "")
		var promoted customer.Account
		s.do("PATCH", "/api/v1/admin/staff/"+staffID, map[string]any{"role": "admin"}, admin).want(200).decode(&promoted)
		if promoted.Role != auth.RoleAdmin {
			t.Fatalf("promoted %+v", promoted)
		}
		// The role applies to existing sessions at once.
		s.do("GET", "/api/v1/admin/staff", nil, bearer(tokens["staff"])).want(200)
	})
}

func TestHTTPLoginHook(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		type call struct{ customerID, cartID string }
		var (
			calls []call
			fail  error
		)
		hook := func(ctx context.Context, customerID, guestCartID string) error {
			calls = append(calls, call{customerID, guestCartID})
			return fail
		}
		s := newServer(t, db, hook)
		var reg authBody
		s.do("POST", "/api/v1/auth/register", map[string]any{"email": "ada@example.com", "password": pw, "name": "Ada", "cart_id": "cart-1"}).want(201).decode(&reg)
		s.do("POST", "/api/v1/auth/login", map[string]any{"email": "ada@example.com", "password": pw}).want(200)
		s.do("POST", "/api/v1/auth/login", map[string]any{"email": "ada@example.com", "password": "wrong password", "cart_id": "cart-x"}).problem(401, "")
		s.do("POST", "/api/v1/auth/login", map[string]any{"email": "ada@example.com", "password": pw, "cart_id": "cart-2"}).want(200)
		want := []call{{reg.Customer.ID, "cart-1"}, {reg.Customer.ID, "cart-2"}}
		if fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Fatalf("hook calls %v, want %v (none without cart_id or without a valid password)", calls, want)
		}

		// A failing merge fails the sign-in and opens no session.
		fail = apperr.Conflictf("cart cannot be merged")
		var before int
		db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM customer_tokens`).Scan(&before)
		res := s.do("POST", "/api/v1/auth/login", map[string]any{"email": "ada@example.com", "password": pw, "cart_id": "cart-3"})
		res.problem(409, "")
		if res.cookie() != nil {
			t.Fatal("failed sign-in set a cookie")
		}
		var after int
		db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM customer_tokens`).Scan(&after)
		if after != before {
			t.Fatalf("sessions %d -> %d after a failed merge", before, after)
		}
	})
}
