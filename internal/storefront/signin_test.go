package storefront_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestSignInLimits: wrong passwords from another browser do not keep the
// owner's browser out; a browser the account does not know is told how
// long to wait.
func TestSignInLimits(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db, false)
		const email, password = "owner@example.com", "long enough password"
		owner := s.browser()
		if p := owner.post("/account/register", url.Values{"name": {"Owner"}, "email": {email}, "password": {password}}); p.code != http.StatusSeeOther {
			t.Fatalf("register: %d", p.code)
		}
		if owner.cookies[customer.DeviceCookie] == nil {
			t.Fatal("no known-device cookie after registering")
		}
		owner.post("/account/logout", nil)

		attacker := s.browser()
		for range customer.LoginFreeAttempts {
			if p := attacker.post("/account/login", url.Values{"email": {email}, "password": {"not the password"}}); p.code != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", p.code)
			}
		}
		// A browser the account does not know (here on the same network
		// as the attacker and the owner) waits, and is told so.
		p := s.browser().post("/account/login", url.Values{"email": {email}, "password": {password}})
		if p.code != http.StatusTooManyRequests || p.res.Header.Get("Retry-After") != "60" ||
			!strings.Contains(p.body, "Too many failed sign-ins for this account; try again in 1 minute") ||
			!strings.Contains(p.body, `value="`+email+`"`) {
			t.Fatalf("new browser: %d, Retry-After %q:\n%s", p.code, p.res.Header.Get("Retry-After"), p.body)
		}
		// The owner's browser gets in.
		if p := owner.post("/account/login", url.Values{"email": {email}, "password": {password}}); p.code != http.StatusSeeOther {
			t.Fatalf("owner's browser: %d", p.code)
		}
	})
}
