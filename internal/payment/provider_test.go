package payment_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/payment"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func authorize(t testing.TB, sb *payment.Sandbox, key string) payment.Result {
	t.Helper()
	r, err := sb.Authorize(context.Background(), payment.AuthorizeRequest{
		Amount: money.Money{Amount: 1000, Currency: "EUR"}, PaymentMethod: "pm_card_visa", Capture: true, IdempotencyKey: key,
	})
	if err != nil {
		t.Fatalf("Authorize(%s): %v", key, err)
	}
	return r
}

// TestSandboxIdempotencyRetention: a retried key gets the same answer within
// the retention and a new payment after it; expired keys are let go.
func TestSandboxIdempotencyRetention(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	sb := payment.NewSandbox(payment.WithSandboxClock(c.now))

	first := authorize(t, sb, "k1")
	c.t = c.t.Add(payment.DefaultIdempotencyRetention - time.Second)
	if again := authorize(t, sb, "k1"); again != first {
		t.Fatalf("retry within the retention = %+v, want the first answer %+v", again, first)
	}
	c.t = c.t.Add(2 * time.Second) // now past the retention of k1's first use
	if later := authorize(t, sb, "k1"); later.ProviderRef == first.ProviderRef {
		t.Fatalf("retry after the retention answered the forgotten payment %s again", first.ProviderRef)
	}
	if n := sb.RememberedKeys(); n != 1 {
		t.Fatalf("remembered keys = %d, want 1 (k1's new use)", n)
	}
}

// TestSandboxForgetsExpiredKeys: distinct payments a day apart do not
// accumulate (before the bound every key was kept forever).
func TestSandboxForgetsExpiredKeys(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	sb := payment.NewSandbox(payment.WithSandboxClock(c.now))
	for i := range 1000 {
		authorize(t, sb, fmt.Sprintf("key-%d", i))
		c.t = c.t.Add(time.Hour)
	}
	// 1,000 hours: only the keys of the last 24 hours are still remembered.
	if n := sb.RememberedKeys(); n != 24 {
		t.Fatalf("remembered keys after 1,000 hourly payments = %d, want 24", n)
	}
}

// TestSandboxIdempotencyCap: never more than the cap, the oldest dropped
// first, the newest still answered identically.
func TestSandboxIdempotencyCap(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	sb := payment.NewSandbox(payment.WithSandboxClock(c.now), payment.WithIdempotencyKeys(100))
	answers := map[string]payment.Result{}
	for i := range 1000 {
		k := fmt.Sprintf("key-%d", i)
		answers[k] = authorize(t, sb, k)
		if n := sb.RememberedKeys(); n > 100 {
			t.Fatalf("after %d payments: %d keys remembered, cap is 100", i+1, n)
		}
		c.t = c.t.Add(time.Millisecond)
	}
	if n := sb.RememberedKeys(); n != 100 {
		t.Fatalf("remembered keys = %d, want the cap, 100", n)
	}
	if r := authorize(t, sb, "key-999"); r != answers["key-999"] {
		t.Fatalf("newest key answered %+v, want %+v", r, answers["key-999"])
	}
	if r := authorize(t, sb, "key-0"); r.ProviderRef == answers["key-0"].ProviderRef {
		t.Fatal("oldest key beyond the cap was still remembered")
	}
}

// BenchmarkSandboxHeap reports the live heap left after b.N distinct
// payments 2 simulated seconds apart (so 24 hours hold 43,200 keys): with the
// bound it levels off past 43,200 payments instead of growing with b.N.
// Compare -benchtime=50000x with -benchtime=500000x.
func BenchmarkSandboxHeap(b *testing.B) {
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	sb := payment.NewSandbox(payment.WithSandboxClock(c.now))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	b.ResetTimer()
	for i := range b.N {
		authorize(b, sb, fmt.Sprintf("idem-%d", i))
		c.t = c.t.Add(2 * time.Second)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(int64(ms.HeapAlloc)-int64(before))/1024, "live-KiB")
	b.ReportMetric(float64(sb.RememberedKeys()), "keys")
}
