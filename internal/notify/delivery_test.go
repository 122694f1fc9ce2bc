package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/mail"
	"github.com/mercato-shop/mercato/internal/platform/mail/mailtest"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// These tests deliver through a real SMTP server on 127.0.0.1 (mailtest,
// built on go-smtp) with STARTTLS on a self-signed certificate the client
// is told to trust, and AUTH PLAIN: the same path as production.

const smtpPassword = "smtp-Pa55word-do-not-log"

// clock is a test's time: delivery's backoff and leases are checked by
// moving it, never by waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// newClock starts ten minutes ahead of the real time, so that the mails a
// test queues (with the real time) are due, however slow the machine.
func newClock() *clock { return &clock{t: time.Now().UTC().Add(10 * time.Minute)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func smtpServer(t *testing.T, opts mailtest.Options) *mailtest.Server {
	opts.StartTLS, opts.Username, opts.Password = true, "shop", smtpPassword
	return mailtest.Start(t, opts)
}

// worker is one instance's delivery: a service with an SMTP sender to srv
// (rawURL overrides the server's own URL) and its log.
type worker struct {
	svc *notify.Service
	log *syncBuffer
}

func newWorker(t *testing.T, db *sqldb.DB, srv *mailtest.Server, clk *clock, rawURL string, o ...func(*notify.Options)) *worker {
	t.Helper()
	if rawURL == "" {
		rawURL = srv.URL("tls=required")
	}
	server, err := mail.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSender(server, mail.Options{From: &netmail.Address{Name: "Mercato Test Shop", Address: "shop@shop.example"},
		RootCAs: srv.Roots(), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{log: &syncBuffer{}}
	opt := opts
	opt.Sender, opt.Now = sender, clk.Now
	for _, f := range o {
		f(&opt)
	}
	w.svc, err = notify.NewService(db, opt, slog.New(slog.NewTextHandler(w.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *worker) deliver(t *testing.T) notify.Delivered {
	t.Helper()
	d, err := w.svc.Deliver(context.Background())
	if err != nil {
		t.Fatalf("Deliver: %v\n%s", err, w.log)
	}
	return d
}

// queue renders n welcome e-mails (to c00@example.com, ...) through the
// event pipeline and returns them, oldest first.
func queue(t *testing.T, db *sqldb.DB, n int) []notify.Email {
	t.Helper()
	p := newPipeline(t, db)
	for i := range n {
		emit(t, db, event{"customer.registered", fmt.Sprintf("c-%d", i), map[string]any{
			"customer_id": fmt.Sprintf("c-%d", i), "email": fmt.Sprintf("c%02d@example.com", i), "name": "Customer"}})
	}
	p.flush(t)
	all := allEmails(t, p.svc)
	if len(all) < n {
		t.Fatalf("%d e-mails rendered, want %d", len(all), n)
	}
	out := all[:n]
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func get(t *testing.T, svc *notify.Service, id string) notify.Email {
	t.Helper()
	e, err := svc.GetEmail(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// received counts the accepted copies per Message-ID.
func received(srv *mailtest.Server) map[string]int {
	out := map[string]int{}
	for _, m := range srv.Messages() {
		out[m.MessageID]++
	}
	return out
}

func TestDeliverSendsQueuedEmails(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		srv := smtpServer(t, mailtest.Options{})
		clk := newClock()
		mails := queue(t, db, 3)
		for _, e := range mails {
			if e.Status != notify.StatusQueued || e.Attempts != 0 || e.SentAt != nil || e.NextAttemptAt == nil {
				t.Fatalf("rendered e-mail %+v, want queued and due", e.EmailSummary)
			}
		}
		w := newWorker(t, db, srv, clk, "")
		if d := w.deliver(t); d != (notify.Delivered{Sent: 3}) {
			t.Fatalf("Deliver = %+v, want 3 sent\n%s", d, w.log)
		}
		got := srv.Messages()
		if len(got) != 3 {
			t.Fatalf("the server got %d messages", len(got))
		}
		for i, m := range got {
			e := mails[i]
			if !m.TLS || m.User != "shop" || m.MessageID != "<"+e.ID+"@shop.example>" || m.To[0] != e.To || m.From != "shop@shop.example" {
				t.Errorf("message %d: TLS %v user %q id %q to %v from %q; want it for %s", i, m.TLS, m.User, m.MessageID, m.To, m.From, e.ID)
			}
			if !strings.Contains(string(m.Raw), "Welcome to Mercato Test Shop") {
				t.Errorf("message %d lacks its subject:\n%s", i, m.Raw)
			}
			e = get(t, w.svc, e.ID)
			if e.Status != notify.StatusSent || e.Attempts != 1 || e.SentAt == nil || !e.SentAt.Equal(clk.Now().Truncate(time.Microsecond)) || e.NextAttemptAt != nil || e.LastError != "" {
				t.Errorf("after delivery: %+v sent %v next %v", e.EmailSummary, e.SentAt, e.NextAttemptAt)
			}
		}
		page, err := w.svc.ListEmails(context.Background(), notify.PageQuery{})
		if err != nil || page.Delivery != "smtp" || page.Items[0].Status != notify.StatusSent {
			t.Fatalf("list: %+v, %v", page, err)
		}
		// Nothing is due any more.
		clk.Add(24 * time.Hour)
		if d := w.deliver(t); d.Any() || len(srv.Messages()) != 3 {
			t.Fatalf("second Deliver = %+v, %d messages", d, len(srv.Messages()))
		}
	})
}

// TestWithoutSMTPEmailsStayQueued: no Sender, no delivery; the list says so.
func TestWithoutSMTPEmailsStayQueued(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		p := newPipeline(t, db)
		mails := queue(t, db, 1)
		if d, err := p.svc.Deliver(context.Background()); err != nil || d.Any() {
			t.Fatalf("Deliver without a sender = %+v, %v", d, err)
		}
		page, err := p.svc.ListEmails(context.Background(), notify.PageQuery{})
		if err != nil || page.Delivery != "off" || p.svc.Delivering() {
			t.Fatalf("list: %+v, %v", page, err)
		}
		if e := get(t, p.svc, mails[0].ID); e.Status != notify.StatusQueued || e.Attempts != 0 {
			t.Fatalf("%+v", e.EmailSummary)
		}
	})
}

// TestDeliverRetriesTemporaryFailures: a 4xx answer queues the mail again
// with a doubling gap, keeps the server's reason, stops the run (the mails
// behind it wait), and the mail goes out once the server takes it, with
// the same Message-ID on every attempt.
func TestDeliverRetriesTemporaryFailures(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		var mu sync.Mutex
		refuse := 2
		srv := smtpServer(t, mailtest.Options{Data: func(mailtest.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if refuse > 0 {
				refuse--
				return mailtest.Temporary()
			}
			return nil
		}})
		clk := newClock()
		mails := queue(t, db, 2)
		w := newWorker(t, db, srv, clk, "")
		if d := w.deliver(t); d != (notify.Delivered{Retrying: 1}) {
			t.Fatalf("first run = %+v, want one retry and the run stopped", d)
		}
		e := get(t, w.svc, mails[0].ID)
		start := clk.Now().Truncate(time.Microsecond)
		if e.Status != notify.StatusQueued || e.Attempts != 1 || !strings.Contains(e.LastError, "451 4.3.0 Try again later") ||
			e.NextAttemptAt == nil || !e.NextAttemptAt.Equal(start.Add(30*time.Second)) {
			t.Fatalf("after a 451: %+v next %v", e.EmailSummary, e.NextAttemptAt)
		}
		if e := get(t, w.svc, mails[1].ID); e.Attempts != 0 {
			t.Fatalf("the mail behind was tried: %+v", e.EmailSummary)
		}
		// The first is not due yet; the second is, and meets the second 451.
		clk.Add(29 * time.Second)
		if d := w.deliver(t); d != (notify.Delivered{Retrying: 1}) {
			t.Fatalf("second run = %+v", d)
		}
		if e := get(t, w.svc, mails[0].ID); e.Attempts != 1 {
			t.Fatalf("tried before its time: %+v", e.EmailSummary)
		}
		clk.Add(time.Second) // the first is due, and the server takes it now
		if d := w.deliver(t); d != (notify.Delivered{Sent: 1}) {
			t.Fatalf("third run = %+v\n%s", d, w.log)
		}
		clk.Add(29 * time.Second) // and the second
		if d := w.deliver(t); d != (notify.Delivered{Sent: 1}) {
			t.Fatalf("fourth run = %+v\n%s", d, w.log)
		}
		e = get(t, w.svc, mails[0].ID)
		if e.Status != notify.StatusSent || e.Attempts != 2 || !strings.Contains(e.LastError, "451") {
			t.Fatalf("after the retry: %+v", e.EmailSummary)
		}
		if got := received(srv); len(got) != 2 || got["<"+mails[0].ID+"@shop.example>"] != 1 || srv.Refused() != 2 {
			t.Fatalf("received %v, refused %d", got, srv.Refused())
		}
	})
}

func TestRetryGapsDoubleUpToAnHourThenFail(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		srv := smtpServer(t, mailtest.Options{Data: func(mailtest.Message) error { return mailtest.Temporary() }})
		clk := newClock()
		mails := queue(t, db, 1)
		w := newWorker(t, db, srv, clk, "")
		want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
			16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
		for i, gap := range want {
			w.deliver(t)
			e := get(t, w.svc, mails[0].ID)
			if e.Status != notify.StatusQueued || e.Attempts != i+1 || e.NextAttemptAt == nil {
				t.Fatalf("attempt %d: %+v", i+1, e.EmailSummary)
			}
			if got := e.NextAttemptAt.Sub(clk.Now().Truncate(time.Microsecond)); got != gap {
				t.Fatalf("gap after attempt %d: %v, want %v", i+1, got, gap)
			}
			clk.Add(gap)
		}
		w.deliver(t)
		e := get(t, w.svc, mails[0].ID)
		if e.Status != notify.StatusFailed || e.Attempts != notify.MaxAttempts ||
			!strings.HasPrefix(e.LastError, fmt.Sprintf("gave up after %d attempts: smtp data: 451", notify.MaxAttempts)) || e.NextAttemptAt != nil {
			t.Fatalf("after the last attempt: %+v", e.EmailSummary)
		}
		clk.Add(24 * time.Hour)
		if d := w.deliver(t); d.Any() || srv.Refused() != notify.MaxAttempts {
			t.Fatalf("a failed mail was tried again: %+v, %d attempts at the server", d, srv.Refused())
		}
	})
}

// TestDeliverFailsOnPermanentRefusal: a 5xx about the message or the
// recipient fails the mail at once with the server's reason; the run goes
// on with the next mail.
func TestDeliverFailsOnPermanentRefusal(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		srv := smtpServer(t, mailtest.Options{
			Rcpt: func(to string) error {
				if to == "c00@example.com" {
					return mailtest.NoMailbox()
				}
				return nil
			},
			Data: func(m mailtest.Message) error {
				if m.To[0] == "c01@example.com" {
					return mailtest.Permanent()
				}
				return nil
			}})
		clk := newClock()
		mails := queue(t, db, 3)
		w := newWorker(t, db, srv, clk, "")
		if d := w.deliver(t); d != (notify.Delivered{Sent: 1, Failed: 2}) {
			t.Fatalf("Deliver = %+v", d)
		}
		for i, want := range []string{"smtp rcpt: 550 5.1.1 No such mailbox here", "smtp data: 554 5.6.0 Message refused: content rejected"} {
			e := get(t, w.svc, mails[i].ID)
			if e.Status != notify.StatusFailed || e.Attempts != 1 || e.LastError != want || e.SentAt != nil {
				t.Errorf("mail %d: %+v, want failed with %q", i, e.EmailSummary, want)
			}
		}
		clk.Add(24 * time.Hour)
		if d := w.deliver(t); d.Any() {
			t.Fatalf("failed mails tried again: %+v", d)
		}
	})
}

// TestTwoWorkersNeverSendTheSameMail: two instances deliver the same queue
// at the same time; every mail arrives exactly once.
func TestTwoWorkersNeverSendTheSameMail(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		srv := smtpServer(t, mailtest.Options{})
		clk := newClock()
		const n = 30
		mails := queue(t, db, n)
		w1, w2 := newWorker(t, db, srv, clk, ""), newWorker(t, db, srv, clk, "")
		var wg sync.WaitGroup
		sent := make([]notify.Delivered, 2)
		for i, w := range []*worker{w1, w2} {
			wg.Go(func() {
				for range 3 {
					d, err := w.svc.Deliver(context.Background())
					if err != nil {
						t.Errorf("worker %d: %v", i, err)
						return
					}
					sent[i].Sent += d.Sent
				}
			})
		}
		wg.Wait()
		got := received(srv)
		if len(got) != n || len(srv.Messages()) != n || sent[0].Sent+sent[1].Sent != n {
			t.Fatalf("%d distinct of %d messages received, workers sent %+v; want %d once each", len(got), len(srv.Messages()), sent, n)
		}
		for _, e := range mails {
			if got["<"+e.ID+"@shop.example>"] != 1 {
				t.Errorf("%s received %d times", e.ID, got["<"+e.ID+"@shop.example>"])
			}
			if e := get(t, w1.svc, e.ID); e.Status != notify.StatusSent || e.Attempts != 1 {
				t.Errorf("%+v", e.EmailSummary)
			}
		}
		t.Logf("worker 1 sent %d, worker 2 sent %d", sent[0].Sent, sent[1].Sent)
	})
}

// TestRestartNeverSendsTwice: a worker told to stop while the server holds
// a message finishes that message, records it, and claims nothing more; a
// new instance sends the rest, each once. A mail claimed by an instance
// that died is left alone until its lease runs out, then sent.
func TestRestartNeverSendsTwice(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		var mu sync.Mutex
		count := 0
		srv := smtpServer(t, mailtest.Options{Data: func(mailtest.Message) error {
			mu.Lock()
			count++
			second := count == 2
			mu.Unlock()
			if second {
				once.Do(func() { close(entered) })
				<-release
			}
			return nil
		}})
		clk := newClock()
		mails := queue(t, db, 5)
		first := newWorker(t, db, srv, clk, "")
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := first.svc.Deliver(ctx)
			done <- err
		}()
		<-entered // the second mail is in the server's hands, unanswered
		stop()    // SIGTERM
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := len(srv.Messages()); got != 2 {
			t.Fatalf("the stopping worker sent %d mails, want 2 (the one in hand, then no more)", got)
		}
		if e := get(t, first.svc, mails[1].ID); e.Status != notify.StatusSent {
			t.Fatalf("the mail in hand when stopping: %+v, want sent", e.EmailSummary)
		}

		// A dead instance's claim on the third mail (claimed, never finished).
		if _, err := db.ExecContext(context.Background(), `UPDATE notify_emails SET status = 'sending', lease_token = 'dead', lease_until = ?, attempts = 1 WHERE id = ?`,
			clk.Now().Add(3*time.Minute), mails[2].ID); err != nil {
			t.Fatal(err)
		}
		second := newWorker(t, db, srv, clk, "") // the restarted instance
		if d := second.deliver(t); d != (notify.Delivered{Sent: 2}) {
			t.Fatalf("after restart: %+v, want the two unclaimed mails", d)
		}
		clk.Add(3*time.Minute + time.Second) // the dead claim runs out
		if d := second.deliver(t); d != (notify.Delivered{Sent: 1}) {
			t.Fatalf("after the lease: %+v", d)
		}
		e := get(t, second.svc, mails[2].ID)
		if e.Status != notify.StatusSent || e.Attempts != 2 || !strings.Contains(e.LastError, "interrupted") {
			t.Fatalf("the taken-over mail: %+v", e.EmailSummary)
		}
		got := received(srv)
		if len(got) != 5 || len(srv.Messages()) != 5 {
			t.Fatalf("received %v; want 5 mails once each", got)
		}
	})
}

// TestCrashAfterAcceptanceResendsWithTheSameMessageID documents the one
// window left: a worker that dies after the server accepted a mail and
// before it recorded that leaves a claim; after the lease the mail goes
// again, with the Message-ID of the first copy, so that receivers can
// drop the duplicate.
func TestCrashAfterAcceptanceResendsWithTheSameMessageID(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		srv := smtpServer(t, mailtest.Options{})
		clk := newClock()
		mails := queue(t, db, 1)
		w := newWorker(t, db, srv, clk, "")
		w.deliver(t)
		// What the crash leaves: the claim, not the mark.
		if _, err := db.ExecContext(context.Background(), `UPDATE notify_emails SET status = 'sending', lease_token = 'dead', lease_until = ?, sent_at = NULL WHERE id = ?`,
			clk.Now().Add(3*time.Minute), mails[0].ID); err != nil {
			t.Fatal(err)
		}
		w.deliver(t)
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("sent again while the claim holds: %d copies", n)
		}
		clk.Add(3*time.Minute + time.Second)
		w.deliver(t)
		ms := srv.Messages()
		if len(ms) != 2 || ms[0].MessageID != ms[1].MessageID || ms[0].MessageID != "<"+mails[0].ID+"@shop.example>" {
			t.Fatalf("copies: %d, Message-IDs %q", len(ms), []string{ms[0].MessageID, ms[len(ms)-1].MessageID})
		}
	})
}

// TestResend: staff queue any mail again; the copy has its own Message-ID;
// a mail being sent cannot be resent; unknown ids are not found.
func TestResend(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		srv := smtpServer(t, mailtest.Options{Data: func(m mailtest.Message) error {
			if m.To[0] == "c01@example.com" {
				return mailtest.Permanent()
			}
			return nil
		}})
		clk := newClock()
		mails := queue(t, db, 3)
		w := newWorker(t, db, srv, clk, "")
		w.deliver(t)
		clk.Add(time.Minute)
		for _, i := range []int{0, 1} { // a sent one and a failed one
			e, err := w.svc.Resend(ctx, mails[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if e.Status != notify.StatusQueued || e.Attempts != 0 || e.LastError != "" || e.NextAttemptAt == nil {
				t.Fatalf("resent %d: %+v", i, e.EmailSummary)
			}
		}
		if d := w.deliver(t); d != (notify.Delivered{Sent: 1, Failed: 1}) {
			t.Fatalf("Deliver after resend = %+v", d)
		}
		ms := srv.Messages()
		if len(ms) != 3 || ms[2].MessageID != "<"+mails[0].ID+"-r1@shop.example>" {
			t.Fatalf("messages %d, last Message-ID %q", len(ms), ms[len(ms)-1].MessageID)
		}
		if _, err := db.ExecContext(ctx, `UPDATE notify_emails SET status = 'sending' WHERE id = ?`, mails[2].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Resend(ctx, mails[2].ID); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("resend while sending = %v, want conflict", err)
		}
		for _, id := range []string{"nope", "0190aaaa-0000-7000-8000-000000000000", ""} {
			if _, err := w.svc.Resend(ctx, id); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("Resend(%q) = %v, want not found", id, err)
			}
		}
	})
}

// TestMailsQueuedTooLongAreNotSent: a mail still queued 72 hours after it
// was written (SMTP configured late, or down for days) fails instead of
// going out late; staff may resend it.
func TestMailsQueuedTooLongAreNotSent(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		srv := smtpServer(t, mailtest.Options{})
		clk := newClock()
		mails := queue(t, db, 1)
		clk.Add(72*time.Hour + time.Minute)
		w := newWorker(t, db, srv, clk, "")
		if d := w.deliver(t); d != (notify.Delivered{Failed: 1}) || len(srv.Messages()) != 0 {
			t.Fatalf("Deliver = %+v, %d sent", d, len(srv.Messages()))
		}
		if e := get(t, w.svc, mails[0].ID); e.Status != notify.StatusFailed || !strings.Contains(e.LastError, "still queued 72h0m0s after it was written") {
			t.Fatalf("%+v", e.EmailSummary)
		}
		if _, err := w.svc.Resend(context.Background(), mails[0].ID); err != nil {
			t.Fatal(err)
		}
		if d := w.deliver(t); d != (notify.Delivered{Sent: 1}) {
			t.Fatalf("after resend: %+v", d)
		}
	})
}

// TestSMTPPasswordNeverLogged: failed sends log why, never the password.
func TestSMTPPasswordNeverLogged(t *testing.T) {
	db := sqldbtest.SQLite(t, migrations...)
	srv := smtpServer(t, mailtest.Options{})
	clk := newClock()
	queue(t, db, 1)
	const wrong = "Wr0ng-but-secret-pa55word"
	u, _ := url.Parse(srv.URL("tls=required"))
	u.User = url.UserPassword("shop", wrong)
	w := newWorker(t, db, srv, clk, u.String())
	if d := w.deliver(t); d != (notify.Delivered{Retrying: 1}) {
		t.Fatalf("Deliver = %+v", d)
	}
	e := allEmails(t, w.svc)[0]
	logged := w.log.String()
	if !strings.Contains(logged, "e-mail not sent; will retry") || !strings.Contains(logged, "535") || !strings.Contains(e.LastError, "smtp auth: 535") {
		t.Fatalf("the failure is not explained:\nlog: %s\nlast_error: %s", logged, e.LastError)
	}
	for _, secret := range []string{wrong, smtpPassword, url.QueryEscape(wrong)} {
		if strings.Contains(logged, secret) || strings.Contains(e.LastError, secret) {
			t.Fatalf("a password shows:\nlog: %s\nlast_error: %s", logged, e.LastError)
		}
	}
}

// openCarts fakes the cart module: the carts still open.
type openCarts map[string]bool

func (o openCarts) Active(ctx context.Context, id string) (bool, error) { return o[id], nil }

func reminderEvent(cartID, email string) event {
	return event{"cart.abandoned", cartID, map[string]any{
		"cart_id": cartID, "customer_id": "c-1", "email": email, "name": "Ada", "restore_token": "cr_" + strings.Repeat("x", 32) + cartID[5:],
		"items": []map[string]any{{"title": "Tee", "quantity": 1}}, "idle_since": "2026-11-21T10:00:00Z"}}
}

// TestRemindersHonourUnsubscribe: a reminder carries its unsubscribe link
// (in the bodies and as List-Unsubscribe); once used, queued reminders to
// the address are cancelled and no new one is written, while order and
// account e-mails still go. A reminder whose cart was checked out before
// it went out is cancelled.
func TestRemindersHonourUnsubscribe(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		srv := smtpServer(t, mailtest.Options{})
		p := newPipeline(t, db)
		emit(t, db, reminderEvent("cart_1", "ada@example.com"))
		p.flush(t)
		clk := newClock()
		carts := openCarts{"cart_1": true, "cart_2": true, "cart_3": true}
		w := newWorker(t, db, srv, clk, "", func(o *notify.Options) { o.Carts = carts })
		if d := w.deliver(t); d != (notify.Delivered{Sent: 1}) {
			t.Fatalf("Deliver = %+v\n%s", d, w.log)
		}
		m := srv.Messages()[0]
		link := strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
		token, ok := strings.CutPrefix(link, "https://shop.example/unsubscribe/")
		if !ok || !strings.HasPrefix(token, "un_") || !strings.Contains(string(m.Raw), "https://shop.example/cart/restore/cr_") {
			t.Fatalf("List-Unsubscribe %q; message:\n%s", m.Header.Get("List-Unsubscribe"), m.Raw)
		}
		sub, err := w.svc.Subscription(ctx, token)
		if err != nil || sub.Email != "ada@example.com" || sub.Unsubscribed {
			t.Fatalf("Subscription = %+v, %v", sub, err)
		}

		// A second reminder is queued; then the address unsubscribes.
		emit(t, db, reminderEvent("cart_2", "ada@example.com"))
		p.flush(t)
		for range 2 {
			if sub, err := w.svc.Unsubscribe(ctx, token); err != nil || !sub.Unsubscribed {
				t.Fatalf("Unsubscribe = %+v, %v", sub, err)
			}
		}
		emit(t, db, reminderEvent("cart_3", "ADA@example.com"),
			event{"order.cancelled", "o-1", map[string]any{"order_id": "o-1", "number": "M-1", "email": "ada@example.com", "reason": ""}})
		p.flush(t)
		if d := w.deliver(t); d != (notify.Delivered{Sent: 1}) {
			t.Fatalf("Deliver after unsubscribe = %+v, want only the order e-mail", d)
		}
		byTemplate := map[string][]notify.Email{}
		for _, e := range allEmails(t, w.svc) {
			byTemplate[e.Template] = append(byTemplate[e.Template], e)
		}
		if rs := byTemplate[notify.TemplateAbandonedCart]; len(rs) != 2 || rs[0].Status != notify.StatusCancelled ||
			rs[0].LastError != "not sent: the recipient unsubscribed from reminders" || rs[1].Status != notify.StatusSent {
			t.Fatalf("reminders: %+v", rs)
		}
		if os := byTemplate[notify.TemplateOrderCancelled]; len(os) != 1 || os[0].Status != notify.StatusSent {
			t.Fatalf("order e-mails: %+v", os)
		}
		if !strings.Contains(p.log.String(), "no reminder, the address unsubscribed") {
			t.Errorf("the skipped reminder is not logged:\n%s", p.log)
		}

		// Checked out before the reminder went: not sent.
		emit(t, db, reminderEvent("cart_4", "bob@example.com"))
		p.flush(t)
		if d := w.deliver(t); d != (notify.Delivered{Cancelled: 1}) {
			t.Fatalf("Deliver = %+v", d)
		}
		if e := allEmails(t, w.svc)[0]; e.Status != notify.StatusCancelled || !strings.Contains(e.LastError, "cart was checked out") {
			t.Fatalf("%+v", e.EmailSummary)
		}
		for _, bad := range []string{"", "un_nope", token + "x", "cr_" + token[3:], "un_'; --"} {
			if _, err := w.svc.Subscription(ctx, bad); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("Subscription(%q) = %v", bad, err)
			}
			if _, err := w.svc.Unsubscribe(ctx, bad); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("Unsubscribe(%q) = %v", bad, err)
			}
		}
	})
}
