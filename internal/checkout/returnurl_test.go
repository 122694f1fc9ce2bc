package checkout_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// returnRecorder is the sandbox (whose answer can be lost, see
// lossyProvider) that remembers the return address of every authorization.
type returnRecorder struct {
	*lossyProvider
	mu   sync.Mutex
	urls []string
}

func (p *returnRecorder) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.Result, error) {
	p.mu.Lock()
	p.urls = append(p.urls, req.ReturnURL)
	p.mu.Unlock()
	return p.lossyProvider.Authorize(ctx, req)
}

// TestProviderReturnsToTheOrderPage: the provider is given the order's page
// as the address to send the shopper back to: a guest's with the order's
// access token, which opens the order that is finally placed, also when a
// retry placed it after the first attempt's answer was lost (every attempt
// under a key shares the token); a signed-in customer's without a token.
func TestProviderReturnsToTheOrderPage(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		prov := &returnRecorder{lossyProvider: &lossyProvider{Sandbox: payment.NewSandbox(payment.WithSandboxLedger(db))}}
		s := newShopPaying(t, db, prov, nil, checkout.Options{ReturnURL: func(orderID, token string) string {
			if token == "" {
				return "https://shop.test/account/orders/" + orderID
			}
			return "https://shop.test/orders/" + orderID + "?token=" + url.QueryEscape(token)
		}})
		v := s.product(t, "RET", 1500, 5)

		// A guest whose first attempt's answer was lost.
		cartID := s.cartWith(t, ctx, map[string]int64{v: 1})
		prov.lose.Store(true)
		if r, err := s.checkoutCart(ctx, cartID, "k", input("pm_card_visa")); err == nil {
			t.Fatalf("the attempt whose answer was lost answered %d %s", r.Status, r.Body)
		}
		retry, err := s.checkoutCart(ctx, cartID, "k", input("pm_card_visa"))
		if err != nil || retry.Status != 201 {
			t.Fatalf("retry: %d %s %v", retry.Status, retry.Body, err)
		}
		id := orderID(t, retry)
		if len(prov.urls) == 0 {
			t.Fatal("the provider was never asked")
		}
		u, err := url.Parse(prov.urls[0])
		if err != nil || u.Path != "/orders/"+id || !strings.HasPrefix(u.Query().Get("token"), "oat_") {
			t.Fatalf("return address %q, want the order page of %s with its token", prov.urls[0], id)
		}
		if _, err := s.orders.GetFor(ctx, id, u.Query().Get("token")); err != nil {
			t.Fatalf("the return address's token does not open the order: %v", err)
		}
		for _, other := range prov.urls[1:] {
			if other != "" && other != prov.urls[0] {
				t.Fatalf("return addresses %q differ between attempts", prov.urls)
			}
		}

		// A customer: the account's order page, no token.
		cust := auth.With(ctx, auth.Principal{AccountID: "cust-1", Role: auth.RoleCustomer, Email: "cust@example.com"})
		prov.urls = nil
		cartID = s.cartWith(t, cust, map[string]int64{v: 1})
		o, err := s.checkout.Checkout(cust, cartID, "k2", input("pm_card_visa"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "https://shop.test/account/orders/" + o.ID; len(prov.urls) != 1 || prov.urls[0] != want {
			t.Fatalf("return addresses %q, want %q", prov.urls, want)
		}
		if _, err := s.orders.GetFor(ctx, o.ID, ""); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("a customer's order without signing in: %v", err)
		}
	})
}
