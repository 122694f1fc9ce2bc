package ratelimit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
)

// clock is a manual clock for the limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func TestMemoryAllow(t *testing.T) {
	type step struct {
		advance time.Duration
		key     string
		ok      bool
		retry   time.Duration
	}
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		steps  []step
	}{
		{"burst up to the limit, then refused until one interval has passed", 5, 15 * time.Minute, []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, 3 * time.Minute},
			{time.Minute, "a", false, 2 * time.Minute},
			{2*time.Minute - time.Second, "a", false, time.Second},
			{time.Second, "a", true, 0},
			{0, "a", false, 3 * time.Minute},
		}},
		{"keys are independent", 1, time.Minute, []step{
			{0, "a", true, 0}, {0, "a", false, time.Minute}, {0, "b", true, 0}, {0, "b", false, time.Minute},
		}},
		{"a whole window restores the whole budget", 2, time.Minute, []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 30 * time.Second},
			{time.Minute, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 30 * time.Second},
		}},
		{"refused events do not count", 1, time.Minute, []step{
			{0, "a", true, 0}, {0, "a", false, time.Minute}, {0, "a", false, time.Minute}, {time.Minute, "a", true, 0},
		}},
		{"steady rate at the limit is always allowed", 20, time.Minute, []step{
			{0, "ip", true, 0}, {3 * time.Second, "ip", true, 0}, {3 * time.Second, "ip", true, 0}, {3 * time.Second, "ip", true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			m := ratelimit.NewMemory(tt.limit, tt.window, ratelimit.WithClock(c.now))
			for i, s := range tt.steps {
				c.advance(s.advance)
				ok, retry := m.Allow(s.key)
				if ok != s.ok || retry != s.retry {
					t.Fatalf("step %d (%s): Allow = %v, %v; want %v, %v", i, s.key, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

func TestMemoryReset(t *testing.T) {
	c := newClock()
	m := ratelimit.NewMemory(1, time.Hour, ratelimit.WithClock(c.now))
	m.Allow("a")
	if ok, _ := m.Allow("a"); ok {
		t.Fatal("second event allowed")
	}
	m.Reset("a")
	if ok, _ := m.Allow("a"); !ok {
		t.Fatal("refused after Reset")
	}
}

func TestMemoryStaysBounded(t *testing.T) {
	t.Run("idle keys are swept", func(t *testing.T) {
		c := newClock()
		m := ratelimit.NewMemory(3, time.Minute, ratelimit.WithClock(c.now))
		for i := range 1000 {
			m.Allow(fmt.Sprint("k", i))
		}
		if m.Len() != 1000 {
			t.Fatalf("Len = %d, want 1000", m.Len())
		}
		c.advance(time.Minute)
		m.Allow("fresh")
		if m.Len() != 1 {
			t.Fatalf("after a window Len = %d, want 1 (idle keys dropped)", m.Len())
		}
	})
	t.Run("at most maxKeys; the most limited keys are kept", func(t *testing.T) {
		c := newClock()
		m := ratelimit.NewMemory(2, time.Hour, ratelimit.WithClock(c.now), ratelimit.WithMaxKeys(100))
		m.Allow("victim")
		m.Allow("victim") // budget spent: the most limited key
		for i := range 10_000 {
			c.advance(time.Millisecond)
			m.Allow(fmt.Sprint("k", i))
			if m.Len() > 100 {
				t.Fatalf("Len = %d after %d keys, want <= 100", m.Len(), i)
			}
		}
		if ok, _ := m.Allow("victim"); ok {
			t.Fatal("the spent key was evicted before keys with budget left")
		}
	})
}

func TestMemoryConcurrent(t *testing.T) {
	// Exactly limit events pass however many goroutines race (run with -race).
	m := ratelimit.NewMemory(50, time.Hour)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 16 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := m.Allow("shared"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("allowed %d, want 50", allowed)
	}
}

func TestNewMemoryRefusesNonsense(t *testing.T) {
	for _, tt := range []struct {
		limit  int
		window time.Duration
	}{{0, time.Minute}, {-1, time.Minute}, {1, 0}} {
		t.Run(fmt.Sprint(tt.limit, tt.window), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			ratelimit.NewMemory(tt.limit, tt.window)
		})
	}
}

func TestExceeded(t *testing.T) {
	err := fmt.Errorf("login: %w", ratelimit.Exceeded("too many attempts", 2500*time.Millisecond))
	if !apperr.Is(err, apperr.TooManyRequest) {
		t.Fatalf("code %v", apperr.CodeOf(err))
	}
	h := http.Header{}
	ratelimit.SetRetryAfter(h, err)
	if got := h.Get("Retry-After"); got != "3" {
		t.Fatalf("Retry-After %q, want 3 (rounded up)", got)
	}
	var e *apperr.Error
	errors.As(err, &e)
	if b, _ := json.Marshal(e.Detail); string(b) != `{"retry_after":3}` {
		t.Fatalf("detail %s", b)
	}
	h = http.Header{}
	ratelimit.SetRetryAfter(h, apperr.Field("x", "y"))
	ratelimit.SetRetryAfter(h, nil)
	if len(h) != 0 {
		t.Fatalf("header set for other errors: %v", h)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	for _, keys := range []int{1, 10_000} {
		b.Run(fmt.Sprint("keys=", keys), func(b *testing.B) {
			m := ratelimit.NewMemory(1_000_000, time.Minute)
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprint("10.0.", i/256, ".", i%256)
			}
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					m.Allow(names[i%keys])
					i++
				}
			})
		})
	}
}
