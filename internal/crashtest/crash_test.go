package crashtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// checkoutTimeout is the servers' MERCATO_CHECKOUT_TIMEOUT: short, so that
// a retry takes over from a killed attempt after 3 s instead of 30 s.
const checkoutTimeout = "2s"

func kills(t *testing.T) int {
	if v := os.Getenv("MERCATO_CRASHTEST_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MERCATO_CRASHTEST_KILLS %q: want a positive number", v)
		}
		return n
	}
	return 10
}

// build compiles the real binary once for the package's tests.
var build = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mercato-crashtest-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mercato")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/mercato-shop/mercato/cmd/mercato").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := build(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func TestKilledUnderCheckoutLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it under load: not with -short")
	}
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		run(t, bin, dir, "", func() *sqldb.DB {
			db, err := sqldb.Open(context.Background(), "", dir, sqldb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		u := sqldbtest.PostgresURL(t)
		run(t, bin, t.TempDir(), u, func() *sqldb.DB {
			db, err := sqldb.Open(context.Background(), u, "", sqldb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
	})
}

// server is the mercato process, restarted on the same address.
type server struct {
	t    *testing.T
	bin  string
	env  []string
	addr string
	cmd  *exec.Cmd
	logs bytes.Buffer
	mu   sync.Mutex
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.Write(p)
}

func (s *server) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { // a failed test leaves no server behind
		cmd.Process.Kill()
		cmd.Wait()
	})
	s.cmd = cmd
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("the server did not come up:\n%s", s.tail())
}

// kill sends SIGKILL: no shutdown, no deferred work, as a crash.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

func (s *server) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.logs.Bytes()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// outcome is how one checkout key ended for its shopper.
type outcome struct {
	key, cartID, ip string
	request         map[string]any
	status          int
	orderID         string
	body            []byte
}

func randN(n int64) int64 {
	v, _ := rand.Int(rand.Reader, big.NewInt(n))
	return v.Int64()
}

func newKey() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// shopper runs checkouts until stop is closed; every key it starts it
// retries (through crashes) until it gets an answer that is stored: an
// order, or a refusal.
type shopper struct {
	base     string
	client   *http.Client
	variants []string
	n        int
}

func (sh *shopper) do(method, path, key, ip string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, sh.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := sh.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// until repeats a request through crashes until it gets an answer that is
// not a connection error, a 5xx, or a 409 telling to retry.
func (sh *shopper) until(method, path, key, ip string, body any) (int, []byte) {
	for {
		st, b, err := sh.do(method, path, key, ip, body)
		if err == nil && st < 500 && !(st == 409 && (bytes.Contains(b, []byte("in progress")) || bytes.Contains(b, []byte("superseded")))) {
			return st, b
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (sh *shopper) one(i int) (outcome, bool) {
	ip := fmt.Sprintf("10.%d.%d.%d", sh.n, i/250%250, i%250+1)
	st, b := sh.until("POST", "/api/v1/carts", "", ip, map[string]any{})
	var c struct{ ID string }
	if st != 201 || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return outcome{}, false
	}
	v := sh.variants[randN(int64(len(sh.variants)))]
	if st, _ := sh.until("POST", "/api/v1/carts/"+c.ID+"/items", "", ip, map[string]any{"variant_id": v, "quantity": 1 + randN(2)}); st != 200 {
		return outcome{}, false // sold out already
	}
	st, b = sh.until("GET", "/api/v1/shipping-methods?country=DE&cart_id="+c.ID, "", ip, nil)
	var methods struct{ Items []struct{ ID string } }
	if st != 200 || json.Unmarshal(b, &methods) != nil || len(methods.Items) == 0 {
		return outcome{}, false
	}
	pm := "pm_card_visa"
	if randN(10) == 0 {
		pm = "pm_card_chargeDeclined"
	}
	key := newKey()
	body := map[string]any{
		"email":              "crash@example.com",
		"shipping_address":   map[string]any{"name": "Ada Buyer", "line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
		"shipping_method_id": methods.Items[0].ID,
		"payment_method":     pm,
	}
	st, b = sh.until("POST", "/api/v1/carts/"+c.ID+"/checkout", key, ip, body)
	o := outcome{key: key, cartID: c.ID, ip: ip, request: body, status: st, body: b}
	if st == 201 {
		var res struct{ Order struct{ ID string } }
		json.Unmarshal(b, &res)
		o.orderID = res.Order.ID
	}
	return o, true
}

func run(t *testing.T, bin, dataDir, dbURL string, open func() *sqldb.DB) {
	ctx := context.Background()
	s := &server{t: t, bin: bin, addr: freeAddr(t)}
	s.env = append(os.Environ(),
		"MERCATO_ADDR="+s.addr,
		"MERCATO_DATA_DIR="+dataDir,
		"MERCATO_DATABASE_URL="+dbURL,
		"MERCATO_LOG_LEVEL=warn",
		"MERCATO_CHECKOUT_TIMEOUT="+checkoutTimeout,
		"MERCATO_TRUSTED_PROXIES=127.0.0.1/32",
	)
	s.start()
	defer func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", s.tail())
		}
	}()
	base := "http://" + s.addr
	db := open()
	defer db.Close()

	// The demo catalog, its stock before the load, a shipping method.
	type level struct{ onHand, reserved int64 }
	initial := map[string]int64{}
	var variants []string
	rows, err := db.QueryContext(ctx, `SELECT variant_id, on_hand FROM inventory_stock WHERE backorder = FALSE AND on_hand > 0`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		var n int64
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		initial[v] = n
		variants = append(variants, v)
	}
	rows.Close()
	if len(variants) == 0 {
		t.Fatal("the demo catalog has no stock to sell")
	}
	// Shoppers check out while the server is killed and restarted.
	var (
		stop     atomic.Bool
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	for n := range 8 {
		sh := &shopper{base: base, client: &http.Client{Timeout: 10 * time.Second}, variants: variants, n: n + 1}
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if o, ok := sh.one(i); ok {
					mu.Lock()
					outcomes = append(outcomes, o)
					mu.Unlock()
				}
			}
		})
	}
	killed := kills(t)
	for range killed {
		time.Sleep(time.Duration(300+randN(1200)) * time.Millisecond)
		s.kill()
		s.start()
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	// Let the reconciler, the refund sender and the relay finish.
	settled := func() string {
		var unresolved, reserved, unpublished, pendingRefunds, unclaimed int
		for _, q := range []struct {
			sql string
			n   *int
		}{
			{`SELECT COUNT(*) FROM payment_payments WHERE status IN ('pending', 'failed')`, &unresolved},
			{`SELECT COALESCE(SUM(reserved), 0) FROM inventory_stock`, &reserved},
			{`SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL`, &unpublished},
			{`SELECT COUNT(*) FROM payment_refunds WHERE status = 'pending'`, &pendingRefunds},
			{`SELECT COUNT(*) FROM payment_payments WHERE order_id IS NULL AND status IN ('authorized', 'captured')`, &unclaimed},
		} {
			if err := db.QueryRowContext(ctx, q.sql).Scan(q.n); err != nil {
				t.Fatal(err)
			}
		}
		if unresolved+reserved+unpublished+pendingRefunds+unclaimed == 0 {
			return ""
		}
		return fmt.Sprintf("%d payments without an answer, %d units reserved, %d events unpublished, %d refunds unsent, %d payments no order claimed",
			unresolved, reserved, unpublished, pendingRefunds, unclaimed)
	}
	deadline := time.Now().Add(60 * time.Second)
	for msg := settled(); msg != ""; msg = settled() {
		if time.Now().After(deadline) {
			t.Fatalf("after the load: %s", msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.stop()

	// The books.
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	placed, refused := 0, 0
	for _, o := range outcomes {
		switch {
		case o.status == 201:
			placed++
			if count(`SELECT COUNT(*) FROM order_orders WHERE id = ?`, o.orderID) != 1 {
				t.Errorf("key %s was answered with order %s, which does not exist", o.key, o.orderID)
			}
		case o.status == 402 || o.status == 409 || o.status == 422:
			refused++
			if count(`SELECT COUNT(*) FROM order_orders WHERE cart_id = ?`, o.cartID) != 0 {
				t.Errorf("key %s was refused (%d %s) but its cart has an order", o.key, o.status, o.body)
			}
		default:
			t.Errorf("key %s ended with %d %s", o.key, o.status, o.body)
		}
	}
	orders := count(`SELECT COUNT(*) FROM order_orders`)
	t.Logf("%d kills; %d checkouts: %d orders, %d refused; %d keys taken over from a killed attempt, %d payments under those keys",
		killed, len(outcomes), placed, refused, count(`SELECT COUNT(*) FROM checkout_requests WHERE attempt > 1`),
		count(`SELECT COUNT(*) FROM payment_payments p WHERE EXISTS (SELECT 1 FROM checkout_requests r WHERE r.order_id = p.reference AND r.attempt > 1)`))
	if count(`SELECT COUNT(*) FROM checkout_requests WHERE attempt > 1`) == 0 {
		t.Error("no kill hit a checkout in progress: the test proved nothing (more kills, or more shoppers)")
	}
	if orders != placed {
		t.Errorf("%d orders in the database, %d keys answered with an order", orders, placed)
	}
	if placed == 0 {
		t.Error("no order was placed: the load did not run")
	}
	// (An order the card pays nothing of, all discounts and gift cards, has no payment.)
	if n := count(`SELECT COUNT(*) FROM order_orders o WHERE o.total > 0 AND (SELECT COUNT(*) FROM payment_payments p WHERE p.order_id = o.id AND p.status = 'captured') <> 1`); n != 0 {
		t.Errorf("%d orders without exactly one captured payment", n)
	}
	if n := count(`SELECT COUNT(*) FROM order_orders o WHERE o.total = 0 AND EXISTS (SELECT 1 FROM payment_payments p WHERE p.order_id = o.id)`); n != 0 {
		t.Errorf("%d orders the card paid nothing of have a payment", n)
	}
	if n := count(`SELECT COUNT(*) FROM (SELECT reference FROM payment_sandbox_charges WHERE status <> 'declined' GROUP BY reference HAVING COUNT(*) > 1) twice`); n != 0 {
		t.Errorf("%d checkouts were charged more than once at the provider", n)
	}
	if n := count(`SELECT COUNT(*) FROM payment_sandbox_charges c WHERE c.status IN ('authorized', 'captured')
		AND NOT EXISTS (SELECT 1 FROM payment_payments p WHERE p.provider_ref = c.provider_ref AND p.order_id IS NOT NULL)`); n != 0 {
		t.Errorf("%d charges at the provider keep money that no order has", n)
	}
	// Stock: what was sold left on hand, the ledger agrees, nothing reserved.
	for v, before := range initial {
		var now level
		if err := db.QueryRowContext(ctx, `SELECT on_hand, reserved FROM inventory_stock WHERE variant_id = ?`, v).Scan(&now.onHand, &now.reserved); err != nil {
			t.Fatal(err)
		}
		sold := int64(count(`SELECT COALESCE(SUM(quantity), 0) FROM order_items WHERE variant_id = ?`, v))
		if now.onHand != before-sold || now.reserved != 0 {
			t.Errorf("variant %s: %d on hand, %d reserved; want %d - %d sold, nothing reserved", v, now.onHand, now.reserved, before, sold)
		}
		ledger := int64(count(`SELECT COALESCE(SUM(delta_on_hand), 0) FROM inventory_movements WHERE variant_id = ? AND reason = 'sale'`, v))
		if ledger != -sold {
			t.Errorf("variant %s: the ledger's commits sum to %d, %d sold", v, ledger, sold)
		}
		if r := count(`SELECT COALESCE(SUM(delta_reserved), 0) FROM inventory_movements WHERE variant_id = ?`, v); r != 0 {
			t.Errorf("variant %s: the ledger's reservations sum to %d, want 0", v, r)
		}
	}
	if n := count(`SELECT COUNT(*) FROM notify_emails WHERE template = 'order_placed'`); n != orders {
		t.Errorf("%d order e-mails for %d orders", n, orders)
	}
	if n := count(`SELECT COALESCE(SUM(orders), 0) FROM analytics_daily_sales`); n != orders {
		t.Errorf("the sales figures count %d orders, want %d", n, orders)
	}
	// Every key replays its answer, byte for byte, after all the crashes.
	s.start()
	defer s.stop()
	sh := &shopper{base: base, client: http.DefaultClient}
	for i, o := range outcomes {
		if i%5 != 0 {
			continue
		}
		st, b := sh.until("POST", "/api/v1/carts/"+o.cartID+"/checkout", o.key, o.ip, o.request)
		if st != o.status || !bytes.Equal(b, o.body) {
			t.Errorf("key %s replays %d %s, first answered %d %s", o.key, st, b, o.status, o.body)
		}
	}
}
