package loadtest

import (
	"math"
	"strings"
	"testing"
	"time"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentileIsNearestRank(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1..100 ms
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", durations(7), 99, 7 * time.Millisecond},
		{"median of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 1..100", hundred, 100, 100 * time.Millisecond},
		{"p99 of 10 is the largest", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"p50 of 4 is the second", durations(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"tiny p is the smallest", durations(3, 5, 9), 0.001, 3 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestMergeSortsAndSums(t *testing.T) {
	ok, errs, s5xx, first, lat := merge([]record{
		{ok: 2, lat: durations(30, 10)},
		{ok: 1, errs: 2, s5xx: 1, firstErr: "GET /x: 500", lat: durations(20, 5, 40)},
		{},
	})
	if ok != 3 || errs != 2 || s5xx != 1 || first != "GET /x: 500" {
		t.Errorf("merge = ok %d, errs %d, 5xx %d, first %q", ok, errs, s5xx, first)
	}
	want := durations(5, 10, 20, 30, 40)
	if len(lat) != len(want) {
		t.Fatalf("latencies %v, want %v", lat, want)
	}
	for i := range want {
		if lat[i] != want[i] {
			t.Fatalf("latencies %v, want %v", lat, want)
		}
	}
}

func TestRateCountsOnlySuccesses(t *testing.T) {
	r := Result{OK: 500, Errors: 100, Elapsed: 2 * time.Second}
	if got := r.Rate(); got != 250 {
		t.Errorf("Rate = %v, want 250 (errors are not throughput)", got)
	}
	if got := (Result{OK: 5}).Rate(); got != 0 {
		t.Errorf("Rate without elapsed time = %v, want 0", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{4}, 4},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{1, 1, 100}, 1},
	} {
		in := append([]float64(nil), tc.xs...)
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.xs[i] {
				t.Errorf("median reordered its input: %v", tc.xs)
			}
		}
	}
}

func TestSummarizeShowsTheMedianRound(t *testing.T) {
	round := func(ok int64, errs, s5xx int64, first string, lat ...int) Result {
		return Result{OK: ok, Errors: errs, Status5xx: s5xx, FirstErr: first, Elapsed: time.Second, Latencies: durations(lat...)}
	}
	s := summarize([]Result{
		round(300, 0, 0, "", 9),
		round(100, 4, 1, "GET /: 502", 30),
		round(200, 1, 0, "GET /: 404", 15),
	})
	if s.Median.OK != 200 || s.Median.P(50) != 15*time.Millisecond {
		t.Errorf("median round: %d ok, p50 %v; want the round with 200/s and its own latencies (15 ms)", s.Median.OK, s.Median.P(50))
	}
	if s.Min != 100 || s.Max != 300 || s.Rounds != 3 {
		t.Errorf("range [%v, %v] over %d rounds, want [100, 300] over 3", s.Min, s.Max, s.Rounds)
	}
	if s.Errors != 5 || s.S5xx != 1 || s.FirstErr != "GET /: 502" {
		t.Errorf("errors %d (5xx %d), first %q; want every round's: 5 (1), the first round's first error", s.Errors, s.S5xx, s.FirstErr)
	}
	// An even count shows the lower middle round: a figure that was measured.
	if s := summarize([]Result{round(400, 0, 0, ""), round(100, 0, 0, ""), round(300, 0, 0, ""), round(200, 0, 0, "")}); s.Median.OK != 200 {
		t.Errorf("median of 4 rounds: %d/s, want 200 (the lower middle one)", s.Median.OK)
	}
	if s := summarize(nil); s.Rounds != 0 {
		t.Errorf("summary of nothing: %+v", s)
	}
}

func TestLevelOff(t *testing.T) {
	const mb = 1 << 20
	flat := []float64{30, 45, 48, 50, 49, 51, 50, 49, 50, 51, 50, 50}
	grow := func(n int, start, perSample float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = start + perSample*float64(i)
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		values     []float64
		tol, floor float64
		ok         bool
	}{
		{"warm-up growth in the first third is not judged", flat, 0.1, 0, true},
		{"steady growth fails", grow(30, 50*mb, 1*mb), 0.1, 4 * mb, false},
		{"growth within the tolerance passes", grow(30, 100*mb, 0.05*mb), 0.1, 0, true},
		{"growth within the floor passes", grow(30, 10*mb, 0.2*mb), 0.1, 4 * mb, true},
		{"the same growth without the floor fails", grow(30, 10*mb, 0.2*mb), 0.1, 0, false},
		{"shrinking passes", grow(30, 100*mb, -1*mb), 0.1, 0, true},
		{"one spike in the last third does not fail", []float64{50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 500, 50}, 0.1, 0, true},
		{"a step up in the last third fails", []float64{50, 50, 50, 50, 50, 50, 50, 50, 80, 80, 80, 80}, 0.1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := levelOff(tc.values, tc.tol, tc.floor)
			if err != nil {
				t.Fatal(err)
			}
			if v.ok != tc.ok {
				t.Errorf("ok = %v, want %v (middle %v, last %v, growth %v, allowed %v)", v.ok, tc.ok, v.middle, v.last, v.growth, v.allowed)
			}
			if v.growth != v.last-v.middle {
				t.Errorf("growth %v is not last %v - middle %v", v.growth, v.last, v.middle)
			}
		})
	}
	t.Run("thirds", func(t *testing.T) {
		// 9 samples: middle third is 3..5, last is 6..8.
		v, err := levelOff([]float64{0, 1, 2, 3, 4, 5, 6, 7, 8}, 0.5, 0)
		if err != nil {
			t.Fatal(err)
		}
		if v.middle != 4 || v.last != 7 || v.allowed != 2 || v.ok {
			t.Errorf("got %+v, want middle 4, last 7, allowed 2, not ok", v)
		}
	})
	t.Run("too few samples", func(t *testing.T) {
		_, err := levelOff([]float64{1, 2, 3, 4, 5}, 0.1, 0)
		if err == nil || !strings.Contains(err.Error(), "at least 6") {
			t.Errorf("5 samples: err = %v, want 'needs at least 6'", err)
		}
	})
}

func TestThirdsMarkWhereTheRuleSplits(t *testing.T) {
	var ss []sample
	for i := range 9 {
		ss = append(ss, sample{t: time.Duration(i+1) * time.Second})
	}
	m, l := thirds(ss)
	if m != 4*time.Second || l != 7*time.Second {
		t.Errorf("thirds at %v and %v, want 4s and 7s (samples 3 and 6)", m, l)
	}
}

func TestAxis(t *testing.T) {
	for _, tc := range []struct {
		v          float64
		n          int
		top, step  float64
		wantChecks bool
	}{
		{54, 5, 60, 20, true},
		{2160, 5, 2500, 500, true},
		{100, 5, 100, 20, true},
		{0.9, 4, 1, 0.5, true},
		{130, 8, 140, 20, true},
		{0, 5, 1, 0.2, true},
		{math.NaN(), 4, 1, 0.25, true},
	} {
		top, step := axis(tc.v, tc.n)
		if math.Abs(top-tc.top) > 1e-9 || math.Abs(step-tc.step) > 1e-9 {
			t.Errorf("axis(%v, %d) = %v, %v; want %v, %v", tc.v, tc.n, top, step, tc.top, tc.step)
		}
		if !math.IsNaN(tc.v) && (top < tc.v || top/step > float64(tc.n)+1e-9) {
			t.Errorf("axis(%v, %d) = %v, %v: below the value or more than %d intervals", tc.v, tc.n, top, step, tc.n)
		}
	}
}

func TestFormatting(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -4321: "-4,321"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[time.Duration]string{420 * time.Microsecond: "0.42 ms", 3100 * time.Microsecond: "3.1 ms", 1234 * time.Millisecond: "1,234 ms"} {
		if got := ms(in); got != want {
			t.Errorf("ms(%v) = %q, want %q", in, got, want)
		}
	}
	if got := wrap("aa bb cc dddddddd e", 5); strings.Join(got, "|") != "aa bb|cc|dddddddd|e" {
		t.Errorf("wrap = %q", got)
	}
}
