package outbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{outbox.Migrations()}

type payload struct{ N int }

func addEvents(t *testing.T, db *sqldb.DB, n int, fail bool) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *sqldb.Tx) error {
		for i := range n {
			if err := outbox.Add(ctx, tx, "thing.happened", "agg", payload{i}); err != nil {
				return err
			}
		}
		if fail {
			return errors.New("roll back")
		}
		return nil
	})
	if (err != nil) != fail {
		t.Fatalf("tx: %v", err)
	}
}

func TestRelayDeliversCommittedEventsOnceInOrder(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		addEvents(t, db, 3, false)
		addEvents(t, db, 2, true) // rolled back: must never be delivered

		// A consumer that fails the first time it sees N == 1.
		var (
			mu       sync.Mutex
			seen     []int
			applied  []int
			failOnce = true
		)
		bus := outbox.NewLocalBus()
		bus.Subscribe("counter", []string{"thing.happened"}, func(ctx context.Context, e outbox.Event) error {
			var p payload
			if err := e.Decode(&p); err != nil {
				return err
			}
			mu.Lock()
			seen = append(seen, p.N)
			mu.Unlock()
			_, err := outbox.Once(ctx, db, "counter", e, func(tx *sqldb.Tx) error {
				mu.Lock()
				defer mu.Unlock()
				if p.N == 1 && failOnce {
					failOnce = false
					return errors.New("transient")
				}
				applied = append(applied, p.N)
				return nil
			})
			return err
		})

		// The first relay stops at the failure; events stay pending across a "restart".
		if n, err := outbox.NewRelay(db, bus, log, time.Hour).Flush(ctx); err != nil || n != 1 {
			t.Fatalf("first flush published %d, %v; want 1", n, err)
		}
		if p, _ := outbox.Pending(ctx, db); p != 2 {
			t.Fatalf("pending = %d, want 2", p)
		}
		relay := outbox.NewRelay(db, bus, log, time.Hour) // a new process
		if n, err := relay.Flush(ctx); err != nil || n != 2 {
			t.Fatalf("second flush published %d, %v; want 2", n, err)
		}
		if n, _ := relay.Flush(ctx); n != 0 {
			t.Fatalf("third flush published %d, want 0", n)
		}
		if len(applied) != 3 || applied[0] != 0 || applied[1] != 1 || applied[2] != 2 {
			t.Fatalf("applied %v, want [0 1 2]", applied)
		}
		if len(seen) != 4 { // 0, 1 (fails), 1, 2
			t.Fatalf("deliveries %v, want 4", seen)
		}

		// A redelivered event is a no-op for a consumer that processed it.
		ev := outbox.Event{ID: "fixed-id"}
		calls := 0
		for range 3 {
			if _, err := outbox.Once(ctx, db, "c2", ev, func(*sqldb.Tx) error { calls++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if calls != 1 {
			t.Fatalf("Once ran %d times", calls)
		}
	})
}

func TestRunPublishesPromptlyOnNotify(t *testing.T) {
	db := sqldbtest.SQLite(t, migrations...)
	bus := outbox.NewLocalBus()
	got := make(chan outbox.Event, 10)
	bus.Subscribe("probe", []string{"*"}, func(ctx context.Context, e outbox.Event) error { got <- e; return nil })
	relay := outbox.NewRelay(db, bus, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go relay.Run(ctx)
	nctx := outbox.WithNotifier(ctx, relay.Notify)
	if err := db.InTx(nctx, func(tx *sqldb.Tx) error { return outbox.Add(nctx, tx, "x", "a", payload{7}) }); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.Topic != "x" {
			t.Fatalf("got %+v", e)
		}
	case <-time.After(10 * time.Second): // a generous deadline against hanging, not a timing goal
		t.Fatal("event not delivered after commit + notify (poll interval is an hour)")
	}
}
