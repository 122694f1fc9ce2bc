package storefront_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// The pages of the links mailed to account holders, with JavaScript off:
// the tests read each link from the mail notify stored, open it as the
// browser would, and send the page's form.

var mailLink = regexp.MustCompile(`http://shop\.test(/account/[a-z/-]+\?token=[A-Za-z0-9_-]+)`)

// mailedLink returns the path and query of the link in the latest mail
// to addr made from template.
func (s *shop) mailedLink(to, template string) string {
	s.t.Helper()
	s.flushMail()
	var body string
	if err := s.a.DB.QueryRowContext(context.Background(), `SELECT text_body FROM notify_emails WHERE to_addr = ? AND template = ? ORDER BY id DESC LIMIT 1`, to, template).
		Scan(&body); err != nil {
		s.t.Fatalf("%s mail to %s: %v", template, to, err)
	}
	m := mailLink.FindStringSubmatch(body)
	if m == nil {
		s.t.Fatalf("no link in the %s mail to %s:\n%s", template, to, body)
	}
	return m[1]
}

// flushMail delivers the pending events (notify renders the mails).
func (s *shop) flushMail() {
	s.t.Helper()
	ctx := context.Background()
	for {
		n, err := s.a.Relay.Flush(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		if p, _ := outbox.Pending(ctx, s.a.DB); n == 0 || p == 0 {
			return
		}
	}
}

var hiddenToken = regexp.MustCompile(`<form method="post" action="([^"]+)" novalidate>\s*<input type="hidden" name="token" value="([^"]+)">`)

// openLink opens a mailed link and returns the form it shows: its action
// and the token it sends back.
func (b *browser) openLink(link string) (string, string) {
	b.s.t.Helper()
	p := b.get(link)
	if p.code != http.StatusOK {
		b.s.t.Fatalf("GET %s: %d", link, p.code)
	}
	if rp := p.res.Header.Get("Referrer-Policy"); rp != "no-referrer" {
		b.s.t.Fatalf("the page of a link sends its address on (Referrer-Policy %q)", rp)
	}
	m := hiddenToken.FindStringSubmatch(p.body)
	if m == nil {
		b.s.t.Fatalf("GET %s shows no form with the token:\n%s", link, p.body)
	}
	return m[1], html.UnescapeString(m[2])
}

func (b *browser) follow(a answer) answer {
	b.s.t.Helper()
	if a.code != http.StatusSeeOther {
		b.s.t.Fatalf("status %d, want 303:\n%s", a.code, a.body)
	}
	return b.get(a.location)
}

func TestPasswordResetPages(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db, false)
		const email, password = "owner@example.com", "long enough password"
		owner := s.browser()
		owner.post("/account/register", url.Values{"name": {"Owner"}, "email": {email}, "password": {password}})

		b := s.browser()
		signIn := b.get("/account/login")
		if !strings.Contains(signIn.body, `<a href="/account/password-reset">Forgot your password?</a>`) {
			t.Fatalf("the sign-in page does not link to the reset:\n%s", signIn.body)
		}
		if p := b.get("/account/password-reset"); p.code != http.StatusOK || !strings.Contains(p.body, `action="/account/password-reset"`) {
			t.Fatalf("reset page: %d\n%s", p.code, p.body)
		}
		// The same answer for an address without an account.
		sent := b.follow(b.post("/account/password-reset", url.Values{"email": {email}}))
		other := b.follow(b.post("/account/password-reset", url.Values{"email": {"nobody@example.com"}}))
		if !strings.Contains(sent.body, "If "+email+" belongs to an account here, we have sent it a link") ||
			strings.Replace(other.body, "nobody@example.com", email, 1) != sent.body {
			t.Fatalf("the answers differ or say nothing:\n%s\n---\n%s", sent.body, other.body)
		}
		if p := b.post("/account/password-reset", url.Values{"email": {"not an address"}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, `aria-invalid="true"`) {
			t.Fatalf("a bad address: %d\n%s", p.code, p.body)
		}
		// Forms from other sites are refused.
		if p := b.do("POST", "/account/password-reset", url.Values{"email": {email}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); p.code != http.StatusForbidden {
			t.Fatalf("cross-site form: %d", p.code)
		}

		link := s.mailedLink(email, notify.TemplatePasswordReset)
		if !strings.HasPrefix(link, "/account/password-reset/confirm?token=") {
			t.Fatalf("link %s", link)
		}
		action, token := b.openLink(link)
		if p := b.post(action, url.Values{"token": {token}, "password": {"password1"}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "most used passwords") {
			t.Fatalf("a common password: %d\n%s", p.code, p.body)
		}
		done := b.post(action, url.Values{"token": {token}, "password": {"a new long passphrase"}})
		if done.location != "/account/login" {
			t.Fatalf("after the reset: %d to %q", done.code, done.location)
		}
		if p := b.follow(done); !strings.Contains(p.body, "Your password has been changed. Sign in with the new one.") {
			t.Fatalf("the sign-in page says nothing:\n%s", p.body)
		}
		// The owner's other browser is signed out; the link works once.
		if p := owner.get("/account"); p.code != http.StatusSeeOther {
			t.Fatalf("the other browser after the reset: %d", p.code)
		}
		if p := b.post(action, url.Values{"token": {token}, "password": {"yet another passphrase"}}); p.code != http.StatusBadRequest ||
			!strings.Contains(p.body, "This link has already been used") || strings.Contains(p.body, `name="password"`) {
			t.Fatalf("second use: %d\n%s", p.code, p.body)
		}
		if p := b.post("/account/password-reset/confirm", url.Values{"password": {"yet another passphrase"}}); p.code != http.StatusBadRequest ||
			!strings.Contains(p.body, "This page needs the link from your e-mail") {
			t.Fatalf("no token: %d\n%s", p.code, p.body)
		}
		if p := b.post("/account/login", url.Values{"email": {email}, "password": {"a new long passphrase"}}); p.code != http.StatusSeeOther {
			t.Fatalf("sign-in with the new password: %d", p.code)
		}
	})
}

// TestStaffPasswordResetPages: the admin sign-in links to the same pages,
// and a staff member goes on to the admin panel.
func TestStaffPasswordResetPages(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db, false)
		if _, err := s.a.Customers.CreateAccount(context.Background(), "staff@example.com", "long enough password", "Stella", auth.RoleStaff); err != nil {
			t.Fatal(err)
		}
		b := s.browser()
		if p := b.get("/admin/login"); !strings.Contains(p.body, `<a href="/account/password-reset">Forgot your password?</a>`) {
			t.Fatalf("the admin sign-in does not link to the reset:\n%s", p.body)
		}
		b.post("/account/password-reset", url.Values{"email": {"staff@example.com"}})
		action, token := b.openLink(s.mailedLink("staff@example.com", notify.TemplatePasswordReset))
		done := b.post(action, url.Values{"token": {token}, "password": {"a new long passphrase"}})
		if done.location != "/account/login?next=%2Fadmin" {
			t.Fatalf("after the reset: %d to %q", done.code, done.location)
		}
		if p := b.post("/admin/login", url.Values{"email": {"staff@example.com"}, "password": {"a new long passphrase"}}); p.code != http.StatusSeeOther {
			t.Fatalf("admin sign-in with the new password: %d", p.code)
		}
	})
}

func TestEmailPages(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db, false)
		const email, password = "new@example.com", "long enough password"
		b := s.browser()
		b.post("/account/register", url.Values{"name": {"New"}, "email": {email}, "password": {password}})
		account := b.get("/account")
		if !strings.Contains(account.body, "Your e-mail address is not confirmed yet") || !strings.Contains(account.body, `action="/account/verify-email/resend"`) {
			t.Fatalf("the account does not say the address is unconfirmed:\n%s", account.body)
		}
		first := s.mailedLink(email, notify.TemplateVerifyEmail)
		if p := b.follow(b.post("/account/verify-email/resend", nil)); !strings.Contains(p.body, "We have sent a new link to "+email) {
			t.Fatalf("resend:\n%s", p.body)
		}
		latest := s.mailedLink(email, notify.TemplateVerifyEmail)
		if latest == first {
			t.Fatal("resend mailed the same link")
		}

		// The link opened in another browser (a phone) confirms the address.
		phone := s.browser()
		action, token := phone.openLink(latest)
		done := phone.post(action, url.Values{"token": {token}})
		if done.location != "/account/login" {
			t.Fatalf("verified: %d to %q", done.code, done.location)
		}
		if p := phone.follow(done); !strings.Contains(p.body, "Thank you: "+email+" is confirmed.") {
			t.Fatalf("no confirmation:\n%s", p.body)
		}
		if p := b.get("/account"); strings.Contains(p.body, "not confirmed yet") {
			t.Fatal("still unconfirmed after the link")
		}
		if p := b.follow(b.post("/account/verify-email/resend", nil)); !strings.Contains(p.body, "already verified") {
			t.Fatalf("resend when verified:\n%s", p.body)
		}
		action, token = b.openLink(first)
		if p := b.post(action, url.Values{"token": {token}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "This link has already been used") {
			t.Fatalf("an older link after verifying: %d\n%s", p.code, p.body)
		}

		// Changing the address.
		if p := s.browser().get("/account/email"); p.code != http.StatusSeeOther {
			t.Fatalf("the change form for a visitor: %d", p.code)
		}
		if p := b.get("/account/email"); p.code != http.StatusOK || !strings.Contains(p.body, `name="current_password"`) {
			t.Fatalf("the change form: %d\n%s", p.code, p.body)
		}
		if p := b.post("/account/email", url.Values{"email": {"moved@example.com"}, "current_password": {"wrong password"}}); p.code != http.StatusBadRequest ||
			!strings.Contains(p.body, "Is not your current password.") || !strings.Contains(p.body, `value="moved@example.com"`) {
			t.Fatalf("a wrong password: %d\n%s", p.code, p.body)
		}
		sent := b.follow(b.post("/account/email", url.Values{"email": {"Moved@Example.com"}, "current_password": {password}}))
		if !strings.Contains(sent.body, "We have sent a link to moved@example.com") || !strings.Contains(sent.body, "Signed in as "+email) {
			t.Fatalf("after asking:\n%s", sent.body)
		}
		action, token = b.openLink(s.mailedLink("moved@example.com", notify.TemplateEmailChange))
		if p := b.follow(b.post(action, url.Values{"token": {token}})); !strings.Contains(p.body, "Your e-mail address is now moved@example.com.") ||
			!strings.Contains(p.body, "Signed in as moved@example.com") {
			t.Fatalf("after the change:\n%s", p.body)
		}
		s.flushMail()
		var notices int
		if err := s.a.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM notify_emails WHERE to_addr = ? AND template = ?`,
			email, notify.TemplateEmailChanged).Scan(&notices); err != nil || notices != 1 {
			t.Fatalf("notices to the old address: %d, %v", notices, err)
		}
	})
}
