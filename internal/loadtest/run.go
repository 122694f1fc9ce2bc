package loadtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type runConfig struct {
	duration, warmup        time.Duration
	rounds, conns, shoppers int
	engines                 []string
	routes                  []route
	svg                     string
}

// server is what a measurement drives: the ceiling or a shop.
type server struct {
	name    string
	base    string
	targets targets
	shop    *shop // nil for the ceiling
}

// row is one line of the report: a route on a server over all rounds.
type row struct {
	route   route
	server  string
	sum     Summary
	share   float64 // of the ceiling (see shareOf); -1 when there is none
	ceiling float64 // the ceiling's median rate for this route (reads)
	bytes   int     // body size of the route's first path (reads)
}

// runRoutes measures every selected route: on the ceiling and each shop
// for the reads, on each shop for the shopper flows; rounds times, each
// round over all routes, so that a noisy minute spreads over all of them.
func runRoutes(ctx context.Context, h *harness, c common, rc runConfig, stdout io.Writer) error {
	first := h.engines[0]
	var readPaths []string
	for _, rt := range rc.routes {
		if rt.flow == "" {
			readPaths = append(readPaths, rt.paths(first.targets)...)
		}
	}
	var (
		ceil  ceiling
		cbase string
	)
	if len(readPaths) > 0 {
		cc := newClient(1)
		var err error
		ceil, err = capture(ctx, cc, first.shop.base, readPaths)
		closeClient(cc)
		if err != nil {
			return err
		}
		base, stop, err := serveCeiling(ceil)
		if err != nil {
			return err
		}
		defer stop()
		cbase = base
		fmt.Fprintf(c.progress, "ceiling: %d answers captured from %s, served at %s\n", len(ceil), first.name, cbase)
	}
	serversOf := func(rt route) []server {
		var out []server
		if rt.flow == "" {
			out = append(out, server{name: "ceiling", base: cbase, targets: first.targets})
		}
		for _, e := range h.engines {
			out = append(out, server{name: e.name, base: e.shop.base, targets: e.targets, shop: e.shop})
		}
		return out
	}
	measure := func(rt route, srv server, d time.Duration, label string) Result {
		conns := rc.conns
		if rt.flow != "" {
			conns = rc.shoppers
		}
		var fn op
		if rt.flow == "" {
			var closeAll func()
			fn, closeAll = rotate(srv.base, rt.paths(srv.targets), conns)
			defer closeAll()
		} else {
			client := newClient(conns)
			defer closeClient(client)
			vs, hot := srv.targets.variants, rt.flow == "hot"
			fn = flow(client, srv.base, func(w, i int) string {
				if hot {
					return vs[0]
				}
				return vs[(w*131+i)%len(vs)]
			})
		}
		p := newLive(c.progress, c.tty, label, d)
		r := drive(ctx, conns, d, fn, p.update)
		r.Route, r.Server = rt.name, srv.name
		if rt.flow != "" && srv.shop != nil && ctx.Err() == nil {
			// The relay's lag when the load stops, then let it catch up
			// so that the next measurement starts from a quiet shop.
			mc := newClient(1)
			if m, err := srv.shop.metrics(ctx, mc, "mercato_outbox_pending"); err == nil {
				r.EventsBehind = int64(m["mercato_outbox_pending"])
			}
			srv.shop.waitForEvents(ctx, mc, 3*time.Minute)
			closeClient(mc)
		}
		p.done(r)
		return r
	}
	if rc.warmup > 0 {
		for _, rt := range rc.routes {
			for _, srv := range serversOf(rt) {
				measure(rt, srv, rc.warmup, fmt.Sprintf("warm-up   %-8s %s", srv.name, rt.name))
			}
		}
	}
	results := map[string]map[string][]Result{}
	for round := 1; round <= rc.rounds && ctx.Err() == nil; round++ {
		for _, rt := range rc.routes {
			for _, srv := range serversOf(rt) {
				r := measure(rt, srv, rc.duration, fmt.Sprintf("[%d/%d]   %-8s %s", round, rc.rounds, srv.name, rt.name))
				if results[rt.key] == nil {
					results[rt.key] = map[string][]Result{}
				}
				results[rt.key][srv.name] = append(results[rt.key][srv.name], r)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var rows []row
	for _, rt := range rc.routes {
		ceilRounds := results[rt.key]["ceiling"]
		for _, srv := range serversOf(rt) {
			s := summarize(results[rt.key][srv.name])
			r := row{route: rt, server: srv.name, sum: s, share: -1}
			if rt.flow == "" {
				r.bytes = ceil.bytesOf(rt.paths(first.targets))
				r.ceiling = summarize(ceilRounds).Median.Rate()
				if srv.name != "ceiling" {
					r.share = shareOf(results[rt.key][srv.name], ceilRounds)
				}
			}
			rows = append(rows, r)
		}
	}
	fmt.Fprintf(stdout, "\n%s\n%s per route and server, %d round(s) (median round shown, [min–max] of the rounds; the share of the ceiling is the median of each round's rate over the ceiling's just before it); %d connections for reads, %d shoppers for the flows; load average %s at the start, %s at the end.\n\n",
		h.note(), rc.duration, rc.rounds, rc.conns, rc.shoppers, h.loadAvg, loadAvg())
	writeTable(stdout, rows)
	if rc.svg != "" {
		if err := os.MkdirAll(filepath.Dir(rc.svg), 0o755); err != nil {
			return err
		}
		f, err := os.Create(rc.svg)
		if err != nil {
			return err
		}
		note := fmt.Sprintf("Median of %d rounds of %s. %s", rc.rounds, rc.duration, h.note())
		if err := writeRunSVG(f, rows, note); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nchart: %s\n", rc.svg)
	}
	var n5xx int64
	for _, r := range rows {
		n5xx += r.sum.S5xx
	}
	if n5xx > 0 {
		return fmt.Errorf("%d answers were 5xx (see the table)", n5xx)
	}
	return nil
}

// shareOf is a server's share of the ceiling: in each round its rate over
// the ceiling's measured just before it, then the median of the rounds.
// Pairing the two runs of a round keeps a busy minute on a shared machine
// from skewing the share. -1 when no round had a ceiling.
func shareOf(rounds, ceiling []Result) float64 {
	var shares []float64
	for i := range min(len(rounds), len(ceiling)) {
		if c := ceiling[i].Rate(); c > 0 {
			shares = append(shares, rounds[i].Rate()/c)
		}
	}
	if len(shares) == 0 {
		return -1
	}
	return median(shares)
}

// live shows a measurement's progress: rewritten in place on a terminal,
// a line a second otherwise.
type live struct {
	w     io.Writer
	tty   bool
	label string
	d     time.Duration
}

func newLive(w io.Writer, tty bool, label string, d time.Duration) *live {
	return &live{w: w, tty: tty, label: label, d: d}
}

func (l *live) update(elapsed time.Duration, ok, errs int64) {
	line := fmt.Sprintf("%s  %s/%s  %s/s  errors %d", l.label, elapsed.Round(time.Second), l.d, thousands(float64(ok)/elapsed.Seconds()), errs)
	if l.tty {
		fmt.Fprintf(l.w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(l.w, line)
}

func (l *live) done(r Result) {
	if l.tty {
		fmt.Fprint(l.w, "\r\033[K")
	}
	fmt.Fprintf(l.w, "%s  %s/s  p50 %s  p99 %s  errors %d (5xx %d)\n", l.label, thousands(r.Rate()), ms(r.P(50)), ms(r.P(99)), r.Errors, r.Status5xx)
	if r.FirstErr != "" {
		fmt.Fprintf(l.w, "    first error: %s\n", r.FirstErr)
	}
}

// ms formats a latency in milliseconds: 0.42 ms, 3.1 ms, 120 ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 1:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return thousands(v) + " ms"
}

func kb(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f KB", float64(n)/1024)
}

// writeTable prints the rows as a Markdown table.
func writeTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| route | server | per second [range] | p50 | p99 | errors (5xx) | share of the ceiling |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	prev := ""
	for _, r := range rows {
		name := ""
		if r.route.name != prev {
			name = r.route.name
			switch {
			case r.route.flow != "":
				name += " (checkouts)"
			case r.bytes > 0:
				name += " (" + kb(r.bytes) + ")"
			}
			prev = r.route.name
		}
		m := r.sum.Median
		share := "—"
		switch {
		case r.share >= 0:
			share = fmt.Sprintf("%.1f%%", 100*r.share)
		case r.server == "ceiling":
			share = "100%"
		}
		rate := fmt.Sprintf("**%s**", thousands(m.Rate()))
		if r.sum.Rounds > 1 {
			rate += fmt.Sprintf(" [%s–%s]", thousands(r.sum.Min), thousands(r.sum.Max))
		}
		errs := fmt.Sprintf("%d (%d)", r.sum.Errors, r.sum.S5xx)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", name, r.server, rate, ms(m.P(50)), ms(m.P(99)), errs, share)
	}
	var notes []string
	for _, r := range rows {
		if r.sum.FirstErr != "" {
			notes = append(notes, fmt.Sprintf("- %s on %s, first error: %s", r.route.name, r.server, r.sum.FirstErr))
		}
	}
	var lag []string
	for _, r := range rows {
		if r.route.flow != "" && r.sum.Median.EventsBehind >= 0 {
			lag = append(lag, fmt.Sprintf("%s %s: %s", r.server, r.route.flow, thousands(float64(r.sum.Median.EventsBehind))))
		}
	}
	if len(lag) > 0 {
		notes = append(notes, "- domain events not yet published when a shopper-flow run ended (median round): "+strings.Join(lag, ", "))
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
}

var (
	seriesSQLite   = legendItem{"SQLite", "#0f766e"}
	seriesPostgres = legendItem{"PostgreSQL", "#b45309"}
)

func seriesOf(server string) legendItem {
	if server == "postgres" {
		return seriesPostgres
	}
	return seriesSQLite
}

// shortName is a route's label under its bars.
func shortName(rt route) string {
	switch rt.key {
	case "list":
		return "list of 20"
	case "detail":
		return "product JSON"
	case "flow-many":
		return "many SKUs"
	case "flow-hot":
		return "one hot SKU"
	case "categories":
		return "categories JSON"
	case "home":
		return "home page"
	case "product":
		return "product page"
	case "category":
		return "category page"
	}
	return rt.key
}

// writeRunSVG charts the reads as shares of the ceiling and the shopper
// flows in checkouts per second, each beside issue 9's goal.
func writeRunSVG(w io.Writer, rows []row, note string) error {
	reads := barPanel{title: "Reads: share of the ceiling", unit: "% of bare net/http serving the same bytes"}
	flows := barPanel{title: "Shopper flow: checkouts per second", unit: "new cart, add, shipping quote, checkout"}
	groups := map[string]int{}
	for _, r := range rows {
		if r.server == "ceiling" {
			continue
		}
		p := &reads
		if r.route.flow != "" {
			p = &flows
		}
		i, ok := groups[r.route.key]
		if !ok {
			g := barGroup{label: shortName(r.route)}
			if r.route.flow == "" && r.ceiling > 0 {
				g.sub = "ceiling " + thousands(r.ceiling) + "/s"
			}
			p.groups = append(p.groups, g)
			i = len(p.groups) - 1
			groups[r.route.key] = i
		}
		rate := r.sum.Median.Rate()
		b := bar{series: seriesOf(r.server)}
		if r.route.flow != "" {
			b.value, b.text, b.goal = rate, thousands(rate), r.route.goals[r.server]
			b.tip = fmt.Sprintf("%s, %s: %s checkouts/s (goal %s)", r.route.name, b.series.name, thousands(rate), thousands(b.goal))
		} else {
			share := max(r.share, 0) * 100
			b.value, b.goal = share, r.route.goal*100
			b.text = fmt.Sprintf("%.1f%%", share)
			if share >= 10 {
				b.text = fmt.Sprintf("%.0f%%", share)
			}
			b.tip = fmt.Sprintf("%s, %s: %s req/s, %.1f%% of the ceiling (goal %.0f%%)", r.route.name, b.series.name, thousands(rate), share, b.goal)
		}
		p.groups[i].bars = append(p.groups[i].bars, b)
	}
	var panels []barPanel
	if len(reads.groups) > 0 {
		panels = append(panels, reads)
	}
	if len(flows.groups) > 0 {
		panels = append(panels, flows)
	}
	return writeBars(w, "Mercato load harness: reads as a share of the ceiling, checkouts per second", note,
		[]legendItem{seriesSQLite, seriesPostgres}, panels...)
}
