package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
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
	// settleWait bounds how long a Flush waits for the transactions that may
	// still commit an event below its horizon (PostgreSQL).
	settleWait time.Duration

	mu      sync.Mutex // guards settled and marks
	settled int64      // every event numbered up to here is committed or never will be
	marks   []mark     // horizons not yet settled, oldest first
}

// mark is a candidate horizon (PostgreSQL): seq is the last number the
// sequence had handed out, drawers the transactions (virtual ids) that held
// the sequence's lock when looked at after reading it. Every transaction
// that drew a number up to seq took that lock before drawing and keeps it
// until it ends, so it is among drawers or has ended; once none of drawers
// runs, each of those numbers is committed or never will be.
type mark struct {
	seq     int64
	drawers []string
}

// maxMarks caps the horizons a relay tracks while a transaction holds them
// back; past it the newest is replaced, which only delays delivery.
const maxMarks = 16

// NewRelay returns a relay that polls every interval (and whenever Notify is called).
func NewRelay(db *sqldb.DB, pub Publisher, log *slog.Logger, interval time.Duration) *Relay {
	return &Relay{db: db, pub: pub, log: log, wake: make(chan struct{}, 1), interval: interval, batch: 100, settleWait: 2 * time.Second}
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
		// Events held back by a running transaction: look again soon rather
		// than at the next tick (nobody notifies when a transaction ends).
		var soon <-chan time.Time
		if r.holding() {
			soon = time.After(min(r.interval, 100*time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-soon:
		case <-r.wake:
		}
	}
}

// lease is how long a relay owns the events it claimed; if it dies while
// publishing, another relay takes them over after this.
const lease = 30 * time.Second

// relayLock serialises the claims of the relays of one PostgreSQL database
// (pg_advisory_xact_lock): a claim is one short transaction, and relays
// still publish side by side.
const relayLock = 0x6d6572636174_6f78 // "mercatox"

// Flush publishes one batch of pending events in Seq order, stopping at the
// first failure, and returns how many it published. It claims the batch in
// a short transaction and publishes outside any transaction: in-process
// consumers write to the same database, and on SQLite there is only one
// writer.
//
// Order. On SQLite the single writer numbers events in commit order, so
// every committed event can go. On PostgreSQL a sequence hands numbers out
// before the commit: seq 11 may be visible while seq 10 is still in flight.
// Flush therefore only claims events up to a horizon below which no running
// transaction can still commit one: it reads the sequence's last number,
// then lists the transactions holding the lock that nextval takes on the
// sequence (PostgreSQL keeps it until the drawing transaction ends), and the
// numbers up to that last one are settled once none of those transactions
// runs. Add draws just before COMMIT, so that is a wait for commits in
// flight; Flush waits up to settleWait for it. A transaction stopped between
// drawing and committing (only an event-writing one, in its commit) holds
// back the events numbered after its own, never loses them. Because Add
// numbers events after the transaction's last lock and read, the order also
// respects causality: an event never goes before one whose change its
// transaction saw or waited for.
//
// Several relays. Claims are serialised (an advisory lock on PostgreSQL, the
// single writer on SQLite) and a relay does not claim an event whose
// aggregate has an earlier event leased to another relay, so each aggregate's
// events are published in order while relays publish side by side; across
// aggregates the order then is per relay.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	bound, err := r.horizon(ctx)
	if err != nil {
		return 0, err
	}
	evs, err := r.claim(ctx, bound)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	published := 0
	for i, e := range evs {
		if err := r.pub.Publish(ctx, e); err != nil {
			// A consumer failed: the event (and everything after it) goes
			// again at the next flush; the error is kept on its row.
			r.log.WarnContext(ctx, "outbox: delivery failed; it will be retried", "topic", e.Topic, "event", e.ID, "err", err)
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

// holding reports whether events may be waiting for a running transaction.
func (r *Relay) holding() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.marks) > 0
}

// horizon returns the highest Seq that Flush may claim: every event numbered
// up to it is committed (and visible) or never will be. See Flush.
func (r *Relay) horizon(ctx context.Context) (int64, error) {
	if r.db.Dialect() != sqldb.Postgres {
		return math.MaxInt64, nil // one writer: what is visible is a prefix of the numbers
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	running, err := r.mark(ctx)
	if err != nil {
		return 0, err
	}
	if running == nil && len(r.marks) > 0 {
		if running, err = r.drawers(ctx); err != nil {
			return 0, err
		}
	}
	deadline := time.Now().Add(r.settleWait)
	pause := 5 * time.Millisecond
	for {
		for len(r.marks) > 0 && !slices.ContainsFunc(r.marks[0].drawers, func(v string) bool { return running[v] }) {
			r.settled = max(r.settled, r.marks[0].seq)
			r.marks = r.marks[1:]
		}
		if len(r.marks) == 0 || !time.Now().Before(deadline) {
			return r.settled, nil
		}
		select {
		case <-ctx.Done():
			return r.settled, nil
		case <-time.After(pause):
		}
		pause = min(2*pause, 20*time.Millisecond)
		if running, err = r.drawers(ctx); err != nil {
			return 0, err
		}
	}
}

// drawers returns the transactions (virtual ids) that hold the lock nextval
// takes on the outbox sequence: those that drew a number and have not ended.
func (r *Relay) drawers(ctx context.Context) (map[string]bool, error) {
	vs, err := sqldb.All(ctx, r.db, "outbox horizon: transactions drawing numbers", func(row sqldb.Scanner) (string, error) {
		var v string
		err := row.Scan(&v)
		return v, err
	}, `SELECT virtualtransaction FROM pg_locks
		WHERE locktype = 'relation' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND relation = 'outbox_events_seq'::regclass AND mode = 'RowExclusiveLock'`)
	if err != nil {
		return nil, err
	}
	running := make(map[string]bool, len(vs))
	for _, v := range vs {
		running[v] = true
	}
	return running, nil
}

// mark records a new candidate horizon when numbers were drawn since the
// last one, and returns the drawers it listed (nil when it took no mark).
// The two reads are separate statements, in this order: the drawers must be
// listed after the number was read.
func (r *Relay) mark(ctx context.Context) (map[string]bool, error) {
	var (
		last   int64
		called bool
	)
	if err := r.db.QueryRowContext(ctx, `SELECT last_value, is_called FROM outbox_events_seq`).Scan(&last, &called); err != nil {
		return nil, fmt.Errorf("outbox horizon: read sequence: %w", err)
	}
	if !called {
		last-- // set up but not drawn from since (setval ..., false)
	}
	if last <= r.settled || (len(r.marks) > 0 && last <= r.marks[len(r.marks)-1].seq) {
		return nil, nil
	}
	running, err := r.drawers(ctx)
	if err != nil {
		return nil, err
	}
	m := mark{seq: last}
	for v := range running {
		m.drawers = append(m.drawers, v)
	}
	if len(r.marks) == maxMarks {
		r.marks[maxMarks-1] = m
	} else {
		r.marks = append(r.marks, m)
	}
	return running, nil
}

func scanEvent(row sqldb.Scanner) (Event, error) {
	var (
		e       Event
		payload string
	)
	if err := row.Scan(&e.Seq, &e.ID, &e.Topic, &e.AggregateID, &payload, &e.CreatedAt); err != nil {
		return Event{}, err
	}
	e.Payload = []byte(payload)
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

type leased struct {
	aggregate string
	first     int64 // the lowest Seq of the aggregate under a lease
}

func scanLeased(row sqldb.Scanner) (leased, error) {
	var l leased
	err := row.Scan(&l.aggregate, &l.first)
	return l, err
}

// claim leases up to a batch of pending events numbered up to bound, in Seq
// order, skipping those whose aggregate has an earlier event leased to
// another relay (and everything after it of that aggregate).
func (r *Relay) claim(ctx context.Context, bound int64) ([]Event, error) {
	var evs []Event
	err := r.db.InTx(ctx, func(tx *sqldb.Tx) error {
		evs = nil
		if tx.Dialect() == sqldb.Postgres {
			// Each statement below must see the claims committed before the lock.
			if _, err := tx.ExecContext(ctx, `SET TRANSACTION ISOLATION LEVEL READ COMMITTED`); err != nil {
				return fmt.Errorf("claim outbox: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(relayLock)); err != nil {
				return fmt.Errorf("claim outbox: lock: %w", err)
			}
		}
		now := time.Now().UTC()
		busy, err := sqldb.All(ctx, tx, "read outbox leases", scanLeased,
			`SELECT aggregate_id, MIN(seq) FROM outbox_events WHERE published_at IS NULL AND claimed_until >= ? GROUP BY aggregate_id`, now)
		if err != nil {
			return err
		}
		first := make(map[string]int64, len(busy))
		for _, l := range busy {
			first[l.aggregate] = l.first
		}
		pending, err := sqldb.All(ctx, tx, "read outbox", scanEvent,
			`SELECT seq, id, topic, aggregate_id, payload, created_at FROM outbox_events
			WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?) AND seq <= ? ORDER BY seq LIMIT ?`, now, bound, r.batch)
		if err != nil {
			return err
		}
		args := []any{now.Add(lease)}
		for _, e := range pending {
			if f, ok := first[e.AggregateID]; ok && f < e.Seq {
				continue
			}
			evs = append(evs, e)
			args = append(args, e.Seq)
		}
		if len(evs) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox_events SET claimed_until = ? WHERE seq IN (`+sqldb.Placeholders(len(evs))+`)`, args...); err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		return nil
	})
	return evs, err
}

func (r *Relay) unclaim(ctx context.Context, evs []Event) {
	for _, e := range evs {
		if _, err := r.db.ExecContext(context.WithoutCancel(ctx), `UPDATE outbox_events SET claimed_until = NULL WHERE seq = ?`, e.Seq); err != nil {
			// The lease runs out by itself; until then the event waits.
			r.log.WarnContext(ctx, "outbox: release claim", "event", e.ID, "err", err)
		}
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
