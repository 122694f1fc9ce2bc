package outbox_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// BenchmarkRelay measures how fast a relay empties a backlog: on a table
// that already holds relayHistory published events (a shop's past), each op
// writes relayBacklog events (untimed; four per aggregate, as a checkout
// writes them), then times Run from its start until every event is
// published and marked, and reports events/s. Consumers: "none" (the relay's own cost: a
// publisher that only counts), "once" (one outbox.Once transaction per
// event, what an in-process consumer costs at least) and "once-batch" (a
// batch subscriber: one outbox.OnceEach transaction per round, as
// analytics does).
// Figures and commands: docs/PERFORMANCE.md, "Outbox relay throughput".
//
//	MERCATO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench 'Relay' -benchtime 3x ./internal/platform/outbox/
func BenchmarkRelay(b *testing.B) {
	engines := []struct {
		name string
		open func(testing.TB, ...sqldb.Migrations) *sqldb.DB
	}{{"sqlite", sqldbtest.SQLite}, {"postgres", sqldbtest.Postgres}}
	for _, engine := range engines {
		b.Run(engine.name, func(b *testing.B) {
			for _, consumer := range []string{"none", "once", "once-batch"} {
				b.Run(consumer, func(b *testing.B) {
					db := engine.open(b, migrations...)
					writeHistory(b, db)
					b.ResetTimer()
					var elapsed time.Duration
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						writeBacklog(b, db, i)
						b.StartTimer()
						elapsed += drainWithRun(b, db, consumer)
					}
					b.ReportMetric(float64(b.N*relayBacklog)/elapsed.Seconds(), "events/s")
				})
			}
		})
	}
}

const (
	relayBacklog = 10_000
	relayHistory = 200_000
)

// writeHistory inserts relayHistory events already published.
func writeHistory(b *testing.B, db *sqldb.DB) {
	b.Helper()
	const rows = 1000
	at := time.Now().UTC().Add(-time.Hour)
	for n := 0; n < relayHistory; n += rows {
		args := make([]any, 0, rows*6)
		for i := n; i < n+rows; i++ {
			args = append(args, fmt.Sprintf("old-%d", i), "thing.happened", fmt.Sprintf("old-a%d", i/4), `{"N":0}`, at, at)
		}
		q := `INSERT INTO outbox_events (id, topic, aggregate_id, payload, created_at, published_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", rows), ", ")
		if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
			b.Fatal(err)
		}
	}
}

// writeBacklog commits relayBacklog events, 100 per transaction, four per aggregate.
func writeBacklog(b *testing.B, db *sqldb.DB, round int) {
	b.Helper()
	ctx := context.Background()
	for start := 0; start < relayBacklog; start += 100 {
		err := db.InTx(ctx, func(tx *sqldb.Tx) error {
			for i := start; i < start+100; i++ {
				if err := outbox.Add(ctx, tx, "thing.happened", fmt.Sprintf("r%d-a%d", round, i/4), payload{i}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// drainWithRun runs a relay until it has published the backlog and stopped
// (its last marks committed), and returns how long that took.
func drainWithRun(b *testing.B, db *sqldb.DB, consumer string) time.Duration {
	b.Helper()
	var seen atomic.Int64
	done := make(chan struct{})
	count := func(n int) {
		if seen.Add(int64(n)) == relayBacklog {
			close(done)
		}
	}
	bus := outbox.NewLocalBus()
	switch consumer {
	case "once-batch":
		bus.SubscribeBatch("bench", []string{"*"}, func(ctx context.Context, evs []outbox.Event) error {
			if _, err := outbox.OnceEach(ctx, db, "bench", evs, func(*sqldb.Tx, outbox.Event) error { return nil }); err != nil {
				return err
			}
			count(len(evs))
			return nil
		})
	default:
		bus.Subscribe("bench", []string{"*"}, func(ctx context.Context, e outbox.Event) error {
			if consumer == "once" {
				if _, err := outbox.Once(ctx, db, "bench", e, func(*sqldb.Tx) error { return nil }); err != nil {
					return err
				}
			}
			count(1)
			return nil
		})
	}
	relay := outbox.NewRelay(db, bus, quietLog(), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	start := time.Now()
	go func() { defer close(stopped); relay.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("published %d of %d events in 10 minutes", seen.Load(), relayBacklog)
	}
	cancel()
	<-stopped
	d := time.Since(start)
	if p, err := outbox.Pending(context.Background(), db); err != nil || p != 0 {
		b.Fatalf("after the run: %d pending, %v", p, err)
	}
	return d
}
