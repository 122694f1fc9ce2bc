package mail_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/mail"
	"github.com/mercato-shop/mercato/internal/platform/mail/mailtest"
)

const password = "s3cret-Pa55-word"

func TestParseURL(t *testing.T) {
	good := []struct {
		raw                  string
		host, port, user, as string
		tls                  mail.TLSMode
	}{
		{"smtp://mail.example.com", "mail.example.com", "587", "", "smtp://mail.example.com:587", mail.StartTLSIfOffered},
		{"smtp://ada:" + password + "@mail.example.com:25", "mail.example.com", "25", "ada", "smtp://ada@mail.example.com:25", mail.StartTLSIfOffered},
		{"smtp://a%40b.c:p%3Ass@[::1]:2525?tls=required", "::1", "2525", "a@b.c", "smtp://a%40b.c@[::1]:2525?tls=required", mail.StartTLSRequired},
		{"smtps://ada:pw@mail.example.com", "mail.example.com", "465", "ada", "smtps://ada@mail.example.com:465", mail.ImplicitTLS},
		{"smtps://mail.example.com:4650/", "mail.example.com", "4650", "", "smtps://mail.example.com:4650", mail.ImplicitTLS},
	}
	for _, g := range good {
		s, err := mail.ParseURL(g.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", g.raw, err)
			continue
		}
		if s.Host != g.host || s.Port != g.port || s.Username != g.user || s.TLS != g.tls || s.String() != g.as {
			t.Errorf("ParseURL(%q) = %+v %q", g.raw, s, s.String())
		}
		// The password shows in no rendering of the server.
		for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%+v|%#v|%s|%q", s, s, s, s), logged(s)} {
			if strings.Contains(out, password) || strings.Contains(out, "p%3Ass") || strings.Contains(out, ":pw@") {
				t.Errorf("%q shows the password: %s", g.raw, out)
			}
		}
	}
	bad := []struct{ raw, want string }{
		{"", "scheme"},
		{"mail.example.com:587", "scheme"},
		{"http://mail.example.com", "scheme"},
		{"smtp://", "no host"},
		{"smtp://ada:" + password + "@mail.example.com:99999", "port"},
		{"smtp://ada:" + password + "@mail.example.com:smtp", "not a URL"},
		{"smtp://ada@mail.example.com", "both a user name and a password"},
		{"smtp://:" + password + "@mail.example.com", "both a user name and a password"},
		{"smtp://mail.example.com/inbox", "path"},
		{"smtp://mail.example.com?tls=maybe", "tls=required"},
		{"smtp://mail.example.com?insecure=1", "tls=required"},
		{"smtp://ada:" + password + "@mail.exa mple.com", "not a URL"},
		{"smtp://ada:" + password + "/x@mail.example.com", "percent-encode"},
	}
	for _, b := range bad {
		_, err := mail.ParseURL(b.raw)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseURL(%q) = %v, want an error about %q", b.raw, err, b.want)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("ParseURL(%q): the error shows the password: %v", b.raw, err)
		}
	}
}

func logged(v any) string {
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "server", v)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "server", v)
	return b.String()
}

func sender(t *testing.T, srv *mailtest.Server, query string) *mail.Sender {
	t.Helper()
	server, err := mail.ParseURL(srv.URL(query))
	if err != nil {
		t.Fatal(err)
	}
	s, err := mail.NewSender(server, mail.Options{From: &netmail.Address{Name: "Mercato Shop", Address: "shop@shop.example"},
		HelloName: "shop.example", RootCAs: srv.Roots(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func message(id string) mail.Message {
	return mail.Message{ID: id, To: "ada@example.com", Subject: "Your order M-1001 — thank you, Zoë",
		Text: "Hello Ada,\n\nThanks for your order.\n.\nA line that starts with a dot, and a long one: " + strings.Repeat("é", 100) + "\n",
		HTML: "<p>Hello Ada,</p><p>Thanks for your order.</p>"}
}

// TestSendWritesAMessageReceiversCanRead: headers, both bodies, the
// Message-ID made from the id, over plain TCP to 127.0.0.1.
func TestSendWritesAMessageReceiversCanRead(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	s := sender(t, srv, "")
	m := message("0190abcd-0001")
	m.ListUnsubscribe = "https://shop.example/unsubscribe/tok"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	r := got[0]
	if r.From != "shop@shop.example" || len(r.To) != 1 || r.To[0] != "ada@example.com" || r.TLS {
		t.Fatalf("envelope %q -> %q (TLS %v)", r.From, r.To, r.TLS)
	}
	h := r.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject %q (%v), want %q", subject, err, m.Subject)
	}
	for k, want := range map[string]string{
		"From": `"Mercato Shop" <shop@shop.example>`, "To": "<ada@example.com>", "Message-ID": "<0190abcd-0001@shop.example>",
		"MIME-Version": "1.0", "Auto-Submitted": "auto-generated", "List-Unsubscribe": "<https://shop.example/unsubscribe/tok>",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if s.MessageID("0190abcd-0001") != r.MessageID {
		t.Errorf("MessageID() = %q, the message has %q", s.MessageID("0190abcd-0001"), r.MessageID)
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	pm, _ := netmail.ReadMessage(strings.NewReader(string(r.Raw)))
	mr := multipart.NewReader(pm.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Type")+"\n"+string(b))
	}
	want := []string{"text/plain; charset=utf-8\n" + strings.ReplaceAll(m.Text, "\n", "\r\n"), "text/html; charset=utf-8\n" + m.HTML}
	if len(parts) != 2 || parts[0] != want[0] || parts[1] != want[1] {
		t.Fatalf("parts:\n%q\nwant\n%q", parts, want)
	}
	for _, line := range strings.Split(string(r.Raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("a line of %d bytes", len(line))
		}
	}

	// Text only.
	m.HTML, m.ID = "", "0190abcd-0002"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if ct := srv.Messages()[1].Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Fatalf("text-only Content-Type %q", ct)
	}
}

// TestSendSecuresAndAuthenticates: STARTTLS with a certificate the client
// trusts, implicit TLS, AUTH PLAIN; and the refusals: an untrusted
// certificate, a server without STARTTLS when it is required, a wrong
// password (whose text appears nowhere).
func TestSendSecuresAndAuthenticates(t *testing.T) {
	ctx := context.Background()
	t.Run("starttls and auth", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{StartTLS: true, Username: "shop", Password: password})
		if err := sender(t, srv, "tls=required").Send(ctx, message("m-1")); err != nil {
			t.Fatal(err)
		}
		if got := srv.Messages(); len(got) != 1 || !got[0].TLS || got[0].User != "shop" {
			t.Fatalf("received %+v, want one message over TLS from user shop", got)
		}
	})
	t.Run("implicit tls", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{Implicit: true, Username: "shop", Password: password})
		if err := sender(t, srv, "").Send(ctx, message("m-1")); err != nil {
			t.Fatal(err)
		}
		if got := srv.Messages(); len(got) != 1 || !got[0].TLS || got[0].User != "shop" {
			t.Fatalf("received %+v", got)
		}
	})
	t.Run("auth in clear text to localhost", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{Username: "shop", Password: password})
		if err := sender(t, srv, "").Send(ctx, message("m-1")); err != nil {
			t.Fatal(err)
		}
		if got := srv.Messages(); len(got) != 1 || got[0].TLS || got[0].User != "shop" {
			t.Fatalf("received %+v", got)
		}
	})
	refusals := []struct {
		name  string
		opts  mailtest.Options
		query string
		trust bool
		stage string
	}{
		{"untrusted certificate", mailtest.Options{StartTLS: true}, "", false, "starttls"},
		{"untrusted certificate, implicit", mailtest.Options{Implicit: true}, "", false, "tls"},
		{"no starttls offered but required", mailtest.Options{}, "tls=required", true, "starttls"},
		{"wrong password", mailtest.Options{StartTLS: true, Username: "shop", Password: "other"}, "", true, "auth"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			srv := mailtest.Start(t, r.opts)
			u := url.URL{Scheme: "smtp", Host: srv.Addr, RawQuery: r.query}
			if r.opts.Implicit {
				u.Scheme = "smtps"
			}
			if r.name == "wrong password" {
				u.User = url.UserPassword("shop", password)
			}
			server, err := mail.ParseURL(u.String())
			if err != nil {
				t.Fatal(err)
			}
			opts := mail.Options{From: &netmail.Address{Address: "shop@shop.example"}, Timeout: 10 * time.Second}
			if r.trust {
				opts.RootCAs = srv.Roots()
			}
			s, _ := mail.NewSender(server, opts)
			err = s.Send(ctx, message("m-1"))
			var me *mail.Error
			if !errors.As(err, &me) || me.Stage != r.stage || me.Permanent() {
				t.Fatalf("Send = %v, want a temporary failure at %s", err, r.stage)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("the error shows the password: %v", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Fatalf("%d messages delivered", n)
			}
		})
	}
}

// TestSendTellsTemporaryFromPermanent: the server's reply code and text
// come back; 5xx about the recipient or message is permanent, 4xx is not.
func TestSendTellsTemporaryFromPermanent(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		opts      mailtest.Options
		stage     string
		code      int
		permanent bool
		text      string
	}{
		{"451 to the message", mailtest.Options{Data: func(mailtest.Message) error { return mailtest.Temporary() }}, "data", 451, false, "4.3.0 Try again later"},
		{"554 to the message", mailtest.Options{Data: func(mailtest.Message) error { return mailtest.Permanent() }}, "data", 554, true, "5.6.0 Message refused: content rejected"},
		{"550 to the recipient", mailtest.Options{Rcpt: func(string) error { return mailtest.NoMailbox() }}, "rcpt", 550, true, "5.1.1 No such mailbox here"},
		{"530 to MAIL FROM", mailtest.Options{Username: "shop", Password: password}, "mail", 530, false, "Authentication required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := mailtest.Start(t, c.opts)
			server, _ := mail.ParseURL("smtp://" + srv.Addr) // no credentials
			s, _ := mail.NewSender(server, mail.Options{From: &netmail.Address{Address: "shop@shop.example"}})
			err := s.Send(ctx, message("m-1"))
			var me *mail.Error
			if !errors.As(err, &me) || me.Stage != c.stage || me.Code != c.code || me.Permanent() != c.permanent || !strings.Contains(me.Msg, c.text) {
				t.Fatalf("Send = %#v (%v), want stage %s code %d permanent %v", me, err, c.stage, c.code, c.permanent)
			}
		})
	}
	t.Run("nobody listening", func(t *testing.T) {
		server, _ := mail.ParseURL("smtp://127.0.0.1:1")
		s, _ := mail.NewSender(server, mail.Options{From: &netmail.Address{Address: "shop@shop.example"}})
		var me *mail.Error
		if err := s.Send(ctx, message("m-1")); !errors.As(err, &me) || me.Stage != "connect" || me.Permanent() {
			t.Fatalf("Send = %v", err)
		}
	})
	t.Run("a message that cannot be written", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		s := sender(t, srv, "")
		for _, m := range []mail.Message{
			{ID: "m-1", To: "ada@example.com\r\nBcc: all@example.com", Subject: "x", Text: "x"},
			{ID: "m-1", To: "Ada <ada@example.com>", Subject: "x", Text: "x"},
			{ID: "m-1", To: "ada@example.com", Subject: "x\r\nBcc: all@example.com", Text: "x"},
			{ID: "m 1", To: "ada@example.com", Subject: "x", Text: "x"},
			{ID: "m-1", To: "ada@example.com", Subject: "x", Text: "x", ListUnsubscribe: "https://x>\r\nBcc: y"},
		} {
			var me *mail.Error
			if err := s.Send(ctx, m); !errors.As(err, &me) || me.Stage != "message" || !me.Permanent() {
				t.Errorf("Send(%+v) = %v, want a permanent message error", m, err)
			}
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d messages delivered", n)
		}
	})
}

// TestSendStopsWhenCancelled: a server that holds the message does not
// hold the sender past its context.
func TestSendStopsWhenCancelled(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := mailtest.Start(t, mailtest.Options{Data: func(mailtest.Message) error { close(entered); <-release; return nil }})
	defer close(release)
	s := sender(t, srv, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, message("m-1")) }()
	<-entered // the server has the whole message and has not answered
	cancel()
	select {
	case err := <-done:
		var me *mail.Error
		if !errors.As(err, &me) || me.Permanent() {
			t.Fatalf("Send after cancel = %v, want a temporary failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send still running 10s after its context ended")
	}
}
