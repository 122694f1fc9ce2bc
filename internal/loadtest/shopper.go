package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

// shopperAddr is the client address of shopper number n: every shopper
// its own, 16 million before they repeat (10.0.0.1 onwards).
func shopperAddr(n uint32) string {
	n = n%(1<<24-1) + 1
	return fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff)
}

// checkoutFormat is the same for every shopper but the shipping method: a
// guest in Germany paying with the sandbox's card that always succeeds.
const checkoutFormat = `{"email":"loadtest@example.com",` +
	`"shipping_address":{"name":"Ada Buyer","line1":"Hauptstraße 1","city":"Berlin","postal_code":"10115","country":"DE"},` +
	`"shipping_method_id":%q,"payment_method":"pm_card_visa"}`

// flow is the whole shopper path, each time a new shopper from a new
// address: new cart, add one unit of a variant, shipping quote for the
// cart, checkout with an Idempotency-Key. variant picks the variant for
// the shopper's worker and iteration. Only an order (201) is success.
func flow(c *http.Client, base string, variant func(worker, iter int) string) op {
	var shoppers atomic.Uint32
	return func(ctx context.Context, worker, iter int) error {
		ip := shopperAddr(shoppers.Add(1) - 1)
		send := func(method, path string, body []byte, key string, want int, out any) error {
			var r io.Reader
			if body != nil {
				r = bytes.NewReader(body)
			}
			req, err := http.NewRequestWithContext(ctx, method, base+path, r)
			if err != nil {
				return err
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("X-Forwarded-For", ip)
			if key != "" {
				req.Header.Set("Idempotency-Key", key)
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if resp.StatusCode != want {
				if len(b) > 300 {
					b = b[:300]
				}
				return &StatusError{What: method + " " + templatePath(path), Code: resp.StatusCode, Body: string(b)}
			}
			if out != nil {
				return json.Unmarshal(b, out)
			}
			return nil
		}
		var cart struct{ ID string }
		if err := send(http.MethodPost, "/api/v1/carts", []byte(`{}`), "", http.StatusCreated, &cart); err != nil {
			return err
		}
		item := fmt.Appendf(nil, `{"variant_id":%q,"quantity":1}`, variant(worker, iter))
		if err := send(http.MethodPost, "/api/v1/carts/"+cart.ID+"/items", item, "", http.StatusOK, nil); err != nil {
			return err
		}
		var methods struct{ Items []struct{ ID string } }
		if err := send(http.MethodGet, "/api/v1/shipping-methods?country=DE&cart_id="+cart.ID, nil, "", http.StatusOK, &methods); err != nil {
			return err
		}
		if len(methods.Items) == 0 {
			return fmt.Errorf("no shipping method for the cart")
		}
		var key [16]byte
		rand.Read(key[:])
		body := fmt.Appendf(nil, checkoutFormat, methods.Items[0].ID)
		return send(http.MethodPost, "/api/v1/carts/"+cart.ID+"/checkout", body, hex.EncodeToString(key[:]), http.StatusCreated, nil)
	}
}

// templatePath hides the cart id in an error message, so that the first
// error of a run reads the same whichever cart it hit.
func templatePath(p string) string {
	const carts = "/api/v1/carts/"
	if len(p) <= len(carts) || p[:len(carts)] != carts {
		return p
	}
	rest := p[len(carts):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return carts + "{id}" + rest[i:]
		}
	}
	return carts + "{id}"
}
