package loadtest

import (
	"math"
	"slices"
	"time"
)

// Result is one measurement: one route (or shopper flow) driven against one
// server for a fixed time by a fixed number of connections.
type Result struct {
	Route   string // the route's name, e.g. "products list"
	Server  string // "ceiling", "sqlite" or "postgres"
	Conns   int
	Elapsed time.Duration // from the first request to the last answer

	OK        int64 // operations answered as expected
	Errors    int64 // operations that failed: an unexpected status or no answer (5xx included)
	Status5xx int64 // of Errors, those answered with a 5xx
	FirstErr  string

	// Latencies of every operation, successful or not, sorted.
	Latencies []time.Duration
	// EventsBehind is, for shopper flows, how many domain events were
	// still unpublished when the run ended (the relay's lag); -1 unknown.
	EventsBehind int64
}

// Rate is the successful operations per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// P returns the p-th percentile latency (0 < p <= 100) by nearest rank:
// the smallest latency that at least p% of the operations did not exceed.
// It is 0 without operations.
func (r Result) P(p float64) time.Duration { return percentile(r.Latencies, p) }

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// merge combines the workers' records of one run.
func merge(parts []record) (ok, errs, s5xx int64, firstErr string, lat []time.Duration) {
	n := 0
	for _, p := range parts {
		n += len(p.lat)
	}
	lat = make([]time.Duration, 0, n)
	for _, p := range parts {
		ok += p.ok
		errs += p.errs
		s5xx += p.s5xx
		if firstErr == "" {
			firstErr = p.firstErr
		}
		lat = append(lat, p.lat...)
	}
	slices.Sort(lat)
	return
}

// median returns the median of xs (the mean of the two middle values for
// an even count); 0 for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Summary is a route on a server over several rounds: the round with the
// median rate (its latencies and errors are the ones shown), the range of
// rates, and the errors of all rounds together.
type Summary struct {
	Median       Result
	Min, Max     float64 // rates
	Rounds       int
	Errors, S5xx int64 // over all rounds
	FirstErr     string
}

// summarize picks the median round by rate (the lower of the two middle
// ones for an even count, so that the figure shown was really measured).
func summarize(rounds []Result) Summary {
	if len(rounds) == 0 {
		return Summary{}
	}
	s := slices.Clone(rounds)
	slices.SortStableFunc(s, func(a, b Result) int {
		switch ra, rb := a.Rate(), b.Rate(); {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	sum := Summary{Median: s[(len(s)-1)/2], Min: s[0].Rate(), Max: s[len(s)-1].Rate(), Rounds: len(s)}
	for _, r := range rounds {
		sum.Errors += r.Errors
		sum.S5xx += r.Status5xx
		if sum.FirstErr == "" {
			sum.FirstErr = r.FirstErr
		}
	}
	return sum
}
