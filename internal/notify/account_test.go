package notify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// accountSamples has one event per account mail, with the payloads of
// docs/EVENTS.md.
func accountSamples() map[string]event {
	return map[string]event{
		notify.TemplatePasswordReset: {"customer.password_reset_requested", "c-1", map[string]any{
			"account_id": "c-1", "email": "ada@example.com", "name": "Ada Lovelace", "token": "cmVzZXQtc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmctZW5vdWdo",
			"expires_at": "2026-11-21T15:03:00Z"}},
		notify.TemplateVerifyEmail: {"customer.email_verification_requested", "c-1", map[string]any{
			"account_id": "c-1", "email": "ada@example.com", "name": "Ada Lovelace", "token": "dmVyaWZ5LXNlY3JldC1vZi0zMi1ieXRlcy1sb25nLWVub3Vn",
			"expires_at": "2026-11-23T14:03:00Z"}},
		notify.TemplateEmailChange: {"customer.email_change_requested", "c-1", map[string]any{
			"account_id": "c-1", "email": "ada@example.com", "new_email": "ada@analytical.example", "name": "Ada Lovelace",
			"token": "Y2hhbmdlLXNlY3JldC1vZi0zMi1ieXRlcy1sb25nLWVub3Vn", "expires_at": "2026-11-22T14:03:00Z"}},
		notify.TemplateEmailChanged: {"customer.email_changed", "c-1", map[string]any{
			"account_id": "c-1", "old_email": "ada@example.com", "new_email": "ada@analytical.example", "name": "Ada Lovelace"}},
	}
}

// storedEmail is an e-mail as the table holds it (GetEmail masks some).
type storedEmail struct {
	To, Subject, Text, HTML string
}

func storedEmails(t *testing.T, db *sqldb.DB) map[string]storedEmail {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT template, to_addr, subject, text_body, html_body FROM notify_emails`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]storedEmail{}
	for rows.Next() {
		var (
			name string
			e    storedEmail
		)
		if err := rows.Scan(&name, &e.To, &e.Subject, &e.Text, &e.HTML); err != nil {
			t.Fatal(err)
		}
		out[name] = e
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAccountEmails: each account event makes its mail, to the right
// address, with the link to the storefront page that uses the secret
// (golden files), and staff reading the mails through the service see no
// link that acts for someone else.
func TestAccountEmails(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		p := newPipeline(t, db)
		s := accountSamples()
		for _, name := range []string{notify.TemplatePasswordReset, notify.TemplateVerifyEmail, notify.TemplateEmailChange, notify.TemplateEmailChanged} {
			emit(t, db, s[name])
		}
		p.flush(t)
		stored := storedEmails(t, db)
		if len(stored) != 4 {
			t.Fatalf("stored %d e-mails, want 4 (log: %s)", len(stored), p.log)
		}
		links := map[string]string{
			notify.TemplatePasswordReset: "https://shop.example/account/password-reset/confirm?token=cmVzZXQtc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmctZW5vdWdo",
			notify.TemplateVerifyEmail:   "https://shop.example/account/verify-email?token=dmVyaWZ5LXNlY3JldC1vZi0zMi1ieXRlcy1sb25nLWVub3Vn",
			notify.TemplateEmailChange:   "https://shop.example/account/email-change/confirm?token=Y2hhbmdlLXNlY3JldC1vZi0zMi1ieXRlcy1sb25nLWVub3Vn",
		}
		to := map[string]string{notify.TemplatePasswordReset: "ada@example.com", notify.TemplateVerifyEmail: "ada@example.com",
			notify.TemplateEmailChange: "ada@analytical.example", notify.TemplateEmailChanged: "ada@example.com"}
		for name, e := range stored {
			t.Run(name, func(t *testing.T) {
				text := fmt.Sprintf("To: %s\nSubject: %s\n\n%s", e.To, e.Subject, e.Text)
				golden(t, name+".txt", text)
				golden(t, name+".html", e.HTML)
				if e.To != to[name] {
					t.Errorf("to %q, want %q", e.To, to[name])
				}
				if l := links[name]; l != "" && (!strings.Contains(e.Text, l) || !strings.Contains(e.HTML, `href="`+l+`"`)) {
					t.Errorf("the bodies do not link to %s", l)
				}
			})
		}
		for _, e := range allEmails(t, p.svc) {
			secret := links[e.Template] != ""
			if strings.Contains(e.Text+e.HTML, "token=") {
				t.Errorf("GetEmail shows staff the link of %s", e.Template)
			}
			if masked := strings.Contains(e.Text, "not shown to staff"); masked != secret {
				t.Errorf("%s: masked = %v, want %v", e.Template, masked, secret)
			}
		}
	})
}

// TestAccountEventsWithoutAValidSecretAreDropped: a payload whose secret
// could not go into a URL as it is makes no mail.
func TestAccountEventsWithoutAValidSecretAreDropped(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		p := newPipeline(t, db)
		emit(t, db,
			event{"customer.password_reset_requested", "c-1", map[string]any{"account_id": "c-1", "email": "ada@example.com", "name": "Ada",
				"token": "short", "expires_at": "2026-11-21T15:03:00Z"}},
			event{"customer.email_verification_requested", "c-1", map[string]any{"account_id": "c-1", "email": "ada@example.com", "name": "Ada",
				"token": "not url safe at all & more text here", "expires_at": "2026-11-21T15:03:00Z"}},
			event{"customer.email_change_requested", "c-1", map[string]any{"account_id": "c-1", "email": "ada@example.com", "new_email": "not an address",
				"name": "Ada", "token": "Y2hhbmdlLXNlY3JldC1vZi0zMi1ieXRlcy1sb25nLWVub3Vn", "expires_at": "2026-11-21T15:03:00Z"}},
		)
		p.flush(t)
		if n := countRows(t, db, "notify_emails"); n != 0 {
			t.Fatalf("%d e-mails from bad payloads", n)
		}
		if got := strings.Count(p.log.String(), "event dropped"); got != 3 {
			t.Fatalf("%d events dropped, want 3: %s", got, p.log)
		}
	})
}
