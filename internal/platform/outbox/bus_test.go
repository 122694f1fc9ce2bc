package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestOnceEachIsAllOrNothing: the events of a batch are recorded as
// processed with all of fn's effects or not at all, and a repeat runs fn
// only for the ones not processed yet.
func TestOnceEachIsAllOrNothing(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		evs := []outbox.Event{{ID: "e1"}, {ID: "e2"}, {ID: "e3"}}
		var ran []string
		fail := errors.New("third fails")
		n, err := outbox.OnceEach(ctx, db, "c", evs, func(_ *sqldb.Tx, e outbox.Event) error {
			if e.ID == "e3" {
				return fail
			}
			ran = append(ran, e.ID)
			return nil
		})
		if !errors.Is(err, fail) || n != 0 {
			t.Fatalf("failing batch: %d, %v; want 0 and its error", n, err)
		}
		if _, err := outbox.Once(ctx, db, "c", evs[1], func(*sqldb.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
		ran = nil
		if n, err := outbox.OnceEach(ctx, db, "c", evs, func(_ *sqldb.Tx, e outbox.Event) error { ran = append(ran, e.ID); return nil }); err != nil || n != 2 {
			t.Fatalf("retry: %d, %v; want 2 (e2 processed alone meanwhile)", n, err)
		}
		if fmt.Sprint(ran) != "[e1 e3]" {
			t.Fatalf("retry ran %v, want [e1 e3]", ran)
		}
		if n, err := outbox.OnceEach(ctx, db, "c", evs, func(*sqldb.Tx, outbox.Event) error { return nil }); err != nil || n != 0 {
			t.Fatalf("repeat: %d, %v; want 0", n, err)
		}
	})
}

// batchRecorder is a batch consumer that applies events with OnceEach and
// remembers each call's events and what it applied.
type batchRecorder struct {
	db      *sqldb.DB
	failX1  bool
	calls   []string // one entry per call: the events it got
	applied []string
}

func (c *batchRecorder) handle(ctx context.Context, evs []outbox.Event) error {
	var names []string
	for _, e := range evs {
		var p payload
		if err := e.Decode(&p); err != nil {
			return err
		}
		names = append(names, fmt.Sprintf("%s/%d", e.AggregateID, p.N))
	}
	c.calls = append(c.calls, strings.Join(names, " "))
	var applied []string
	_, err := outbox.OnceEach(ctx, c.db, "batch", evs, func(_ *sqldb.Tx, e outbox.Event) error {
		var p payload
		_ = e.Decode(&p)
		if c.failX1 && e.AggregateID == "x" && p.N == 1 {
			return errors.New("x/1 fails")
		}
		applied = append(applied, fmt.Sprintf("%s/%d", e.AggregateID, p.N))
		return nil
	})
	if err == nil {
		c.applied = append(c.applied, applied...)
	}
	return err
}

// TestBatchSubscriberTakesTheRoundTogether: a batch subscriber gets its
// topics' events of a relay round in one call, in order.
func TestBatchSubscriberTakesTheRoundTogether(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		for i := 1; i <= 3; i++ {
			add(t, ctx, db, "x", i)
			if err := db.InTx(ctx, func(tx *sqldb.Tx) error { return outbox.Add(ctx, tx, "other.topic", "y", payload{i}) }); err != nil {
				t.Fatal(err)
			}
		}
		c := &batchRecorder{db: db}
		bus := outbox.NewLocalBus()
		bus.SubscribeBatch("batch", []string{"thing.happened"}, c.handle)
		if n := flushAll(t, ctx, outbox.NewRelay(db, bus, quietLog(), time.Hour)); n != 6 {
			t.Fatalf("published %d, want 6", n)
		}
		if fmt.Sprint(c.calls) != "[x/1 x/2 x/3]" {
			t.Fatalf("calls %q, want one with x/1 x/2 x/3", c.calls)
		}
	})
}

// TestBatchSubscriberFailureFallsBackToOneAtATime: when a batch fails, the
// bus hands the subscriber its events one at a time; the one that fails
// again is retried later, its aggregate's later events held back (never
// handed over before it), the others are processed now.
func TestBatchSubscriberFailureFallsBackToOneAtATime(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		add(t, ctx, db, "x", 1)
		add(t, ctx, db, "y", 1)
		add(t, ctx, db, "x", 2)
		add(t, ctx, db, "y", 2)
		c := &batchRecorder{db: db, failX1: true}
		bus := outbox.NewLocalBus()
		bus.SubscribeBatch("batch", []string{"*"}, c.handle)
		relay := outbox.NewRelay(db, bus, quietLog(), time.Hour)
		if n, err := relay.Flush(ctx); err != nil || n != 2 {
			t.Fatalf("round with x/1 failing published %d, %v; want 2", n, err)
		}
		if got := fmt.Sprintf("%q", c.calls); got != `["x/1 y/1 x/2 y/2" "x/1" "y/1" "y/2"]` {
			t.Fatalf("calls %s: want the batch, then x/1, y/1, y/2 alone (x/2 held back)", got)
		}
		c.failX1, c.calls = false, nil
		if n := flushAll(t, ctx, relay); n != 2 {
			t.Fatalf("after recovery published %d, want 2", n)
		}
		if got := fmt.Sprintf("%q", c.calls); got != `["x/1 x/2"]` {
			t.Fatalf("calls after recovery %s, want x/1 x/2 together", got)
		}
		if fmt.Sprint(c.applied) != "[y/1 y/2 x/1 x/2]" {
			t.Fatalf("applied %v, want y/1 y/2 x/1 x/2", c.applied)
		}
	})
}
