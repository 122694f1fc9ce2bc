package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestLagReflectsTheBacklog: events written while no relay runs show as
// pending, with the age of the oldest; each round takes its batch off;
// nothing waits once the relay has caught up.
func TestLagReflectsTheBacklog(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if lag, err := outbox.MeasureLag(ctx, db); err != nil || lag != (outbox.Lag{}) {
			t.Fatalf("empty outbox: lag %+v, %v; want none", lag, err)
		}
		before := time.Now().UTC().Add(-time.Second)
		for i := range 10 {
			add(t, ctx, db, fmt.Sprintf("a%d", i%3), i+1)
		}
		lag, err := outbox.MeasureLag(ctx, db)
		if err != nil || lag.Pending != 10 || lag.Oldest.Before(before) || lag.Oldest.After(time.Now()) {
			t.Fatalf("10 events written, relay stopped: lag %+v, %v; want 10 pending, the oldest written since %v", lag, err, before)
		}
		_, bus := newRecorder(db)
		relay := outbox.NewRelay(db, bus, quietLog(), time.Hour)
		outbox.SetBatch(relay, 4)
		if n, err := relay.Flush(ctx); err != nil || n != 4 {
			t.Fatalf("one round published %d, %v; want 4", n, err)
		}
		if next, err := outbox.MeasureLag(ctx, db); err != nil || next.Pending != 6 || !next.Oldest.After(lag.Oldest) {
			t.Fatalf("after a round of 4: lag %+v, %v; want 6 pending, the oldest later than %v", next, err, lag.Oldest)
		}
		flushAll(t, ctx, relay)
		if lag, err := outbox.MeasureLag(ctx, db); err != nil || lag != (outbox.Lag{}) {
			t.Fatalf("relay caught up: lag %+v, %v; want none", lag, err)
		}
	})
}

// TestFailureHoldsBackOnlyItsAggregate: a delivery that fails holds back the
// later events of its aggregate (order), not the other aggregates' events
// of the round; the failed one keeps its error and goes again, first. A
// consumer that did not fail is not held back (it ignores the repeats).
func TestFailureHoldsBackOnlyItsAggregate(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c, bus := newRecorder(db)
		failX := true
		var flaky []string // what the failing consumer processed
		bus.Subscribe("flaky", []string{"*"}, func(_ context.Context, e outbox.Event) error {
			if e.AggregateID == "x" && failX {
				return errors.New("x is down")
			}
			var p payload
			if err := e.Decode(&p); err != nil {
				return err
			}
			flaky = append(flaky, fmt.Sprintf("%s/%d", e.AggregateID, p.N))
			return nil
		})
		add(t, ctx, db, "x", 1)
		add(t, ctx, db, "y", 1)
		add(t, ctx, db, "x", 2)
		add(t, ctx, db, "y", 2)
		relay := outbox.NewRelay(db, bus, quietLog(), time.Hour)
		if n, err := relay.Flush(ctx); err != nil || n != 2 {
			t.Fatalf("round with x failing published %d, %v; want y's 2", n, err)
		}
		if got := fmt.Sprint(flaky); got != "[y/1 y/2]" {
			t.Fatalf("the failing consumer processed %s in the round where x/1 failed; want y/1, y/2 and not x/2", got)
		}
		var attempts int
		var lastErr string
		if err := db.QueryRowContext(ctx, `SELECT attempts, last_error FROM outbox_events WHERE aggregate_id = 'x' ORDER BY seq LIMIT 1`).Scan(&attempts, &lastErr); err != nil {
			t.Fatal(err)
		}
		if attempts != 1 || lastErr == "" {
			t.Fatalf("failed event: attempts %d, last_error %q; want 1 and the error", attempts, lastErr)
		}
		failX = false
		if n := flushAll(t, ctx, relay); n != 2 {
			t.Fatalf("after x recovered published %d, want 2", n)
		}
		if got := fmt.Sprint(flaky); got != "[y/1 y/2 x/1 x/2]" {
			t.Fatalf("the failing consumer processed %s; want x/1, x/2 after its recovery", got)
		}
		checkOrder(t, c.steps(), 4)
	})
}

// TestStoppingReleasesTheRestOfTheRound: when the relay stops in the middle
// of a round, what it published is marked, and what it did not try is free
// for the next relay at once, not counted as a failed delivery.
func TestStoppingReleasesTheRestOfTheRound(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		for i := range 5 {
			add(t, ctx, db, fmt.Sprintf("a%d", i), 1)
		}
		bus := outbox.NewLocalBus()
		delivered := 0
		bus.Subscribe("stopper", []string{"*"}, func(ctx context.Context, e outbox.Event) error {
			delivered++
			if delivered == 2 {
				stop() // the process is shutting down while this consumer runs
				return ctx.Err()
			}
			return nil
		})
		if n, err := outbox.NewRelay(db, bus, quietLog(), time.Hour).Flush(ctx); err != nil || n != 1 {
			t.Fatalf("stopped round published %d, %v; want 1", n, err)
		}
		var failed int
		if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox_events WHERE attempts > 0 AND published_at IS NULL`).Scan(&failed); err != nil || failed != 0 {
			t.Fatalf("%d unpublished events counted as failed deliveries (%v)", failed, err)
		}
		c, bus2 := newRecorder(db)
		if n := flushAll(t, context.Background(), outbox.NewRelay(db, bus2, quietLog(), time.Hour)); n != 4 {
			t.Fatalf("the next relay published %d at once, want the 4 left (none leased)", n)
		}
		checkOrder(t, c.steps(), 4)
	})
}

// TestWorkersPublishSideBySide: under a backlog Run publishes with several
// workers at once (a consumer transaction per event would otherwise bound
// the relay to one at a time), and each aggregate's events still arrive in
// order, exactly once.
func TestWorkersPublishSideBySide(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const aggregates, each = 20, 10
		for i := 1; i <= each; i++ {
			for a := range aggregates {
				add(t, ctx, db, fmt.Sprintf("a%d", a), i)
			}
		}
		c, bus := newRecorder(db)
		// The first delivery waits until another one runs beside it.
		var (
			mu       sync.Mutex
			inFlight int
			together = make(chan struct{})
			once     sync.Once
		)
		first := true
		bus.Subscribe("meter", []string{"*"}, func(context.Context, outbox.Event) error {
			mu.Lock()
			inFlight++
			if inFlight >= 2 {
				once.Do(func() { close(together) })
			}
			wait := first
			first = false
			mu.Unlock()
			if wait {
				select {
				case <-together:
				case <-time.After(30 * time.Second): // a deadline against hanging, not a timing goal
				}
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
			return nil
		})
		relay := outbox.NewRelay(db, bus, quietLog(), 10*time.Millisecond)
		outbox.SetBatch(relay, 7)
		outbox.SetWorkers(relay, 4)
		running := make(chan struct{})
		go func() { defer close(running); relay.Run(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for len(c.steps()) < aggregates*each && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-running
		select {
		case <-together:
		default:
			t.Fatal("no two deliveries ran at the same time: the workers did not publish side by side")
		}
		checkOrder(t, c.steps(), aggregates*each)
		if p, _ := outbox.Pending(context.Background(), db); p != 0 {
			t.Fatalf("pending = %d", p)
		}
	})
}

// TestConcurrentRoundsHoldBackEventsOvertakenByAnOpenTransaction: the rounds
// of several workers of one relay share its horizon; none of them delivers
// an event numbered after one that is still being committed, and afterwards
// each aggregate's events arrive in order (PostgreSQL: SQLite's one writer
// makes number order commit order).
func TestConcurrentRoundsHoldBackEventsOvertakenByAnOpenTransaction(t *testing.T) {
	db := sqldbtest.Postgres(t, migrations...)
	ctx := context.Background()
	c, bus := newRecorder(db)
	relay := outbox.NewRelay(db, bus, quietLog(), time.Hour)
	outbox.SetSettleWait(relay, 200*time.Millisecond)
	outbox.SetBatch(relay, 2)

	add(t, ctx, db, "x", 1)
	release := held(t, db, "x", 2) // numbered, not committed
	for i := 3; i <= 6; i++ {
		add(t, ctx, db, "x", i)
		add(t, ctx, db, fmt.Sprintf("y%d", i), 1)
	}
	rounds := func() int {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int
		)
		for range 4 {
			wg.Go(func() {
				n := flushAll(t, ctx, relay)
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		return total
	}
	// The horizon moves by the sequence's last number: x/1 waits too.
	if n := rounds(); n != 0 {
		t.Fatalf("with x/2 open, four workers published %d: %+v", n, c.steps())
	}
	if err := release(true); err != nil {
		t.Fatal(err)
	}
	if n := rounds(); n != 10 {
		t.Fatalf("after the commit the workers published %d, want 10", n)
	}
	got := c.steps()
	checkOrder(t, got, 10)
	var xs []int
	for _, s := range got {
		if s.Aggregate == "x" {
			xs = append(xs, s.N)
		}
	}
	if fmt.Sprint(xs) != "[1 2 3 4 5 6]" {
		t.Fatalf("x applied in the order %v", xs)
	}
}
