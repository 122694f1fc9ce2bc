package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// verdict is the level-off rule applied to one series of samples.
type verdict struct {
	middle, last float64 // medians of the middle and the last third
	growth       float64 // last - middle
	allowed      float64 // max(tolerance * middle, floor)
	ok           bool
}

// minSamples is the fewest samples the rule judges: two in each third.
const minSamples = 6

// levelOff is the soak's rule: split the samples (in time order) into
// thirds; the series has levelled off when the median of the last third
// exceeds the median of the middle third by at most
// max(tolerance × middle median, floor). The first third is warm-up
// (caches filling, connection pools growing) and is not judged. Medians
// ignore single spikes (a GC cycle, a burst of events).
func levelOff(values []float64, tolerance, floor float64) (verdict, error) {
	if len(values) < minSamples {
		return verdict{}, fmt.Errorf("%d samples: the level-off rule needs at least %d (a longer soak or a shorter sample interval)", len(values), minSamples)
	}
	a, b := len(values)/3, 2*len(values)/3
	v := verdict{middle: median(values[a:b]), last: median(values[b:])}
	v.growth = v.last - v.middle
	v.allowed = max(tolerance*v.middle, floor)
	v.ok = v.growth <= v.allowed
	return v, nil
}

// thirds returns the times where the rule's thirds begin (the middle and
// the last), for the chart.
func thirds(samples []sample) (middle, last time.Duration) {
	if len(samples) < minSamples {
		return 0, 0
	}
	return samples[len(samples)/3].t, samples[2*len(samples)/3].t
}

// sample is what the soak reads from the shop every few seconds.
type sample struct {
	t            time.Duration // since the load started
	rss          int64         // bytes, /proc/<pid>/status VmRSS
	heap         float64       // bytes, go_memstats_heap_inuse_bytes
	goroutines   float64       // go_goroutines
	eventsBehind float64       // mercato_outbox_pending
}

type soakConfig struct {
	engine     string
	duration   time.Duration
	interval   time.Duration
	readers    int
	shoppers   int
	maxGrowth  float64 // RSS tolerance, a fraction
	minGrowth  float64 // RSS floor, bytes
	goroutineT float64
	goroutineF float64
	svg        string
}

// runSoak drives a mixed load (readers over every read route, shoppers
// checking out over many SKUs) against one engine, samples the server's
// memory and goroutines, writes the chart and fails when either has not
// levelled off or a 5xx was answered.
func runSoak(ctx context.Context, env *harness, cfg soakConfig, stdout io.Writer) error {
	var e *engine
	for _, x := range env.engines {
		if x.name == cfg.engine {
			e = x
		}
	}
	if e == nil {
		return fmt.Errorf("engine %s is not running", cfg.engine)
	}
	var paths []string
	for _, rt := range routes {
		if rt.flow == "" {
			paths = append(paths, rt.paths(e.targets)...)
		}
	}
	fmt.Fprintf(stdout, "soak: %s for %s, %d readers over %d read URLs and %d shoppers checking out over %d SKUs; a sample every %s\n",
		e.name, cfg.duration, cfg.readers, len(paths), cfg.shoppers, len(e.targets.variants), cfg.interval)

	read, closeReaders := rotate(e.shop.base, paths, cfg.readers)
	defer closeReaders()
	sc, mc := newClient(cfg.shoppers), newClient(1)
	defer closeClient(sc)
	defer closeClient(mc)
	var (
		reads, flows Result
		wg           sync.WaitGroup
		counts       = struct {
			sync.Mutex
			reads, flows, errs int64
		}{}
	)
	count := func(kind *int64) progressFunc {
		var last, lastErr int64
		return func(_ time.Duration, ok, errs int64) {
			counts.Lock()
			*kind += ok - last
			counts.errs += errs - lastErr
			last, lastErr = ok, errs
			counts.Unlock()
		}
	}
	variants := e.targets.variants
	start := time.Now()
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	wg.Go(func() {
		reads = drive(loadCtx, cfg.readers, cfg.duration, read, count(&counts.reads))
	})
	wg.Go(func() {
		flows = drive(loadCtx, cfg.shoppers, cfg.duration, flow(sc, e.shop.base, func(w, i int) string {
			return variants[(w*131+i)%len(variants)]
		}), count(&counts.flows))
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var samples []sample
	var sampleErr error
	take := func() {
		s := sample{t: time.Since(start)}
		rss, err := rssOf(e.shop.pid())
		if err != nil {
			sampleErr = fmt.Errorf("RSS of the server: %w", err)
			stopLoad()
			return
		}
		s.rss = rss
		m, err := e.shop.metrics(ctx, mc, "go_goroutines", "go_memstats_heap_inuse_bytes", "mercato_outbox_pending")
		if err != nil {
			sampleErr = fmt.Errorf("scrape /metrics: %w", err)
			stopLoad()
			return
		}
		s.goroutines, s.heap, s.eventsBehind = m["go_goroutines"], m["go_memstats_heap_inuse_bytes"], m["mercato_outbox_pending"]
		samples = append(samples, s)
		counts.Lock()
		r, f, errs := counts.reads, counts.flows, counts.errs
		counts.Unlock()
		el := s.t.Seconds()
		fmt.Fprintf(stdout, "  %6s  RSS %6.1f MB  heap %6.1f MB  goroutines %4.0f  %s reads/s  %s checkouts/s  errors %d  events behind %.0f\n",
			s.t.Round(time.Second), mb(s.rss), s.heap/(1<<20), s.goroutines, thousands(float64(r)/el), thousands(float64(f)/el), errs, s.eventsBehind)
	}
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C:
			take()
		}
	}
	if sampleErr != nil {
		return sampleErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	behind, _ := e.shop.waitForEvents(ctx, mc, 2*time.Minute)

	rssV, heapV, gorV := make([]float64, len(samples)), make([]float64, len(samples)), make([]float64, len(samples))
	for i, s := range samples {
		rssV[i], heapV[i], gorV[i] = float64(s.rss), s.heap, s.goroutines
	}
	memV, err := levelOff(rssV, cfg.maxGrowth, cfg.minGrowth)
	if err != nil {
		return err
	}
	gorVd, err := levelOff(gorV, cfg.goroutineT, cfg.goroutineF)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nreads: %s req/s (p50 %s, p99 %s), %d errors (%d 5xx)\n", thousands(reads.Rate()), ms(reads.P(50)), ms(reads.P(99)), reads.Errors, reads.Status5xx)
	fmt.Fprintf(stdout, "checkouts: %s/s (p50 %s, p99 %s), %d orders, %d errors (%d 5xx)\n", thousands(flows.Rate()), ms(flows.P(50)), ms(flows.P(99)), flows.OK, flows.Errors, flows.Status5xx)
	for _, r := range []Result{reads, flows} {
		if r.FirstErr != "" {
			fmt.Fprintf(stdout, "  first error: %s\n", r.FirstErr)
		}
	}
	fmt.Fprintf(stdout, "events still unpublished 2 minutes after the load: %.0f\n", behind)
	fmt.Fprintf(stdout, "RSS: median %.1f MB in the middle third, %.1f MB in the last: %+.1f MB (allowed %.1f MB): %s\n",
		memV.middle/(1<<20), memV.last/(1<<20), memV.growth/(1<<20), memV.allowed/(1<<20), okText(memV.ok))
	fmt.Fprintf(stdout, "goroutines: median %.0f in the middle third, %.0f in the last: %+.0f (allowed %.0f): %s\n",
		gorVd.middle, gorVd.last, gorVd.growth, gorVd.allowed, okText(gorVd.ok))

	if cfg.svg != "" {
		if err := writeSoakSVG(cfg, e.name, samples, memV, gorVd, env.note()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "chart: %s\n", cfg.svg)
	}
	var errs []error
	if !memV.ok {
		errs = append(errs, fmt.Errorf("memory did not level off: RSS grew %.1f MB from the middle to the last third (allowed %.1f MB)", memV.growth/(1<<20), memV.allowed/(1<<20)))
	}
	if !gorVd.ok {
		errs = append(errs, fmt.Errorf("goroutines did not level off: %+.0f from the middle to the last third (allowed %.0f)", gorVd.growth, gorVd.allowed))
	}
	if n := reads.Status5xx + flows.Status5xx; n > 0 {
		errs = append(errs, fmt.Errorf("%d answers were 5xx", n))
	}
	return errors.Join(errs...)
}

func okText(ok bool) string {
	if ok {
		return "levelled off"
	}
	return "GROWING"
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func writeSoakSVG(cfg soakConfig, engine string, samples []sample, mem, gor verdict, note string) error {
	rss := series{legendItem: legendItem{"RSS", "#0f766e"}}
	heap := series{legendItem: legendItem{"Go heap in use", "#7c3aed"}}
	gs := series{legendItem: legendItem{"goroutines", "#b45309"}}
	for _, s := range samples {
		x := s.t.Seconds()
		rss.points = append(rss.points, point{x, mb(s.rss)})
		heap.points = append(heap.points, point{x, s.heap / (1 << 20)})
		gs.points = append(gs.points, point{x, s.goroutines})
	}
	m, l := thirds(samples)
	end := samples[len(samples)-1].t.Seconds()
	marks := []float64{m.Seconds(), l.Seconds()}
	memPanel := linePanel{
		title: fmt.Sprintf("Memory of the server (%s): %s", engine, okText(mem.ok)),
		unit: fmt.Sprintf("MB; dashed red: median RSS of the middle third %.1f, of the last third %.1f (allowed growth %.1f)",
			mem.middle/(1<<20), mem.last/(1<<20), mem.allowed/(1<<20)),
		series: []series{rss, heap}, marks: marks,
		levels: []level{{m.Seconds(), l.Seconds(), mem.middle / (1 << 20)}, {l.Seconds(), end, mem.last / (1 << 20)}},
	}
	gorPanel := linePanel{
		title:  "Goroutines: " + okText(gor.ok),
		unit:   fmt.Sprintf("count; medians %.0f and %.0f (allowed growth %.0f)", gor.middle, gor.last, gor.allowed),
		series: []series{gs}, marks: marks,
		levels: []level{{m.Seconds(), l.Seconds(), gor.middle}, {l.Seconds(), end, gor.last}},
	}
	if err := os.MkdirAll(filepath.Dir(cfg.svg), 0o755); err != nil {
		return err
	}
	f, err := os.Create(cfg.svg)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("Mercato soak: %s of mixed load on %s, %d readers and %d shoppers", cfg.duration, engine, cfg.readers, cfg.shoppers)
	if err := writeLines(f, title, title+". "+note, memPanel, gorPanel); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
