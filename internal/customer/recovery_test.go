package customer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// The links mailed to account holders, over HTTP: the mails are rendered
// by the notify module from the customer events, as in the shop, and the
// tests read each link from the mail as its recipient would.

var mailMigrations = slices.Concat(migrations, []sqldb.Migrations{notify.Migrations()})

// mailbox delivers the pending events to notify and reads the mails it
// stored.
type mailbox struct {
	t     *testing.T
	db    *sqldb.DB
	relay *outbox.Relay
}

func newMailbox(t *testing.T, db *sqldb.DB) *mailbox {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := notify.NewService(db, notify.Options{ShopName: "Test shop", BaseURL: "http://shop.test", StaffEmail: "staff@shop.test"}, log)
	if err != nil {
		t.Fatal(err)
	}
	bus := outbox.NewLocalBus()
	n.Subscribe(bus)
	return &mailbox{t: t, db: db, relay: outbox.NewRelay(db, bus, log, time.Hour)}
}

// texts returns the text bodies of the mails to addr made from template,
// oldest first.
func (m *mailbox) texts(to, template string) []string {
	m.t.Helper()
	ctx := context.Background()
	for {
		n, err := m.relay.Flush(ctx)
		if err != nil {
			m.t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	out, err := sqldb.All(ctx, m.db, "read mails", func(r sqldb.Scanner) (s string, err error) { return s, r.Scan(&s) },
		`SELECT text_body FROM notify_emails WHERE to_addr = ? AND template = ? ORDER BY id`, to, template)
	if err != nil {
		m.t.Fatal(err)
	}
	return out
}

var linkRe = regexp.MustCompile(`http://shop\.test(/[a-z/-]+)\?token=([A-Za-z0-9_-]+)`)

// token returns the secret of the link in the latest mail to addr made
// from template, after checking that the link opens path.
func (m *mailbox) token(to, template, path string) string {
	m.t.Helper()
	texts := m.texts(to, template)
	if len(texts) == 0 {
		m.t.Fatalf("no %s mail to %s", template, to)
	}
	l := linkRe.FindStringSubmatch(texts[len(texts)-1])
	if l == nil || l[1] != path {
		m.t.Fatalf("the %s mail to %s has no link to %s:\n%s", template, to, path, texts[len(texts)-1])
	}
	return l[2]
}

func (s *server) me(opts ...opt) (customer.Account, int) {
	s.t.Helper()
	var a customer.Account
	r := s.do("GET", "/api/v1/me", nil, opts...)
	if r.Code == http.StatusOK {
		r.decode(&a)
	}
	return a, r.Code
}

func TestPasswordResetFlow(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		s := newServer(t, db, nil, customer.WithClock(newClock().now))
		mail := newMailbox(t, db)
		const email = "owner@example.com"
		s.register(email, "Owner")
		phone, laptop := s.login(email), s.login(email)

		res := s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": " Owner@Example.com "}).want(http.StatusAccepted)
		if len(res.Body) != 0 || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("202 body %q, Cache-Control %q", res.Body, res.Header.Get("Cache-Control"))
		}
		token := mail.token(email, notify.TemplatePasswordReset, "/account/password-reset/confirm")
		confirm := func(token, password string, opts ...opt) resp {
			return s.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": token, "password": password}, opts...)
		}

		// The password rules hold, and a refused password leaves the link usable.
		confirm(token, "password1").problem(http.StatusBadRequest, "password")
		confirm(token, "short").problem(http.StatusBadRequest, "password")
		confirm(token, email).problem(http.StatusBadRequest, "password")
		if _, code := s.me(bearer(phone)); code != http.StatusOK {
			t.Fatalf("a refused reset signed the phone out: %d", code)
		}

		// The laptop's own session stays when it is the one resetting.
		confirm(token, "a brand new passphrase", bearer(laptop)).want(http.StatusNoContent)
		if _, code := s.me(bearer(phone)); code != http.StatusUnauthorized {
			t.Fatalf("the other session after the reset: %d, want 401", code)
		}
		a, code := s.me(bearer(laptop))
		if code != http.StatusOK || !a.EmailVerified {
			t.Fatalf("the resetting session: %d, verified %v (the mail reached its owner)", code, a.EmailVerified)
		}
		s.do("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": pw}).problem(http.StatusUnauthorized, "")
		s.do("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": "a brand new passphrase"}).want(http.StatusOK)

		// Single use.
		p := confirm(token, "another new passphrase").problem(http.StatusBadRequest, "token")
		if !strings.Contains(string(p.Errors[0].Message), "already been used") {
			t.Fatalf("second use: %+v", p)
		}
		// Unknown, missing and absurd tokens name the token too.
		confirm("not-a-token-we-made-at-all-0123456789", "another new passphrase").problem(http.StatusBadRequest, "token")
		confirm("", "another new passphrase").problem(http.StatusBadRequest, "token")
		confirm(strings.Repeat("x", 5000), "another new passphrase").problem(http.StatusBadRequest, "token")
	})
}

// TestPasswordResetSignsOutEverySessionOfAnAnonymousCaller: the usual case,
// from the mail on another device; API tokens go too.
func TestPasswordResetSignsOutEverySession(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		s := newServer(t, db, nil)
		mail := newMailbox(t, db)
		const email = "owner@example.com"
		reg := s.register(email, "Owner")
		api, _, err := s.svc.IssueToken(context.Background(), reg.Customer.ID, "api")
		if err != nil {
			t.Fatal(err)
		}
		session := s.login(email)
		s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": email}).want(http.StatusAccepted)
		token := mail.token(email, notify.TemplatePasswordReset, "/account/password-reset/confirm")
		s.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": token, "password": "a brand new passphrase"}).want(http.StatusNoContent)
		for name, tok := range map[string]string{"registration session": reg.Token, "session": session, "API token": api} {
			if _, code := s.me(bearer(tok)); code != http.StatusUnauthorized {
				t.Errorf("%s after the reset: %d, want 401", name, code)
			}
		}
	})
}

// TestPasswordResetTellsNothing: an address without an account gets the
// same answer, and its limits are the same.
func TestPasswordResetTellsNothing(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newServer(t, db, nil, customer.WithClock(c.now))
		mail := newMailbox(t, db)
		s.register("owner@example.com", "Owner")
		ask := func(email string, opts ...opt) resp {
			return s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": email}, opts...)
		}
		same := func(a, b resp) {
			t.Helper()
			if a.Code != b.Code || string(a.Body) != string(b.Body) || a.Header.Get("Content-Type") != b.Header.Get("Content-Type") ||
				a.Header.Get("Retry-After") != b.Header.Get("Retry-After") {
				t.Fatalf("answers differ:\n%d %v %s\n%d %v %s", a.Code, a.Header, a.Body, b.Code, b.Header, b.Body)
			}
		}
		for i := range customer.LinkMailsPerAddress {
			known, unknown := ask("owner@example.com").want(http.StatusAccepted), ask("nobody@example.com").want(http.StatusAccepted)
			same(known, unknown)
			if got := len(mail.texts("owner@example.com", notify.TemplatePasswordReset)); got != i+1 {
				t.Fatalf("%d reset mails to the owner, want %d", got, i+1)
			}
		}
		if n := len(mail.texts("nobody@example.com", notify.TemplatePasswordReset)); n != 0 {
			t.Fatalf("%d mails to an address without an account", n)
		}
		// The limit per address is the same for both.
		known, unknown := ask("owner@example.com"), ask("nobody@example.com")
		known.problem(http.StatusTooManyRequests, "")
		same(known, unknown)
		if ra := known.Header.Get("Retry-After"); ra != "3600" {
			t.Fatalf("Retry-After %q, want 3600", ra)
		}
		// An address that is no e-mail address is refused as such.
		ask("not an address").problem(http.StatusBadRequest, "email")
		ask("").problem(http.StatusBadRequest, "email")

		// The window ends.
		c.advance(customer.LinkMailWindow)
		ask("owner@example.com").want(http.StatusAccepted)
	})
}

func TestPasswordResetLimitPerClientAddress(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newServer(t, db, nil, customer.WithClock(c.now))
		for i := range customer.ResetRequestsPerIP {
			s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": "someone" + string(rune('a'+i)) + "@example.com"},
				remote("198.51.100.7:1000")).want(http.StatusAccepted)
		}
		r := s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": "one.more@example.com"}, remote("198.51.100.7:1001"))
		r.problem(http.StatusTooManyRequests, "")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// Another network is not held back.
		s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": "one.more@example.com"}, remote("203.0.113.9:1000")).want(http.StatusAccepted)
	})
}

func TestPasswordResetLinkExpires(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newServer(t, db, nil, customer.WithClock(c.now))
		mail := newMailbox(t, db)
		const email = "owner@example.com"
		s.register(email, "Owner")
		confirm := func(token string) resp {
			return s.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": token, "password": "a brand new passphrase"})
		}
		s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": email}).want(http.StatusAccepted)
		first := mail.token(email, notify.TemplatePasswordReset, "/account/password-reset/confirm")
		c.advance(customer.PasswordResetTTL - time.Second)
		s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": email}).want(http.StatusAccepted)
		second := mail.token(email, notify.TemplatePasswordReset, "/account/password-reset/confirm")
		if first == second {
			t.Fatal("two requests, one link")
		}
		c.advance(time.Second)
		if p := confirm(first).problem(http.StatusBadRequest, "token"); !strings.Contains(p.Errors[0].Message, "expired") {
			t.Fatalf("expired link: %+v", p)
		}
		// Expired links are purged; then they are unknown.
		n, err := s.svc.PurgeExpiredLinks(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want the expired link only", n, err)
		}
		if p := confirm(first).problem(http.StatusBadRequest, "token"); !strings.Contains(p.Errors[0].Message, "not a valid link") {
			t.Fatalf("purged link: %+v", p)
		}
		confirm(second).want(http.StatusNoContent)
	})
}

func TestEmailVerification(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newServer(t, db, nil, customer.WithClock(c.now))
		mail := newMailbox(t, db)
		const email = "new@example.com"
		reg := s.register(email, "New")
		if reg.Customer.EmailVerified {
			t.Fatal("verified at sign-up")
		}
		me := bearer(reg.Token)
		verify := func(token string) resp {
			return s.do("POST", "/api/v1/auth/verify-email", map[string]string{"token": token})
		}
		first := mail.token(email, notify.TemplateVerifyEmail, "/account/verify-email")
		// A reset link does not verify, nor the other way round.
		verify("x"+first[1:]).problem(http.StatusBadRequest, "token")
		s.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": first, "password": "a brand new passphrase"}).problem(http.StatusBadRequest, "token")

		// Resending, within limits.
		for range customer.LinkMailsPerAddress {
			s.do("POST", "/api/v1/me/email-verification", nil, me).want(http.StatusAccepted)
		}
		s.do("POST", "/api/v1/me/email-verification", nil, me).problem(http.StatusTooManyRequests, "")
		if n := len(mail.texts(email, notify.TemplateVerifyEmail)); n != 1+customer.LinkMailsPerAddress {
			t.Fatalf("%d verification mails, want %d", n, 1+customer.LinkMailsPerAddress)
		}
		latest := mail.token(email, notify.TemplateVerifyEmail, "/account/verify-email")

		// The first link expires after VerifyEmailTTL; the latest still works.
		c.advance(customer.VerifyEmailTTL)
		verify(first).problem(http.StatusBadRequest, "token")
		if a, _ := s.me(me); a.EmailVerified {
			t.Fatal("verified by an expired link")
		}
		c.advance(-time.Minute)
		verify(latest).want(http.StatusNoContent)
		if a, _ := s.me(me); !a.EmailVerified {
			t.Fatal("not verified after following the link")
		}
		verify(latest).problem(http.StatusBadRequest, "token")
		s.do("POST", "/api/v1/me/email-verification", nil, me).problem(http.StatusConflict, "")
	})
}

func TestEmailChange(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newServer(t, db, nil, customer.WithClock(c.now))
		mail := newMailbox(t, db)
		const old, next = "old@example.com", "next@example.com"
		reg := s.register(old, "Mover")
		s.register("taken@example.com", "Other")
		me := bearer(reg.Token)
		ask := func(email, password string) resp {
			return s.do("POST", "/api/v1/me/email-change", map[string]string{"email": email, "current_password": password}, me)
		}
		ask(next, "").problem(http.StatusBadRequest, "current_password")
		ask(next, "wrong password").problem(http.StatusBadRequest, "current_password")
		ask("no address", pw).problem(http.StatusBadRequest, "email")
		ask(" OLD@example.com", pw).problem(http.StatusBadRequest, "email")
		ask("taken@example.com", pw).problem(http.StatusConflict, "email")
		s.do("POST", "/api/v1/me/email-change", map[string]string{"email": next, "current_password": pw}).problem(http.StatusUnauthorized, "")

		ask(" Next@Example.com ", pw).want(http.StatusAccepted)
		token := mail.token(next, notify.TemplateEmailChange, "/account/email-change/confirm")
		if a, _ := s.me(me); a.Email != old {
			t.Fatalf("the address changed before the link was followed: %s", a.Email)
		}
		// A reset link mailed to the old address before the change.
		s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": old}).want(http.StatusAccepted)
		reset := mail.token(old, notify.TemplatePasswordReset, "/account/password-reset/confirm")

		s.do("POST", "/api/v1/auth/email-change/confirm", map[string]string{"token": token}).want(http.StatusNoContent)
		a, _ := s.me(me)
		if a.Email != next || !a.EmailVerified {
			t.Fatalf("after the change: %+v", a)
		}
		notices := mail.texts(old, notify.TemplateEmailChanged)
		if len(notices) != 1 || !strings.Contains(notices[0], next) {
			t.Fatalf("notice to the old address: %q", notices)
		}
		s.do("POST", "/api/v1/auth/login", map[string]string{"email": next, "password": pw}).want(http.StatusOK)
		s.do("POST", "/api/v1/auth/login", map[string]string{"email": old, "password": pw}).problem(http.StatusUnauthorized, "")
		s.do("POST", "/api/v1/auth/email-change/confirm", map[string]string{"token": token}).problem(http.StatusBadRequest, "token")
		// The old address's reset link no longer works.
		s.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": reset, "password": "a brand new passphrase"}).
			problem(http.StatusBadRequest, "token")

		// Uniqueness again when the link is followed: someone signs up with
		// the address meanwhile.
		ask("later@example.com", pw).want(http.StatusAccepted)
		later := mail.token("later@example.com", notify.TemplateEmailChange, "/account/email-change/confirm")
		s.register("later@example.com", "Quick")
		s.do("POST", "/api/v1/auth/email-change/confirm", map[string]string{"token": later}).problem(http.StatusConflict, "email")
		if a, _ := s.me(me); a.Email != next {
			t.Fatalf("address after a refused change: %s", a.Email)
		}

		// A change link expires after ChangeEmailTTL.
		ask("last@example.com", pw).want(http.StatusAccepted)
		last := mail.token("last@example.com", notify.TemplateEmailChange, "/account/email-change/confirm")
		c.advance(customer.ChangeEmailTTL)
		s.do("POST", "/api/v1/auth/email-change/confirm", map[string]string{"token": last}).problem(http.StatusBadRequest, "token")
	})
}

// TestPasswordChangeRetiresLinks: changing the password (knowing the old
// one) retires the reset and change links already mailed.
func TestPasswordChangeRetiresLinks(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		s := newServer(t, db, nil)
		mail := newMailbox(t, db)
		reg := s.register("owner@example.com", "Owner")
		s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": "owner@example.com"}).want(http.StatusAccepted)
		reset := mail.token("owner@example.com", notify.TemplatePasswordReset, "/account/password-reset/confirm")
		s.do("POST", "/api/v1/me/email-change", map[string]string{"email": "elsewhere@example.com", "current_password": pw}, bearer(reg.Token)).want(http.StatusAccepted)
		change := mail.token("elsewhere@example.com", notify.TemplateEmailChange, "/account/email-change/confirm")
		s.do("PATCH", "/api/v1/me", map[string]string{"password": "a brand new passphrase", "current_password": pw}, bearer(reg.Token)).want(http.StatusOK)
		s.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": reset, "password": "yet another passphrase"}).problem(http.StatusBadRequest, "token")
		s.do("POST", "/api/v1/auth/email-change/confirm", map[string]string{"token": change}).problem(http.StatusBadRequest, "token")
	})
}

// TestStaffPasswordReset: staff accounts reset their passwords the same way.
func TestStaffPasswordReset(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		s := newServer(t, db, nil)
		mail := newMailbox(t, db)
		if _, err := s.svc.CreateAccount(context.Background(), "admin@example.com", pw, "Ada Admin", auth.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": "admin@example.com"}).want(http.StatusAccepted)
		token := mail.token("admin@example.com", notify.TemplatePasswordReset, "/account/password-reset/confirm")
		s.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": token, "password": "a brand new passphrase"}).want(http.StatusNoContent)
		s.do("POST", "/api/v1/auth/login", map[string]string{"email": "admin@example.com", "password": "a brand new passphrase"}).want(http.StatusOK)
	})
}

// TestLinkUsedOnceUnderConcurrency: the same reset link sent many times at
// once sets the password once.
func TestLinkUsedOnceUnderConcurrency(t *testing.T) {
	sqldbtest.ForEach(t, mailMigrations, func(t *testing.T, db *sqldb.DB) {
		s := newServer(t, db, nil)
		mail := newMailbox(t, db)
		s.register("owner@example.com", "Owner")
		s.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": "owner@example.com"}).want(http.StatusAccepted)
		token := mail.token("owner@example.com", notify.TemplatePasswordReset, "/account/password-reset/confirm")
		const n = 8
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			won  []string
			errs []error
		)
		for i := range n {
			wg.Go(func() {
				password := fmt.Sprintf("concurrent passphrase %d", i)
				_, err := s.svc.ResetPassword(context.Background(), token, password)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won = append(won, password)
				} else if !apperr.Is(err, apperr.Invalid) {
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 || len(errs) != 0 {
			t.Fatalf("%d resets succeeded (want 1); other errors: %v", len(won), errs)
		}
		s.do("POST", "/api/v1/auth/login", map[string]string{"email": "owner@example.com", "password": won[0]}).want(http.StatusOK)
	})
}
