package checkout_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// lossyProvider is the sandbox keeping its books in the database (as a real
// provider keeps them on its side), whose answer to the next authorization
// is lost when armed: the provider charges, the shop never hears of it (a
// timeout, or the process dying before it recorded the answer).
type lossyProvider struct {
	*payment.Sandbox
	lose atomic.Bool
}

func (p *lossyProvider) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.Result, error) {
	r, err := p.Sandbox.Authorize(ctx, req)
	if err == nil && p.lose.CompareAndSwap(true, false) {
		return payment.Result{}, errors.New("provider timed out")
	}
	return r, err
}

// charges counts the provider's charges for a reference that took or
// reserved money at the time (refunded or voided later or not).
func charges(t *testing.T, db *sqldb.DB, reference string) int {
	return count(t, db, `SELECT COUNT(*) FROM payment_sandbox_charges WHERE reference = ? AND status <> 'declined'`, reference)
}

func orderID(t *testing.T, r response) string {
	t.Helper()
	var res checkout.Result
	if err := json.Unmarshal(r.Body, &res); err != nil || res.Order.ID == "" {
		t.Fatalf("not an order: %d %s", r.Status, r.Body)
	}
	return res.Order.ID
}

// TestRetryAfterLostPaymentAnswerChargesOnce: the provider charged but the
// answer was lost. The attempt fails (5xx, not stored); the shopper's retry
// with the key asks the provider what became of that payment and uses it.
// Before issue 8's fix the retry paid again under a new order id (a double
// charge, refunded only 20 minutes later by the reconciler).
func TestRetryAfterLostPaymentAnswerChargesOnce(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		prov := &lossyProvider{Sandbox: payment.NewSandbox(payment.WithSandboxLedger(db))}
		s := newShopPaying(t, db, prov, nil, checkout.Options{})
		v := s.product(t, "LOST", 1500, 3)
		cartID := s.cartWith(t, ctx, map[string]int64{v: 1})

		prov.lose.Store(true)
		if r, err := s.checkoutCart(ctx, cartID, "k", input("pm_card_visa")); err == nil {
			t.Fatalf("the attempt whose payment answer was lost answered %d %s", r.Status, r.Body)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_sandbox_charges`); n != 1 {
			t.Fatalf("%d charges at the provider after the first attempt, want 1", n)
		}
		retry, err := s.checkoutCart(ctx, cartID, "k", input("pm_card_visa"))
		if err != nil || retry.Status != 201 {
			t.Fatalf("retry: %d %s %v", retry.Status, retry.Body, err)
		}
		id := orderID(t, retry)
		if n := charges(t, db, id); n != 1 {
			t.Fatalf("the order's reference was charged %d times, want once", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_sandbox_charges`); n != 1 {
			t.Fatalf("%d charges at the provider in all, want 1", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE order_id = ? AND status = 'captured'`, id); n != 1 {
			t.Fatalf("%d captured payments for the order, want 1", n)
		}
		if l, _ := s.stock.Get(ctx, "LOST"); l.OnHand != 2 || l.Reserved != 0 {
			t.Fatalf("stock %+v, want 2 on hand, nothing reserved", l)
		}
	})
}

// crashAfterCharge leaves what a process killed between the provider's
// answer and its record leaves: the key in progress (its lock run out), the
// cart's stock reserved, a pending payment the provider charged.
func crashAfterCharge(t *testing.T, s *shop, prov *lossyProvider, cartID, key string, lines []inventory.Line) (orderID string) {
	t.Helper()
	ctx := context.Background()
	prov.lose.Store(true)
	if r, err := s.checkoutCart(ctx, cartID, key, input("pm_card_visa")); err == nil {
		t.Fatalf("the crashing attempt answered %d %s", r.Status, r.Body)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT order_id FROM checkout_requests WHERE cart_id = ? AND idem_key = ?`, cartID, key).Scan(&orderID); err != nil {
		t.Fatal(err)
	}
	// A failed attempt gives its stock back and marks its payment failed; a
	// dead one does neither, and its key stays locked until the lock runs
	// out (here: ran out).
	if _, err := s.stock.Reserve(ctx, orderID, lines, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE payment_payments SET status = 'pending', message = '' WHERE reference = ?`, orderID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE checkout_requests SET locked_until = ? WHERE order_id = ?`, time.Now().UTC().Add(-time.Minute), orderID); err != nil {
		t.Fatal(err)
	}
	return orderID
}

// TestReconcilerSettlesDeadAttempt: once a dead attempt's lock runs out the
// reconciler releases its reservation at once (not after the 15 minute
// reservation expiry) and asks the provider about its pending payment; the
// shopper's later retry uses that payment, so the money is taken once; a
// payment nobody claims is refunded after the orphan age.
func TestReconcilerSettlesDeadAttempt(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		prov := &lossyProvider{Sandbox: payment.NewSandbox(payment.WithSandboxLedger(db))}
		s := newShopPaying(t, db, prov, nil, checkout.Options{})
		v := s.product(t, "DEAD", 900, 5)

		// A dead attempt whose shopper comes back.
		back := s.cartWith(t, ctx, map[string]int64{v: 2})
		id := crashAfterCharge(t, s, prov, back, "back", []inventory.Line{{VariantID: v, Quantity: 2}})
		if l, _ := s.stock.Get(ctx, "DEAD"); l.Reserved != 2 {
			t.Fatalf("stock of the dead attempt %+v, want 2 reserved", l)
		}
		r, err := s.checkout.Reconcile(ctx, time.Hour)
		if err != nil || r.Settled != 1 || r.Resolved != 1 || r.Cancelled != 0 {
			t.Fatalf("reconcile %+v, %v; want one attempt settled, its payment resolved, nothing undone yet", r, err)
		}
		if l, _ := s.stock.Get(ctx, "DEAD"); l.Reserved != 0 || l.OnHand != 5 {
			t.Fatalf("stock after settling %+v, want nothing reserved", l)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE reference = ? AND status = 'captured'`, id); n != 1 {
			t.Fatal("the pending payment was not resolved as captured")
		}
		if r, _ := s.checkout.Reconcile(ctx, time.Hour); r.Any() {
			t.Fatalf("a second reconcile did %+v", r)
		}
		retry, err := s.checkoutCart(ctx, back, "back", input("pm_card_visa"))
		if err != nil || retry.Status != 201 || orderID(t, retry) != id {
			t.Fatalf("retry: %d %s %v", retry.Status, retry.Body, err)
		}
		if n := charges(t, db, id); n != 1 {
			t.Fatalf("charged %d times, want once", n)
		}
		if l, _ := s.stock.Get(ctx, "DEAD"); l.Reserved != 0 || l.OnHand != 3 {
			t.Fatalf("stock after the order %+v, want 3 on hand", l)
		}

		// A dead attempt whose shopper never comes back: refunded after
		// the orphan age, once.
		gone := s.cartWith(t, ctx, map[string]int64{v: 1})
		lost := crashAfterCharge(t, s, prov, gone, "gone", []inventory.Line{{VariantID: v, Quantity: 1}})
		if r, err := s.checkout.Reconcile(ctx, 0); err != nil || r.Settled != 1 || r.Cancelled != 1 {
			t.Fatalf("reconcile %+v, %v; want the attempt settled and its payment undone", r, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_sandbox_charges WHERE reference = ? AND status = 'refunded'`, lost); n != 1 {
			t.Fatal("the provider did not refund the abandoned payment")
		}
		if l, _ := s.stock.Get(ctx, "DEAD"); l.Reserved != 0 || l.OnHand != 3 {
			t.Fatalf("stock %+v, want 3 on hand, nothing reserved", l)
		}
		// The shopper comes back after all: paid anew, once more in all.
		late, err := s.checkoutCart(ctx, gone, "gone", input("pm_card_visa"))
		if err != nil || late.Status != 201 {
			t.Fatalf("late retry: %d %s %v", late.Status, late.Body, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments WHERE reference = ? AND status = 'captured' AND order_id IS NOT NULL`, lost); n != 1 {
			t.Fatal("the late retry's order is not paid")
		}
	})
}

// TestRetryWithinTheLockWaits: while an attempt holds its key (for 1.5
// checkout timeouts), a retry is told to wait and changes nothing.
func TestRetryWithinTheLockWaits(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newShop(t, db, nil, checkout.Options{AttemptTimeout: 10 * time.Second})
		v := s.product(t, "WAIT", 100, 5)
		cartID := s.cartWith(t, ctx, map[string]int64{v: 1})
		slow := checkout.NewService(db, s.carts, s.stock, slowPayments{Payments: s.payments, during: func() {
			var until time.Time
			if err := db.QueryRowContext(ctx, `SELECT locked_until FROM checkout_requests WHERE cart_id = ?`, cartID).Scan(&until); err != nil {
				t.Error(err)
			}
			if d := time.Until(until); d < 14*time.Second || d > 15*time.Second {
				t.Errorf("the key is locked for %v, want 1.5 times the 10s timeout", d)
			}
			if _, err := s.checkoutCart(ctx, cartID, "k", input("pm_card_visa")); !apperr.Is(err, apperr.Conflict) {
				t.Errorf("a retry during the attempt: %v, want a conflict", err)
			}
		}}, s.orders, slog.New(slog.DiscardHandler), checkout.Options{AttemptTimeout: 10 * time.Second})
		if r, err := checkoutOverHTTP(ctx, slow, cartID, "k", input("pm_card_visa")); err != nil || r.Status != 201 {
			t.Fatalf("attempt: %d %s %v", r.Status, r.Body, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_payments`); n != 1 {
			t.Fatalf("%d payments, want 1", n)
		}
	})
}
