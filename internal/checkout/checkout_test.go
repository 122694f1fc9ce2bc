package checkout_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{catalog.Migrations(), inventory.Migrations(), cart.Migrations(), payment.Migrations(),
	order.Migrations(), checkout.Migrations(), outbox.Migrations()}

// flatPricing is a fixed shipping and tax table for these tests (the real
// shipping and tax modules have their own tests and are wired in the app).
type flatPricing struct{}

func (flatPricing) ShippingOptions(ctx context.Context, country string, subtotal money.Money) ([]cart.ShippingOption, error) {
	return []cart.ShippingOption{{ID: "standard", Name: "Standard", Price: money.Money{Amount: 490, Currency: subtotal.Currency}}}, nil
}
func (p flatPricing) ShippingOption(ctx context.Context, id, country string, subtotal money.Money) (cart.ShippingOption, error) {
	if id != "standard" {
		return cart.ShippingOption{}, apperr.Field("shipping_method_id", "no such shipping method")
	}
	opts, _ := p.ShippingOptions(ctx, country, subtotal)
	return opts[0], nil
}
func (flatPricing) Tax(ctx context.Context, country string, taxable money.Money) (cart.TaxResult, error) {
	return cart.TaxResult{Tax: money.Money{Amount: taxable.Amount * 19 / 119, Currency: taxable.Currency}, Inclusive: true}, nil
}

type shop struct {
	db       *sqldb.DB
	catalog  *catalog.Service
	stock    *inventory.Service
	carts    *cart.Service
	payments *payment.Service
	orders   *order.Service
	checkout *checkout.Service
}

func newShop(t *testing.T, db *sqldb.DB, orders checkout.Orders, opt checkout.Options) *shop {
	return newShopPaying(t, db, payment.NewSandbox(), orders, opt)
}

// newShopPaying is newShop with the payment provider given.
func newShopPaying(t *testing.T, db *sqldb.DB, provider payment.Provider, orders checkout.Orders, opt checkout.Options) *shop {
	s := &shop{db: db}
	s.stock = inventory.NewService(db)
	s.catalog = catalog.NewService(db, s.stock)
	s.carts = cart.NewService(db, s.catalog, s.stock, flatPricing{}, "EUR")
	s.payments = payment.NewService(db, provider)
	s.orders = order.NewService(db, s.payments, s.stock, slog.New(slog.DiscardHandler))
	if orders == nil {
		orders = s.orders
	}
	s.checkout = checkout.NewService(db, s.carts, s.stock, s.payments, orders, slog.New(slog.NewTextHandler(io.Discard, nil)), opt)
	return s
}

func (s *shop) product(t *testing.T, sku string, price, stock int64) string {
	t.Helper()
	p, err := s.catalog.CreateProduct(context.Background(), catalog.ProductInput{Title: "Product " + sku, Status: catalog.StatusActive,
		Variants: []catalog.VariantInput{{SKU: sku, Price: money.Money{Amount: price, Currency: "EUR"}, Stock: &stock}}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return p.Variants[0].ID
}

func (s *shop) cartWith(t *testing.T, ctx context.Context, lines map[string]int64) string {
	t.Helper()
	c, err := s.carts.Create(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for v, q := range lines {
		if _, err := s.carts.AddItem(ctx, c.ID, v, q); err != nil {
			t.Fatal(err)
		}
	}
	return c.ID
}

func input(pm string) checkout.Input {
	return checkout.Input{Email: "Buyer@Example.com", PaymentMethod: pm, ShippingMethodID: "standard",
		ShippingAddress: order.Address{Name: "Ada Buyer", Line1: "Main St 1", City: "Berlin", PostalCode: "10115", Country: "de"}}
}

// response is a checkout's HTTP answer.
type response struct {
	Status int
	Body   []byte
}

// checkoutCart checks the cart out over the HTTP API (as a client posting
// in's JSON). An error is one the handler leaves to the web layer (it is not
// stored under the key); a stored answer, placed or refused, is the response.
func (s *shop) checkoutCart(ctx context.Context, cartID, key string, in checkout.Input) (response, error) {
	return checkoutOverHTTP(ctx, s.checkout, cartID, key, in)
}

func checkoutOverHTTP(ctx context.Context, svc *checkout.Service, cartID, key string, in checkout.Input) (response, error) {
	body, _ := json.Marshal(in)
	r := httptest.NewRequestWithContext(ctx, "POST", "/api/v1/carts/"+cartID+"/checkout", bytes.NewReader(body))
	r.SetPathValue("id", cartID)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", key)
	w := httptest.NewRecorder()
	if err := checkout.HandleCheckout(svc, nil)(w, r); err != nil {
		return response{}, err
	}
	return response{Status: w.Code, Body: w.Body.Bytes()}, nil
}

func count(t *testing.T, db *sqldb.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCheckoutPlacesOrder(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		a, b := s.product(t, "A", 1000, 5), s.product(t, "B", 250, 5)
		cartID := s.cartWith(t, ctx, map[string]int64{a: 2, b: 1})
		resp, err := s.checkoutCart(ctx, cartID, "key-1", input("pm_card_visa"))
		if err != nil || resp.Status != 201 {
			t.Fatalf("checkout = %d %s, %v", resp.Status, resp.Body, err)
		}
		var res checkout.Result
		json.Unmarshal(resp.Body, &res)
		o := res.Order
		if o.Status != order.StatusPaid || o.PaymentStatus != order.PaymentPaid || o.Email != "buyer@example.com" || o.Number == "" || o.AccessToken == "" {
			t.Fatalf("order = %+v", o)
		}
		if o.Totals.Subtotal.Amount != 2250 || o.Totals.Shipping.Amount != 490 || o.Totals.Total.Amount != 2740 || o.Totals.Tax.Amount != 2740*19/119 {
			t.Fatalf("totals = %+v", o.Totals)
		}
		if l, _ := s.stock.Get(ctx, "A"); l.OnHand != 3 || l.Reserved != 0 {
			t.Fatalf("stock A = %+v, want on hand 3, reserved 0", l)
		}
		// The cart is closed; the guest reads the order with the token only.
		if _, err := s.carts.AddItem(ctx, cartID, a, 1); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("add to converted cart: %v", err)
		}
		if _, err := s.orders.GetFor(ctx, o.ID, o.AccessToken); err != nil {
			t.Fatalf("guest with token: %v", err)
		}
		for _, tok := range []string{"", "oat_wrong"} {
			if _, err := s.orders.GetFor(ctx, o.ID, tok); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("guest with token %q: %v", tok, err)
			}
		}
		other := auth.With(ctx, auth.Principal{AccountID: "someone", Role: auth.RoleCustomer})
		if _, err := s.orders.GetFor(other, o.ID, ""); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("another customer: %v", err)
		}
		// Events of the committed change are in the outbox.
		for _, topic := range []string{"order.placed", "order.paid", "payment.captured"} {
			if n := count(t, db, `SELECT COUNT(*) FROM outbox_events WHERE topic = ?`, topic); n != 1 {
				t.Errorf("%d %s events, want 1", n, topic)
			}
		}
	})
}

// TestConcurrentCheckoutsNeverOversell: 50 shoppers, 5 in stock.
func TestConcurrentCheckoutsNeverOversell(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		hot := s.product(t, "HOT", 1999, 5)
		const shoppers = 50
		carts := make([]string, shoppers)
		for i := range carts {
			carts[i] = s.cartWith(t, ctx, map[string]int64{hot: 1})
		}
		codes := make([]int, shoppers)
		var wg sync.WaitGroup
		for i := range shoppers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := s.checkoutCart(ctx, carts[i], fmt.Sprintf("k%d", i), input("pm_card_visa"))
				if err != nil {
					t.Errorf("shopper %d: %v", i, err)
					return
				}
				codes[i] = resp.Status
			}()
		}
		wg.Wait()
		byCode := map[int]int{}
		for _, c := range codes {
			byCode[c]++
		}
		if byCode[201] != 5 || byCode[409] != 45 {
			t.Fatalf("responses %v, want 5×201 and 45×409", byCode)
		}
		if l, _ := s.stock.Get(ctx, "HOT"); l.OnHand != 0 || l.Reserved != 0 {
			t.Fatalf("stock = %+v, want 0 on hand, 0 reserved", l)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM inventory_reservations WHERE status = 'active'`); n != 0 {
			t.Fatalf("%d reservations left behind", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM order_orders`); n != 5 {
			t.Fatalf("%d orders, want 5", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE status = 'captured'`); n != 5 {
			t.Fatalf("%d captured payments, want 5", n)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		v := s.product(t, "IDEM", 500, 10)

		// Sequential retry: the same bytes, one order, one payment.
		cartID := s.cartWith(t, ctx, map[string]int64{v: 1})
		first, err := s.checkoutCart(ctx, cartID, "same", input("pm_card_visa"))
		if err != nil || first.Status != 201 {
			t.Fatalf("first = %d, %v", first.Status, err)
		}
		again, err := s.checkoutCart(ctx, cartID, "same", input("pm_card_visa"))
		if err != nil || again.Status != 201 || !bytes.Equal(first.Body, again.Body) {
			t.Fatalf("retry = %d %s, %v; want the stored answer", again.Status, again.Body, err)
		}
		// The same key with another body is refused.
		other := input("pm_card_visa")
		other.Email = "other@example.com"
		if _, err := s.checkoutCart(ctx, cartID, "same", other); !apperr.Is(err, apperr.Unprocessable) {
			t.Fatalf("same key, other body: %v, want 422", err)
		}
		// Missing key.
		if _, err := s.checkoutCart(ctx, cartID, "", input("pm_card_visa")); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("no key: %v", err)
		}

		// Concurrent retries of one request: one order, one payment.
		cart2 := s.cartWith(t, ctx, map[string]int64{v: 2})
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := s.checkoutCart(ctx, cart2, "burst", input("pm_card_visa"))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					codes[resp.Status]++
				case apperr.Is(err, apperr.Conflict):
					codes[409]++ // in progress: the client retries later
				default:
					t.Errorf("burst: %v", err)
				}
			}()
		}
		wg.Wait()
		if codes[201] < 1 || codes[201]+codes[409] != 10 {
			t.Fatalf("burst answers %v", codes)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM order_orders WHERE cart_id = ?`, cart2); n != 1 {
			t.Fatalf("%d orders for one key, want 1", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments p JOIN order_orders o ON o.id = p.reference WHERE o.cart_id = ?`, cart2); n != 1 {
			t.Fatalf("%d payments for one key, want 1", n)
		}
		if l, _ := s.stock.Get(ctx, "IDEM"); l.OnHand != 7 || l.Reserved != 0 {
			t.Fatalf("stock = %+v, want 7 on hand", l)
		}
	})
}

func TestDeclinedPaymentChangesNothing(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		v := s.product(t, "DEC", 500, 3)
		for i, pm := range []string{"pm_card_chargeDeclined", "pm_card_insufficientFunds"} {
			cartID := s.cartWith(t, ctx, map[string]int64{v: 2})
			resp, err := s.checkoutCart(ctx, cartID, "k", input(pm))
			if err != nil || resp.Status != 402 {
				t.Fatalf("%s: %d %s, %v; want 402", pm, resp.Status, resp.Body, err)
			}
			if l, _ := s.stock.Get(ctx, "DEC"); l.OnHand != 3 || l.Reserved != 0 {
				t.Fatalf("%s: stock = %+v, want untouched", pm, l)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE status = 'declined'`); n != i+1 {
				t.Fatalf("declined attempts recorded: %d", n)
			}
			// The same key replays the decline; a new key with a good card succeeds.
			if again, _ := s.checkoutCart(ctx, cartID, "k", input(pm)); again.Status != 402 {
				t.Fatalf("replay of decline: %d", again.Status)
			}
			if ok, err := s.checkoutCart(ctx, cartID, "k2", input("pm_card_visa")); err != nil || ok.Status != 201 {
				t.Fatalf("retry with a good card: %d %s %v", ok.Status, ok.Body, err)
			}
			s.stock.Set(ctx, "DEC", inventory.SetInput{OnHand: ptr[int64](3)}, "test")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM order_orders`); n != 2 {
			t.Fatalf("%d orders, want 2 (only the good cards)", n)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// failingOrders fails at order creation: the moment after payment, before commit.
type failingOrders struct{ checkout.Orders }

func (failingOrders) Create(ctx context.Context, tx *sqldb.Tx, in order.NewOrder) (order.Order, error) {
	return order.Order{}, errors.New("disk full")
}

func TestFailureAfterPaymentLeavesNoChargeWithoutOrder(t *testing.T) {
	for _, opt := range []checkout.Options{{}, {CaptureOnFulfilment: true}} {
		t.Run(fmt.Sprintf("authorize-only=%v", opt.CaptureOnFulfilment), func(t *testing.T) {
			sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
				ctx := context.Background()
				good := newShop(t, db, nil, opt)
				broken := newShop(t, db, failingOrders{good.orders}, opt)
				v := good.product(t, "CRASH", 800, 4)
				cartID := good.cartWith(t, ctx, map[string]int64{v: 3})

				if _, err := broken.checkoutCart(ctx, cartID, "k", input("pm_card_visa")); err == nil || apperr.CodeOf(err) != apperr.Internal {
					t.Fatalf("checkout with a failing store: %v, want an internal error", err)
				}
				want := payment.StatusRefunded
				if opt.CaptureOnFulfilment {
					want = payment.StatusVoided
				}
				if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE status = ?`, want); n != 1 {
					t.Fatalf("payments %s: %d, want 1 (money given back)", want, n)
				}
				if n := count(t, db, `SELECT COUNT(*) FROM order_orders`); n != 0 {
					t.Fatalf("%d orders after failure", n)
				}
				if l, _ := good.stock.Get(ctx, "CRASH"); l.OnHand != 4 || l.Reserved != 0 {
					t.Fatalf("stock = %+v, want released", l)
				}
				// The client retries with the same key once the store works:
				// one order, paid by exactly one live payment.
				resp, err := good.checkoutCart(ctx, cartID, "k", input("pm_card_visa"))
				if err != nil || resp.Status != 201 {
					t.Fatalf("retry: %d %s %v", resp.Status, resp.Body, err)
				}
				if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE status IN ('captured', 'authorized') AND order_id IS NOT NULL`); n != 1 {
					t.Fatalf("%d live payments with an order, want 1", n)
				}
				if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE status IN ('captured', 'authorized') AND order_id IS NULL`); n != 0 {
					t.Fatalf("%d live payments without an order", n)
				}
			})
		})
	}
}

func TestReconcileUndoesOrphanPayments(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		v := s.product(t, "ORPH", 100, 2)
		// A process that reserved and charged, then died before the order commit.
		if _, err := s.stock.Reserve(ctx, "dead-order", []inventory.Line{{VariantID: v, Quantity: 2}}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.payments.Pay(ctx, "dead-order", money.Money{Amount: 200, Currency: "EUR"}, "pm_card_visa", true); err != nil {
			t.Fatal(err)
		}
		r, err := s.checkout.Reconcile(ctx, 0)
		if err != nil || r.Cancelled != 1 || r.Released != 1 {
			t.Fatalf("Reconcile = %+v, %v; want one payment undone, one reference released", r, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE status = 'refunded'`); n != 1 {
			t.Fatalf("orphan payment not refunded")
		}
		if l, _ := s.stock.Get(ctx, "ORPH"); l.Reserved != 0 || l.OnHand != 2 {
			t.Fatalf("stock = %+v", l)
		}
		if r, _ := s.checkout.Reconcile(ctx, 0); r.Any() {
			t.Fatalf("second reconcile did %+v", r)
		}
	})
}

func TestPriceChangeIsNeverSilent(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		p, _ := s.catalog.CreateProduct(ctx, catalog.ProductInput{Title: "Lamp", Status: catalog.StatusActive,
			Variants: []catalog.VariantInput{{SKU: "LAMP", Price: money.Money{Amount: 3000, Currency: "EUR"}, Stock: ptr[int64](5)}}}, "test")
		cartID := s.cartWith(t, ctx, map[string]int64{p.Variants[0].ID: 1})
		if _, err := s.catalog.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Variants: []catalog.VariantInput{{ID: p.Variants[0].ID, Price: money.Money{Amount: 3500, Currency: "EUR"}}}}, "test"); err != nil {
			t.Fatal(err)
		}
		c, _ := s.carts.Get(ctx, cartID)
		if !c.PriceChanged || c.Items[0].PreviousUnitPrice.Amount != 3000 || c.Items[0].UnitPrice.Amount != 3500 {
			t.Fatalf("cart does not show the change: %+v", c.Items[0])
		}
		resp, err := s.checkoutCart(ctx, cartID, "k1", input("pm_card_visa"))
		if err != nil || resp.Status != 409 || !bytes.Contains(resp.Body, []byte("prices changed")) {
			t.Fatalf("checkout after price change: %d %s %v", resp.Status, resp.Body, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments`); n != 0 {
			t.Fatal("money taken despite the price change")
		}
		resp, err = s.checkoutCart(ctx, cartID, "k2", input("pm_card_visa"))
		if err != nil || resp.Status != 201 {
			t.Fatalf("checkout after seeing the new price: %d %s %v", resp.Status, resp.Body, err)
		}
	})
}

// slowPayments pauses a checkout in its payment step to run something else
// first (a retry that takes the key over).
type slowPayments struct {
	checkout.Payments
	during func()
}

func (p slowPayments) PayWith(ctx context.Context, in payment.PayRequest) (payment.Payment, error) {
	if p.during != nil {
		p.during()
	}
	return p.Payments.PayWith(ctx, in)
}

// TestSupersededAttemptCannotOrder: an attempt that runs past its lock is
// taken over by a retry with the same key; when the slow attempt finally
// reaches its order, it is refused and compensated: one order, one live
// payment, the retry's answer stored.
func TestSupersededAttemptCannotOrder(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		v := s.product(t, "SLOW", 700, 5)
		cartID := s.cartWith(t, ctx, map[string]int64{v: 1})

		var retry response
		slow := checkout.NewService(db, s.carts, s.stock, slowPayments{Payments: s.payments, during: func() {
			// The slow attempt's lock runs out; the client's retry takes over and finishes.
			if _, err := db.ExecContext(ctx, `UPDATE checkout_requests SET locked_until = ? WHERE cart_id = ?`, time.Now().Add(-time.Hour).UTC(), cartID); err != nil {
				t.Error(err)
			}
			var err error
			if retry, err = s.checkoutCart(ctx, cartID, "k", input("pm_card_visa")); err != nil || retry.Status != 201 {
				t.Errorf("retry: %d %s %v", retry.Status, retry.Body, err)
			}
		}}, s.orders, slog.New(slog.NewTextHandler(io.Discard, nil)), checkout.Options{})

		if _, err := checkoutOverHTTP(ctx, slow, cartID, "k", input("pm_card_visa")); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("superseded attempt: %v, want a conflict", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM order_orders`); n != 1 {
			t.Fatalf("%d orders, want 1", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE status = 'captured'`); n != 1 {
			t.Fatalf("%d captured payments, want 1 (the slow attempt's must be refunded)", n)
		}
		if l, _ := s.stock.Get(ctx, "SLOW"); l.OnHand != 4 || l.Reserved != 0 {
			t.Fatalf("stock = %+v, want 4 on hand, nothing reserved", l)
		}
		if again, _ := s.checkoutCart(ctx, cartID, "k", input("pm_card_visa")); !bytes.Equal(again.Body, retry.Body) {
			t.Fatalf("the stored answer is not the retry's")
		}
	})
}

// TestCheckoutDirect is the storefront's path: a Go call that returns the
// order or a typed error, the first time and on every retry with the key.
func TestCheckoutDirect(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		p, err := s.catalog.CreateProduct(ctx, catalog.ProductInput{Title: "Direct", Status: catalog.StatusActive,
			Variants: []catalog.VariantInput{{SKU: "DIRECT", Price: money.Money{Amount: 1200, Currency: "EUR"}, Stock: ptr[int64](3)}}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		v := p.Variants[0].ID

		cartID := s.cartWith(t, ctx, map[string]int64{v: 1})
		o, err := s.checkout.Checkout(ctx, cartID, "web_1", input("pm_card_visa"))
		if err != nil || o.ID == "" || o.AccessToken == "" || o.Email != "buyer@example.com" || o.ShippingAddress.Country != "DE" || o.Totals.Total.Amount != 1690 {
			t.Fatalf("Checkout = %+v, %v", o, err)
		}
		again, err := s.checkout.Checkout(ctx, cartID, "web_1", input("pm_card_visa"))
		if err != nil || again.ID != o.ID || again.AccessToken != o.AccessToken || again.Number != o.Number || !again.CreatedAt.Equal(o.CreatedAt) {
			t.Fatalf("replay = %+v, %v; want the order placed", again, err)
		}
		// A client posting the same JSON under the key gets the order as the API renders it.
		resp, err := s.checkoutCart(ctx, cartID, "web_1", input("pm_card_visa"))
		want, _ := json.Marshal(checkout.Result{Order: o})
		if err != nil || resp.Status != 201 || !bytes.Equal(resp.Body, want) {
			t.Fatalf("over HTTP = %d %s, %v; want 201 %s", resp.Status, resp.Body, err, want)
		}
		other := input("pm_card_visa")
		other.ShippingAddress.City = "Hamburg"
		if _, err := s.checkout.Checkout(ctx, cartID, "web_1", other); !apperr.Is(err, apperr.Unprocessable) {
			t.Fatalf("same key, other input: %v", err)
		}

		// Refused input names the field and stores nothing: the key is reused.
		cart2 := s.cartWith(t, ctx, map[string]int64{v: 1})
		bad := input("pm_card_visa")
		bad.ShippingAddress.City = " "
		if _, err := s.checkout.Checkout(ctx, cart2, "web_2", bad); !hasField(err, apperr.Invalid, "shipping_address.city") {
			t.Fatalf("no city: %v", err)
		}
		// A decline is a stored refusal: the same typed error on every retry.
		_, err = s.checkout.Checkout(ctx, cart2, "web_2", input("pm_card_chargeDeclined"))
		var refusal *checkout.Refusal
		if !errors.As(err, &refusal) || !apperr.Is(err, apperr.PaymentFailed) || refusal.PricesChanged() || refusal.SoldOut() {
			t.Fatalf("declined: %v, want a PaymentFailed refusal", err)
		}
		_, again2 := s.checkout.Checkout(ctx, cart2, "web_2", input("pm_card_chargeDeclined"))
		if !errors.As(again2, &refusal) || again2.Error() != err.Error() || !apperr.Is(again2, apperr.PaymentFailed) {
			t.Fatalf("replayed decline: %v, want %v", again2, err)
		}

		// Stock that ran out and changed prices are told apart.
		cart3 := s.cartWith(t, ctx, map[string]int64{v: 2})
		if _, err := s.stock.Set(ctx, "DIRECT", inventory.SetInput{OnHand: ptr[int64](1)}, "test"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			_, err = s.checkout.Checkout(ctx, cart3, "web_3", input("pm_card_visa"))
			if !errors.As(err, &refusal) || !refusal.SoldOut() || refusal.PricesChanged() || !apperr.Is(err, apperr.Conflict) {
				t.Fatalf("sold out: %v", err)
			}
		}
		if _, err := s.catalog.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Variants: []catalog.VariantInput{{ID: v, Price: money.Money{Amount: 1300, Currency: "EUR"}}}}, "test"); err != nil {
			t.Fatal(err)
		}
		cart4 := s.cartWith(t, ctx, map[string]int64{v: 1})
		if _, err := s.catalog.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Variants: []catalog.VariantInput{{ID: v, Price: money.Money{Amount: 1400, Currency: "EUR"}}}}, "test"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			_, err = s.checkout.Checkout(ctx, cart4, "web_4", input("pm_card_visa"))
			if !errors.As(err, &refusal) || !refusal.PricesChanged() || refusal.SoldOut() {
				t.Fatalf("prices changed: %v", err)
			}
		}
	})
}

func hasField(err error, code apperr.Code, field string) bool {
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != code {
		return false
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// TestStoredAnswersReplayByteForByte: over HTTP a retry gets the first
// answer's bytes, a refusal with its detail as much as a placed order.
func TestStoredAnswersReplayByteForByte(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		v := s.product(t, "BYTES", 999, 1)
		late := s.cartWith(t, ctx, map[string]int64{v: 1}) // checks out after the stock is sold
		for _, tt := range []struct {
			cartID string
			pm     string
			status int
			has    string
		}{
			{s.cartWith(t, ctx, map[string]int64{v: 1}), "pm_card_insufficientFunds", 402, `"extra":{"decline_code":"insufficient_funds"}`},
			{s.cartWith(t, ctx, map[string]int64{v: 1}), "pm_card_visa", 201, `"order":{`},
			{late, "pm_card_visa", 409, `"shortages"`},
		} {
			cartID := tt.cartID
			first, err := s.checkoutCart(ctx, cartID, "k", input(tt.pm))
			if err != nil || first.Status != tt.status || !bytes.Contains(first.Body, []byte(tt.has)) {
				t.Fatalf("%s: %d %s, %v; want %d with %s", tt.pm, first.Status, first.Body, err, tt.status, tt.has)
			}
			for range 2 {
				again, err := s.checkoutCart(ctx, cartID, "k", input(tt.pm))
				if err != nil || again.Status != first.Status || !bytes.Equal(again.Body, first.Body) {
					t.Fatalf("replay: %d %s, %v; want %d %s", again.Status, again.Body, err, first.Status, first.Body)
				}
			}
		}
	})
}

// TestAnswersStoredBeforeOutcomes: records stored as HTTP answers (before
// migration 002) still replay byte for byte, and as the order or the
// refusal to a Go caller.
func TestAnswersStoredBeforeOutcomes(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{})
		v := s.product(t, "OLD", 500, 5)
		in := input("pm_card_visa")
		body, _ := json.Marshal(in)
		sum := sha256.Sum256(body)
		now := time.Now().UTC()
		stored := func(cartID string, status int, answer string) {
			t.Helper()
			if _, err := db.ExecContext(ctx, `INSERT INTO checkout_requests (cart_id, idem_key, request_hash, order_id, status, locked_until, response_status, response_body, created_at, updated_at)
				VALUES (?, 'old', ?, ?, 'done', ?, ?, ?, ?, ?)`, cartID, hex.EncodeToString(sum[:]), "01old000-0000-7000-8000-000000000001", now, status, answer, now, now); err != nil {
				t.Fatal(err)
			}
		}
		// What the service stored then: json.Marshal(web.ProblemOf(err)) and json.Marshal(Result{o}).
		declined := `{"type":"https://mercato.dev/problems/payment-failed","title":"Payment Required","status":402,"detail":"payment declined: your card was declined \u003cgeneric\u003e","extra":{"decline_code":"generic_decline"}}`
		changed := `{"type":"https://mercato.dev/problems/conflict","title":"Conflict","status":409,"detail":"prices changed since you added these items: OLD: €5.00 → €6.00. Review the cart and check out again.","extra":{"price_changed":true,"total":{"amount":600,"currency":"EUR"}}}`
		empty := `{"type":"https://mercato.dev/problems/unprocessable","title":"Unprocessable Entity","status":422,"detail":"the cart has items that cannot be bought","errors":[{"field":"items[0]","message":"OLD is no longer for sale; remove it from the cart"}]}`
		placed := `{"order":{"id":"01old000-0000-7000-8000-000000000001","number":"1001","customer_id":"","email":"buyer@example.com","status":"paid","access_token":"oat_x","created_at":"2026-11-29T10:00:00.123456Z"}}`
		for _, tt := range []struct {
			status int
			answer string
			check  func(o order.Order, err error) bool
		}{
			{402, declined, func(_ order.Order, err error) bool {
				var r *checkout.Refusal
				return errors.As(err, &r) && apperr.Is(err, apperr.PaymentFailed) && strings.Contains(err.Error(), "<generic>")
			}},
			{409, changed, func(_ order.Order, err error) bool {
				var r *checkout.Refusal
				return errors.As(err, &r) && r.PricesChanged()
			}},
			{422, empty, func(_ order.Order, err error) bool { return hasField(err, apperr.Unprocessable, "items[0]") }},
			{201, placed, func(o order.Order, err error) bool {
				return err == nil && o.ID == "01old000-0000-7000-8000-000000000001" && o.AccessToken == "oat_x" && o.Number == "1001"
			}},
		} {
			cartID := s.cartWith(t, ctx, map[string]int64{v: 1})
			stored(cartID, tt.status, tt.answer)
			resp, err := s.checkoutCart(ctx, cartID, "old", in)
			if err != nil || resp.Status != tt.status || string(resp.Body) != tt.answer {
				t.Fatalf("HTTP replay = %d %s, %v;\nwant %d %s", resp.Status, resp.Body, err, tt.status, tt.answer)
			}
			if o, err := s.checkout.Checkout(ctx, cartID, "old", in); !tt.check(o, err) {
				t.Fatalf("Go replay of %d = %+v, %v", tt.status, o, err)
			}
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments`); n != 0 {
			t.Fatalf("%d payments: a replay paid", n)
		}
	})
}

// TestLogsNeverNameTheCart: a guest cart's id is its bearer credential (it
// opens the cart), so no log line may carry a cart id. The service logs
// when it cannot release an idempotency key; the storage is made to refuse
// that (a trigger), once for a refused checkout (forget) and once for one
// that failed inside (unlock).
func TestLogsNeverNameTheCart(t *testing.T) {
	db := sqldbtest.SQLite(t, migrations...)
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newShop(t, db, nil, checkout.Options{})
	v := s.product(t, "LOGGED", 700, 5)
	for _, stmt := range []string{
		`CREATE TRIGGER keep_requests BEFORE DELETE ON checkout_requests BEGIN SELECT RAISE(ABORT, 'kept'); END`,
		`CREATE TRIGGER lock_requests BEFORE UPDATE OF locked_until ON checkout_requests BEGIN SELECT RAISE(ABORT, 'locked'); END`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	// Refused after the key was claimed: an unknown shipping method.
	refused := s.cartWith(t, ctx, map[string]int64{v: 1})
	in := input("pm_card_visa")
	in.ShippingMethodID = "express"
	if _, err := checkout.NewService(db, s.carts, s.stock, s.payments, s.orders, log, checkout.Options{}).Checkout(ctx, refused, "k1", in); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("unknown shipping method: %v, want invalid", err)
	}
	// Failed inside: the order cannot be written.
	failed := s.cartWith(t, ctx, map[string]int64{v: 1})
	if _, err := checkout.NewService(db, s.carts, s.stock, s.payments, failingOrders{s.orders}, log, checkout.Options{}).Checkout(ctx, failed, "k2", input("pm_card_visa")); apperr.CodeOf(err) != apperr.Internal {
		t.Fatalf("failing orders: %v, want an internal error", err)
	}
	got := logs.String()
	if strings.Count(got, "level=WARN") < 2 {
		t.Fatalf("the failures to release the keys were not logged:\n%s", got)
	}
	for _, id := range []string{refused, failed} {
		if strings.Contains(got, id) {
			t.Errorf("a log line carries cart id %s:\n%s", id, got)
		}
	}
}
