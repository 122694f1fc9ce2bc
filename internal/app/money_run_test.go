package app

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/mercato-shop/mercato/internal/payment/stripe"
	"github.com/mercato-shop/mercato/internal/platform/mail/mailtest"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestServeTakesRealMoneyAndMails is issue 10's "done": the real program,
// configured with Stripe test keys against stripe-mock and a real SMTP
// server, takes a customer's card order (awaiting its payment until
// Stripe's signed webhook says it succeeded), the customer receives the
// confirmation by SMTP, a staff refund goes through Stripe and its mail
// arrives, and a forgotten password is reset from the mailed link.
func TestServeTakesRealMoneyAndMails(t *testing.T) {
	stripeBase := stripeMock(t)
	for _, be := range []string{"sqlite", "postgres"} {
		t.Run(be, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{StartTLS: true, Username: "shop", Password: "smtp-Pa55-word"})
			dir := t.TempDir()
			ca := filepath.Join(dir, "smtp-ca.pem")
			if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{
				"MERCATO_ADDR": "127.0.0.1:0", "MERCATO_DATA_DIR": filepath.Join(dir, "data"), "MERCATO_LOG_LEVEL": "warn", "MERCATO_DEMO": "false",
				"MERCATO_BASE_URL": "https://shop.example",
				"MERCATO_SMTP_URL": srv.URL("tls=required"), "MERCATO_MAIL_FROM": "orders@shop.example", "MERCATO_SMTP_CA_FILE": ca,
				"MERCATO_STRIPE_SECRET_KEY": "sk_test_123", "MERCATO_STRIPE_WEBHOOK_SECRET": stripeWebhookSecret,
				"MERCATO_STRIPE_PUBLISHABLE_KEY": "pk_test_123", "MERCATO_STRIPE_API_BASE": stripeBase,
			}
			if be == "postgres" {
				env["MERCATO_DATABASE_URL"] = sqldbtest.PostgresURL(t)
			}
			if _, errOut, err := runCmd(t, env, "admin", "create", "--email", "boss@shop.example", "--password", testPassword); err != nil {
				t.Fatalf("admin create: %v\n%s", err, errOut)
			}
			base, _ := serveProgram(t, env)
			c := &client{t: t, base: base, http: &http.Client{Timeout: 10 * time.Second}}
			var login struct{ Token string }
			c.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "boss@shop.example", "password": testPassword}, http.StatusOK, &login)
			staff := login.Token
			var product struct {
				Variants []struct{ ID string } `json:"variants"`
			}
			c.call("POST", "/api/v1/admin/products", staff, map[string]any{"title": "Linen shirt", "status": "active",
				"variants": []map[string]any{{"sku": "SHIRT-1", "price": map[string]any{"amount": 4900, "currency": "EUR"}, "stock": 5}}}, http.StatusCreated, &product)

			// A customer pays by card through Stripe.
			var reg struct{ Token string }
			c.call("POST", "/api/v1/auth/register", "", map[string]any{"email": "ada@example.com", "password": testPassword, "name": "Ada"}, http.StatusCreated, &reg)
			var cart struct{ ID string }
			c.call("POST", "/api/v1/carts", reg.Token, nil, http.StatusCreated, &cart)
			c.call("POST", "/api/v1/carts/"+cart.ID+"/items", reg.Token, map[string]any{"variant_id": product.Variants[0].ID, "quantity": 1}, http.StatusOK, nil)
			var methods struct{ Items []struct{ ID string } }
			c.call("GET", "/api/v1/shipping-methods?country=DE&cart_id="+cart.ID, reg.Token, nil, http.StatusOK, &methods)
			var res struct {
				Order struct {
					ID            string `json:"id"`
					Number        string `json:"number"`
					PaymentStatus string `json:"payment_status"`
				} `json:"order"`
				Payment *struct {
					Provider   string `json:"provider"`
					NextAction *struct {
						Type         string `json:"type"`
						ClientSecret string `json:"client_secret"`
					} `json:"next_action"`
				} `json:"payment"`
			}
			c.call("POST", "/api/v1/carts/"+cart.ID+"/checkout", reg.Token, map[string]any{
				"payment_method": "pm_card_visa", "shipping_method_id": methods.Items[0].ID,
				"shipping_address": map[string]string{"name": "Ada Buyer", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
			}, http.StatusCreated, &res)
			if res.Order.PaymentStatus != "awaiting" || res.Payment == nil || res.Payment.Provider != "stripe" || res.Payment.NextAction == nil || res.Payment.NextAction.ClientSecret == "" {
				t.Fatalf("checkout answered %+v, payment %+v; want the order awaiting Stripe", res.Order, res.Payment)
			}
			var staffView struct {
				Payment struct {
					Provider  string `json:"provider"`
					Reference string `json:"reference"`
				} `json:"payment"`
			}
			c.call("GET", "/api/v1/admin/orders/"+res.Order.ID, staff, nil, http.StatusOK, &staffView)
			if staffView.Payment.Provider != "stripe" || !strings.HasPrefix(staffView.Payment.Reference, "pi_") {
				t.Fatalf("staff see the payment %+v", staffView.Payment)
			}

			// Stripe's signed webhook makes it paid.
			payload, _ := json.Marshal(map[string]any{"id": "evt_e2e_1", "object": "event", "type": "payment_intent.succeeded", "api_version": "2025-01-27.acacia",
				"data": map[string]any{"object": map[string]any{"id": staffView.Payment.Reference, "object": "payment_intent", "status": "succeeded"}}})
			signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: stripeWebhookSecret, Timestamp: time.Now()})
			req, _ := http.NewRequest("POST", base+"/api/v1/payments/stripe/webhook", bytes.NewReader(payload))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(stripe.SignatureHeader, signed.Header)
			hres, err := c.http.Do(req)
			if err != nil || hres.StatusCode != http.StatusOK {
				t.Fatalf("webhook: %v %v", hres, err)
			}
			hres.Body.Close()
			waitUntil(t, "the order paid", func() bool {
				var o struct {
					PaymentStatus string `json:"payment_status"`
				}
				c.call("GET", "/api/v1/orders/"+res.Order.ID, reg.Token, nil, http.StatusOK, &o)
				return o.PaymentStatus == "paid"
			})

			// The confirmation arrives by SMTP.
			confirmation := waitFor(t, srv, func(m mailtest.Message) bool {
				return m.To[0] == "ada@example.com" && strings.Contains(string(m.Raw), res.Order.Number) && strings.Contains(m.Header.Get("Subject"), "confirmed")
			})
			if !confirmation.TLS {
				t.Fatal("the confirmation went without TLS")
			}

			// A staff refund goes through Stripe; its mail arrives.
			c.call("POST", "/api/v1/admin/orders/"+res.Order.ID+"/refunds", staff, map[string]any{"amount": 1000, "reason": "a loose button"}, http.StatusCreated, nil)
			waitFor(t, srv, func(m mailtest.Message) bool {
				return m.To[0] == "ada@example.com" && strings.Contains(strings.ToLower(m.Header.Get("Subject")), "refund")
			})

			// A forgotten password is reset from the mailed link.
			c.call("POST", "/api/v1/auth/password-reset", "", map[string]any{"email": "ada@example.com"}, http.StatusAccepted, nil)
			reset := waitFor(t, srv, func(m mailtest.Message) bool {
				return m.To[0] == "ada@example.com" && strings.Contains(strings.ToLower(m.Header.Get("Subject")), "password")
			})
			body, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(reset.Raw))) // the mail's text, as a reader sees it
			token := regexp.MustCompile(`password-reset/confirm\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(string(body))
			if token == nil {
				t.Fatalf("no reset link in:\n%s", reset.Raw)
			}
			c.call("POST", "/api/v1/auth/password-reset/confirm", "", map[string]any{"token": token[1], "password": "a new Passw0rd for Ada"}, http.StatusNoContent, nil)
			c.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "ada@example.com", "password": "a new Passw0rd for Ada"}, http.StatusOK, nil)
		})
	}
}
