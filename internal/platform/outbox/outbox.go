// Package outbox is Mercato's transactional outbox. A module that changes
// state calls Add inside the same transaction, so an event exists exactly
// when its change committed. A Relay publishes pending events to a Bus after
// commit, at least once, in Seq order (per aggregate when several relays
// run); consumers use Once to process each event exactly once. There is no
// counter row that event-writing transactions share: the engine numbers the
// events, and the relay waits for numbers still in flight (see Flush).
package outbox

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the outbox tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("outbox", migrationFS, "migrations") }

// Event is a domain event as it travels: a topic such as "order.placed",
// the id of the aggregate it concerns, and a JSON payload. Seq is its
// delivery order, numbered by the engine when its transaction commits;
// numbers are increasing but not contiguous (a rolled-back transaction
// leaves a gap).
type Event struct {
	ID          string          `json:"id"`
	Seq         int64           `json:"seq"`
	Topic       string          `json:"topic"`
	AggregateID string          `json:"aggregate_id"`
	Payload     json.RawMessage `json:"payload"`
	CreatedAt   time.Time       `json:"created_at"`
}

// Decode unmarshals the payload into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("decode %s event %s: %w", e.Topic, e.ID, err)
	}
	return nil
}

// Add records an event inside tx. It must be called in the transaction that
// makes the change the event reports. A payload that cannot be encoded is an
// error at the call.
//
// The row is inserted just before the transaction commits
// (sqldb.Tx.BeforeCommit), and the engine numbers it there (Event.Seq: a
// PostgreSQL sequence, SQLite's rowid). No row is locked for the number, so
// transactions that write events do not wait for each other. Numbering after
// the transaction's last read and lock is what makes Seq a sound delivery
// order: a transaction that saw another's committed change, or waited for
// its lock, draws its numbers after that one committed, so its events come
// later. On PostgreSQL numbers are drawn before the commit, and a lower one
// can commit after a higher one; the relay accounts for that (see Flush).
func Add(ctx context.Context, tx *sqldb.Tx, topic, aggregateID string, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("outbox %s: encode: %w", topic, err)
	}
	id, at := ids.New(), time.Now().UTC()
	tx.BeforeCommit(func() error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_events (id, topic, aggregate_id, payload, created_at) VALUES (?, ?, ?, ?, ?)`,
			id, topic, aggregateID, string(body), at); err != nil {
			return fmt.Errorf("outbox %s: insert: %w", topic, err)
		}
		return nil
	})
	if n := notifierFrom(ctx); n != nil {
		tx.AfterCommit(n)
	}
	return nil
}

type notifierKey struct{}

// WithNotifier returns a context whose Add calls wake the relay (through
// notify) once their transaction commits, so events leave at once instead of
// at the next poll.
func WithNotifier(ctx context.Context, notify func()) context.Context {
	return context.WithValue(ctx, notifierKey{}, notify)
}

func notifierFrom(ctx context.Context) func() {
	f, _ := ctx.Value(notifierKey{}).(func())
	return f
}

// Once runs fn in a transaction unless consumer has already processed the
// event; the record of processing commits with fn's effects. It returns
// whether fn ran.
func Once(ctx context.Context, db *sqldb.DB, consumer string, e Event, fn func(tx *sqldb.Tx) error) (bool, error) {
	n, err := OnceEach(ctx, db, consumer, []Event{e}, func(tx *sqldb.Tx, _ Event) error { return fn(tx) })
	return n == 1, err
}

// OnceEach is Once for several events in one transaction: fn runs, in
// order, for each event of evs that consumer has not processed yet, and the
// records of processing commit with all of fn's effects, or nothing does
// (an error from fn rolls the whole batch back). It returns how many times
// fn ran. A batch consumer (LocalBus.SubscribeBatch) uses it to pay one
// commit, and take a lock its events share once, per batch instead of per
// event.
func OnceEach(ctx context.Context, db *sqldb.DB, consumer string, evs []Event, fn func(tx *sqldb.Tx, e Event) error) (int, error) {
	ran := 0
	err := db.InTx(ctx, func(tx *sqldb.Tx) error {
		ran = 0
		now := time.Now().UTC()
		for _, e := range evs {
			res, err := tx.ExecContext(ctx, `INSERT INTO outbox_processed (consumer, event_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				consumer, e.ID, now)
			if err != nil {
				return fmt.Errorf("%s: record %s: %w", consumer, e.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // processed before
			}
			if err := fn(tx, e); err != nil {
				return err
			}
			ran++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return ran, nil
}
