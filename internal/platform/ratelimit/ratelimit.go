// Package ratelimit limits how often something may happen per key (an
// e-mail address, a client IP, a cart), for example "5 sign-in failures per
// 15 minutes per account".
//
// Memory is the in-process implementation. Consumers declare the small
// interface they need (typically Allow, sometimes Reset) in their own
// package, so that a shared implementation (Redis, for several instances)
// can replace Memory without changing them.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
)

// DefaultMaxKeys bounds how many keys a Memory limiter tracks at once.
const DefaultMaxKeys = 100_000

// Memory is an in-memory rate limiter: each key may do limit things per
// window, with bursts up to limit. It implements the generic cell rate
// algorithm (a token bucket that stores one time per key): every allowed
// event moves the key's "theoretical arrival time" forward by window/limit,
// and an event is refused while that time is more than window ahead.
//
// Memory stays bounded: keys whose budget is whole again are dropped every
// window, and when more than maxKeys are tracked the ones closest to a whole
// budget are dropped first (which forgets their history: the limiter fails
// open for them rather than refusing strangers). It is safe for concurrent
// use and starts no goroutine.
type Memory struct {
	interval time.Duration // window / limit: the cost of one event
	window   time.Duration // how far ahead a key's arrival time may run
	maxKeys  int
	now      func() time.Time

	mu        sync.Mutex
	tat       map[string]time.Time // theoretical arrival time per key
	nextSweep time.Time
}

// Option configures a Memory limiter.
type Option func(*Memory)

// WithClock makes the limiter read time from now (for tests).
func WithClock(now func() time.Time) Option { return func(m *Memory) { m.now = now } }

// WithMaxKeys bounds the number of keys tracked at once (DefaultMaxKeys by default).
func WithMaxKeys(n int) Option { return func(m *Memory) { m.maxKeys = max(n, 1) } }

// NewMemory returns a limiter that allows limit events per window for each
// key. limit must be at least 1 and window positive: they are fixed
// configuration, so a bad value panics.
func NewMemory(limit int, window time.Duration, opts ...Option) *Memory {
	if limit < 1 || window <= 0 {
		panic(fmt.Sprintf("ratelimit.NewMemory(%d, %v): limit must be >= 1 and window > 0", limit, window))
	}
	m := &Memory{
		interval: max(window/time.Duration(limit), 1),
		window:   window,
		maxKeys:  DefaultMaxKeys,
		now:      time.Now,
		tat:      map[string]time.Time{},
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Allow records one event for key and reports whether it is within the
// limit. When it is not, nothing is recorded and retryAfter says how long
// until the next event would be allowed.
func (m *Memory) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	tat, tracked := m.tat[key]
	if !tracked || tat.Before(now) {
		tat = now
	}
	next := tat.Add(m.interval)
	if ahead := next.Sub(now); ahead > m.window {
		return false, ahead - m.window
	}
	if !tracked && len(m.tat) >= m.maxKeys {
		m.evict(now)
	}
	m.tat[key] = next
	return true, 0
}

// Reset forgets key's history, giving it its whole budget back (for
// example after a successful sign-in ends a run of failures).
func (m *Memory) Reset(key string) {
	m.mu.Lock()
	delete(m.tat, key)
	m.mu.Unlock()
}

// Len returns the number of keys currently tracked.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tat)
}

// maybeSweep drops, at most once per window, every key whose budget is
// whole again: tracking it or not makes no difference.
func (m *Memory) maybeSweep(now time.Time) {
	if now.Before(m.nextSweep) {
		return
	}
	m.nextSweep = now.Add(m.window)
	for k, t := range m.tat {
		if !t.After(now) {
			delete(m.tat, k)
		}
	}
}

// evict makes room when maxKeys are tracked: first the keys with a whole
// budget, then, if that is not enough, the tenth of the keys nearest to a
// whole budget (the ones most limited are kept longest).
func (m *Memory) evict(now time.Time) {
	for k, t := range m.tat {
		if !t.After(now) {
			delete(m.tat, k)
		}
	}
	if len(m.tat) < m.maxKeys {
		return
	}
	times := make([]time.Time, 0, len(m.tat))
	for _, t := range m.tat {
		times = append(times, t)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	cut := times[max(len(times)/10, 1)-1]
	for k, t := range m.tat {
		if !t.After(cut) {
			delete(m.tat, k)
		}
	}
}

// RetryAfter is the machine-readable detail of an Exceeded error (the
// problem document's "extra").
type RetryAfter struct {
	Seconds int `json:"retry_after"`
}

// RetryAfterSeconds lets web.Error set the Retry-After header.
func (r RetryAfter) RetryAfterSeconds() int { return r.Seconds }

// Exceeded returns the TooManyRequest error (429) for a refused event; it
// carries retryAfter, rounded up to whole seconds, for SetRetryAfter and for
// the problem document.
func Exceeded(message string, retryAfter time.Duration) *apperr.Error {
	return &apperr.Error{Code: apperr.TooManyRequest, Message: message, Detail: RetryAfter{Seconds: seconds(retryAfter)}}
}

func seconds(d time.Duration) int {
	return int(max(math.Ceil(d.Seconds()), 1))
}

// SetRetryAfter sets the Retry-After header when err is an Exceeded error.
// Handlers call it before returning err, because web.Error writes only the
// problem document.
func SetRetryAfter(h http.Header, err error) {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return
	}
	if ra, ok := e.Detail.(RetryAfter); ok && e.Code == apperr.TooManyRequest {
		h.Set("Retry-After", strconv.Itoa(ra.Seconds))
	}
}
