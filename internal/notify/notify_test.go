package notify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var migrations = []sqldb.Migrations{outbox.Migrations(), notify.Migrations()}

var opts = notify.Options{ShopName: "Mercato Test Shop", BaseURL: "https://shop.example/", StaffEmail: "ops@shop.example"}

// syncBuffer collects log lines from the relay's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pipeline is one "process": a service subscribed to a bus that a relay
// feeds from the database. probe records every delivery.
type pipeline struct {
	db    *sqldb.DB
	svc   *notify.Service
	bus   *outbox.LocalBus
	relay *outbox.Relay
	log   *syncBuffer

	mu        sync.Mutex
	delivered []outbox.Event
}

// newPipeline wires a fresh process on db. Extra subscribers (say, a flaky
// neighbour) go on the bus before notify's own.
func newPipeline(t *testing.T, db *sqldb.DB, before ...func(*outbox.LocalBus, *notify.Service)) *pipeline {
	t.Helper()
	p := &pipeline{db: db, bus: outbox.NewLocalBus(), log: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(p.log, nil))
	svc, err := notify.NewService(db, opts, log)
	if err != nil {
		t.Fatal(err)
	}
	p.svc = svc
	p.bus.Subscribe("probe", []string{"*"}, func(ctx context.Context, e outbox.Event) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.delivered = append(p.delivered, e)
		return nil
	})
	for _, f := range before {
		f(p.bus, svc)
	}
	if len(before) == 0 {
		svc.Subscribe(p.bus)
	}
	p.relay = outbox.NewRelay(db, p.bus, log, time.Hour)
	return p
}

// flush runs the relay until nothing is pending (a failed delivery waits,
// with its aggregate's later events, for the next flush).
func (p *pipeline) flush(t *testing.T) int {
	t.Helper()
	total := 0
	for range 20 {
		n, err := p.relay.Flush(context.Background())
		if err != nil {
			t.Fatalf("flush: %v", err)
		}
		total += n
		if pending, _ := outbox.Pending(context.Background(), p.db); pending == 0 {
			break
		}
	}
	return total
}

func (p *pipeline) events() []outbox.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]outbox.Event(nil), p.delivered...)
}

// emit writes events with outbox.Add in one transaction, as a module would.
func emit(t *testing.T, db *sqldb.DB, evs ...event) {
	t.Helper()
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *sqldb.Tx) error {
		for _, e := range evs {
			if err := outbox.Add(ctx, tx, e.topic, e.agg, e.payload); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

type event struct {
	topic, agg string
	payload    any
}

func eur(amount int64) map[string]any { return map[string]any{"amount": amount, "currency": "EUR"} }

// samples has one event per message, with the payloads of docs/EVENTS.md.
func samples() map[string]event {
	return map[string]event{
		notify.TemplateWelcome: {"customer.registered", "c-1", map[string]any{
			"customer_id": "c-1", "email": "ada@example.com", "name": "Ada Lovelace"}},
		notify.TemplateOrderPlaced: {"order.placed", "o-1", map[string]any{
			"order_id": "o-1", "number": "M-10042", "email": "ada@example.com", "customer_id": "c-1", "currency": "EUR",
			"items": []map[string]any{
				{"sku": "TEE-BLK-M", "title": "Organic tee, black, M", "quantity": 2, "unit_price": eur(1990), "line_total": eur(3980)},
				{"sku": "MUG-01", "title": "Enamel mug", "quantity": 1, "unit_price": eur(1250), "line_total": eur(1250)},
			},
			"totals": map[string]any{"subtotal": eur(5230), "discount": eur(500), "shipping": eur(490), "tax": eur(911), "total": eur(5220)},
			"shipping_address": map[string]any{"name": "Ada Lovelace", "line1": "12 St James's Square", "line2": "Flat 3",
				"city": "London", "postal_code": "SW1Y 4JH", "country": "GB"},
			"shipping_method": "Standard (3–5 days)",
			"created_at":      "2026-11-21T14:03:00Z"}},
		notify.TemplateOrderShipped: {"order.shipped", "o-1", map[string]any{
			"order_id": "o-1", "number": "M-10042", "email": "ada@example.com", "tracking_number": "1Z999AA10123456784"}},
		notify.TemplateOrderCancelled: {"order.cancelled", "o-2", map[string]any{
			"order_id": "o-2", "number": "M-10043", "email": "ada@example.com", "reason": "Cancelled at the customer's request"}},
		notify.TemplatePaymentRefunded: {"order.refunded", "o-2", map[string]any{
			"order_id": "o-2", "number": "M-10043", "email": "ada@example.com", "refund_id": "r-77", "amount": eur(2599), "refunded": eur(2599),
			"reason": "order cancelled", "at_provider": false}},
		notify.TemplateStockLow: {"stock.low", "v-1", map[string]any{
			"variant_id": "v-1", "sku": "TEE-BLK-M", "available": 2, "threshold": 5}},
		notify.TemplateAbandonedCart: {"cart.abandoned", "cart_abc", map[string]any{
			"cart_id": "cart_abc", "customer_id": "c-1", "email": "ada@example.com", "name": "Ada Lovelace",
			"restore_token": "cr_RESTORE-token-0123456789abcdef",
			"items":         []map[string]any{{"title": "Organic tee (Black / M)", "quantity": 2}, {"title": "Enamel mug", "quantity": 1}},
			"idle_since":    "2026-11-21T10:00:00Z"}},
	}
}

func allEmails(t *testing.T, svc *notify.Service) []notify.Email {
	t.Helper()
	ctx := context.Background()
	var out []notify.Email
	q := notify.PageQuery{Limit: 100}
	for {
		page, err := svc.ListEmails(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Items {
			e, err := svc.GetEmail(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		if page.NextCursor == nil {
			return out
		}
		q.Cursor = *page.NextCursor
	}
}

func countRows(t *testing.T, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRenderedEmailsMatchGoldenFiles sends one event of each kind through
// the relay and compares the stored e-mails with testdata/ (go test
// ./internal/notify -run Golden -update rewrites them).
func TestRenderedEmailsMatchGoldenFiles(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		p := newPipeline(t, db)
		s := samples()
		for _, name := range []string{notify.TemplateWelcome, notify.TemplateOrderPlaced, notify.TemplateOrderShipped,
			notify.TemplateOrderCancelled, notify.TemplatePaymentRefunded, notify.TemplateStockLow, notify.TemplateAbandonedCart} {
			emit(t, db, s[name])
		}
		if n := p.flush(t); n != 7 {
			t.Fatalf("published %d events, want 7", n)
		}
		byTemplate := map[string]notify.Email{}
		for _, e := range allEmails(t, p.svc) {
			byTemplate[e.Template] = e
		}
		if len(byTemplate) != 7 {
			t.Fatalf("e-mails by template: %d, want 7 (log: %s)", len(byTemplate), p.log)
		}
		// The reminder's unsubscribe link is a secret made when it is
		// rendered: the golden file has a placeholder.
		unsub := regexp.MustCompile(`/unsubscribe/un_[A-Za-z0-9_-]{32}`)
		for name, e := range byTemplate {
			t.Run(name, func(t *testing.T) {
				if name == notify.TemplateAbandonedCart {
					if n := len(unsub.FindAllString(e.Text+e.HTML, -1)); n != 2 {
						t.Fatalf("%d unsubscribe links, want one per body:\n%s\n%s", n, e.Text, e.HTML)
					}
					e.Text = unsub.ReplaceAllString(e.Text, "/unsubscribe/TOKEN")
					e.HTML = unsub.ReplaceAllString(e.HTML, "/unsubscribe/TOKEN")
				}
				text := fmt.Sprintf("To: %s\nSubject: %s\n\n%s", e.To, e.Subject, e.Text)
				golden(t, name+".txt", text)
				golden(t, name+".html", e.HTML)
				for _, bad := range []string{" style=", "<script", "{{", "<no value>", "%!"} {
					if strings.Contains(e.HTML, bad) || strings.Contains(text, bad) {
						t.Errorf("%s: rendered output contains %q", name, bad)
					}
				}
				// The preview's CSP allows exactly the one stylesheet.
				_, css, _ := strings.Cut(e.HTML, "<style>")
				css, _, _ = strings.Cut(css, "</style>")
				sum := sha256.Sum256([]byte(css))
				if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(p.svc.PreviewCSP(), hash) {
					t.Errorf("%s: preview CSP %q does not allow the stylesheet (%s)", name, p.svc.PreviewCSP(), hash)
				}
				if e.SentAt != nil || e.Status != notify.StatusQueued {
					t.Errorf("%s: sent_at = %v, status %s; want queued: nothing sends here", name, e.SentAt, e.Status)
				}
			})
		}
		if to := byTemplate[notify.TemplateStockLow].To; to != opts.StaffEmail {
			t.Errorf("low-stock alert went to %q, want the staff address %q", to, opts.StaffEmail)
		}
		alerts, err := p.svc.ListLowStockAlerts(context.Background(), notify.PageQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts.Items) != 1 || alerts.Items[0].SKU != "TEE-BLK-M" || alerts.Items[0].Available != 2 ||
			alerts.Items[0].Threshold != 5 || alerts.Items[0].VariantID != "v-1" || alerts.NextCursor != nil {
			t.Errorf("alerts = %+v", alerts)
		}
	})
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// TestEachEventMakesExactlyOneEmail delivers every event again and again:
// twice more by hand, after a neighbour consumer failed (the bus redelivers
// to everyone), after notify itself failed before and after committing,
// and from a new relay and service on the same database (a restart with
// events still pending).
func TestEachEventMakesExactlyOneEmail(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := samples()

		// A first process where notify fails once before doing anything
		// (order.placed) and once after committing (order.shipped), and a
		// neighbour fails once on customer.registered.
		var mu sync.Mutex
		failed := map[string]bool{}
		once := func(key string) bool {
			mu.Lock()
			defer mu.Unlock()
			if failed[key] {
				return false
			}
			failed[key] = true
			return true
		}
		p1 := newPipeline(t, db, func(bus *outbox.LocalBus, svc *notify.Service) {
			bus.Subscribe("neighbour", []string{"*"}, func(ctx context.Context, e outbox.Event) error {
				if e.Topic == "customer.registered" && once("neighbour") {
					return errors.New("neighbour: transient")
				}
				return nil
			})
			bus.Subscribe(notify.Consumer, notify.Topics(), func(ctx context.Context, e outbox.Event) error {
				if e.Topic == "order.placed" && once("before") {
					return errors.New("notify: transient, before")
				}
				if err := svc.Handle(ctx, e); err != nil {
					return err
				}
				if e.Topic == "order.shipped" && once("after") {
					return errors.New("notify: lost acknowledgement, after commit")
				}
				return nil
			})
		})
		emit(t, db, s[notify.TemplateWelcome], s[notify.TemplateOrderPlaced], s[notify.TemplateOrderShipped])
		p1.flush(t) // retries each failure once
		if pending, _ := outbox.Pending(ctx, db); pending != 0 {
			t.Fatalf("pending after retries: %d", pending)
		}
		// 3 events; again all 3 (welcome and order.placed failed, order.shipped
		// was held back behind order.placed); then order.shipped, whose
		// acknowledgement was lost.
		if got := len(p1.events()); got != 7 {
			t.Fatalf("deliveries = %d, want 7", got)
		}
		for _, e := range p1.events() { // and twice more, by hand
			for range 2 {
				if err := p1.bus.Publish(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
		}

		// Events left pending by a process that stopped (a failure holds
		// back its aggregate's events; the others go on)...
		emit(t, db, s[notify.TemplateOrderCancelled], s[notify.TemplatePaymentRefunded], s[notify.TemplateStockLow])
		p2 := newPipeline(t, db, func(bus *outbox.LocalBus, svc *notify.Service) {
			svc.Subscribe(bus)
			bus.Subscribe("stuck", []string{"order.refunded"}, func(context.Context, outbox.Event) error {
				return errors.New("stuck until restart")
			})
		})
		if n, err := p2.relay.Flush(ctx); err != nil || n != 2 {
			t.Fatalf("flush before restart: %d, %v; want 2 (order.cancelled, stock.low)", n, err)
		}
		if pending, _ := outbox.Pending(ctx, db); pending != 1 {
			t.Fatalf("pending before restart = %d, want 1", pending)
		}
		// ... are delivered by the next process, notify having seen the
		// refund already (the stuck neighbour failed after notify ran).
		p3 := newPipeline(t, db)
		if n := p3.flush(t); n != 1 {
			t.Fatalf("flush after restart published %d, want 1", n)
		}
		for _, e := range append(p2.events(), p3.events()...) {
			if err := p3.bus.Publish(ctx, e); err != nil {
				t.Fatal(err)
			}
		}

		emails := allEmails(t, p3.svc)
		perEvent := map[string]int{}
		perTemplate := map[string]int{}
		for _, e := range emails {
			perEvent[e.EventID]++
			perTemplate[e.Template]++
		}
		if len(emails) != 6 || len(perEvent) != 6 || len(perTemplate) != 6 {
			t.Fatalf("%d e-mails for %d events, templates %v; want one per event", len(emails), len(perEvent), perTemplate)
		}
		if n := countRows(t, db, "notify_low_stock_alerts"); n != 1 {
			t.Fatalf("%d low-stock alerts, want 1", n)
		}
	})
}

// TestUndeliverableEventsAreDroppedNotRetried: a payload notify cannot make
// an e-mail from is logged and skipped; the events behind it still flow.
func TestUndeliverableEventsAreDroppedNotRetried(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		p := newPipeline(t, db)
		emit(t, db,
			event{"customer.registered", "c-1", map[string]any{"customer_id": "c-1", "email": "", "name": "No Address"}},
			event{"customer.registered", "c-2", map[string]any{"customer_id": "c-2", "email": "x@example.com\r\nBcc: all@example.com", "name": "Injector"}},
			event{"order.shipped", "o-1", map[string]any{"order_id": "o-1", "number": 42, "email": "a@example.com"}}, // number of the wrong type
			event{"order.refunded", "o-1", map[string]any{"order_id": "o-1", "number": "M-1", "email": "a@example.com", "amount": map[string]any{"amount": 5, "currency": "euro"}}},
			event{"order.cancelled", "o-9", map[string]any{"order_id": "o-9", "number": "M-9", "email": "fine@example.com", "reason": ""}},
		)
		if n := p.flush(t); n != 5 {
			t.Fatalf("published %d, want 5", n)
		}
		emails := allEmails(t, p.svc)
		if len(emails) != 1 || emails[0].To != "fine@example.com" {
			t.Fatalf("e-mails: %+v; want only the valid cancellation", emails)
		}
		if got := strings.Count(p.log.String(), "notify: event dropped"); got != 4 {
			t.Errorf("dropped events logged %d times, want 4:\n%s", got, p.log)
		}
		if strings.Contains(emails[0].Text, "Reason:") {
			t.Errorf("empty reason rendered:\n%s", emails[0].Text)
		}
	})
}

// TestCustomerDataIsEscaped: what customers type cannot inject markup into
// the HTML body or headers through the subject.
func TestCustomerDataIsEscaped(t *testing.T) {
	db := sqldbtest.SQLite(t, migrations...)
	p := newPipeline(t, db)
	emit(t, db,
		event{"customer.registered", "c-1", map[string]any{"customer_id": "c-1", "email": "eve@example.com", "name": `<script>alert("x")</script><img src=x onerror=alert(1)>`}},
		event{"order.cancelled", "o-1", map[string]any{"order_id": "o-1", "number": "M-1\r\nBcc: all@example.com", "email": "eve@example.com", "reason": `"><iframe src=//evil>`}},
	)
	p.flush(t)
	emails := allEmails(t, p.svc)
	if len(emails) != 2 {
		t.Fatalf("%d e-mails", len(emails))
	}
	for _, e := range emails {
		for _, bad := range []string{"<script", "<img", "<iframe"} {
			if strings.Contains(e.HTML, bad) {
				t.Errorf("%s: HTML body contains %q unescaped", e.Template, bad)
			}
		}
		if strings.ContainsAny(e.Subject, "\r\n") {
			t.Errorf("%s: subject %q spans lines", e.Template, e.Subject)
		}
	}
}

func TestListEmailsPagination(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		p := newPipeline(t, db)
		const n = 23
		for i := range n {
			emit(t, db, event{"customer.registered", fmt.Sprint(i), map[string]any{
				"customer_id": fmt.Sprint(i), "email": fmt.Sprintf("c%02d@example.com", i), "name": "C"}})
		}
		p.flush(t)
		var seen []string
		q := notify.PageQuery{Limit: 10}
		for pages := 1; ; pages++ {
			page, err := p.svc.ListEmails(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Items {
				seen = append(seen, e.To)
			}
			if page.NextCursor == nil {
				if pages != 3 {
					t.Fatalf("%d pages, want 3", pages)
				}
				break
			}
			q.Cursor = *page.NextCursor
		}
		if len(seen) != n {
			t.Fatalf("walked %d e-mails, want %d", len(seen), n)
		}
		for i, to := range seen { // newest first
			if want := fmt.Sprintf("c%02d@example.com", n-1-i); to != want {
				t.Fatalf("item %d is %s, want %s", i, to, want)
			}
		}
		def, err := p.svc.ListEmails(ctx, notify.PageQuery{})
		if err != nil || len(def.Items) != 20 {
			t.Fatalf("default page: %d items, %v; want 20", len(def.Items), err)
		}

		for _, bad := range []struct {
			q     notify.PageQuery
			field string
		}{
			{notify.PageQuery{Limit: 101}, "limit"},
			{notify.PageQuery{Limit: -1}, "limit"},
			{notify.PageQuery{Cursor: "!!"}, "cursor"},
			{notify.PageQuery{Cursor: "bm90LWFuLWlk"}, "cursor"}, // "not-an-id"
		} {
			_, err := p.svc.ListEmails(ctx, bad.q)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || len(ae.Fields) != 1 || ae.Fields[0].Field != bad.field {
				t.Errorf("ListEmails(%+v) = %v, want invalid %s", bad.q, err, bad.field)
			}
			if _, err := p.svc.ListLowStockAlerts(ctx, bad.q); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("ListLowStockAlerts(%+v) = %v, want invalid", bad.q, err)
			}
		}
		for _, id := range []string{ids.New(), "nope", "", "' OR 1=1 --"} {
			if _, err := p.svc.GetEmail(ctx, id); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("GetEmail(%q) = %v, want not found", id, err)
			}
		}
	})
}

func TestNewServiceParsesTemplates(t *testing.T) {
	svc, err := notify.NewService(nil, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	csp := svc.PreviewCSP()
	for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "frame-ancestors 'self'", "sandbox"} {
		if !strings.Contains(csp, want) {
			t.Errorf("preview CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("preview CSP %q allows too much", csp)
	}
}
