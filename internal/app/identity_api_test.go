package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// Identity through the whole handler: every answer is checked against
// openapi.json by testAPI.do.

func sessionCookie(res result) *http.Cookie {
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == customer.SessionCookie {
			return c
		}
	}
	return nil
}

func withCookie(token string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: customer.SessionCookie, Value: token}) }
}

func TestIdentityAPI(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		ctx := context.Background()

		// Register: 201, token, cookie, and the event in the outbox.
		res := api.do("POST", "/api/v1/auth/register", map[string]any{"email": "Neo@Example.com", "password": testPassword, "name": "Neo"}).wantStatus(http.StatusCreated)
		var reg struct {
			Token    string
			Customer customer.Account
		}
		res.decode(&reg)
		if c := sessionCookie(res); c == nil || c.Value != reg.Token || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
			t.Fatalf("register cookie: %v", res.Header["Set-Cookie"])
		}
		var events int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events WHERE topic = ? AND aggregate_id = ?`, customer.TopicRegistered, reg.Customer.ID).Scan(&events); err != nil || events != 1 {
			t.Fatalf("customer.registered events: %d, %v", events, err)
		}
		api.do("POST", "/api/v1/auth/register", map[string]any{"email": "neo@example.com", "password": testPassword, "name": "Neo"}).wantProblem(http.StatusConflict, "email")
		api.do("POST", "/api/v1/auth/register", map[string]any{"email": "x@example.com", "password": "123", "name": "X"}).wantProblem(http.StatusBadRequest, "password")
		api.do("POST", "/api/v1/auth/register", map[string]any{"email": "x@", "password": testPassword, "name": "X"}).wantProblem(http.StatusBadRequest, "email")

		// The account, by bearer token and by cookie.
		neo := bearer(reg.Token)
		var me customer.Account
		api.do("GET", "/api/v1/me", nil, neo).wantStatus(http.StatusOK).decode(&me)
		api.do("GET", "/api/v1/me", nil, withCookie(reg.Token)).wantStatus(http.StatusOK)
		api.do("PATCH", "/api/v1/me", map[string]any{"name": "Thomas"}, neo).wantStatus(http.StatusOK).decode(&me)
		if me.Name != "Thomas" || me.Email != "neo@example.com" {
			t.Fatalf("me %+v", me)
		}

		// Addresses.
		var addr customer.Address
		api.do("POST", "/api/v1/me/addresses", map[string]any{"name": "T. Anderson", "line1": "303 Heart St", "city": "Capital City", "postal_code": "12345", "country": "us"}, neo).
			wantStatus(http.StatusCreated).decode(&addr)
		api.do("GET", "/api/v1/me/addresses", nil, neo).wantStatus(http.StatusOK)
		api.do("PATCH", "/api/v1/me/addresses/"+addr.ID, map[string]any{"phone": "+1 312 555 0100"}, neo).wantStatus(http.StatusOK)
		api.do("PATCH", "/api/v1/me/addresses/"+addr.ID, map[string]any{"line1": "Stolen"}, bearer(api.customer)).wantProblem(http.StatusNotFound, "")
		api.do("DELETE", "/api/v1/me/addresses/"+addr.ID, nil, bearer(api.customer)).wantProblem(http.StatusNotFound, "")
		api.do("POST", "/api/v1/me/addresses", map[string]any{"name": "x", "line1": "x", "city": "x", "country": "Narnia"}, neo).wantProblem(http.StatusBadRequest, "country")

		// CSRF: a cross-site cookie request is refused, a same-origin one works.
		crossSite := func(r *http.Request) {
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Origin", "https://evil.example")
		}
		sameOrigin := header("Sec-Fetch-Site", "same-origin")
		api.do("DELETE", "/api/v1/me/addresses/"+addr.ID, nil, withCookie(reg.Token), crossSite).wantProblem(http.StatusForbidden, "")
		api.do("DELETE", "/api/v1/me/addresses/"+addr.ID, nil, withCookie(reg.Token), sameOrigin).wantStatus(http.StatusNoContent)

		// Staff see customers; only admins see staff.
		var page struct {
			Items      []customer.Account
			NextCursor *string `json:"next_cursor"`
		}
		api.do("GET", "/api/v1/admin/customers?limit=1", nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&page)
		if len(page.Items) != 1 || page.Items[0].ID != reg.Customer.ID || page.NextCursor == nil {
			t.Fatalf("first page %+v", page)
		}
		api.do("GET", "/api/v1/admin/customers?limit=1&cursor="+*page.NextCursor, nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&page)
		if len(page.Items) != 1 || page.Items[0].Email != customerEmail || page.NextCursor != nil {
			t.Fatalf("second page %+v", page)
		}
		api.do("GET", "/api/v1/admin/customers/"+reg.Customer.ID, nil, bearer(api.staff)).wantStatus(http.StatusOK)
		api.do("GET", "/api/v1/admin/staff", nil, bearer(api.staff)).wantProblem(http.StatusForbidden, "")

		// Logout revokes the token.
		res = api.do("POST", "/api/v1/auth/logout", nil, neo).wantStatus(http.StatusNoContent)
		if c := sessionCookie(res); c == nil || c.MaxAge >= 0 {
			t.Fatalf("logout cookie: %v", res.Header["Set-Cookie"])
		}
		api.do("GET", "/api/v1/me", nil, neo).wantProblem(http.StatusUnauthorized, "")
	})
}

func TestLoginRateLimitAPI(t *testing.T) {
	db := sqldbtest.SQLite(t, Migrations()...)
	api := newTestAPI(t, db)
	var last result
	for i := 0; i <= customer.LoginFreeAttempts; i++ {
		last = api.do("POST", "/api/v1/auth/login", map[string]string{"email": customerEmail, "password": "wrong password"},
			func(r *http.Request) { r.RemoteAddr = fmt.Sprintf("198.51.100.%d:999", i) })
	}
	last.wantProblem(http.StatusTooManyRequests, "")
	if ra := last.Header.Get("Retry-After"); ra == "" || strings.HasPrefix(ra, "0") {
		t.Fatalf("Retry-After %q", ra)
	}
}
