package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

func TestErrorMapsCodesToProblems(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		detail     string
		retryAfter string
	}{
		{apperr.Field("sku", "is required"), 400, "invalid input", ""},
		{fmt.Errorf("get product: %w", apperr.NotFoundf("product %q not found", "x")), 404, `product "x" not found`, ""},
		{apperr.Conflictf("taken"), 409, "taken", ""},
		{apperr.New(apperr.Unauthorized, "who?"), 401, "who?", ""},
		{apperr.New(apperr.PaymentFailed, "declined"), 402, "declined", ""},
		{ratelimit.Exceeded("slow down", 1500*time.Millisecond), 429, "slow down", "2"},
		{errors.New("pq: password=secret"), 500, "an internal error occurred; it has been logged", ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		web.Error(rec, httptest.NewRequest("GET", "/api/v1/x", nil), nil, tt.err)
		if rec.Code != tt.status || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%v: status %d %q", tt.err, rec.Code, rec.Header().Get("Content-Type"))
		}
		var p web.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != tt.status || p.Detail != tt.detail {
			t.Errorf("%v: problem %+v, %v", tt.err, p, err)
		}
		if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
			t.Errorf("%v: Retry-After %q, want %q", tt.err, got, tt.retryAfter)
		}
		if strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("internal error text leaked: %s", rec.Body)
		}
	}
}

func TestDecodeRefusesBadBodies(t *testing.T) {
	type in struct {
		N    int64  `json:"n"`
		Name string `json:"name"`
	}
	tests := []struct {
		body, ctype, field string
	}{
		{``, "application/json", "body"},
		{`{"n":`, "application/json", "body"},
		{`{"n":"x"}`, "application/json", "n"},
		{`{"n":9223372036854775808}`, "application/json", "n"},
		{`{"extra":1}`, "application/json", "extra"},
		{`{"n":1} {"n":2}`, "application/json", "body"},
		{`{"n":1}`, "text/plain", "body"},
		{`{"name":"` + strings.Repeat("a", web.MaxBodyBytes) + `"}`, "application/json", "body"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		r.Header.Set("Content-Type", tt.ctype)
		var v in
		err := web.Decode(httptest.NewRecorder(), r, &v)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Code != apperr.Invalid || e.Fields[0].Field != tt.field {
			t.Errorf("body %.40q: err = %v, want invalid on %s", tt.body, err, tt.field)
		}
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"n":7,"name":"ok"}`))
	var v in
	if err := web.Decode(httptest.NewRecorder(), r, &v); err != nil || v.N != 7 {
		t.Fatalf("good body: %+v, %v", v, err)
	}
}

func TestCachedJSONAnswers304(t *testing.T) {
	rec := httptest.NewRecorder()
	web.CachedJSON(rec, httptest.NewRequest("GET", "/", nil), map[string]int{"a": 1}, 30)
	etag := rec.Header().Get("ETag")
	if rec.Code != 200 || etag == "" || rec.Header().Get("Cache-Control") != "public, max-age=30" {
		t.Fatalf("first: %d %v", rec.Code, rec.Header())
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("If-None-Match", inm)
		rec = httptest.NewRecorder()
		web.CachedJSON(rec, r, map[string]int{"a": 1}, 30)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d", inm, rec.Code)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("If-None-Match", `"stale"`)
	rec = httptest.NewRecorder()
	web.CachedJSON(rec, r, map[string]int{"a": 2}, 30)
	if rec.Code != 200 {
		t.Fatalf("changed body: %d", rec.Code)
	}
}

func TestObserveRecoversAndSetsHeaders(t *testing.T) {
	h := web.Observe(slogDiscard(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || rec.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("panic answer: %d %v", rec.Code, rec.Header())
	}
}

// TestAllowSources: one answer's policy widens to exactly the sources
// given, in their own directives; every other answer keeps the default.
func TestAllowSources(t *testing.T) {
	const plain = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
	h := web.Observe(slogDiscard(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pay" {
			web.AllowSources(w, web.Sources{Script: []string{"https://js.stripe.com"}, Frame: []string{"https://js.stripe.com"}, Connect: []string{"https://api.stripe.com"}})
		}
	}))
	for path, want := range map[string]string{
		"/":    plain,
		"/pay": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self' https://js.stripe.com; frame-src 'self' https://js.stripe.com; connect-src 'self' https://api.stripe.com; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if got := rec.Header().Get("Content-Security-Policy"); got != want {
			t.Errorf("%s: policy\n%s\nwant\n%s", path, got, want)
		}
	}
}

func TestCheckTextRefusesNULAndInvalidUTF8(t *testing.T) {
	mux := http.NewServeMux()
	reached := false
	mux.Handle("/things/{id}", web.CheckText(slogDiscard(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true })))
	tests := []struct {
		method, target, ctype, body, field string
	}{
		{"GET", "/things/a%00b", "", "", "id"},
		{"GET", "/things/%ff", "", "", "id"},
		{"GET", "/things/ok?q=%00", "", "", "q"},
		{"GET", "/things/ok?q=%c3", "", "", "q"},
		{"POST", "/things/ok", "application/x-www-form-urlencoded", "name=a%00", "name"},
		{"GET", "/things/ok?q=fine", "", "", ""},
		{"POST", "/things/ok", "application/x-www-form-urlencoded", "name=Zo%C3%AB", ""},
	}
	for _, tt := range tests {
		reached = false
		r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
		if tt.ctype != "" {
			r.Header.Set("Content-Type", tt.ctype)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if tt.field == "" {
			if !reached || rec.Code != 200 {
				t.Errorf("%s %s: %d, reached=%v; want it let through", tt.method, tt.target, rec.Code, reached)
			}
			continue
		}
		var p web.Problem
		json.Unmarshal(rec.Body.Bytes(), &p)
		if reached || rec.Code != 400 || len(p.Errors) != 1 || p.Errors[0].Field != tt.field {
			t.Errorf("%s %s %q: %d %+v reached=%v; want 400 on %s", tt.method, tt.target, tt.body, rec.Code, p, reached, tt.field)
		}
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"a\u0000"}`))
	var v struct{ Name string }
	if err := web.Decode(httptest.NewRecorder(), r, &v); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("JSON with \\u0000: %v", err)
	}
}

// Logs name a routed request by its pattern, never by its path: a guest
// cart's id in the path is the cart's bearer credential.
func TestLogsNameTheRouteNotThePath(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mux := http.NewServeMux()
	const pattern = "GET /api/v1/carts/{id}"
	mux.Handle(pattern, web.NewMetrics(prometheus.NewRegistry()).Route(pattern, web.Handle(log, func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("boom")
	})))
	h := web.Observe(log, mux)
	const secret = "cart_s3cr3tS3CR3Ts3cr3t"
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/carts/"+secret, nil))
	if strings.Contains(logs.String(), secret) {
		t.Fatalf("the cart id was logged:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "/api/v1/carts/{id}") || !strings.Contains(logs.String(), "request failed") {
		t.Fatalf("the request and its failure are not logged by route:\n%s", logs.String())
	}
}
