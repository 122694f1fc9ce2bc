package customer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestTakeParallel hammers one key from many goroutines on two stores over
// one database: the conditional UPSERT lets exactly the rule's free
// attempts through, on both engines.
func TestTakeParallel(t *testing.T) {
	sqldbtest.ForEach(t, []sqldb.Migrations{Migrations()}, func(t *testing.T, db *sqldb.DB) {
		now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
		for _, tt := range []struct {
			name string
			rule Rule
		}{
			{"fixed window", Rule{Free: LoginAttemptsPerIP, Forget: LoginAttemptWindow}},
			{"sliding with delays", Rule{Free: LoginFreeAttempts, Delays: backoff(LoginDelayFirst, LoginDelayMax), Forget: LoginCountForgotten, Sliding: true}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				stores := []store{{db: db}, {db: db}}
				const n = 60
				waits := make([]time.Duration, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { waits[i], errs[i] = stores[i%2].Take(context.Background(), tt.name, tt.rule, now) })
				}
				wg.Wait()
				passed := 0
				for i, w := range waits {
					if errs[i] != nil {
						t.Fatal(errs[i])
					}
					if w == 0 {
						passed++
					}
				}
				if passed != tt.rule.Free {
					t.Fatalf("%d of %d attempts passed, want %d", passed, n, tt.rule.Free)
				}
			})
		}
	})
}

func TestRuleWait(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	r := Rule{Free: 2, Delays: []time.Duration{time.Minute, 4 * time.Minute}, Forget: time.Hour, Sliding: true}
	for _, tt := range []struct {
		attempts int
		last     time.Time
		expires  time.Time
		now      time.Time
		want     time.Duration
	}{
		{1, t0, t0.Add(time.Hour), t0, 0},
		{2, t0, t0.Add(time.Hour), t0, time.Minute},
		{2, t0, t0.Add(time.Hour), t0.Add(20 * time.Second), 40 * time.Second},
		{3, t0, t0.Add(time.Hour), t0, 4 * time.Minute},
		{9, t0, t0.Add(time.Hour), t0, 4 * time.Minute},
		{9, t0, t0.Add(time.Minute), t0, time.Minute},      // forgotten before the delay ends
		{9, t0, t0.Add(time.Minute), t0.Add(time.Hour), 0}, // forgotten
	} {
		if got := r.wait(tt.attempts, tt.last, tt.expires, tt.now); got != tt.want {
			t.Errorf("wait(%d, …, now+%v) = %v, want %v", tt.attempts, tt.now.Sub(t0), got, tt.want)
		}
	}
	fixed := Rule{Free: 3, Forget: time.Minute}
	if got := fixed.wait(3, t0.Add(10*time.Second), t0.Add(time.Minute), t0.Add(15*time.Second)); got != 45*time.Second {
		t.Errorf("fixed window: wait %v, want 45s (until the window ends)", got)
	}
	if got := backoff(time.Minute, 15*time.Minute); len(got) != 5 || got[4] != 15*time.Minute || got[3] != 8*time.Minute {
		t.Errorf("backoff = %v", got)
	}
}
