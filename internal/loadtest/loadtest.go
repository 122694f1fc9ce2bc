// Package loadtest is Mercato's load harness (issue 9) and soak test
// (issue 8's proof suite). On one machine and in one run it builds the
// mercato binary, starts the shop on SQLite and on PostgreSQL with the demo
// catalog or a generated one, starts a ceiling server (bare net/http
// serving the very same answers, captured from the shop, from memory),
// drives each route and the whole shopper flow with closed-loop
// connections for a fixed time, and prints req/s, p50/p99, errors and the
// share of the ceiling, with an SVG chart. The soak drives a mixed load
// against one engine, samples the server's RSS and goroutines, charts them
// and fails when they do not level off.
//
// cmd/loadtest is the program (`make loadtest`, `make soak`); the figures
// live in docs/PERFORMANCE.md.
package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// route is something the harness measures: a read (GET of paths) or the
// shopper flow.
type route struct {
	key   string // for -routes
	name  string
	paths func(targets) []string
	goal  float64            // reads: the share of the ceiling issue 9 asks for
	flow  string             // shopper flows: "many" (SKUs) or "hot" (one SKU)
	goals map[string]float64 // shopper flows: checkouts/s issue 9 asks for, by engine
}

// routes in the order they are measured and reported.
var routes = []route{
	{key: "list", name: "GET /api/v1/products?limit=20", goal: 0.5,
		paths: func(targets) []string { return []string{"/api/v1/products?limit=20"} }},
	{key: "detail", name: "GET /api/v1/products/{id}", goal: 0.5,
		paths: func(t targets) []string { return prefixed("/api/v1/products/", t.productIDs) }},
	{key: "categories", name: "GET /api/v1/categories", goal: 0.5,
		paths: func(targets) []string { return []string{"/api/v1/categories"} }},
	{key: "home", name: "home page /", goal: 0.3,
		paths: func(targets) []string { return []string{"/"} }},
	{key: "product", name: "product page /p/{slug}", goal: 0.3,
		paths: func(t targets) []string { return prefixed("/p/", t.productSlugs) }},
	{key: "category", name: "category page /c/{slug}", goal: 0.3,
		paths: func(t targets) []string { return prefixed("/c/", t.categorySlugs) }},
	{key: "flow-many", name: "shopper flow, many SKUs", flow: "many",
		goals: map[string]float64{"sqlite": 2000, "postgres": 800}},
	{key: "flow-hot", name: "shopper flow, one hot SKU", flow: "hot",
		goals: map[string]float64{"sqlite": 2000, "postgres": 500}},
}

func prefixed(prefix string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = prefix + x
	}
	return out
}

// targets are what one shop is asked for: its own ids (they differ
// between engines), slugs, and the variants shoppers buy.
type targets struct {
	productIDs, productSlugs, categorySlugs []string
	variants                                []string // the first is the hot SKU
}

// maxTargets bounds how many products and variants a run rotates over.
const maxTargets = 200

type engine struct {
	name    string
	shop    *shop
	targets targets
	drop    func() // removes the PostgreSQL schema
}

// harness is the shops of one run and what the report says about them.
type harness struct {
	work     string
	bin      string
	engines  []*engine
	catalog  string
	commit   string
	loadAvg  string   // at the start
	warnings []string // said with the results
}

type common struct {
	products, variants int
	pgURL, bin         string
	keep               bool
	settle             time.Duration
	progress           io.Writer
	tty                bool
}

// Main is the whole program: cmd/loadtest calls it with the process's
// arguments (without the program name), environment and streams.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	soak := len(args) > 0 && args[0] == "soak"
	if soak {
		args = args[1:]
	}
	name := "loadtest"
	if soak {
		name = "loadtest soak"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	fs.IntVar(&c.products, "products", 0, "0: the demo catalog (MERCATO_DEMO); N: generate N products through the admin API")
	fs.IntVar(&c.variants, "variants", 3, "variants per generated product (1-10)")
	fs.StringVar(&c.pgURL, "pg", getenv("MERCATO_TEST_POSTGRES_URL"), "PostgreSQL URL; the run uses a fresh schema in it, dropped at the end (default $MERCATO_TEST_POSTGRES_URL; empty: SQLite only)")
	fs.StringVar(&c.bin, "bin", "", "a mercato binary to use instead of building ./cmd/mercato")
	fs.BoolVar(&c.keep, "keep", false, "keep the data folders, logs and PostgreSQL schema")
	fs.DurationVar(&c.settle, "settle", 10*time.Minute, "how long to wait after seeding for the shop to publish the seed's events (then it measures anyway, with a warning)")
	var (
		rc runConfig
		sc soakConfig
	)
	if soak {
		fs.DurationVar(&sc.duration, "duration", 10*time.Minute, "how long the soak runs")
		fs.DurationVar(&sc.interval, "sample", 5*time.Second, "how often RSS and goroutines are sampled")
		fs.StringVar(&sc.engine, "engine", "sqlite", "sqlite or postgres")
		fs.IntVar(&sc.readers, "readers", 16, "connections reading (every read route in turn)")
		fs.IntVar(&sc.shoppers, "shoppers", 8, "shoppers checking out (many SKUs)")
		fs.Float64Var(&sc.maxGrowth, "max-growth", 0.05, "RSS may grow by this fraction of its middle-third median from the middle to the last third")
		mib := fs.Float64("min-growth-mb", 2, "... or by this many MB, whichever is larger")
		fs.StringVar(&sc.svg, "svg", "docs/soak.svg", "where to write the chart (empty: none)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		sc.minGrowth = *mib * (1 << 20)
		sc.goroutineT, sc.goroutineF = 0.5, 100
		if sc.engine != "sqlite" && sc.engine != "postgres" {
			return fmt.Errorf("-engine %q: want sqlite or postgres", sc.engine)
		}
		if sc.readers < 1 || sc.shoppers < 1 || sc.interval <= 0 || sc.duration < time.Duration(minSamples)*sc.interval {
			return fmt.Errorf("want -readers, -shoppers >= 1 and -duration at least %d times -sample", minSamples)
		}
	} else {
		fs.DurationVar(&rc.duration, "duration", 5*time.Second, "how long each route is driven against each server, per round")
		fs.DurationVar(&rc.warmup, "warmup", time.Second, "an unmeasured run of each route against each server first")
		fs.IntVar(&rc.rounds, "rounds", 3, "rounds over all routes; the report shows the median round")
		fs.IntVar(&rc.conns, "conns", 64, "connections for the read routes")
		fs.IntVar(&rc.shoppers, "shoppers", 16, "concurrent shoppers for the shopper flows")
		engines := fs.String("engines", "sqlite,postgres", "engines to measure")
		only := fs.String("routes", "", "comma-separated subset of: "+routeKeys())
		fs.StringVar(&rc.svg, "svg", "docs/loadtest.svg", "where to write the chart (empty: none)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		var err error
		if rc.routes, err = selectRoutes(*only); err != nil {
			return err
		}
		for _, e := range strings.Split(*engines, ",") {
			if e != "sqlite" && e != "postgres" {
				return fmt.Errorf("-engines: %q is not sqlite or postgres", e)
			}
			rc.engines = append(rc.engines, e)
		}
		if rc.rounds < 1 || rc.conns < 1 || rc.shoppers < 1 || rc.duration <= 0 {
			return errors.New("want -rounds, -conns, -shoppers >= 1 and a positive -duration")
		}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.products < 0 || c.variants < 1 || c.variants > len(genSizes) {
		return fmt.Errorf("want -products >= 0 and -variants 1-%d", len(genSizes))
	}
	c.progress = stderr
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			c.tty = true
		}
	}
	names := rc.engines
	if soak {
		names = []string{sc.engine}
	}
	h, err := setup(ctx, c, names)
	if h != nil {
		defer h.close(c.keep, stderr)
	}
	if err != nil {
		return err
	}
	if soak {
		return runSoak(ctx, h, sc, stdout)
	}
	return runRoutes(ctx, h, c, rc, stdout)
}

func routeKeys() string {
	var ks []string
	for _, r := range routes {
		ks = append(ks, r.key)
	}
	return strings.Join(ks, ",")
}

func selectRoutes(only string) ([]route, error) {
	if only == "" {
		return routes, nil
	}
	var out []route
	for _, k := range strings.Split(only, ",") {
		found := false
		for _, r := range routes {
			if r.key == strings.TrimSpace(k) {
				out, found = append(out, r), true
			}
		}
		if !found {
			return nil, fmt.Errorf("-routes: unknown route %q (want some of %s)", k, routeKeys())
		}
	}
	return out, nil
}

// setup builds the binary and starts one shop per engine, each seeded and
// ready. PostgreSQL is skipped, with the reason, when it is unreachable.
func setup(ctx context.Context, c common, names []string) (*harness, error) {
	work, err := os.MkdirTemp("", "mercato-loadtest-")
	if err != nil {
		return nil, err
	}
	h := &harness{work: work, bin: c.bin, commit: gitCommit(), loadAvg: loadAvg()}
	say := func(format string, args ...any) { fmt.Fprintf(c.progress, format+"\n", args...) }
	if h.bin == "" {
		say("building ./cmd/mercato")
		if h.bin, err = buildShop(ctx, work); err != nil {
			return h, err
		}
	}
	h.catalog = "the demo catalog"
	if c.products > 0 {
		h.catalog = fmt.Sprintf("a generated catalog of %s products × %d variants", thousands(float64(c.products)), c.variants)
	}
	for _, name := range names {
		e := &engine{name: name}
		dbURL := ""
		if name == "postgres" {
			if c.pgURL == "" {
				say("PostgreSQL skipped: no -pg and no MERCATO_TEST_POSTGRES_URL")
				continue
			}
			u, drop, err := freshSchema(ctx, c.pgURL)
			if err != nil {
				say("PostgreSQL skipped: %v", err)
				continue
			}
			dbURL, e.drop = u, drop
		}
		h.engines = append(h.engines, e)
		if err := h.startEngine(ctx, c, e, dbURL, say); err != nil {
			return h, fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(h.engines) == 0 {
		return h, errors.New("no engine to measure")
	}
	return h, nil
}

func (h *harness) startEngine(ctx context.Context, c common, e *engine, dbURL string, say func(string, ...any)) error {
	s, err := newShop(e.name, h.bin, filepath.Join(h.work, e.name), dbURL, c.products == 0)
	if err != nil {
		return err
	}
	e.shop = s
	var pw [16]byte
	rand.Read(pw[:])
	email, password := "loadtest-admin@example.com", hex.EncodeToString(pw[:])
	if err := s.command(ctx, "admin", "create", "--email", email, "--password", password); err != nil {
		return err
	}
	say("%s: starting the shop%s", e.name, map[bool]string{true: " (loading the demo catalog)", false: ""}[c.products == 0])
	if err := s.start(ctx); err != nil {
		return err
	}
	client := newClient(8)
	defer closeClient(client)
	token, err := login(ctx, client, s.base, email, password)
	if err != nil {
		return err
	}
	var products []productRef
	if c.products > 0 {
		products, err = generate(ctx, client, s.base, token, c.products, c.variants, maxTargets, "EUR", func(msg string) { say("%s: %s", e.name, msg) })
	} else {
		products, err = listProducts(ctx, client, s.base, maxTargets)
	}
	if err != nil {
		return err
	}
	if len(products) == 0 {
		return errors.New("the catalog has no active product")
	}
	var skus []string
	for _, p := range products {
		e.targets.productIDs = append(e.targets.productIDs, p.ID)
		e.targets.productSlugs = append(e.targets.productSlugs, p.Slug)
		if len(p.Variants) > 0 {
			e.targets.variants = append(e.targets.variants, p.Variants[0].ID)
			skus = append(skus, p.Variants[0].SKU)
		}
	}
	if e.targets.categorySlugs, err = topCategories(ctx, client, s.base); err != nil {
		return err
	}
	if len(e.targets.categorySlugs) == 0 {
		return errors.New("the catalog has no category")
	}
	if c.products == 0 {
		// Enough stock that no shopper finds a variant sold out.
		if err := setStock(ctx, client, s.base, token, skus, genStock); err != nil {
			return err
		}
	}
	say("%s: waiting up to %s for the seed's events to be published", e.name, c.settle)
	n, err := s.waitForEvents(ctx, client, c.settle)
	if err != nil {
		return fmt.Errorf("wait for the seed's events: %w", err)
	}
	if n > 0 {
		// Measure anyway, and say so: the relay keeps working beside the load.
		w := fmt.Sprintf("%s: %s events of the seed were still unpublished after %s; the relay ran beside the measurements", e.name, thousands(n), c.settle)
		say("warning: %s", w)
		h.warnings = append(h.warnings, w)
	}
	say("%s: ready at %s: %d products, %d categories, %d SKUs for the shoppers", e.name, s.base,
		len(e.targets.productIDs), len(e.targets.categorySlugs), len(e.targets.variants))
	return nil
}

func (h *harness) close(keep bool, log io.Writer) {
	for _, e := range h.engines {
		if e.shop != nil {
			e.shop.stop()
		}
		if e.drop != nil && !keep {
			e.drop()
		}
	}
	if keep {
		fmt.Fprintf(log, "kept the data folders and logs in %s\n", h.work)
		return
	}
	os.RemoveAll(h.work)
}

// note is the setup in a few words, for the report and the charts.
func (h *harness) note() string {
	n := fmt.Sprintf("Commit %s, %s, %d CPUs shared by the load generator, the servers and PostgreSQL; %s; load average %s at the start.",
		h.commit, runtime.Version(), runtime.NumCPU(), h.catalog, h.loadAvg)
	for _, w := range h.warnings {
		n += " Warning: " + w + "."
	}
	return n
}

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "+changes"
	}
	return c
}

// loadAvg is the 1-minute load average, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
