package admin_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestVerificationStateAndSecretMails: staff see whether a customer's
// address is verified, and the list of mails, but not the links that act
// for their recipients.
func TestVerificationStateAndSecretMails(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db)
		ctx := context.Background()
		var reg struct{ Customer struct{ ID string } }
		s.api(t, "POST", "/api/v1/auth/register", map[string]string{"email": "cleo@example.com", "password": "long enough password", "name": "Cleo"}, nil, &reg)
		s.api(t, "POST", "/api/v1/auth/password-reset", map[string]string{"email": "ada@shop.test"}, nil, nil)
		for {
			n, err := s.a.Relay.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		if n, _ := outbox.Pending(ctx, db); n != 0 {
			t.Fatalf("%d events pending", n)
		}
		row := regexp.MustCompile(`(?s)<td>cleo@example.com</td><td>(.*?)</td>`)
		check := func(want string) {
			t.Helper()
			rec := s.do(t, s.cookie, "GET", "/admin/customers", nil, "")
			if m := row.FindStringSubmatch(rec.Body.String()); m == nil || !strings.Contains(m[1], want) {
				t.Fatalf("customers page: verified column %q, want %q:\n%s", m, want, rec.Body)
			}
			rec = s.do(t, s.cookie, "GET", "/admin/customers/"+reg.Customer.ID, nil, "")
			if !strings.Contains(rec.Body.String(), "<dt>E-mail verified</dt><dd>"+want+"</dd>") {
				t.Fatalf("customer page does not say %q:\n%s", want, rec.Body)
			}
		}
		check("not yet")
		var token string
		if err := db.QueryRowContext(ctx, `SELECT text_body FROM notify_emails WHERE template = ? AND to_addr = ?`, notify.TemplateVerifyEmail, "cleo@example.com").Scan(&token); err != nil {
			t.Fatal(err)
		}
		token = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`).FindStringSubmatch(token)[1]
		s.api(t, "POST", "/api/v1/auth/verify-email", map[string]string{"token": token}, nil, nil)
		check("yes")

		// The admin's own reset mail: listed, its link not shown.
		var id string
		if err := db.QueryRowContext(ctx, `SELECT id FROM notify_emails WHERE template = ?`, notify.TemplatePasswordReset).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if rec := s.do(t, s.cookie, "GET", "/admin/emails", nil, ""); !strings.Contains(rec.Body.String(), "/admin/emails/"+id) {
			t.Fatalf("the reset mail is not listed:\n%s", rec.Body)
		}
		rec := s.do(t, s.cookie, "GET", "/admin/emails/"+id, nil, "")
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "token=") || !strings.Contains(rec.Body.String(), "not shown to staff") {
			t.Fatalf("the reset mail's page: %d\n%s", rec.Code, rec.Body)
		}
	})
}
