package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

func TestTrustedProxiesSetting(t *testing.T) {
	c := defaultConfig(func(k string) string {
		if k == "MERCATO_TRUSTED_PROXIES" {
			return " 10.0.0.0/8, 127.0.0.1 ,::1"
		}
		return ""
	})
	if err := c.parseProxies(); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, ",") != "10.0.0.0/8,127.0.0.1/32,::1/128" {
		t.Fatalf("TrustedProxies = %v", got)
	}

	var stderr bytes.Buffer
	getenv := func(k string) string {
		switch k {
		case "MERCATO_TRUSTED_PROXIES":
			return "10.0.0.0/33"
		case "MERCATO_DATA_DIR":
			return t.TempDir()
		}
		return ""
	}
	err := Run(context.Background(), []string{"mercato", "migrate"}, getenv, nil, &bytes.Buffer{}, &stderr)
	if !IsUsage(err) || !strings.Contains(err.Error(), "MERCATO_TRUSTED_PROXIES") {
		t.Fatalf("bad proxy setting: err = %v, want a usage error naming the variable", err)
	}
}

// X-Forwarded-Proto is believed only from a trusted proxy, through the
// whole handler: the HSTS header and the Secure flag of the cart cookie
// follow it (issue 8: it was believed from any client).
func TestForwardedProtoOnlyFromTrustedProxies(t *testing.T) {
	db := sqldbtest.SQLite(t, Migrations()...)
	a, err := Wire(Config{Currency: "EUR", DataDir: t.TempDir(), DefaultCountry: "DE",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, slog.New(slog.DiscardHandler), db)
	if err != nil {
		t.Fatal(err)
	}
	seedFixture(t, a)
	h := a.Handler()
	for _, tc := range []struct {
		remote string
		https  bool
	}{
		{"203.0.113.7:5000", false}, // any client
		{"10.1.2.3:5000", true},     // the reverse proxy
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		r.Header.Set("X-Forwarded-Proto", "https")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Strict-Transport-Security") != ""; got != tc.https {
			t.Errorf("GET / from %s claiming https: HSTS sent = %v, want %v", tc.remote, got, tc.https)
		}
		form := strings.NewReader("variant_id=nope&quantity=1")
		r = httptest.NewRequest("POST", "/cart/items", form)
		r.RemoteAddr = tc.remote
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("X-Forwarded-Proto", "https")
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		cookies := w.Result().Cookies()
		if len(cookies) == 0 {
			t.Fatalf("POST /cart/items from %s set no cookie (%d): nothing to check", tc.remote, w.Code)
		}
		for _, c := range cookies {
			if c.Secure != tc.https {
				t.Errorf("POST /cart/items from %s claiming https: cookie %s Secure = %v, want %v", tc.remote, c.Name, c.Secure, tc.https)
			}
		}
	}
}
