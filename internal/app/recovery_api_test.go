package app

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var mailLinkRe = regexp.MustCompile(`(/account/[a-z/-]+)\?token=([A-Za-z0-9_-]+)`)

// mailedToken runs the relay and returns the secret of the link in the
// latest mail to addr made from template, checking the page it opens.
func mailedToken(t *testing.T, a *App, to, template, path string) string {
	t.Helper()
	drainOutbox(t, a)
	var body string
	err := a.DB.QueryRowContext(context.Background(), `SELECT text_body FROM notify_emails WHERE to_addr = ? AND template = ? ORDER BY id DESC LIMIT 1`,
		to, template).Scan(&body)
	if err != nil {
		t.Fatalf("%s mail to %s: %v", template, to, err)
	}
	m := mailLinkRe.FindStringSubmatch(body)
	if m == nil || m[1] != path {
		t.Fatalf("the %s mail to %s has no link to %s:\n%s", template, to, path, body)
	}
	return m[2]
}

// TestAccountLinksThroughTheApp: sign-up verification, password reset and
// change of address through the whole handler (every answer checked
// against openapi.json), the links read from the mails notify stored, and
// staff shown the state but never the links.
func TestAccountLinksThroughTheApp(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		var reg struct {
			Token    string
			Customer customer.Account
		}
		api.do("POST", "/api/v1/auth/register", map[string]any{"email": "neo@example.com", "password": testPassword, "name": "Neo"}).
			wantStatus(http.StatusCreated).decode(&reg)
		neo := bearer(reg.Token)
		customerState := func() bool {
			t.Helper()
			var c customer.CustomerDetail
			api.do("GET", "/api/v1/admin/customers/"+reg.Customer.ID, nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&c)
			return c.EmailVerified
		}
		if customerState() {
			t.Fatal("staff see a new account as verified")
		}

		// Verification.
		token := mailedToken(t, api.app, "neo@example.com", notify.TemplateVerifyEmail, "/account/verify-email")
		api.do("POST", "/api/v1/auth/verify-email", map[string]string{"token": token}).wantStatus(http.StatusNoContent)
		if !customerState() {
			t.Fatal("staff do not see the verified state")
		}
		api.do("POST", "/api/v1/me/email-verification", nil, neo).wantProblem(http.StatusConflict, "")

		// Password reset: the same answer for an unknown address.
		known := api.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": "neo@example.com"}).wantStatus(http.StatusAccepted)
		unknown := api.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": "trinity@example.com"}).wantStatus(http.StatusAccepted)
		if string(known.Body) != string(unknown.Body) {
			t.Fatalf("bodies differ: %q, %q", known.Body, unknown.Body)
		}
		token = mailedToken(t, api.app, "neo@example.com", notify.TemplatePasswordReset, "/account/password-reset/confirm")
		api.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": token, "password": "the one passphrase"}).wantStatus(http.StatusNoContent)
		api.do("GET", "/api/v1/me", nil, neo).wantProblem(http.StatusUnauthorized, "")
		api.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": token, "password": "the one passphrase"}).wantProblem(http.StatusBadRequest, "token")
		neo = bearer(api.login("neo@example.com", "the one passphrase"))

		// Change of address.
		api.do("POST", "/api/v1/me/email-change", map[string]string{"email": "the.one@example.com", "current_password": "the one passphrase"}, neo).
			wantStatus(http.StatusAccepted)
		token = mailedToken(t, api.app, "the.one@example.com", notify.TemplateEmailChange, "/account/email-change/confirm")
		api.do("POST", "/api/v1/auth/email-change/confirm", map[string]string{"token": token}).wantStatus(http.StatusNoContent)
		var me customer.Account
		api.do("GET", "/api/v1/me", nil, neo).wantStatus(http.StatusOK).decode(&me)
		if me.Email != "the.one@example.com" || !me.EmailVerified {
			t.Fatalf("after the change: %+v", me)
		}
		drainOutbox(t, api.app)

		// Staff read the mails' headers, and the notice, but none of the links.
		var page struct{ Items []notify.EmailSummary }
		api.do("GET", "/api/v1/admin/emails?limit=100", nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&page)
		seen := map[string]bool{}
		for _, s := range page.Items {
			seen[s.Template] = true
			var e notify.Email
			api.do("GET", "/api/v1/admin/emails/"+s.ID, nil, bearer(api.staff)).wantStatus(http.StatusOK).decode(&e)
			html := api.do("GET", "/api/v1/admin/emails/"+s.ID+"/html", nil, bearer(api.staff)).wantStatus(http.StatusOK)
			if strings.Contains(e.Text+e.HTML+string(html.Body), "token=") {
				t.Errorf("staff read the link of the %s mail to %s", s.Template, s.To)
			}
		}
		for _, name := range []string{notify.TemplateVerifyEmail, notify.TemplatePasswordReset, notify.TemplateEmailChange, notify.TemplateEmailChanged} {
			if !seen[name] {
				t.Errorf("no %s mail listed", name)
			}
		}
	})
}
