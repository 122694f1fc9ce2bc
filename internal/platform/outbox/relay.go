package outbox

import (
	"context"
	"database/sql"
	"errors"
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

// BatchPublisher is a Publisher that delivers several events at once: a
// relay hands it each round's events (in Seq order) and it returns one
// error per event, nil for those delivered. It must not deliver an event of
// an aggregate after failing an earlier one of that aggregate (LocalBus
// does so per consumer).
type BatchPublisher interface {
	Publisher
	PublishBatch(ctx context.Context, evs []Event) []error
}

// Relay moves committed events from the outbox to a Publisher.
type Relay struct {
	db       *sqldb.DB
	pub      Publisher
	log      *slog.Logger
	wake     chan struct{}
	interval time.Duration
	batch    int // events one round claims, publishes and marks
	workers  int // rounds Run keeps going side by side under a backlog
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

// Defaults of a relay: a round claims up to defaultBatch events and marks
// them in one statement; Run keeps up to defaultWorkers rounds going side by
// side while there is a backlog (consumers run in the rounds' goroutines, so
// this is also how many consumer transactions run at once).
const (
	defaultBatch   = 500
	defaultWorkers = 4
)

// NewRelay returns a relay that polls every interval (and whenever Notify is called).
func NewRelay(db *sqldb.DB, pub Publisher, log *slog.Logger, interval time.Duration) *Relay {
	return &Relay{db: db, pub: pub, log: log, wake: make(chan struct{}, 1), interval: interval,
		batch: defaultBatch, workers: defaultWorkers, settleWait: 2 * time.Second}
}

// Notify wakes the relay without blocking.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends. One worker wakes on Notify or at the poll
// and runs rounds (Flush) while they come back full; a full round also wakes
// another worker, so under a backlog up to the relay's workers publish side
// by side, each aggregate's events still in order (see Flush).
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	var wg sync.WaitGroup
	for range r.workers {
		wg.Go(func() { r.work(ctx, t.C) })
	}
	wg.Wait()
}

func (r *Relay) work(ctx context.Context, tick <-chan time.Time) {
	for {
		for ctx.Err() == nil {
			n, err := r.Flush(ctx)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("outbox relay", "err", err)
			}
			if err != nil || n < r.batch {
				break
			}
			r.Notify() // more are waiting: another worker takes the next batch
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
		case <-tick:
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

// Flush runs one round: it claims a batch of pending events, publishes them
// in Seq order and records the outcome, and returns how many it published.
// It claims in one short transaction, publishes outside any transaction (in-
// process consumers write to the same database, and on SQLite there is only
// one writer), and marks the whole batch in one more.
//
// A failed delivery holds back its aggregate only: the event keeps its error
// (last_error, attempts) and goes again in a later round with the rest of its
// aggregate's events, while other aggregates' events in the batch go on. A
// BatchPublisher (LocalBus) gets the round's events at once, so that its
// consumers can take them in one transaction each; another Publisher gets
// them one at a time, and a round that ends (ctx) or runs past half its
// lease releases the events it has not tried. Events published in a round
// are marked when the round ends: a relay that dies in between delivers
// them again (at least once).
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
// respects causality: an event never goes before one of its aggregate whose
// change its transaction saw or waited for.
//
// Several rounds at once (workers of one relay, relays of several
// instances). Claims are serialised (an advisory lock on PostgreSQL, the
// single writer on SQLite) and a round does not claim an event whose
// aggregate has an earlier event leased to another round, so each
// aggregate's events are published in order while rounds publish side by
// side; across aggregates the order is then per round.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	bound, err := r.horizon(ctx)
	if err != nil {
		return 0, err
	}
	evs, err := r.claim(ctx, bound)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	out := r.publish(ctx, evs, time.Now().Add(lease/2))
	if err := r.record(ctx, out); err != nil {
		// Published but not marked: the leases run out and the events go again.
		return 0, err
	}
	return len(out.published), nil
}

// outcome is what a round did with the events it claimed.
type outcome struct {
	published []int64   // Seq of the events delivered
	failed    []failure // delivery failed: retried in a later round
	released  []int64   // not tried (their aggregate failed, or the round stopped): free to claim again
}

type failure struct {
	seq int64
	err string
}

// publish delivers evs in order, all at once to a BatchPublisher, else one
// at a time until ctx ends or until; an aggregate whose event failed has its
// later events released.
func (r *Relay) publish(ctx context.Context, evs []Event, until time.Time) outcome {
	deliver := func(_ int, e Event) error {
		if ctx.Err() != nil || time.Now().After(until) {
			return errNotTried
		}
		return r.pub.Publish(ctx, e)
	}
	if bp, ok := r.pub.(BatchPublisher); ok {
		errs := bp.PublishBatch(ctx, evs)
		deliver = func(i int, _ Event) error { return errs[i] }
	}
	var out outcome
	blocked := map[string]bool{}
	for i, e := range evs {
		if blocked[e.AggregateID] {
			out.released = append(out.released, e.Seq)
			continue
		}
		err := deliver(i, e)
		switch {
		case err == nil:
			out.published = append(out.published, e.Seq)
		case errors.Is(err, errNotTried) || ctx.Err() != nil: // stopping: not the consumer's failure
			blocked[e.AggregateID] = true
			out.released = append(out.released, e.Seq)
		default:
			blocked[e.AggregateID] = true
			r.log.WarnContext(ctx, "outbox: delivery failed; it will be retried", "topic", e.Topic, "event", e.ID, "err", err)
			out.failed = append(out.failed, failure{e.Seq, truncate(err.Error(), 500)})
		}
	}
	return out
}

// errNotTried marks an event a stopping round did not deliver.
var errNotTried = errors.New("not tried")

// record marks a round's events in one transaction: published, failed (the
// error kept for staff), or released; all of them lose their lease.
func (r *Relay) record(ctx context.Context, out outcome) error {
	ctx = context.WithoutCancel(ctx) // what was delivered is marked even when stopping
	return r.db.InTx(ctx, func(tx *sqldb.Tx) error {
		now := time.Now().UTC()
		for part := range slices.Chunk(out.published, maxInList) {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox_events SET published_at = ?, attempts = attempts + 1, last_error = '', claimed_until = NULL
				WHERE seq IN (`+sqldb.Placeholders(len(part))+`)`, append([]any{now}, seqArgs(part)...)...); err != nil {
				return fmt.Errorf("mark %d outbox events published: %w", len(part), err)
			}
		}
		for _, f := range out.failed {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox_events SET attempts = attempts + 1, last_error = ?, claimed_until = NULL WHERE seq = ?`,
				f.err, f.seq); err != nil {
				return fmt.Errorf("record failed delivery of outbox event %d: %w", f.seq, err)
			}
		}
		for part := range slices.Chunk(out.released, maxInList) {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox_events SET claimed_until = NULL WHERE seq IN (`+sqldb.Placeholders(len(part))+`)`,
				seqArgs(part)...); err != nil {
				return fmt.Errorf("release %d outbox events: %w", len(part), err)
			}
		}
		return nil
	})
}

// maxInList bounds the placeholders of one statement (SQLite allows 32,766).
const maxInList = 1000

func seqArgs(seqs []int64) []any {
	args := make([]any, len(seqs))
	for i, s := range seqs {
		args[i] = s
	}
	return args
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
			`SELECT aggregate_id, MIN(seq) FROM outbox_events
			WHERE published_at IS NULL AND claimed_until IS NOT NULL AND claimed_until >= ? GROUP BY aggregate_id`, now)
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Pending counts events not yet published. It reads every pending event:
// for tests; /metrics uses MeasureLag.
func Pending(ctx context.Context, db *sqldb.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL`).Scan(&n)
	return n, err
}

// Lag is how far publishing is behind writing.
type Lag struct {
	// Pending is the number of events from the oldest unpublished one to
	// the newest written, 0 when none waits. It counts, as if still waiting,
	// the numbers of rolled-back transactions and events that went ahead of
	// the oldest (another round's, or another aggregate's past a failed one):
	// exact while the relay keeps up, an upper bound otherwise.
	Pending int64
	// Oldest is when the oldest unpublished event was written; zero when
	// none waits.
	Oldest time.Time
}

// MeasureLag reads the lag in one statement of two index lookups (the
// oldest pending event, the highest number), whatever the backlog: cheap
// enough for every scrape of /metrics, unlike counting (Pending). It sees
// what is committed, on every instance, whether or not a relay runs.
func MeasureLag(ctx context.Context, db *sqldb.DB) (Lag, error) {
	var (
		oldest, newest int64
		at             time.Time
	)
	err := db.QueryRowContext(ctx, `SELECT seq, created_at, (SELECT MAX(seq) FROM outbox_events) FROM outbox_events
		WHERE published_at IS NULL ORDER BY seq LIMIT 1`).Scan(&oldest, &at, &newest)
	if errors.Is(err, sql.ErrNoRows) {
		return Lag{}, nil
	}
	if err != nil {
		return Lag{}, fmt.Errorf("measure outbox lag: %w", err)
	}
	return Lag{Pending: newest - oldest + 1, Oldest: at.UTC()}, nil
}
