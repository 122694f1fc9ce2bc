package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// These tests run the real program through Run, as main does.

// syncBuffer is an io.Writer safe to read while Run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runCmd runs one command to completion.
func runCmd(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut syncBuffer
	err = Run(context.Background(), append([]string{"mercato"}, args...), envOf(env), strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestServeEndToEnd(t *testing.T) {
	backends := []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"sqlite", func(t *testing.T) map[string]string { return map[string]string{} }},
		{"postgres", func(t *testing.T) map[string]string {
			return map[string]string{"MERCATO_DATABASE_URL": sqldbtest.PostgresURL(t)}
		}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			env := be.env(t)
			env["MERCATO_ADDR"] = "127.0.0.1:0"
			env["MERCATO_DATA_DIR"] = t.TempDir()
			env["MERCATO_LOG_LEVEL"] = "warn"
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, []string{"mercato", "serve"}, envOf(env), strings.NewReader(""), &stdout, &stderr)
			}()

			// The program says where it listens once it is ready (after
			// migrations and the demo catalog).
			listening := regexp.MustCompile(`listening on http://(\S+)`)
			var addr string
			for deadline := time.Now().Add(2 * time.Minute); addr == ""; {
				if m := listening.FindStringSubmatch(stdout.String()); m != nil {
					addr = m[1]
					break
				}
				select {
				case err := <-done:
					t.Fatalf("Run returned before listening: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("no 'listening on' line after 2 minutes\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
				}
			}
			if host, _, _ := strings.Cut(addr, ":"); host != "127.0.0.1" {
				t.Fatalf("listening on %s, want 127.0.0.1:PORT", addr)
			}
			base := "http://" + addr
			doc := loadAPIDoc(t)
			client := &http.Client{Timeout: 10 * time.Second}
			get := func(path string) (int, []byte) {
				t.Helper()
				resp, err := client.Get(base + path)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				doc.checkResponse(t, resp.Request, resp.StatusCode, resp.Header, body)
				return resp.StatusCode, body
			}

			for i := 0; ; i++ {
				resp, err := client.Get(base + "/healthz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
				}
				if i == 250 {
					t.Fatalf("/healthz never answered 200: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			code, body := get("/readyz")
			if code != http.StatusOK || !strings.Contains(string(body), `"database":"`+be.name+`"`) {
				t.Fatalf("/readyz: %d %s", code, body)
			}

			// The demo catalog was loaded on first start.
			var all []string
			next := "/api/v1/products?limit=100"
			for next != "" {
				code, body := get(next)
				if code != http.StatusOK {
					t.Fatalf("GET %s: %d %s", next, code, body)
				}
				var page productsPage
				if err := json.Unmarshal(body, &page); err != nil {
					t.Fatal(err)
				}
				all = append(all, ids(page.Items)...)
				next = ""
				if page.NextCursor != nil {
					next = "/api/v1/products?limit=100&cursor=" + url.QueryEscape(*page.NextCursor)
				}
			}
			if len(all) < 200 {
				t.Fatalf("the demo catalog lists %d products, want 200 or more", len(all))
			}
			if code, body := get("/api/v1/products/" + all[0]); code != http.StatusOK {
				t.Fatalf("product %s: %d %s", all[0], code, body)
			}
			if code, body := get("/api/v1/categories"); code != http.StatusOK || !bytes.Contains(body, []byte(`"slug"`)) {
				t.Fatalf("categories: %d %s", code, body)
			}
			code, body = get("/metrics")
			if code != http.StatusOK || !strings.Contains(string(body), `mercato_http_requests_total{method="GET",route="GET /api/v1/products",status="200"}`) {
				t.Fatalf("/metrics: %d, lacks mercato_http_requests_total for the product list:\n%s", code, truncate(body))
			}

			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run after cancel = %v, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return within 30s of cancel")
			}
			if _, err := client.Get(base + "/healthz"); err == nil {
				t.Fatal("the server still answers after Run returned")
			}
			if strings.Contains(stderr.String(), "level=ERROR") {
				t.Fatalf("errors logged:\n%s", stderr.String())
			}
		})
	}
}

// smtpSecret is an SMTP password no output may show.
const smtpSecret = "Sm7p-secret-never-shown"

func TestRunCommands(t *testing.T) {
	t.Run("version", func(t *testing.T) {
		out, _, err := runCmd(t, nil, "version")
		if err != nil || out != "mercato "+Version+"\n" {
			t.Fatalf("version: %q, %v", out, err)
		}
	})
	for _, arg := range []string{"help", "-h", "--help"} {
		t.Run(arg, func(t *testing.T) {
			out, _, err := runCmd(t, nil, arg)
			if err != nil || !strings.Contains(out, "Usage:") || !strings.Contains(out, "mercato admin create") || !strings.Contains(out, "MERCATO_DATABASE_URL") {
				t.Fatalf("%s: %v\n%s", arg, err, out)
			}
		})
	}
	usage := []struct {
		name string
		env  map[string]string
		args []string
		want []string // in the error
	}{
		{"unknown command", nil, []string{"frobnicate"}, []string{`unknown command "frobnicate"`, "mercato help"}},
		{"unknown flag", nil, []string{"serve", "--frobnicate"}, []string{"frobnicate"}},
		{"stray argument", nil, []string{"migrate", "now"}, []string{`unexpected argument "now"`}},
		{"seed without --demo", nil, []string{"seed"}, []string{"--demo"}},
		{"admin without create", nil, []string{"admin"}, []string{"admin create"}},
		{"admin delete", nil, []string{"admin", "delete"}, []string{"admin create"}},
		{"admin bad role", nil, []string{"admin", "create", "--email", "a@example.com", "--password", "long enough", "--role", "customer"}, []string{"--role"}},
		{"log level", map[string]string{"MERCATO_LOG_LEVEL": "loud"}, []string{"serve"}, []string{"MERCATO_LOG_LEVEL", `"loud"`}},
		{"log level flag", nil, []string{"serve", "--log-level", "loud"}, []string{"MERCATO_LOG_LEVEL", `"loud"`}},
		{"address", map[string]string{"MERCATO_ADDR": "8080"}, []string{"serve"}, []string{"MERCATO_ADDR", `"8080"`}},
		{"database URL", map[string]string{"MERCATO_DATABASE_URL": "mysql://localhost/shop"}, []string{"migrate"}, []string{"MERCATO_DATABASE_URL"}},
		{"currency", map[string]string{"MERCATO_CURRENCY": "euro"}, []string{"serve"}, []string{"MERCATO_CURRENCY", `"euro"`}},
		{"checkout timeout", map[string]string{"MERCATO_CHECKOUT_TIMEOUT": "20"}, []string{"serve"}, []string{"MERCATO_CHECKOUT_TIMEOUT", `"20"`}},
		{"stripe key", map[string]string{"MERCATO_STRIPE_SECRET_KEY": "pk_test_oops"}, []string{"serve"}, []string{"MERCATO_STRIPE_SECRET_KEY", "sk_test_"}},
		{"stripe webhook secret alone", map[string]string{"MERCATO_STRIPE_WEBHOOK_SECRET": "whsec_x"}, []string{"serve"}, []string{"MERCATO_STRIPE_SECRET_KEY is not set"}},
		{"stripe api base", map[string]string{"MERCATO_STRIPE_SECRET_KEY": "sk_test_1", "MERCATO_STRIPE_API_BASE": "ftp://x"}, []string{"serve"}, []string{"MERCATO_STRIPE_API_BASE"}},
		{"checkout timeout too short", map[string]string{"MERCATO_CHECKOUT_TIMEOUT": "100ms"}, []string{"serve"}, []string{"MERCATO_CHECKOUT_TIMEOUT", "between 1s and 5m"}},
		{"smtp url scheme", map[string]string{"MERCATO_SMTP_URL": "http://shop:" + smtpSecret + "@mail.example.com", "MERCATO_MAIL_FROM": "shop@example.com"}, []string{"serve"}, []string{"MERCATO_SMTP_URL", `scheme "http"`, "smtps://"}},
		{"smtp url port", map[string]string{"MERCATO_SMTP_URL": "smtp://shop:" + smtpSecret + "@mail.example.com:0", "MERCATO_MAIL_FROM": "shop@example.com"}, []string{"serve"}, []string{"MERCATO_SMTP_URL", "port"}},
		{"smtp url unencoded password", map[string]string{"MERCATO_SMTP_URL": "smtp://shop:" + smtpSecret + "/#?@mail.example.com", "MERCATO_MAIL_FROM": "shop@example.com"}, []string{"serve"}, []string{"MERCATO_SMTP_URL", "percent-encode"}},
		{"smtp url option", map[string]string{"MERCATO_SMTP_URL": "smtp://mail.example.com?tls=maybe", "MERCATO_MAIL_FROM": "shop@example.com"}, []string{"serve"}, []string{"MERCATO_SMTP_URL", "tls=required"}},
		{"smtp without from", map[string]string{"MERCATO_SMTP_URL": "smtp://shop:" + smtpSecret + "@mail.example.com"}, []string{"serve"}, []string{"MERCATO_MAIL_FROM", "required with MERCATO_SMTP_URL"}},
		{"mail from", map[string]string{"MERCATO_MAIL_FROM": "the shop"}, []string{"serve"}, []string{"MERCATO_MAIL_FROM", `"the shop"`}},
		{"smtp ca file", map[string]string{"MERCATO_SMTP_CA_FILE": "/nonexistent/ca.pem"}, []string{"serve"}, []string{"MERCATO_SMTP_CA_FILE", "no such file"}},
		{"abandoned cart delay", map[string]string{"MERCATO_ABANDONED_CART_AFTER": "4"}, []string{"serve"}, []string{"MERCATO_ABANDONED_CART_AFTER", `"4"`, "off"}},
		{"affiliate window", map[string]string{"MERCATO_AFFILIATE_WINDOW": "a month"}, []string{"serve"}, []string{"MERCATO_AFFILIATE_WINDOW", `"a month"`}},
		{"affiliate window too short", map[string]string{"MERCATO_AFFILIATE_WINDOW": "10m"}, []string{"serve"}, []string{"MERCATO_AFFILIATE_WINDOW", "between 1h and 366d"}},
		{"affiliate return window", map[string]string{"MERCATO_AFFILIATE_RETURN_WINDOW": "400d"}, []string{"serve"}, []string{"MERCATO_AFFILIATE_RETURN_WINDOW", "between 1h and 366d"}},
		{"affiliate percent", map[string]string{"MERCATO_AFFILIATE_COMMISSION_PERCENT": "12.345"}, []string{"serve"}, []string{"MERCATO_AFFILIATE_COMMISSION_PERCENT", `"12.345"`}},
		{"affiliate percent over 100", map[string]string{"MERCATO_AFFILIATE_COMMISSION_PERCENT": "150"}, []string{"serve"}, []string{"MERCATO_AFFILIATE_COMMISSION_PERCENT"}},
		{"metrics token", map[string]string{"MERCATO_METRICS_TOKEN": "secret"}, []string{"serve"}, []string{"MERCATO_METRICS_TOKEN", "16"}},
		{"metrics token with a space", map[string]string{"MERCATO_METRICS_TOKEN": "correct horse battery staple"}, []string{"serve"}, []string{"MERCATO_METRICS_TOKEN"}},
	}
	for _, tt := range usage {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"MERCATO_DATA_DIR": t.TempDir(), "MERCATO_ADDR": "127.0.0.1:0"}
			for k, v := range tt.env {
				env[k] = v
			}
			out, errOut, err := runCmd(t, env, tt.args...)
			if err == nil || !IsUsage(err) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			if strings.Contains(err.Error()+out+errOut, smtpSecret) {
				t.Errorf("the SMTP password shows: %v", err)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error spans several lines: %q", err)
			}
			// One clear error: nothing else printed, nothing started (the
			// flag package lists the flags after an unknown one).
			if out != "" || (errOut != "" && tt.name != "unknown flag") {
				t.Errorf("printed besides the error:\nstdout: %s\nstderr: %s", out, errOut)
			}
		})
	}
}

func TestAdminCreateThenLogin(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"MERCATO_DATA_DIR": dir, "MERCATO_LOG_LEVEL": "warn"}
	const password = "Tr0ub4dor&3-horse"
	out, errOut, err := runCmd(t, env, "admin", "create", "--email", " Boss@Example.COM ", "--password", password, "--name", "The Boss")
	if err != nil {
		t.Fatalf("admin create: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "created admin account boss@example.com") {
		t.Fatalf("admin create printed %q", out)
	}
	if strings.Contains(out+errOut, password) {
		t.Fatalf("the password was printed:\nstdout: %s\nstderr: %s", out, errOut)
	}
	if _, _, err := runCmd(t, env, "admin", "create", "--email", "clerk@example.com", "--password", password, "--role", "staff"); err != nil {
		t.Fatalf("admin create --role staff: %v", err)
	}

	// Mistakes that are not usage errors: the account rules.
	if _, _, err := runCmd(t, env, "admin", "create", "--email", "boss@example.com", "--password", password); err == nil || IsUsage(err) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate e-mail: %v", err)
	}
	if _, _, err := runCmd(t, env, "admin", "create", "--email", "x@example.com", "--password", "short"); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("short password: %v", err)
	}
	if _, _, err := runCmd(t, env, "admin", "create", "--email", "not-an-email", "--password", password); err == nil || !strings.Contains(err.Error(), "email") {
		t.Fatalf("bad e-mail: %v", err)
	}

	// The accounts work against the same data folder.
	cfg := defaultConfig(envOf(env))
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	api := &testAPI{t: t, app: a, h: a.Handler(), doc: loadAPIDoc(t)}
	for _, email := range []string{"boss@example.com", "clerk@example.com"} {
		token := api.login(email, password)
		api.do("GET", "/api/v1/admin/products", nil, bearer(token)).wantStatus(http.StatusOK)
	}
	api.do("POST", "/api/v1/auth/login", map[string]string{"email": "boss@example.com", "password": "wrong-password"}).wantProblem(http.StatusUnauthorized, "")
}

func TestMigrateAndSeed(t *testing.T) {
	env := map[string]string{"MERCATO_DATA_DIR": t.TempDir(), "MERCATO_LOG_LEVEL": "warn"}
	out, _, err := runCmd(t, env, "migrate")
	if err != nil || out != "database is up to date (sqlite)\n" {
		t.Fatalf("migrate: %q %v", out, err)
	}
	if out, _, err := runCmd(t, env, "migrate"); err != nil || out != "database is up to date (sqlite)\n" {
		t.Fatalf("migrate again: %q %v", out, err)
	}
	out, _, err = runCmd(t, env, "seed", "--demo")
	if err != nil || !regexp.MustCompile(`demo catalog loaded: \d{3,} products`).MatchString(out) {
		t.Fatalf("seed --demo: %v\n%s", err, out)
	}
	// The demo catalog only loads into an empty catalog.
	_, _, err = runCmd(t, env, "seed", "--demo")
	if err == nil || IsUsage(err) || !strings.Contains(err.Error(), "already has") {
		t.Fatalf("second seed: %v, want a refusal", err)
	}
}
