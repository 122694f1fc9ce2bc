package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Handler processes one event. It must be idempotent (see Once).
type Handler func(ctx context.Context, e Event) error

// BatchHandler processes several events, in order, all of them or none (in
// one transaction: see OnceEach). An error means that none took effect.
type BatchHandler func(ctx context.Context, evs []Event) error

// LocalBus is the in-process bus of the embedded mode: Publish calls every
// subscriber of the event's topic, in the relay's goroutine; PublishBatch
// hands each subscriber its events of a relay round.
type LocalBus struct {
	mu   sync.RWMutex
	subs []subscription
}

type subscription struct {
	consumer string
	topics   []string
	handle   Handler      // one event at a time, or
	batch    BatchHandler // several
}

func (s subscription) wants(topic string) bool {
	return slices.Contains(s.topics, topic) || slices.Contains(s.topics, "*")
}

func (s subscription) one(ctx context.Context, e Event) error {
	if s.batch != nil {
		return s.batch(ctx, []Event{e})
	}
	return s.handle(ctx, e)
}

// NewLocalBus returns an empty bus.
func NewLocalBus() *LocalBus { return &LocalBus{} }

// Subscribe registers handler for the given topics ("*" for every topic)
// under a consumer name, which is also the name Once records it under.
func (b *LocalBus) Subscribe(consumer string, topics []string, handler Handler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, subscription{consumer: consumer, topics: topics, handle: handler})
}

// SubscribeBatch is Subscribe for a handler that takes the events of a
// relay round together (its topics only, in order). When the batch fails,
// the bus hands it the events one at a time, so that only the ones that
// fail again are retried (and the later events of their aggregates held
// back).
func (b *LocalBus) SubscribeBatch(consumer string, topics []string, handler BatchHandler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, subscription{consumer: consumer, topics: topics, batch: handler})
}

func (b *LocalBus) subscriptions() []subscription {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.subs
}

// Publish delivers e to every subscriber; if any fails, it returns their
// errors joined and the relay delivers the event again later (to all of
// them: the ones that succeeded ignore the repeat).
func (b *LocalBus) Publish(ctx context.Context, e Event) error {
	var errs []error
	for _, s := range b.subscriptions() {
		if !s.wants(e.Topic) {
			continue
		}
		if err := s.one(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.consumer, err))
		}
	}
	return errors.Join(errs...)
}

// PublishBatch delivers evs (in Seq order) to every subscriber, each its
// topics' events in order, and returns one error per event: nil when every
// subscriber processed it. A subscriber whose event of an aggregate failed
// does not get that aggregate's later events of the batch (they fail too,
// as held back), so each consumer sees each aggregate's events in order.
func (b *LocalBus) PublishBatch(ctx context.Context, evs []Event) []error {
	errs := make([][]error, len(evs))
	for _, s := range b.subscriptions() {
		var (
			at   []int // index in evs of each of mine
			mine []Event
		)
		for i, e := range evs {
			if s.wants(e.Topic) {
				at, mine = append(at, i), append(mine, e)
			}
		}
		if len(mine) == 0 || (s.batch != nil && len(mine) > 1 && ctx.Err() == nil && s.batch(ctx, mine) == nil) {
			continue
		}
		failed := map[string]bool{}
		for k, e := range mine {
			var err error
			if err = ctx.Err(); err != nil {
				// stopping: deliver nothing more
			} else if failed[e.AggregateID] {
				err = fmt.Errorf("held back behind a failed event of aggregate %s", e.AggregateID)
			} else if err = s.one(ctx, e); err != nil {
				failed[e.AggregateID] = true
			}
			if err != nil {
				errs[at[k]] = append(errs[at[k]], fmt.Errorf("%s: %w", s.consumer, err))
			}
		}
	}
	out := make([]error, len(evs))
	for i, e := range errs {
		out[i] = errors.Join(e...)
	}
	return out
}
