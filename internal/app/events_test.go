package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// Tests of the event wiring: the staff routes over what the consumers
// stored, the relay woken by requests, and the periodic job runner.

// addEvent writes an event with outbox.Add, as a module does in the
// transaction of its change.
func addEvent(t testing.TB, db *sqldb.DB, topic, aggregateID string, payload any) {
	t.Helper()
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *sqldb.Tx) error { return outbox.Add(ctx, tx, topic, aggregateID, payload) }); err != nil {
		t.Fatal(err)
	}
}

// drainOutbox publishes every pending event through the app's relay and bus.
func drainOutbox(t testing.TB, a *App) {
	t.Helper()
	ctx := context.Background()
	for range 50 {
		if _, err := a.Relay.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := outbox.Pending(ctx, a.DB); err != nil || n == 0 {
			return
		}
	}
	t.Fatal("outbox still has pending events after 50 flushes")
}

// cookieRequest is a browser's request with the session cookie of token.
func cookieRequest(method, target, token string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.AddCookie(&http.Cookie{Name: customer.SessionCookie, Value: token})
	return r
}

func eurAmount(amount int64) map[string]any {
	return map[string]any{"amount": amount, "currency": "EUR"}
}

func orderPlacedPayload(id string, total int64, at time.Time) map[string]any {
	return map[string]any{
		"order_id": id, "number": "M-" + id, "email": "buyer@example.com", "customer_id": "", "currency": "EUR",
		"items":            []map[string]any{{"sku": "TEE-1", "title": "Tee", "quantity": 1, "unit_price": eurAmount(total), "line_total": eurAmount(total)}},
		"totals":           map[string]any{"subtotal": eurAmount(total), "discount": eurAmount(0), "shipping": eurAmount(0), "tax": eurAmount(0), "total": eurAmount(total)},
		"shipping_address": map[string]any{"name": "B", "line1": "1 Road", "line2": "", "city": "Town", "postal_code": "12345", "country": "DE"},
		"shipping_method":  "standard",
		"created_at":       at.UTC().Format(time.RFC3339),
	}
}

type emailPage struct {
	Items      []notify.EmailSummary `json:"items"`
	NextCursor *string               `json:"next_cursor"`
}

func TestEmailsAPI(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		staff := bearer(api.staff)
		walk := func(limit int) []notify.EmailSummary {
			t.Helper()
			var out []notify.EmailSummary
			target := fmt.Sprintf("/api/v1/admin/emails?limit=%d", limit)
			for pages := 0; pages < 100; pages++ {
				var p emailPage
				api.do("GET", target, nil, staff).wantStatus(http.StatusOK).decode(&p)
				out = append(out, p.Items...)
				if p.NextCursor == nil {
					return out
				}
				target = fmt.Sprintf("/api/v1/admin/emails?limit=%d&cursor=%s", limit, url.QueryEscape(*p.NextCursor))
			}
			t.Fatal("no last page")
			return nil
		}
		drainOutbox(t, api.app) // setting up the accounts announced them
		before := len(walk(100))

		const welcomes = 5
		for i := range welcomes {
			addEvent(t, db, "customer.registered", fmt.Sprint(i), map[string]any{"customer_id": fmt.Sprint(i), "email": fmt.Sprintf("c%d@example.com", i), "name": "C"})
		}
		addEvent(t, db, "order.placed", "o-1", orderPlacedPayload("o-1", 4200, time.Now()))
		addEvent(t, db, "stock.low", "v-1", map[string]any{"variant_id": "v-1", "sku": "TEE-1", "available": 1, "threshold": 3})
		// The relay is not running: the backlog shows on /metrics.
		m := api.do("GET", "/metrics", nil)
		if !bytes.Contains(m.Body, []byte("\nmercato_outbox_pending 7\n")) {
			t.Errorf("/metrics does not report 7 pending events:\n%s", m.Body)
		}
		if age := metricValue(t, m.Body, "mercato_outbox_oldest_pending_age_seconds"); age <= 0 || age > 60 {
			t.Errorf("oldest pending event %v s old, want a moment", age)
		}
		drainOutbox(t, api.app)
		m = api.do("GET", "/metrics", nil)
		if !bytes.Contains(m.Body, []byte("\nmercato_outbox_pending 0\n")) {
			t.Errorf("/metrics does not report 0 pending events")
		}
		if age := metricValue(t, m.Body, "mercato_outbox_oldest_pending_age_seconds"); age != 0 {
			t.Errorf("nothing pending, oldest pending event %v s old; want 0", age)
		}

		all := walk(2)
		if len(all) != before+welcomes+2 {
			t.Fatalf("walked %d e-mails, want %d", len(all), before+welcomes+2)
		}
		seen := map[string]bool{}
		for i, e := range all {
			if seen[e.ID] {
				t.Fatalf("e-mail %s listed twice", e.ID)
			}
			seen[e.ID] = true
			if i > 0 && e.ID > all[i-1].ID {
				t.Fatalf("not newest first at %d", i)
			}
		}
		if all[0].Template != notify.TemplateStockLow || all[0].To != defaultStaffEmail || all[1].Template != notify.TemplateOrderPlaced || all[1].To != "buyer@example.com" {
			t.Fatalf("newest e-mails: %+v", all[:2])
		}

		// Detail and preview.
		var full notify.Email
		res := api.do("GET", "/api/v1/admin/emails/"+all[1].ID, nil, staff).wantStatus(http.StatusOK)
		res.decode(&full)
		if !strings.Contains(full.Text, "Order M-o-1") || !strings.Contains(full.HTML, "€42.00") || full.SentAt != nil || full.EventID == "" {
			t.Fatalf("detail: %+v", full)
		}
		if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("detail headers: %v", res.Header)
		}
		html := api.do("GET", "/api/v1/admin/emails/"+all[1].ID+"/html", nil, staff).wantStatus(http.StatusOK)
		if string(html.Body) != full.HTML {
			t.Errorf("preview body differs from the e-mail's html")
		}
		h := html.Header
		if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("X-Frame-Options") != "SAMEORIGIN" || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("preview headers: %v", h)
		}
		if csp := h.Get("Content-Security-Policy"); csp != api.app.Notify.PreviewCSP() || !strings.Contains(csp, "frame-ancestors 'self'") || !strings.Contains(csp, "sandbox") {
			t.Errorf("preview CSP %q", csp)
		}
		// The admin panel frames its own copy, opened by the session cookie
		// (which the admin API does not take).
		page := httptest.NewRecorder()
		api.h.ServeHTTP(page, cookieRequest("GET", "/admin/emails/"+all[1].ID, api.staff))
		if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `src="/admin/emails/`+all[1].ID+`/html"`) {
			t.Errorf("the e-mail's page does not frame /admin/emails/{id}/html: %d", page.Code)
		}
		panel := httptest.NewRecorder()
		api.h.ServeHTTP(panel, cookieRequest("GET", "/admin/emails/"+all[1].ID+"/html", api.staff))
		if panel.Code != http.StatusOK || panel.Body.String() != full.HTML {
			t.Errorf("panel preview: %d", panel.Code)
		}
		for _, k := range []string{"Content-Type", "X-Frame-Options", "Cache-Control", "Content-Security-Policy", "X-Content-Type-Options"} {
			if got := panel.Header().Get(k); got != h.Get(k) {
				t.Errorf("panel preview %s = %q, the API's is %q", k, got, h.Get(k))
			}
		}
		api.do("GET", "/api/v1/admin/emails/"+all[1].ID+"/html", nil, withCookie(api.staff)).wantProblem(http.StatusUnauthorized, "")

		// Refusals.
		for _, id := range []string{"01890a5d-ac96-774b-bcce-b302099a8057", "not-an-id", "%27%20OR%201%3D1"} {
			api.do("GET", "/api/v1/admin/emails/"+id, nil, staff).wantProblem(http.StatusNotFound, "")
			api.do("GET", "/api/v1/admin/emails/"+id+"/html", nil, staff).wantProblem(http.StatusNotFound, "")
		}
		for _, q := range []struct{ query, field string }{
			{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=x", "limit"},
			{"cursor=%21%21", "cursor"}, {"cursor=" + url.QueryEscape(strings.Repeat("A", 600)), "cursor"},
		} {
			api.do("GET", "/api/v1/admin/emails?"+q.query, nil, staff).wantProblem(http.StatusBadRequest, q.field)
			api.do("GET", "/api/v1/admin/alerts/low-stock?"+q.query, nil, staff).wantProblem(http.StatusBadRequest, q.field)
		}

		// State, and resend (staff only; the authorization test covers 401 and 403).
		var p struct {
			Items    []notify.EmailSummary `json:"items"`
			Delivery string                `json:"delivery"`
		}
		api.do("GET", "/api/v1/admin/emails?limit=1", nil, staff).wantStatus(http.StatusOK).decode(&p)
		if p.Delivery != "off" || p.Items[0].Status != notify.StatusQueued || p.Items[0].Attempts != 0 || p.Items[0].LastError != "" {
			t.Fatalf("list without SMTP: %+v", p)
		}
		if _, err := db.ExecContext(context.Background(), `UPDATE notify_emails SET status = 'failed', attempts = 10, last_error = 'gave up' WHERE id = ?`, all[1].ID); err != nil {
			t.Fatal(err)
		}
		api.do("GET", "/api/v1/admin/emails/"+all[1].ID, nil, staff).wantStatus(http.StatusOK).decode(&full)
		if full.Status != notify.StatusFailed || full.Attempts != 10 || full.LastError != "gave up" || full.NextAttemptAt != nil {
			t.Fatalf("failed e-mail: %+v", full.EmailSummary)
		}
		api.do("POST", "/api/v1/admin/emails/"+all[1].ID+"/resend", nil, bearer(api.customer)).wantProblem(http.StatusForbidden, "")
		res = api.do("POST", "/api/v1/admin/emails/"+all[1].ID+"/resend", nil, staff).wantStatus(http.StatusAccepted)
		res.decode(&full)
		if full.Status != notify.StatusQueued || full.Attempts != 0 || full.LastError != "" || full.NextAttemptAt == nil || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("resent: %+v", full)
		}
		if _, err := db.ExecContext(context.Background(), `UPDATE notify_emails SET status = 'sending' WHERE id = ?`, all[1].ID); err != nil {
			t.Fatal(err)
		}
		api.do("POST", "/api/v1/admin/emails/"+all[1].ID+"/resend", nil, staff).wantProblem(http.StatusConflict, "")
		for _, id := range []string{"01890a5d-ac96-774b-bcce-b302099a8057", "not-an-id"} {
			api.do("POST", "/api/v1/admin/emails/"+id+"/resend", nil, staff).wantProblem(http.StatusNotFound, "")
		}

		var alerts struct {
			Items []notify.LowStockAlert `json:"items"`
		}
		api.do("GET", "/api/v1/admin/alerts/low-stock", nil, staff).wantStatus(http.StatusOK).decode(&alerts)
		if len(alerts.Items) != 1 || alerts.Items[0].SKU != "TEE-1" || alerts.Items[0].Available != 1 || alerts.Items[0].Threshold != 3 {
			t.Fatalf("alerts: %+v", alerts)
		}
	})
}

func TestSalesAPI(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		staff := bearer(api.staff)
		before := time.Now().UTC()
		addEvent(t, db, "order.placed", "o-1", orderPlacedPayload("o-1", 1000, before))
		addEvent(t, db, "order.placed", "o-2", orderPlacedPayload("o-2", 2500, before))
		addEvent(t, db, "order.placed", "o-3", orderPlacedPayload("o-3", 999, before.AddDate(0, 0, -3)))
		addEvent(t, db, "order.refunded", "o-1", map[string]any{"order_id": "o-1", "number": "M-o-1", "email": "buyer@example.com", "refund_id": "r-1", "amount": eurAmount(400), "refunded": eurAmount(400), "reason": "", "at_provider": false})
		addEvent(t, db, "order.cancelled", "o-2", map[string]any{"order_id": "o-2", "number": "M-o-2", "email": "buyer@example.com", "reason": "x"})
		drainOutbox(t, api.app)
		if after := time.Now().UTC(); after.Format(time.DateOnly) != before.Format(time.DateOnly) {
			t.Skip("ran across midnight UTC")
		}

		type amount struct {
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
		}
		var report struct {
			Currency string `json:"currency"`
			Days     []struct {
				Date          string `json:"date"`
				Orders        int64  `json:"orders"`
				Revenue       amount `json:"revenue"`
				Refunds       amount `json:"refunds"`
				Cancellations int64  `json:"cancellations"`
			} `json:"days"`
		}
		api.do("GET", "/api/v1/admin/analytics/sales?days=7", nil, staff).wantStatus(http.StatusOK).decode(&report)
		if len(report.Days) != 7 || report.Currency != "EUR" {
			t.Fatalf("report: %+v", report)
		}
		today, threeAgo := report.Days[6], report.Days[3]
		if today.Date != before.Format(time.DateOnly) || today.Orders != 2 || today.Revenue != (amount{3500, "EUR"}) ||
			today.Refunds != (amount{400, "EUR"}) || today.Cancellations != 1 {
			t.Errorf("today: %+v", today)
		}
		if threeAgo.Date != before.AddDate(0, 0, -3).Format(time.DateOnly) || threeAgo.Orders != 1 || threeAgo.Revenue.Amount != 999 {
			t.Errorf("three days ago: %+v", threeAgo)
		}
		for _, d := range []int{0, 1, 2, 4, 5} {
			if got := report.Days[d]; got.Orders != 0 || got.Revenue != (amount{0, "EUR"}) || got.Cancellations != 0 {
				t.Errorf("day %d should be zero: %+v", d, got)
			}
		}
		api.do("GET", "/api/v1/admin/analytics/sales", nil, staff).wantStatus(http.StatusOK).decode(&report)
		if len(report.Days) != 30 {
			t.Errorf("default report has %d days, want 30", len(report.Days))
		}
		api.do("GET", "/api/v1/admin/analytics/sales?days=366&currency=USD", nil, staff).wantStatus(http.StatusOK).decode(&report)
		if len(report.Days) != 366 || report.Currency != "USD" || report.Days[365].Orders != 0 {
			t.Errorf("USD year: %d days, %s", len(report.Days), report.Currency)
		}
		for _, q := range []struct{ query, field string }{
			{"days=0", "days"}, {"days=367", "days"}, {"days=-1", "days"}, {"days=seven", "days"}, {"currency=eur", "currency"}, {"currency=EURO", "currency"},
		} {
			api.do("GET", "/api/v1/admin/analytics/sales?"+q.query, nil, staff).wantProblem(http.StatusBadRequest, q.field)
		}

		sum, err := api.app.Analytics.Summary(context.Background(), before)
		if err != nil || sum.Orders != 2 || sum.Revenue.Amount != 3500 {
			t.Errorf("Summary: %+v, %v", sum, err)
		}
	})
}

// TestRequestsWakeTheRelay: an event written while serving a request is
// published after commit without waiting for the relay's poll (an hour here).
func TestRequestsWakeTheRelay(t *testing.T) {
	db := sqldbtest.SQLite(t, Migrations()...)
	a, err := Wire(Config{Currency: "EUR", ShopName: "Test"}, slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), db)
	if err != nil {
		t.Fatal(err)
	}
	a.Relay = outbox.NewRelay(db, a.Bus, a.Log, time.Hour)
	stop := a.Start(context.Background())
	defer stop()

	h := a.withRelayNotifier(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		err := db.InTx(ctx, func(tx *sqldb.Tx) error {
			return outbox.Add(ctx, tx, "customer.registered", "c-1", map[string]any{"customer_id": "c-1", "email": "woken@example.com", "name": "W"})
		})
		if err != nil {
			t.Error(err)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/anything", nil))

	deadline := time.Now().Add(10 * time.Second) // against hanging, not a timing goal
	for {
		page, err := a.Notify.ListEmails(context.Background(), notify.PageQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 1 && page.Items[0].To == "woken@example.com" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the event was not published after the request committed it (the relay polls hourly here)")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lockedBuffer is a log destination for background goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEveryRunsJobsUntilStopped: a job runs when Start is called; errors
// and panics are logged and do not stop it or its neighbours; stop waits
// for every job to return.
func TestEveryRunsJobsUntilStopped(t *testing.T) {
	db := sqldbtest.SQLite(t, Migrations()...)
	logs := &lockedBuffer{}
	a, err := Wire(Config{Currency: "EUR"}, slog.New(slog.NewTextHandler(logs, nil)), db)
	if err != nil {
		t.Fatal(err)
	}

	ran := make(chan string, 10)
	var running sync.WaitGroup
	a.Every(time.Hour, "ok", func(ctx context.Context) error {
		running.Add(1)
		defer running.Done()
		ran <- "ok"
		<-ctx.Done() // a long run: stop must wait for it
		return ctx.Err()
	})
	a.Every(time.Hour, "failing", func(context.Context) error { ran <- "failing"; return errors.New("reservations table locked") })
	a.Every(time.Hour, "panicking", func(context.Context) error { ran <- "panicking"; panic("bug") })

	stop := a.Start(context.Background())
	got := map[string]bool{}
	timeout := time.After(10 * time.Second) // against hanging, not a timing goal
	for len(got) < 3 {
		select {
		case name := <-ran:
			got[name] = true
		case <-timeout:
			t.Fatalf("jobs that ran: %v", got)
		}
	}
	stop()
	running.Wait() // returns at once: stop waited for the "ok" job
	out := logs.String()
	for _, want := range []string{`msg="job failed" job=failing err="reservations table locked"`, `msg="job panicked" job=panicking panic=bug`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "job=ok") {
		t.Errorf("a job cancelled by stop was logged as failing:\n%s", out)
	}
}

// BenchmarkRelayToConsumers measures events per second from the outbox
// through the relay to both consumers (notify renders and stores an e-mail,
// analytics upserts the day's counters): each op is one order.placed.
func BenchmarkRelayToConsumers(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var db *sqldb.DB
			if backend == "sqlite" {
				db = sqldbtest.SQLite(b, Migrations()...)
			} else {
				db = sqldbtest.Postgres(b, Migrations()...)
			}
			a, err := Wire(Config{Currency: "EUR", ShopName: "Bench"}, slog.New(slog.NewTextHandler(tlogWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn})), db)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			at := time.Now()
			for i := 0; i < b.N; {
				n := min(100, b.N-i)
				if err := db.InTx(ctx, func(tx *sqldb.Tx) error {
					for j := range n {
						id := fmt.Sprintf("o-%d", i+j)
						if err := outbox.Add(ctx, tx, "order.placed", id, orderPlacedPayload(id, 1999, at)); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				i += n
			}
			b.ResetTimer()
			for {
				n, err := a.Relay.Flush(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			b.StopTimer()
			if s, err := a.Analytics.Summary(ctx, at); err != nil || s.Orders != int64(b.N) {
				b.Fatalf("counted %d orders of %d (%v)", s.Orders, b.N, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// metricValue returns the value of an unlabelled metric in a Prometheus
// text exposition.
func metricValue(t *testing.T, body []byte, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the metrics:\n%s", name, body)
	return 0
}
