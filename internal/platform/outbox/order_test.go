package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// step is an event as a consumer applied it, in Once.
type step struct {
	Seq       int64
	Aggregate string
	N         int
}

// recorder is a consumer that applies each event once (outbox.Once) and
// remembers the order in which it applied them (once applied for good).
type recorder struct {
	db         *sqldb.DB
	mu         sync.Mutex
	applied    []step
	deliveries int
}

func (c *recorder) handle(ctx context.Context, e outbox.Event) error {
	var p payload
	if err := e.Decode(&p); err != nil {
		return err
	}
	c.mu.Lock()
	c.deliveries++
	c.mu.Unlock()
	ran, err := outbox.Once(ctx, c.db, "recorder", e, func(*sqldb.Tx) error { return nil })
	if ran && err == nil { // committed: remembered before the relay marks it published
		c.mu.Lock()
		c.applied = append(c.applied, step{e.Seq, e.AggregateID, p.N})
		c.mu.Unlock()
	}
	return err
}

func (c *recorder) steps() []step {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]step(nil), c.applied...)
}

func newRecorder(db *sqldb.DB) (*recorder, *outbox.LocalBus) {
	c := &recorder{db: db}
	bus := outbox.NewLocalBus()
	bus.Subscribe("recorder", []string{"*"}, c.handle)
	return c, bus
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// add commits one event for aggregate agg with payload n.
func add(t testing.TB, ctx context.Context, db *sqldb.DB, agg string, n int) {
	t.Helper()
	if err := db.InTx(ctx, func(tx *sqldb.Tx) error { return outbox.Add(ctx, tx, "thing.happened", agg, payload{n}) }); err != nil {
		t.Fatalf("add %s/%d: %v", agg, n, err)
	}
}

// held starts a transaction that writes an event for agg (when agg is not
// empty) or only takes a transaction id, and stays open, its row inserted,
// until release is called: release(true) commits it, release(false) rolls
// it back; release returns the transaction's error.
func held(t *testing.T, db *sqldb.DB, agg string, n int) (release func(commit bool) error) {
	t.Helper()
	ctx := context.Background()
	ready, proceed, done := make(chan struct{}), make(chan bool, 1), make(chan error, 1)
	go func() {
		done <- db.InTx(ctx, func(tx *sqldb.Tx) error {
			if agg == "" {
				if _, err := tx.ExecContext(ctx, `SELECT pg_current_xact_id()`); err != nil {
					return err
				}
			} else if err := outbox.Add(ctx, tx, "thing.happened", agg, payload{n}); err != nil {
				return err
			}
			tx.BeforeCommit(func() error { // after Add's insert: the row is there, uncommitted
				close(ready)
				if !<-proceed {
					return errRolledBack
				}
				return nil
			})
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("held transaction ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("held transaction did not start")
	}
	var once sync.Once
	release = func(commit bool) error {
		once.Do(func() { proceed <- commit })
		return <-done
	}
	t.Cleanup(func() { once.Do(func() { proceed <- false }) })
	return release
}

func flushAll(t testing.TB, ctx context.Context, r *outbox.Relay) int {
	t.Helper()
	total := 0
	for {
		n, err := r.Flush(ctx)
		if err != nil {
			t.Fatalf("flush: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

// checkOrder fails unless every aggregate's events were applied with rising
// Seq and rising N, and every event exactly once.
func checkOrder(t *testing.T, applied []step, want int) {
	t.Helper()
	if len(applied) != want {
		t.Fatalf("applied %d events, want %d", len(applied), want)
	}
	lastSeq, lastN, seen := map[string]int64{}, map[string]int{}, map[int64]bool{}
	for _, s := range applied {
		if seen[s.Seq] {
			t.Fatalf("event %d applied twice", s.Seq)
		}
		seen[s.Seq] = true
		if s.Seq <= lastSeq[s.Aggregate] || (lastN[s.Aggregate] != 0 && s.N <= lastN[s.Aggregate]) {
			t.Fatalf("aggregate %s: %+v applied after seq %d, n %d", s.Aggregate, s, lastSeq[s.Aggregate], lastN[s.Aggregate])
		}
		lastSeq[s.Aggregate], lastN[s.Aggregate] = s.Seq, s.N
	}
}

// TestRelayHoldsBackEventsOvertakenByAnOpenTransaction: on PostgreSQL
// numbers are drawn before the commit, so a later number can commit first.
// The relay delivers nothing numbered after an open transaction's event
// until that one has ended, then everything in number order. (SQLite has
// one writer: a second writer waits for the first, nothing overtakes.)
func TestRelayHoldsBackEventsOvertakenByAnOpenTransaction(t *testing.T) {
	db := sqldbtest.Postgres(t, migrations...)
	ctx := context.Background()
	c, bus := newRecorder(db)
	relay := outbox.NewRelay(db, bus, quietLog(), time.Hour)
	outbox.SetSettleWait(relay, 200*time.Millisecond)

	add(t, ctx, db, "x", 1)
	if n := flushAll(t, ctx, relay); n != 1 {
		t.Fatalf("first flush published %d, want 1", n)
	}

	releaseA := held(t, db, "x", 2) // numbered, not committed
	add(t, ctx, db, "x", 3)         // same aggregate, higher number, committed
	add(t, ctx, db, "y", 1)         // another aggregate, committed
	if n := flushAll(t, ctx, relay); n != 0 {
		t.Fatalf("published %d events numbered after an open transaction's: %+v", n, c.steps())
	}
	if err := releaseA(true); err != nil {
		t.Fatal(err)
	}
	if n := flushAll(t, ctx, relay); n != 3 {
		t.Fatalf("after the commit published %d, want 3", n)
	}
	got := c.steps()
	checkOrder(t, got, 4)
	if got[1].Aggregate != "x" || got[1].N != 2 || got[2].N != 3 {
		t.Fatalf("order %+v: want x/2 (the held one) before x/3", got)
	}

	// A holder that rolls back leaves a gap in the numbers; the rest goes.
	releaseB := held(t, db, "x", 4)
	add(t, ctx, db, "x", 5)
	if n := flushAll(t, ctx, relay); n != 0 {
		t.Fatalf("published %d events past an open transaction", n)
	}
	if err := releaseB(false); !errors.Is(err, errRolledBack) {
		t.Fatalf("rolled back holder: %v", err)
	}
	if n := flushAll(t, ctx, relay); n != 1 {
		t.Fatalf("published %d, want 1", n)
	}
	checkOrder(t, c.steps(), 5)
}

// TestRelayOrderIsNotTransactionIDOrder is the case that makes "deliver the
// events of transactions below the oldest running one, by number" wrong: E
// takes its transaction id early, P commits an event, then E, having seen
// P's change, commits a later one, while an unrelated transaction T (id
// between E's and P's) is open. E's id is below every running one, P's is
// not: that rule would deliver E and hold P back, reversing a cause and its
// effect. The relay waits only for transactions that drew a number, so T
// (which drew none) holds nothing back, and it delivers P, then E.
func TestRelayOrderIsNotTransactionIDOrder(t *testing.T) {
	db := sqldbtest.Postgres(t, migrations...)
	ctx := context.Background()
	c, bus := newRecorder(db)
	relay := outbox.NewRelay(db, bus, quietLog(), time.Hour)
	outbox.SetSettleWait(relay, 200*time.Millisecond)

	eReady, eGo, eDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		eDone <- db.InTx(ctx, func(tx *sqldb.Tx) error {
			if _, err := tx.ExecContext(ctx, `SELECT pg_current_xact_id()`); err != nil { // E's id: the lowest
				return err
			}
			close(eReady)
			<-eGo
			return outbox.Add(ctx, tx, "thing.happened", "x", payload{2})
		})
	}()
	<-eReady
	releaseT := held(t, db, "", 0) // T: an id above E's, open, no event
	add(t, ctx, db, "x", 1)        // P: an id above T's, committed
	close(eGo)
	if err := <-eDone; err != nil { // E: commits after P, with a higher number
		t.Fatal(err)
	}
	if n := flushAll(t, ctx, relay); n != 2 {
		t.Fatalf("published %d with T open, want 2: %+v", n, c.steps())
	}
	checkOrder(t, c.steps(), 2)
	if err := releaseT(true); err != nil {
		t.Fatal(err)
	}
}

// TestEventWritersDoNotWaitForEachOther: a transaction that wrote an event
// and stays open does not hold up another that writes one (the old counter
// row did, until the first committed). SQLite has one writer by design.
func TestEventWritersDoNotWaitForEachOther(t *testing.T) {
	db := sqldbtest.Postgres(t, migrations...)
	release := held(t, db, "a", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // far above a commit; it only detects waiting
	defer cancel()
	err := db.InTx(ctx, func(tx *sqldb.Tx) error { return outbox.Add(ctx, tx, "thing.happened", "b", payload{1}) })
	if err != nil {
		t.Fatalf("second writer, first one open: %v", err)
	}
	if err := release(true); err != nil {
		t.Fatal(err)
	}
	if p, _ := outbox.Pending(context.Background(), db); p != 2 {
		t.Fatalf("pending = %d, want 2", p)
	}
}

// TestConcurrentWritersEachEventOnce: writers in parallel, the relay running
// beside them; every event reaches the consumer exactly once, each
// aggregate's in the order its writer committed them.
func TestConcurrentWritersEachEventOnce(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c, bus := newRecorder(db)
		relay := outbox.NewRelay(db, bus, quietLog(), 10*time.Millisecond)
		outbox.SetBatch(relay, 7)
		running := make(chan struct{})
		go func() { defer close(running); relay.Run(outbox.WithNotifier(ctx, relay.Notify)) }()

		const writers, txs = 8, 20
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				wctx := outbox.WithNotifier(ctx, relay.Notify)
				for i := 1; i <= txs; i++ {
					err := db.InTx(wctx, func(tx *sqldb.Tx) error {
						// Its own aggregate twice, and one every writer shares.
						if err := outbox.Add(wctx, tx, "thing.happened", fmt.Sprintf("w%d", w), payload{2 * i}); err != nil {
							return err
						}
						if err := outbox.Add(wctx, tx, "thing.happened", fmt.Sprintf("w%d", w), payload{2*i + 1}); err != nil {
							return err
						}
						return outbox.Add(wctx, tx, "shared.happened", "shared", payload{0})
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		want := writers * txs * 3
		deadline := time.Now().Add(30 * time.Second)
		for len(c.steps()) < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-running
		var own []step
		shared := map[int64]bool{}
		var lastShared int64
		for _, s := range c.steps() {
			if s.Aggregate != "shared" {
				own = append(own, s)
				continue
			}
			if shared[s.Seq] || s.Seq <= lastShared {
				t.Fatalf("shared aggregate: seq %d after %d", s.Seq, lastShared)
			}
			shared[s.Seq], lastShared = true, s.Seq
		}
		if len(shared) != writers*txs {
			t.Fatalf("shared aggregate: %d events applied, want %d", len(shared), writers*txs)
		}
		checkOrder(t, own, writers*txs*2)
		if p, _ := outbox.Pending(context.Background(), db); p != 0 {
			t.Fatalf("pending = %d", p)
		}
	})
}

// TestTwoRelaysDeliverEachEventOnceInAggregateOrder: two relays (two
// instances) publish side by side while events are written; each event is
// applied once and each aggregate's events in order.
func TestTwoRelaysDeliverEachEventOnceInAggregateOrder(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c, bus := newRecorder(db)
		var slow sync.Mutex
		n := 0
		bus.Subscribe("slow", []string{"*"}, func(context.Context, outbox.Event) error {
			slow.Lock()
			n++
			d := time.Duration(n%3) * time.Millisecond // uneven publishing, so the relays interleave
			slow.Unlock()
			time.Sleep(d)
			return nil
		})
		relays := []*outbox.Relay{outbox.NewRelay(db, bus, quietLog(), time.Hour), outbox.NewRelay(db, bus, quietLog(), time.Hour)}
		for _, r := range relays {
			outbox.SetBatch(r, 5)
		}

		const aggregates, each = 6, 15
		var writing sync.WaitGroup
		writing.Go(func() {
			for i := 1; i <= each; i++ {
				for a := range aggregates {
					add(t, ctx, db, fmt.Sprintf("a%d", a), i)
				}
			}
		})
		done := make(chan struct{})
		var relaying sync.WaitGroup
		errs := make(chan error, len(relays))
		for _, r := range relays {
			relaying.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					if _, err := r.Flush(ctx); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		writing.Wait()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if p, err := outbox.Pending(ctx, db); err == nil && p == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(done)
		relaying.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		checkOrder(t, c.steps(), aggregates*each)
		if c.deliveries < aggregates*each {
			t.Fatalf("%d deliveries for %d events", c.deliveries, aggregates*each)
		}
	})
}

// TestUpgradeFromTheCounterDeliversPendingEventsFirst: a database written by
// the version with the counter row (migration 001 only) keeps its pending
// events; after the upgrade they are delivered in their old order, before
// the events written since, and published ones are not delivered again.
func TestUpgradeFromTheCounterDeliversPendingEventsFirst(t *testing.T) {
	v1, err := os.ReadFile("migrations/001_outbox.sql")
	if err != nil {
		t.Fatal(err)
	}
	old := sqldb.Migrations{Module: "outbox", FS: fstest.MapFS{"001_outbox.sql": {Data: v1}}}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var db *sqldb.DB
			if engine == "sqlite" {
				db = sqldbtest.SQLite(t, old)
			} else {
				db = sqldbtest.Postgres(t, old)
			}
			ctx := context.Background()
			// What the old Add did: take the counter, insert with its value.
			write := func(agg string, n int, published bool) {
				t.Helper()
				err := db.InTx(ctx, func(tx *sqldb.Tx) error {
					var seq int64
					if err := tx.QueryRowContext(ctx, `UPDATE outbox_sequence SET value = value + 1 WHERE name = 'events' RETURNING value`).Scan(&seq); err != nil {
						return err
					}
					var at any
					if published {
						at = time.Now().UTC()
					}
					_, err := tx.ExecContext(ctx, `INSERT INTO outbox_events (seq, id, topic, aggregate_id, payload, created_at, published_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
						seq, fmt.Sprintf("old-%d", seq), "thing.happened", agg, fmt.Sprintf(`{"N":%d}`, n), time.Now().UTC(), at)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			write("x", 1, true)
			write("x", 2, false)
			write("y", 1, false)
			write("x", 3, false)

			applied, err := db.Migrate(ctx, outbox.Migrations())
			if err != nil || len(applied) == 0 || applied[0] != "outbox/002_outbox_no_counter" {
				t.Fatalf("upgrade applied %v, %v; want the migrations after 001, 002 first", applied, err)
			}
			if err := db.InTx(ctx, func(tx *sqldb.Tx) error {
				_, err := tx.ExecContext(ctx, `SELECT COUNT(*) FROM outbox_sequence`)
				return err
			}); err == nil {
				t.Fatal("outbox_sequence still exists after the upgrade")
			}
			add(t, ctx, db, "x", 4)
			add(t, ctx, db, "y", 2)

			c, bus := newRecorder(db)
			relay := outbox.NewRelay(db, bus, quietLog(), time.Hour)
			if n := flushAll(t, ctx, relay); n != 5 {
				t.Fatalf("published %d after the upgrade, want 5", n)
			}
			got := c.steps()
			checkOrder(t, got, 5)
			if got[0].Seq != 2 || got[2].Seq != 4 || got[3].Seq <= 4 {
				t.Fatalf("order after the upgrade %+v: want the old pending 2, 3, 4 first, then new numbers above 4", got)
			}
		})
	}
}

var errRolledBack = errors.New("rolled back")
