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

// LocalBus is the in-process bus of the embedded mode: Publish calls every
// subscriber of the event's topic, in the relay's goroutine.
type LocalBus struct {
	mu   sync.RWMutex
	subs []subscription
}

type subscription struct {
	consumer string
	topics   []string
	handle   Handler
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

// Publish delivers e to every subscriber; if any fails, it returns their
// errors joined and the relay delivers the event again later (to all of
// them: the ones that succeeded ignore the repeat).
func (b *LocalBus) Publish(ctx context.Context, e Event) error {
	b.mu.RLock()
	subs := b.subs
	b.mu.RUnlock()
	var errs []error
	for _, s := range subs {
		if !slices.Contains(s.topics, e.Topic) && !slices.Contains(s.topics, "*") {
			continue
		}
		if err := s.handle(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.consumer, err))
		}
	}
	return errors.Join(errs...)
}
