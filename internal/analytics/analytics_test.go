package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/analytics"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{outbox.Migrations(), analytics.Migrations()}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type event struct {
	topic, agg string
	payload    any
}

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

func cash(amount int64, cur string) map[string]any {
	return map[string]any{"amount": amount, "currency": cur}
}

func placed(id string, total int64, cur string, at time.Time) event {
	return event{"order.placed", id, map[string]any{
		"order_id": id, "number": "M-" + id, "email": "a@example.com", "customer_id": "", "currency": cur,
		"items":            []map[string]any{{"sku": "S", "title": "T", "quantity": 1, "unit_price": cash(total, cur), "line_total": cash(total, cur)}},
		"totals":           map[string]any{"subtotal": cash(total, cur), "discount": cash(0, cur), "shipping": cash(0, cur), "tax": cash(0, cur), "total": cash(total, cur)},
		"shipping_address": map[string]any{"name": "A", "line1": "L", "line2": "", "city": "C", "postal_code": "P", "country": "DE"},
		"shipping_method":  "standard",
		"created_at":       at.UTC().Format(time.RFC3339),
	}}
}

func refunded(orderID string, amount int64, cur string) event {
	return event{"order.refunded", orderID, map[string]any{
		"order_id": orderID, "number": "M-" + orderID, "email": "a@example.com", "refund_id": ids.New(), "amount": cash(amount, cur),
		"refunded": cash(amount, cur), "reason": "", "at_provider": false}}
}

func cancelled(orderID string) event {
	return event{"order.cancelled", orderID, map[string]any{"order_id": orderID, "number": "M-" + orderID, "email": "a@example.com", "reason": "changed mind"}}
}

// process is one running instance: the service on a bus fed by a relay;
// probe keeps every delivered event.
type process struct {
	svc   *analytics.Service
	bus   *outbox.LocalBus
	relay *outbox.Relay
	mu    sync.Mutex
	seen  []outbox.Event
}

func newProcess(db *sqldb.DB, extra ...func(*outbox.LocalBus, *analytics.Service)) *process {
	p := &process{svc: analytics.NewService(db, "EUR", discard()), bus: outbox.NewLocalBus()}
	p.bus.Subscribe("probe", []string{"*"}, func(_ context.Context, e outbox.Event) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.seen = append(p.seen, e)
		return nil
	})
	if len(extra) == 0 {
		p.svc.Subscribe(p.bus)
	}
	for _, f := range extra {
		f(p.bus, p.svc)
	}
	p.relay = outbox.NewRelay(db, p.bus, discard(), time.Hour)
	return p
}

func (p *process) drain(t *testing.T, db *sqldb.DB) {
	t.Helper()
	for range 50 {
		if _, err := p.relay.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n, _ := outbox.Pending(context.Background(), db); n == 0 {
			return
		}
	}
	t.Fatal("events still pending after 50 flushes")
}

func (p *process) events() []outbox.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]outbox.Event(nil), p.seen...)
}

func day(t *testing.T, svc *analytics.Service, at time.Time, cur string) analytics.Day {
	t.Helper()
	s, err := svc.Sales(context.Background(), analytics.SalesQuery{Days: 1, Until: at, Currency: cur})
	if err != nil {
		t.Fatal(err)
	}
	return s.Days[0]
}

// today is the UTC day events written now are counted on; a test that
// straddles midnight is skipped rather than guessed at.
func today(t *testing.T, during func()) time.Time {
	t.Helper()
	before := time.Now().UTC()
	during()
	after := time.Now().UTC()
	if before.Format(time.DateOnly) != after.Format(time.DateOnly) {
		t.Skip("ran across midnight UTC")
	}
	return after
}

// TestEachEventCountsOnce feeds events through the relay with failures on
// the way (analytics failing before it ran, a neighbour failing after it
// ran, a restart with events pending) and redelivers every event by hand:
// each still counts exactly once.
func TestEachEventCountsOnce(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		placedAt := time.Date(2025, 6, 15, 23, 59, 0, 0, time.UTC)
		var mu sync.Mutex
		failed := map[string]bool{}
		first := func(key string) bool {
			mu.Lock()
			defer mu.Unlock()
			defer func() { failed[key] = true }()
			return !failed[key]
		}
		p1 := newProcess(db, func(bus *outbox.LocalBus, svc *analytics.Service) {
			bus.Subscribe(analytics.Consumer, analytics.Topics(), func(ctx context.Context, e outbox.Event) error {
				if e.AggregateID == "o2" && first("analytics") {
					return errors.New("transient")
				}
				return svc.Handle(ctx, e)
			})
			bus.Subscribe("neighbour", []string{"*"}, func(_ context.Context, e outbox.Event) error {
				if e.AggregateID == "o3" && first("neighbour") {
					return errors.New("neighbour down")
				}
				return nil
			})
		})
		var now time.Time
		now = today(t, func() {
			emit(t, db, placed("o1", 1000, "EUR", placedAt), placed("o2", 2500, "EUR", placedAt), placed("o3", 700, "USD", placedAt))
			p1.drain(t, db)

			// A stuck neighbour holds back the refund (its order's events
			// only: the three cancellations go on), then the process stops...
			emit(t, db, cancelled("o1"), refunded("o2", 500, "EUR"), cancelled("o3"), cancelled("unknown"))
			p2 := newProcess(db, func(bus *outbox.LocalBus, svc *analytics.Service) {
				svc.Subscribe(bus)
				bus.Subscribe("stuck", []string{"order.refunded"}, func(context.Context, outbox.Event) error { return errors.New("stuck") })
			})
			if n, err := p2.relay.Flush(ctx); err != nil || n != 3 {
				t.Fatalf("flush before restart: %d, %v; want 3", n, err)
			}
			// ... and delivered by the next process.
			p3 := newProcess(db)
			p3.drain(t, db)
			for _, e := range append(append(p1.events(), p2.events()...), p3.events()...) {
				for range 2 {
					if err := p3.bus.Publish(ctx, e); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
		svc := analytics.NewService(db, "EUR", discard())
		for _, tc := range []struct {
			name string
			at   time.Time
			cur  string
			want analytics.Day
		}{
			{"EUR orders", placedAt, "EUR", analytics.Day{Date: "2025-06-15", Orders: 2, Revenue: money.Money{Amount: 3500, Currency: "EUR"}, Refunds: money.Zero("EUR")}},
			{"USD orders", placedAt, "USD", analytics.Day{Date: "2025-06-15", Orders: 1, Revenue: money.Money{Amount: 700, Currency: "USD"}, Refunds: money.Zero("USD")}},
			// o1 (EUR) and the order analytics never saw (the shop's EUR) are cancelled today; o3 in USD.
			{"EUR today", now, "EUR", analytics.Day{Date: now.Format(time.DateOnly), Refunds: money.Money{Amount: 500, Currency: "EUR"}, Revenue: money.Zero("EUR"), Cancellations: 2}},
			{"USD today", now, "USD", analytics.Day{Date: now.Format(time.DateOnly), Revenue: money.Zero("USD"), Refunds: money.Zero("USD"), Cancellations: 1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := day(t, svc, tc.at, tc.cur); got != tc.want {
					t.Errorf("got %+v, want %+v", got, tc.want)
				}
			})
		}
	})
}

// TestConcurrentIncrementsAreNotLost: many events for the same day handled
// at once (as several instances' relays would) all count.
func TestConcurrentIncrementsAreNotLost(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := analytics.NewService(db, "EUR", discard())
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					id := fmt.Sprintf("o-%d-%d", w, i)
					body, _ := json.Marshal(placed(id, 100, "EUR", at).payload)
					e := outbox.Event{ID: ids.New(), Topic: "order.placed", AggregateID: id, Payload: body, CreatedAt: at}
					if err := svc.Handle(ctx, e); err != nil {
						errs <- err
					}
					if err := svc.Handle(ctx, e); err != nil { // a duplicate delivery, racing the others
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got := day(t, svc, at, "EUR")
		if got.Orders != workers*each || got.Revenue.Amount != workers*each*100 {
			t.Fatalf("got %+v, want %d orders and %d revenue", got, workers*each, workers*each*100)
		}
	})
}

// TestConcurrentBatchesCountEveryOrderOnce: the relay's workers hand
// analytics batches side by side; batches that touch two days' rows in
// opposite orders may deadlock each other on PostgreSQL, and then the bus
// hands the events over one at a time. Every order still counts once.
func TestConcurrentBatchesCountEveryOrderOnce(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := analytics.NewService(db, "EUR", discard())
		bus := outbox.NewLocalBus()
		svc.Subscribe(bus)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		const workers, each = 6, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				var evs []outbox.Event
				for i := range each {
					id := fmt.Sprintf("o-%d-%d", w, i)
					cur := []string{"EUR", "USD"}[(i+w)%2] // half the workers start with each row
					body, _ := json.Marshal(placed(id, 100, cur, at).payload)
					evs = append(evs, outbox.Event{ID: ids.New(), Topic: "order.placed", AggregateID: id, Payload: body, CreatedAt: at})
				}
				for range 2 { // and every batch delivered twice
					for _, err := range bus.PublishBatch(ctx, evs) {
						if err != nil {
							errs <- err
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for _, cur := range []string{"EUR", "USD"} {
			if got := day(t, svc, at, cur); got.Orders != workers*each/2 || got.Revenue.Amount != workers*each/2*100 {
				t.Fatalf("%s: got %+v, want %d orders", cur, got, workers*each/2)
			}
		}
	})
}

func TestMalformedEventsAreDropped(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		at := time.Date(2026, 5, 5, 10, 0, 0, 0, time.UTC)
		p := newProcess(db)
		emit(t, db,
			event{"order.placed", "x", map[string]any{"order_id": "x", "totals": map[string]any{"total": cash(100, "eur")}, "created_at": at}},
			event{"order.placed", "y", map[string]any{"order_id": "y", "currency": "USD", "totals": map[string]any{"total": cash(100, "EUR")}, "created_at": at}},
			event{"order.placed", "z", map[string]any{"order_id": "", "totals": map[string]any{"total": cash(100, "EUR")}, "created_at": at}},
			event{"order.placed", "w", map[string]any{"order_id": "w", "totals": "lots", "created_at": at}},
			event{"order.refunded", "x", map[string]any{"order_id": "x", "amount": cash(-5, "EUR")}},
			placed("ok", 900, "EUR", at),
		)
		p.drain(t, db)
		if got := day(t, p.svc, at, "EUR"); got.Orders != 1 || got.Revenue.Amount != 900 {
			t.Fatalf("got %+v, want only the valid order", got)
		}
	})
}

func TestSalesReport(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		p := newProcess(db)
		until := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) // 2026 is not a leap year: Feb has 28 days
		emit(t, db,
			placed("a", 100, "EUR", time.Date(2026, 2, 26, 0, 0, 0, 0, time.UTC)), // 5 days back: outside a 5-day report
			placed("b", 200, "EUR", time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC)),
			placed("c", 300, "EUR", time.Date(2026, 3, 2, 23, 59, 59, 0, time.UTC)),
			placed("d", 400, "EUR", time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)), // after until
			placed("e", 500, "CHF", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)),
		)
		p.drain(t, db)
		s, err := p.svc.Sales(ctx, analytics.SalesQuery{Days: 5, Until: until})
		if err != nil {
			t.Fatal(err)
		}
		var dates []string
		var orders []int64
		for _, d := range s.Days {
			dates = append(dates, d.Date)
			orders = append(orders, d.Orders)
			if d.Revenue.Currency != "EUR" || d.Refunds.Currency != "EUR" {
				t.Errorf("%s: currencies %+v", d.Date, d)
			}
		}
		if fmt.Sprint(dates) != "[2026-02-26 2026-02-27 2026-02-28 2026-03-01 2026-03-02]" || fmt.Sprint(orders) != "[1 1 0 0 1]" || s.Currency != "EUR" {
			t.Fatalf("report: %v %v %s", dates, orders, s.Currency)
		}
		chf, err := p.svc.Sales(ctx, analytics.SalesQuery{Days: 2, Until: until, Currency: "CHF"})
		if err != nil || chf.Days[0].Revenue != (money.Money{Amount: 500, Currency: "CHF"}) {
			t.Fatalf("CHF report: %+v, %v", chf, err)
		}
		def, err := p.svc.Sales(ctx, analytics.SalesQuery{})
		if err != nil || len(def.Days) != 30 || def.Days[29].Date != time.Now().UTC().Format(time.DateOnly) && def.Days[29].Date != time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly) {
			t.Fatalf("default report: %d days ending %v, %v", len(def.Days), def.Days, err)
		}
		year, err := p.svc.Sales(ctx, analytics.SalesQuery{Days: analytics.MaxDays, Until: until})
		if err != nil || len(year.Days) != analytics.MaxDays || year.Days[0].Date != "2025-03-02" {
			t.Fatalf("366-day report: %d days from %v, %v", len(year.Days), year.Days[0].Date, err)
		}
		sum, err := p.svc.Summary(ctx, time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
		if err != nil || sum.Orders != 1 || sum.Revenue != (money.Money{Amount: 300, Currency: "EUR"}) || sum.Date != "2026-03-02" {
			t.Fatalf("summary: %+v, %v", sum, err)
		}
		for _, bad := range []struct {
			q     analytics.SalesQuery
			field string
		}{
			{analytics.SalesQuery{Days: -1}, "days"},
			{analytics.SalesQuery{Days: analytics.MaxDays + 1}, "days"},
			{analytics.SalesQuery{Currency: "euro"}, "currency"},
		} {
			_, err := p.svc.Sales(ctx, bad.q)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Fields[0].Field != bad.field {
				t.Errorf("Sales(%+v) = %v, want invalid %s", bad.q, err, bad.field)
			}
		}
	})
}
