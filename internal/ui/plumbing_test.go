package ui

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

func TestIsHTTPS(t *testing.T) {
	for _, c := range []struct {
		name  string
		tls   bool
		proto []string // X-Forwarded-Proto values, in order
		want  bool
	}{
		{"plain HTTP", false, nil, false},
		{"TLS to the shop itself", true, nil, true},
		{"TLS, the header says http", true, []string{"http"}, true},
		{"behind a proxy that terminated TLS", false, []string{"https"}, true},
		{"behind a proxy, plain HTTP", false, []string{"http"}, false},
		{"only the first value counts", false, []string{"http", "https"}, false},
		{"the value is exact", false, []string{"HTTPS"}, false},
		{"empty header", false, []string{""}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://shop.test/", nil)
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for _, v := range c.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			if got := IsHTTPS(r); got != c.want {
				t.Errorf("IsHTTPS = %v, want %v", got, c.want)
			}
		})
	}
}

// cookieOf returns the Set-Cookie named name of w (nil when none).
func cookieOf(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSetCookie(t *testing.T) {
	for _, https := range []bool{false, true} {
		r := httptest.NewRequest("GET", "/", nil)
		if https {
			r.Header.Set("X-Forwarded-Proto", "https")
		}
		w := httptest.NewRecorder()
		SetCookie(w, r, "keep", "v", "/x", time.Hour)
		SetCookie(w, r, "gone", "", "/", -1)
		SetCookie(w, r, "session", "s", "/", 0)
		keep, gone, session := cookieOf(w, "keep"), cookieOf(w, "gone"), cookieOf(w, "session")
		for _, c := range []*http.Cookie{keep, gone, session} {
			if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != https {
				t.Fatalf("https=%v: %+v", https, c)
			}
		}
		if keep.Value != "v" || keep.Path != "/x" || keep.MaxAge != 3600 || time.Until(keep.Expires) < 59*time.Minute {
			t.Errorf("kept cookie %+v", keep)
		}
		if gone.MaxAge != -1 {
			t.Errorf("deleted cookie %+v", gone)
		}
		if session.MaxAge != 0 || !session.Expires.IsZero() {
			t.Errorf("session cookie %+v", session)
		}
	}
}

// carry sends the Set-Cookie of w back as the request cookie of the next
// request (as a browser would), or none when w deleted it.
func carry(t *testing.T, w *httptest.ResponseRecorder, name string) *http.Request {
	t.Helper()
	r := httptest.NewRequest("GET", "/next", nil)
	if c := cookieOf(w, name); c != nil && c.MaxAge >= 0 {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func TestFlashes(t *testing.T) {
	fs := Flashes{Cookie: "test_flash", Path: "/shop", MaxAge: 5 * time.Minute}

	t.Run("round trip", func(t *testing.T) {
		for _, f := range []Flash{
			{Text: "Address saved."},
			{Error: true, Text: "Sorry, <b>some</b> items sold out; café ☕ & more."},
			{Text: ""},
		} {
			w := httptest.NewRecorder()
			fs.Set(w, httptest.NewRequest("POST", "/shop/form", nil), f)
			c := cookieOf(w, "test_flash")
			if c == nil || c.Path != "/shop" || c.MaxAge != 300 || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
				t.Fatalf("Set-Cookie %+v", c)
			}
			r := carry(t, w, "test_flash")
			w = httptest.NewRecorder()
			got := fs.Take(w, r)
			if got == nil || *got != f {
				t.Fatalf("Take = %+v, want %+v", got, f)
			}
			if d := cookieOf(w, "test_flash"); d == nil || d.MaxAge != -1 || d.Path != "/shop" {
				t.Errorf("the message is not cleared after it is taken: %+v", d)
			}
			// Shown once: the next page has nothing.
			if again := fs.Take(httptest.NewRecorder(), carry(t, w, "test_flash")); again != nil {
				t.Errorf("taken twice: %+v", again)
			}
		}
	})

	t.Run("secure over HTTPS", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/shop/form", nil)
		r.TLS = &tls.ConnectionState{}
		w := httptest.NewRecorder()
		fs.Set(w, r, Flash{Text: "ok"})
		if c := cookieOf(w, "test_flash"); c == nil || !c.Secure {
			t.Errorf("over TLS: %+v", c)
		}
	})

	t.Run("long text is cut at a character", func(t *testing.T) {
		w := httptest.NewRecorder()
		fs.Set(w, httptest.NewRequest("POST", "/", nil), Flash{Text: "a" + strings.Repeat("é", MaxFlash)})
		got := fs.Take(httptest.NewRecorder(), carry(t, w, "test_flash"))
		if got == nil || len(got.Text) != MaxFlash-1 || !strings.HasPrefix(got.Text, "aé") {
			t.Errorf("Take = %+v", got)
		}
	})

	t.Run("no message", func(t *testing.T) {
		w := httptest.NewRecorder()
		if got := fs.Take(w, httptest.NewRequest("GET", "/", nil)); got != nil || len(w.Result().Cookies()) != 0 {
			t.Errorf("Take = %+v, cookies %v", got, w.Result().Cookies())
		}
	})

	t.Run("tampered", func(t *testing.T) {
		enc := base64.RawURLEncoding.EncodeToString
		for name, value := range map[string]string{
			"not base64":         "hello",
			"padded base64":      base64.URLEncoding.EncodeToString([]byte("ok:hi")),
			"no kind":            enc([]byte("hello")),
			"unknown kind":       enc([]byte("warn:hello")),
			"not UTF-8":          enc([]byte("ok:\xff\xfe")),
			"too long":           enc([]byte("ok:" + strings.Repeat("x", MaxFlash+1))),
			"another cookie fmt": "ok%3Ahello",
		} {
			t.Run(name, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/", nil)
				r.AddCookie(&http.Cookie{Name: "test_flash", Value: value})
				w := httptest.NewRecorder()
				if got := fs.Take(w, r); got != nil {
					t.Errorf("Take = %+v, want nil", got)
				}
				if c := cookieOf(w, "test_flash"); c == nil || c.MaxAge != -1 {
					t.Errorf("a bad cookie is not cleared: %+v", c)
				}
			})
		}
	})

	t.Run("another UI's cookie", func(t *testing.T) {
		other := Flashes{Cookie: "other_flash", Path: "/", MaxAge: time.Minute}
		w := httptest.NewRecorder()
		other.Set(w, httptest.NewRequest("POST", "/", nil), Flash{Text: "theirs"})
		if got := fs.Take(httptest.NewRecorder(), carry(t, w, "other_flash")); got != nil {
			t.Errorf("read another cookie's message: %+v", got)
		}
	})
}

func TestErrorPages(t *testing.T) {
	pages, _ := testRenderer(t, map[string]string{
		"error": `{{define "content"}}<h1>{{.Heading}}</h1><p>{{.P.Detail}}</p>{{range .P.Errors}}<li>{{.Field}}: {{.Message}}</li>{{end}}{{if .Broken}}{{.Missing.Field}}{{end}}{{end}}`,
	})
	type errorView struct {
		Page
		P       web.Problem
		Heading string
		Broken  bool
	}
	var logs bytes.Buffer
	broken := false
	e := ErrorPages{Pages: pages, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		View: func(w http.ResponseWriter, r *http.Request, p web.Problem) (any, string) {
			h := "Heading " + fmt.Sprint(p.Status)
			return errorView{P: p, Heading: h, Broken: broken}, h
		}}
	secret := errors.New("pq: password authentication failed for user shop")
	for _, c := range []struct {
		err    error
		status int
		show   []string
		logged bool
	}{
		{apperr.NotFoundf("no such page"), 404, []string{"no such page"}, false},
		{fmt.Errorf("load product: %w", apperr.NotFoundf("no product x")), 404, []string{"no product x"}, false},
		{apperr.Field("q", "is too long"), 400, []string{"invalid input", "q: is too long"}, false},
		{apperr.Conflictf("already shipped"), 409, []string{"already shipped"}, false},
		{apperr.New(apperr.Forbidden, "another site"), 403, []string{"another site"}, false},
		{apperr.New(apperr.Unauthorized, "sign in"), 401, []string{"sign in"}, false},
		{apperr.New(apperr.PaymentFailed, "declined"), 402, []string{"declined"}, false},
		{apperr.New(apperr.TooManyRequest, "slow down"), 429, []string{"slow down"}, false},
		{apperr.New(apperr.Unprocessable, "cannot"), 422, []string{"cannot"}, false},
		{apperr.New(apperr.Internal, "disk full at /var/x"), 500, []string{"an internal error occurred"}, true},
		{secret, 500, []string{"an internal error occurred"}, true},
	} {
		t.Run(c.err.Error(), func(t *testing.T) {
			logs.Reset()
			w := httptest.NewRecorder()
			e.Handle(func(w http.ResponseWriter, r *http.Request) error { return c.err }).ServeHTTP(w, httptest.NewRequest("GET", "/p", nil))
			body := w.Body.String()
			if w.Code != c.status || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("%d %v, want %d", w.Code, w.Header(), c.status)
			}
			for _, want := range append(c.show, fmt.Sprintf("<h1>Heading %d</h1>", c.status)) {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			if c.status == 500 && (strings.Contains(body, "disk full") || strings.Contains(body, "password")) {
				t.Errorf("an internal error's text is shown:\n%s", body)
			}
			if logged := strings.Contains(logs.String(), "page failed"); logged != c.logged {
				t.Errorf("logged %v, want %v: %s", logged, c.logged, logs.String())
			}
		})
	}

	t.Run("no error", func(t *testing.T) {
		w := httptest.NewRecorder()
		e.Handle(func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(204)
			return nil
		}).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 204 || w.Body.Len() != 0 {
			t.Errorf("%d %q", w.Code, w.Body)
		}
	})

	t.Run("the page fails to render", func(t *testing.T) {
		broken = true
		defer func() { broken = false }()
		logs.Reset()
		w := httptest.NewRecorder()
		e.Render(w, httptest.NewRequest("GET", "/", nil), apperr.NotFoundf("gone"))
		if w.Code != 404 || strings.TrimSpace(w.Body.String()) != "Heading 404" || !strings.Contains(logs.String(), "error page failed") {
			t.Errorf("%d %q, log %s", w.Code, w.Body, logs.String())
		}
	})
}

func TestFormErrorsOf(t *testing.T) {
	strip := func(f string) string {
		if f == "internal_note" {
			return ""
		}
		return strings.TrimPrefix(f, "address.")
	}
	for _, c := range []struct {
		name   string
		err    error
		rename func(string) string
		want   FormErrors
		ok     bool
	}{
		{"fields, the first message of each", &apperr.Error{Code: apperr.Invalid, Message: "invalid input", Fields: []apperr.FieldError{
			{Field: "email", Message: "is required"}, {Field: "email", Message: "is not an address"}, {Field: "name", Message: "is too long"}}},
			nil, FormErrors{Code: apperr.Invalid, Message: "invalid input", Fields: map[string]string{"email": "is required", "name": "is too long"}}, true},
		{"renamed, and unplaced", &apperr.Error{Code: apperr.Invalid, Message: "invalid input", Fields: []apperr.FieldError{
			{Field: "address.city", Message: "is required"}, {Field: "internal_note", Message: "is odd"}}},
			strip, FormErrors{Code: apperr.Invalid, Message: "invalid input", Fields: map[string]string{"city": "is required"},
				Unplaced: []apperr.FieldError{{Field: "internal_note", Message: "is odd"}}}, true},
		{"wrapped conflict without fields", fmt.Errorf("ship: %w", apperr.Conflictf("already shipped")),
			nil, FormErrors{Code: apperr.Conflict, Message: "already shipped", Fields: map[string]string{}}, true},
		{"internal", apperr.New(apperr.Internal, "db down"), nil, FormErrors{}, false},
		{"not an apperr", errors.New("boom"), nil, FormErrors{}, false},
		{"nil", nil, nil, FormErrors{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := FormErrorsOf(c.err, c.rename)
			if ok != c.ok || !reflect.DeepEqual(got, c.want) {
				t.Errorf("FormErrorsOf = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestNewCSRF(t *testing.T) {
	reached := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "refused by the UI", http.StatusForbidden) })
	for _, c := range []struct {
		name   string
		method string
		hdr    []string
		ok     bool
	}{
		{"same-origin POST (Sec-Fetch-Site)", "POST", []string{"Sec-Fetch-Site", "same-origin"}, true},
		{"same-origin POST (Origin only)", "POST", []string{"Origin", "http://shop.test"}, true},
		{"POST typed into the address bar", "POST", []string{"Sec-Fetch-Site", "none"}, true},
		{"POST not from a browser", "POST", nil, true},
		{"cross-site POST", "POST", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, false},
		{"same-site POST from a sibling host", "POST", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://blog.shop.test"}, false},
		{"cross-origin POST (Origin only)", "POST", []string{"Origin", "https://evil.example"}, false},
		{"cross-site DELETE", "DELETE", []string{"Sec-Fetch-Site", "cross-site"}, false},
		{"cross-site GET", "GET", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, withDeny := range []bool{false, true} {
				var d http.Handler
				if withDeny {
					d = deny
				}
				reached = 0
				r := httptest.NewRequest(c.method, "http://shop.test/cart/items", strings.NewReader("x=1"))
				for i := 0; i+1 < len(c.hdr); i += 2 {
					r.Header.Set(c.hdr[i], c.hdr[i+1])
				}
				w := httptest.NewRecorder()
				NewCSRF(d).Handler(h).ServeHTTP(w, r)
				if c.ok {
					if reached != 1 || w.Code != 200 {
						t.Errorf("deny=%v: refused (%d)", withDeny, w.Code)
					}
					continue
				}
				if reached != 0 || w.Code != http.StatusForbidden {
					t.Errorf("deny=%v: let through (%d, reached %d)", withDeny, w.Code, reached)
				}
				if withDeny != strings.Contains(w.Body.String(), "refused by the UI") {
					t.Errorf("deny=%v: answered %q", withDeny, w.Body)
				}
			}
		})
	}
}
