package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/mail/mailtest"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestServeSendsMailBySMTP runs the real program, as main does, against a
// real SMTP server on 127.0.0.1 (STARTTLS required, with a self-signed
// certificate the program trusts through MERCATO_SMTP_CA_FILE, and AUTH):
// a guest places an order and the confirmation arrives by SMTP; a customer
// leaves a cart and its one reminder arrives, whose links work; a refused
// address is logged with the server's reason and never with the password.
func TestServeSendsMailBySMTP(t *testing.T) {
	const smtpPassword = "Pr0gram-smtp-pa55word"
	for _, be := range []string{"sqlite", "postgres"} {
		t.Run(be, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{StartTLS: true, Username: "shop", Password: smtpPassword,
				Rcpt: func(to string) error {
					if to == "bounce@example.com" {
						return mailtest.NoMailbox()
					}
					return nil
				}})
			dir := t.TempDir()
			ca := filepath.Join(dir, "smtp-ca.pem")
			if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{
				"MERCATO_ADDR": "127.0.0.1:0", "MERCATO_DATA_DIR": filepath.Join(dir, "data"), "MERCATO_LOG_LEVEL": "info", "MERCATO_DEMO": "false",
				"MERCATO_BASE_URL": "https://shop.example", "MERCATO_SHOP_NAME": "Mail Test Shop",
				"MERCATO_SMTP_URL": srv.URL("tls=required"), "MERCATO_MAIL_FROM": "orders@shop.example", "MERCATO_SMTP_CA_FILE": ca,
				"MERCATO_ABANDONED_CART_AFTER": "2s",
			}
			if be == "postgres" {
				env["MERCATO_DATABASE_URL"] = sqldbtest.PostgresURL(t)
			}
			if _, errOut, err := runCmd(t, env, "admin", "create", "--email", "boss@shop.example", "--password", testPassword); err != nil {
				t.Fatalf("admin create: %v\n%s", err, errOut)
			}
			base, stderr := serveProgram(t, env)
			c := &client{t: t, base: base, http: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

			var login struct{ Token string }
			c.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "boss@shop.example", "password": testPassword}, http.StatusOK, &login)
			staff := login.Token
			var product struct {
				Variants []struct{ ID string } `json:"variants"`
			}
			c.call("POST", "/api/v1/admin/products", staff, map[string]any{"title": "Enamel mug", "status": "active",
				"variants": []map[string]any{{"sku": "MUG-1", "price": map[string]any{"amount": 1250, "currency": "EUR"}, "stock": 20}}}, http.StatusCreated, &product)
			variant := product.Variants[0].ID

			// A guest's order: the confirmation arrives by SMTP.
			orderNumber := c.order(variant, "buyer@example.com")
			got := waitFor(t, srv, func(m mailtest.Message) bool { return m.To[0] == "buyer@example.com" })
			if !got.TLS || got.User != "shop" || got.From != "orders@shop.example" || !strings.Contains(string(got.Raw), orderNumber) ||
				got.Header.Get("From") != `"Mail Test Shop" <orders@shop.example>` || !strings.HasSuffix(got.MessageID, "@shop.example>") {
				t.Fatalf("confirmation: TLS %v user %q from %q / %q, Message-ID %q\n%s", got.TLS, got.User, got.From, got.Header.Get("From"), got.MessageID, got.Raw)
			}
			id := strings.TrimSuffix(strings.TrimPrefix(got.MessageID, "<"), "@shop.example>")
			var e struct {
				Status   string `json:"status"`
				Attempts int    `json:"attempts"`
				SentAt   *time.Time
				Template string `json:"template"`
			}
			waitUntil(t, "the confirmation marked sent", func() bool {
				c.call("GET", "/api/v1/admin/emails/"+id, staff, nil, http.StatusOK, &e)
				return e.Status == "sent"
			})
			if e.Attempts != 1 || e.Template != "order_placed" {
				t.Fatalf("the confirmation as staff see it: %+v", e)
			}

			// A customer leaves a cart: one reminder, with working links.
			var reg struct{ Token string }
			c.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "ada@example.com", "password": testPassword, "name": "Ada"}, http.StatusCreated, &reg)
			var cart struct{ ID string }
			c.call("POST", "/api/v1/carts", reg.Token, nil, http.StatusCreated, &cart)
			c.call("POST", "/api/v1/carts/"+cart.ID+"/items", reg.Token, map[string]any{"variant_id": variant, "quantity": 2}, http.StatusOK, nil)
			reminder := waitFor(t, srv, func(m mailtest.Message) bool {
				return m.To[0] == "ada@example.com" && strings.Contains(m.Header.Get("Subject"), "cart")
			})
			restore := regexp.MustCompile(`https://shop\.example(/cart/restore/cr_[A-Za-z0-9_-]+)`).FindStringSubmatch(string(reminder.Raw))
			unsub := strings.TrimPrefix(strings.Trim(reminder.Header.Get("List-Unsubscribe"), "<>"), "https://shop.example")
			if restore == nil || !strings.HasPrefix(unsub, "/unsubscribe/un_") || strings.Contains(string(reminder.Raw), cart.ID) {
				t.Fatalf("reminder links %q %q:\n%s", restore, unsub, reminder.Raw)
			}
			if res := c.get(restore[1]); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account/login?next=/cart" {
				t.Fatalf("restore link: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			if res := c.get(unsub); res.StatusCode != http.StatusOK {
				t.Fatalf("unsubscribe page: %d", res.StatusCode)
			}
			if res := c.form(unsub); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("unsubscribe: %d", res.StatusCode)
			}

			// A refused address: failed with the server's reason, logged without the password.
			c.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "bounce@example.com", "password": testPassword, "name": "Bo"}, http.StatusCreated, nil)
			waitUntil(t, "the refusal logged", func() bool { return strings.Contains(stderr.String(), "e-mail refused by the SMTP server") })

			time.Sleep(3 * time.Second) // two more reminder runs: still one reminder per cart
			reminders, welcomes, verifications := 0, 0, 0
			for _, m := range srv.Messages() {
				subject := m.Header.Get("Subject")
				switch {
				case m.To[0] != "ada@example.com":
				case strings.Contains(subject, "cart"):
					reminders++
				case strings.HasPrefix(subject, "Welcome"):
					welcomes++
				case strings.HasPrefix(subject, "Confirm your e-mail address"):
					verifications++
				default:
					t.Errorf("an unexpected e-mail to ada: %q", subject)
				}
			}
			if reminders != 1 || welcomes != 1 || verifications != 1 {
				t.Fatalf("to ada: %d reminders, %d welcomes, %d address confirmations; want one of each", reminders, welcomes, verifications)
			}
			logs := stderr.String()
			if strings.Contains(logs, smtpPassword) || strings.Contains(logs, url.QueryEscape(smtpPassword)) {
				t.Fatalf("the SMTP password is in the log:\n%s", logs)
			}
			if !strings.Contains(logs, "smtp rcpt: 550 5.1.1 No such mailbox here") || !strings.Contains(logs, "e-mail delivery on") {
				t.Fatalf("the log lacks the delivery lines:\n%s", logs)
			}
			if strings.Contains(logs, "level=ERROR") {
				t.Fatalf("errors logged:\n%s", logs)
			}
		})
	}
}

// serveProgram runs `mercato serve` until the test ends and returns its
// address and its log.
func serveProgram(t *testing.T, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"mercato", "serve"}, envOf(env), strings.NewReader(""), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30s of cancel")
		}
	})
	listening := regexp.MustCompile(`listening on http://(\S+)`)
	for deadline := time.Now().Add(time.Minute); ; {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			return "http://" + m[1], &stderr
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned before listening: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not listening after a minute:\n%s", stderr.String())
		}
	}
}

// waitFor returns the first message the server accepted that matches.
func waitFor(t *testing.T, srv *mailtest.Server, match func(mailtest.Message) bool) mailtest.Message {
	t.Helper()
	var found mailtest.Message
	waitUntil(t, "an e-mail", func() bool {
		for _, m := range srv.Messages() {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30s", what)
		}
	}
}

// client speaks to the running program over HTTP.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c *client) call(method, path, token string, body any, want int, out any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if strings.HasSuffix(path, "/checkout") {
		req.Header.Set("Idempotency-Key", "key-"+path)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (c *client) get(path string) *http.Response {
	c.t.Helper()
	res, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func (c *client) form(path string) *http.Response {
	c.t.Helper()
	res, err := c.http.PostForm(c.base+path, url.Values{})
	if err != nil {
		c.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// order places a guest order of one variant and returns its number.
func (c *client) order(variant, email string) string {
	c.t.Helper()
	var cart struct{ ID string }
	c.call("POST", "/api/v1/carts", "", nil, http.StatusCreated, &cart)
	c.call("POST", "/api/v1/carts/"+cart.ID+"/items", "", map[string]any{"variant_id": variant, "quantity": 1}, http.StatusOK, nil)
	var methods struct{ Items []struct{ ID string } }
	c.call("GET", "/api/v1/shipping-methods?country=DE&cart_id="+cart.ID, "", nil, http.StatusOK, &methods)
	var res struct{ Order struct{ Number string } }
	c.call("POST", "/api/v1/carts/"+cart.ID+"/checkout", "", map[string]any{
		"email": email, "payment_method": "pm_card_visa", "shipping_method_id": methods.Items[0].ID,
		"shipping_address": map[string]string{"name": "Bo Buyer", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
	}, http.StatusCreated, &res)
	if res.Order.Number == "" {
		c.t.Fatal("no order number")
	}
	return res.Order.Number
}
