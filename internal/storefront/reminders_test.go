package storefront_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// contacts gives the reminder job the account's address, as app wires it.
type contacts struct{ c *customer.Service }

func (c contacts) Contact(ctx context.Context, id string) (string, string, error) {
	a, err := c.c.Account(ctx, id)
	return a.Email, a.Name, err
}

// reminder lets the customer's cart sit idle, runs the reminder job and
// the outbox, and returns the reminder's restore and unsubscribe links
// (paths on the shop).
func (s *shop) reminder(email string) (restore, unsubscribe string) {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.a.DB.ExecContext(ctx, `UPDATE cart_carts SET updated_at = ? WHERE status = 'active' AND customer_id IS NOT NULL`,
		time.Now().UTC().Add(-5*time.Hour)); err != nil {
		s.t.Fatal(err)
	}
	if n, err := s.a.Carts.RemindAbandoned(ctx, 4*time.Hour, contacts{s.a.Customers}); err != nil || n != 1 {
		s.t.Fatalf("RemindAbandoned = %d, %v", n, err)
	}
	for range 10 {
		if _, err := s.a.Relay.Flush(ctx); err != nil {
			s.t.Fatal(err)
		}
		if n, _ := outbox.Pending(ctx, s.a.DB); n == 0 {
			break
		}
	}
	page, err := s.a.Notify.ListEmails(ctx, notify.PageQuery{})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range page.Items {
		if e.Template == notify.TemplateAbandonedCart && e.To == email {
			full, err := s.a.Notify.GetEmail(ctx, e.ID)
			if err != nil {
				s.t.Fatal(err)
			}
			link := regexp.MustCompile(`http://shop\.test(/cart/restore/\S+|/unsubscribe/\S+)`)
			ms := link.FindAllStringSubmatch(full.Text, -1)
			if len(ms) != 2 {
				s.t.Fatalf("reminder links %q in:\n%s", ms, full.Text)
			}
			return ms[0][1], ms[1][1]
		}
	}
	s.t.Fatalf("no reminder to %s in %+v", email, page.Items)
	return "", ""
}

// TestReminderLinks: the restore link leads the cart's owner to it (asking
// a visitor to sign in first, never showing the cart to anyone else) until
// the cart is checked out; the unsubscribe link asks before it acts, needs
// a same-site POST, and is honoured.
func TestReminderLinks(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db, false)
		ada := s.browser()
		if a := ada.post("/account/register", url.Values{"name": {"Ada"}, "email": {"ada@example.com"}, "password": {"long enough password"}}); a.code != http.StatusSeeOther {
			t.Fatalf("register: %d %s", a.code, a.body)
		}
		if a := ada.post("/cart/items", url.Values{"variant_id": {s.vs[0]}, "quantity": {"2"}}); a.code != http.StatusSeeOther {
			t.Fatalf("add: %d", a.code)
		}
		restore, unsubscribe := s.reminder("ada@example.com")
		if !strings.HasPrefix(restore, "/cart/restore/cr_") || !strings.HasPrefix(unsubscribe, "/unsubscribe/un_") {
			t.Fatalf("links %q %q", restore, unsubscribe)
		}

		// A visitor (the same person on another device) is asked to sign in;
		// signing in opens that cart.
		phone := s.browser()
		a := phone.get(restore)
		if a.code != http.StatusSeeOther || a.location != "/account/login?next=/cart" {
			t.Fatalf("restore, signed out: %d %q", a.code, a.location)
		}
		if got := phone.get("/cart"); strings.Contains(got.body, "Blue mug") || strings.Contains(got.body, "Red mug") {
			t.Fatalf("the cart shows without signing in:\n%s", got.body)
		}
		phone.get(restore)
		if a := phone.post("/account/login", url.Values{"email": {"ada@example.com"}, "password": {"long enough password"}, "next": {"/cart"}}); a.code != http.StatusSeeOther || a.location != "/cart" {
			t.Fatalf("sign in: %d %q", a.code, a.location)
		}
		if got := phone.get("/cart"); got.code != http.StatusOK || !strings.Contains(got.body, `value="2"`) {
			t.Fatalf("the restored cart: %d\n%s", got.code, got.body)
		}
		// The owner, signed in: straight to the cart.
		if a := ada.get(restore); a.code != http.StatusSeeOther || a.location != "/cart" {
			t.Fatalf("restore, owner: %d %q", a.code, a.location)
		}
		// Someone else, signed in: not their cart.
		bob := s.browser()
		bob.post("/account/register", url.Values{"name": {"Bob"}, "email": {"bob@example.com"}, "password": {"long enough password"}})
		if a := bob.get(restore); a.code != http.StatusSeeOther || a.location != "/cart" {
			t.Fatalf("restore, another account: %d %q", a.code, a.location)
		}
		if got := bob.get("/cart"); !strings.Contains(got.body, "belongs to another account") || strings.Contains(got.body, `value="2"`) {
			t.Fatalf("another account's cart page:\n%s", got.body)
		}
		for _, bad := range []string{"/cart/restore/cr_nope", "/cart/restore/" + url.PathEscape("cr_' OR 1=1 --")} {
			v := s.browser()
			if a := v.get(bad); a.code != http.StatusSeeOther || a.location != "/cart" {
				t.Fatalf("GET %s: %d %q", bad, a.code, a.location)
			}
			if got := v.get("/cart"); !strings.Contains(got.body, "no longer leads to a cart") {
				t.Fatalf("no message after a bad link:\n%s", got.body)
			}
		}

		// Unsubscribe: a GET changes nothing, a cross-site POST is refused.
		page := s.browser().get(unsubscribe)
		if page.code != http.StatusOK || !strings.Contains(page.body, "ada@example.com") || !strings.Contains(page.body, `action="`+unsubscribe+`"`) ||
			page.res.Header.Get("Cache-Control") != "no-store" || !strings.Contains(page.body, "noindex") {
			t.Fatalf("unsubscribe page: %d %v\n%s", page.code, page.res.Header, page.body)
		}
		if sub, _ := s.a.Notify.Subscription(context.Background(), strings.TrimPrefix(unsubscribe, "/unsubscribe/")); sub.Unsubscribed {
			t.Fatal("a GET unsubscribed")
		}
		v := s.browser()
		if a := v.do("POST", unsubscribe, url.Values{}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); a.code != http.StatusForbidden {
			t.Fatalf("cross-site unsubscribe: %d", a.code)
		}
		if a := v.post(unsubscribe, url.Values{}); a.code != http.StatusSeeOther || a.location != unsubscribe {
			t.Fatalf("unsubscribe: %d %q", a.code, a.location)
		}
		if got := v.get(unsubscribe); !strings.Contains(got.body, "Done: no more reminders") || !strings.Contains(got.body, "gets no reminders") || strings.Contains(got.body, "<form method=\"post\" action=\"/unsubscribe") {
			t.Fatalf("after unsubscribing:\n%s", got.body)
		}
		if sub, _ := s.a.Notify.Subscription(context.Background(), strings.TrimPrefix(unsubscribe, "/unsubscribe/")); !sub.Unsubscribed {
			t.Fatal("not unsubscribed")
		}
		for _, bad := range []string{"/unsubscribe/un_nope", "/unsubscribe/cr_x"} {
			if a := s.browser().get(bad); a.code != http.StatusNotFound {
				t.Fatalf("GET %s: %d", bad, a.code)
			}
			if a := s.browser().post(bad, url.Values{}); a.code != http.StatusNotFound {
				t.Fatalf("POST %s: %d", bad, a.code)
			}
		}

		// After checkout the link leads nowhere.
		if a := ada.buy("pm_card_visa"); a.code != http.StatusSeeOther {
			t.Fatalf("checkout: %d %s", a.code, a.body)
		}
		if a := ada.get(restore); a.location != "/cart" {
			t.Fatalf("restore after checkout: %d %q", a.code, a.location)
		}
		if got := ada.get("/cart"); !strings.Contains(got.body, "no longer leads to a cart") {
			t.Fatalf("after checkout:\n%s", got.body)
		}
	})
}
