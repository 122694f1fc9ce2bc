package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Publisher delivers one event to wherever consumers listen: the in-process
// bus in the embedded mode, a broker when scaled out. It returns an error
// when delivery must be retried.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

// Relay moves committed events from the outbox to a Publisher.
type Relay struct {
	db       *sqldb.DB
	pub      Publisher
	log      *slog.Logger
	wake     chan struct{}
	interval time.Duration
	batch    int
}

// NewRelay returns a relay that polls every interval (and whenever Notify is called).
func NewRelay(db *sqldb.DB, pub Publisher, log *slog.Logger, interval time.Duration) *Relay {
	return &Relay{db: db, pub: pub, log: log, wake: make(chan struct{}, 1), interval: interval, batch: 100}
}

// Notify wakes the relay without blocking.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		for {
			n, err := r.Flush(ctx)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("outbox relay", "err", err)
			}
			if err != nil || n < r.batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// lease is how long a relay owns the events it claimed; if it dies while
// publishing, another relay takes them over after this.
const lease = 30 * time.Second

// Flush publishes one batch of pending events in sequence order, stopping at
// the first failure, and returns how many it published. It claims the batch
// in a short transaction (on PostgreSQL with FOR UPDATE SKIP LOCKED, so
// several instances relay side by side) and publishes outside any
// transaction: in-process consumers write to the same database, and on
// SQLite there is only one writer.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	evs, err := r.claim(ctx)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	published := 0
	for i, e := range evs {
		if err := r.pub.Publish(ctx, e); err != nil {
			if _, uerr := r.db.ExecContext(context.WithoutCancel(ctx), `UPDATE outbox_events SET attempts = attempts + 1, last_error = ?, claimed_until = NULL WHERE seq = ?`,
				truncate(err.Error(), 500), e.Seq); uerr != nil {
				return published, fmt.Errorf("record failure of %s: %w", e.ID, uerr)
			}
			r.unclaim(ctx, evs[i+1:])
			return published, nil
		}
		if _, err := r.db.ExecContext(context.WithoutCancel(ctx), `UPDATE outbox_events SET published_at = ?, attempts = attempts + 1, last_error = '', claimed_until = NULL WHERE seq = ?`,
			time.Now().UTC(), e.Seq); err != nil {
			return published, fmt.Errorf("mark %s published: %w", e.ID, err)
		}
		published++
	}
	return published, nil
}

func (r *Relay) claim(ctx context.Context) ([]Event, error) {
	var evs []Event
	err := r.db.InTx(ctx, func(tx *sqldb.Tx) error {
		evs = evs[:0]
		now := time.Now().UTC()
		q := `SELECT seq, id, topic, aggregate_id, payload, created_at FROM outbox_events
			WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY seq LIMIT ?`
		if tx.Dialect() == sqldb.Postgres {
			q += ` FOR UPDATE SKIP LOCKED`
		}
		rows, err := tx.QueryContext(ctx, q, now, r.batch)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		for rows.Next() {
			var (
				e       Event
				payload string
			)
			if err := rows.Scan(&e.Seq, &e.ID, &e.Topic, &e.AggregateID, &payload, &e.CreatedAt); err != nil {
				rows.Close()
				return fmt.Errorf("read outbox: %w", err)
			}
			e.Payload = []byte(payload)
			e.CreatedAt = e.CreatedAt.UTC()
			evs = append(evs, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		for _, e := range evs {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox_events SET claimed_until = ? WHERE seq = ?`, now.Add(lease), e.Seq); err != nil {
				return fmt.Errorf("claim %s: %w", e.ID, err)
			}
		}
		return nil
	})
	return evs, err
}

func (r *Relay) unclaim(ctx context.Context, evs []Event) {
	for _, e := range evs {
		r.db.ExecContext(context.WithoutCancel(ctx), `UPDATE outbox_events SET claimed_until = NULL WHERE seq = ?`, e.Seq)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Pending counts events not yet published (for metrics and tests).
func Pending(ctx context.Context, db *sqldb.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL`).Scan(&n)
	return n, err
}
