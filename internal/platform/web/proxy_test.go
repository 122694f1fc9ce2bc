package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/mercato-shop/mercato/internal/platform/web"
)

func TestTrustForwardedProto(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		https   bool
	}{
		{"no proxies configured", nil, "10.0.0.5:4000", false},
		{"a client claims HTTPS", proxies, "203.0.113.9:4000", false},
		{"the trusted proxy says HTTPS", proxies, "10.0.0.5:4000", true},
		{"the trusted proxy over IPv6", proxies, "[::1]:4000", true},
		{"IPv4-mapped address of the proxy", proxies, "[::ffff:10.0.0.5]:4000", true},
		{"no port", proxies, "10.0.0.5", true},
		{"garbage address", proxies, "pipe", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got bool
			h := web.TrustForwardedProto(tc.trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = web.IsHTTPS(r) }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Forwarded-Proto", "https")
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.https {
				t.Fatalf("IsHTTPS = %v, want %v", got, tc.https)
			}
		})
	}
}
