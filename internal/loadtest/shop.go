package loadtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the fresh schema
)

// buildShop compiles cmd/mercato into dir and returns the binary's path.
func buildShop(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "mercato")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/mercato-shop/mercato/cmd/mercato").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/mercato: %v\n%s", err, out)
	}
	return bin, nil
}

// shop is one mercato process started by the harness.
type shop struct {
	name string // "sqlite" or "postgres"
	bin  string
	env  []string
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *os.File
}

// newShop prepares (but does not start) a shop on a free loopback port.
// dbURL empty is SQLite in dataDir. demo seeds the demo catalog on start.
func newShop(name, bin, dataDir, dbURL string, demo bool) (*shop, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dataDir, "mercato.log"))
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"MERCATO_ADDR="+addr,
		"MERCATO_DATA_DIR="+dataDir,
		"MERCATO_DATABASE_URL="+dbURL,
		"MERCATO_LOG_LEVEL=warn",
		"MERCATO_DEMO="+strconv.FormatBool(demo),
		// Each shopper sends its own address in X-Forwarded-For, so that the
		// per-address checkout limit applies per shopper, as behind nginx.
		"MERCATO_TRUSTED_PROXIES=127.0.0.1/32",
	)
	return &shop{name: name, bin: bin, env: env, base: "http://" + addr, log: log}, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// command runs a mercato command (not serve) with the shop's settings.
func (s *shop) command(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mercato %s: %v\n%s", args[0], err, out)
	}
	return nil
}

// start runs `mercato serve` and waits until /healthz answers (after the
// demo seed, which runs before the server listens).
func (s *shop) start(ctx context.Context) error {
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.done = cmd, make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			s.cmd = nil
			return fmt.Errorf("%s: mercato exited (%v):\n%s", s.name, waitErr, s.tail())
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	s.stop()
	return fmt.Errorf("%s: mercato did not answer /healthz within 3 minutes:\n%s", s.name, s.tail())
}

// stop sends SIGTERM and waits up to 20 s before killing.
func (s *shop) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	p := s.cmd.Process
	s.cmd = nil
	p.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		p.Kill()
		<-s.done
	}
}

func (s *shop) pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// tail returns the end of the shop's log.
func (s *shop) tail() string {
	b, _ := os.ReadFile(s.log.Name())
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// rssOf reads the resident set size of process pid, in bytes.
func rssOf(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseVmRSS(f)
}

// parseVmRSS reads the VmRSS line of a /proc/<pid>/status file.
func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want '<n> kB'", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS line %q: %w", sc.Text(), err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmRSS line (a kernel thread, or not Linux)")
}

// metrics scrapes /metrics and returns the values of the named
// Prometheus samples (without labels).
func (s *shop) metrics(ctx context.Context, c *http.Client, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	return parseMetrics(resp.Body, names...)
}

// parseMetrics reads the Prometheus text format and returns the value of
// each named sample that has no labels. A name not found is left out.
func parseMetrics(r io.Reader, names ...string) (map[string]float64, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok || !want[name] {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
		out[name] = v
	}
	return out, sc.Err()
}

// waitForEvents waits until the shop has published every domain event
// (mercato_outbox_pending is 0), at most max. It returns the backlog left.
func (s *shop) waitForEvents(ctx context.Context, c *http.Client, max time.Duration) (float64, error) {
	deadline := time.Now().Add(max)
	for {
		m, err := s.metrics(ctx, c, "mercato_outbox_pending")
		if err != nil {
			return -1, err
		}
		n, ok := m["mercato_outbox_pending"]
		if !ok {
			return -1, errors.New("/metrics has no mercato_outbox_pending")
		}
		if n == 0 || time.Now().After(deadline) {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// freshSchema creates an empty schema in the PostgreSQL database at base
// and returns a URL that uses it; drop removes it with everything in it.
func freshSchema(ctx context.Context, base string) (u string, drop func(), err error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		return "", nil, err
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "loadtest_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	parsed, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := parsed.Query()
	q.Set("search_path", schema)
	parsed.RawQuery = q.Encode()
	drop = func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
	}
	return parsed.String(), drop, nil
}
