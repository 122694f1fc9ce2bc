package payment_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// failingOnce answers the next authorization with an error after the
// provider has charged (a timeout): the outcome is unknown to the shop.
type failingOnce struct {
	*payment.Sandbox
	fail atomic.Bool
}

func (p *failingOnce) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.Result, error) {
	r, err := p.Sandbox.Authorize(ctx, req)
	if err == nil && p.fail.CompareAndSwap(true, false) {
		return payment.Result{}, errors.New("timeout")
	}
	return r, err
}

func count(t *testing.T, db *sqldb.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestResolveLearnsTheOutcomeOnce: a payment whose answer was lost is
// resolved by asking the provider again under its own idempotency key; the
// provider's books (kept in the database, so a new process sees them) show
// one charge, and resolving again changes nothing.
func TestResolveLearnsTheOutcomeOnce(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		prov := &failingOnce{Sandbox: payment.NewSandbox(payment.WithSandboxLedger(db))}
		svc := payment.NewService(db, prov)
		prov.fail.Store(true)
		if _, err := svc.Pay(ctx, "order-1", eur(700), "pm_card_visa", false); err == nil {
			t.Fatal("the lost answer was not an error")
		}
		ps, err := svc.Unresolved(ctx, farFuture, 10)
		if err != nil || len(ps) != 1 || ps[0].Status != payment.StatusFailed {
			t.Fatalf("unresolved %+v, %v; want the failed payment", ps, err)
		}
		// A new process (a new sandbox on the same books) resolves it.
		restarted := payment.NewService(db, payment.NewSandbox(payment.WithSandboxLedger(db)))
		p, err := restarted.Resolve(ctx, ps[0].ID)
		if err != nil || p.Status != payment.StatusAuthorized || p.ProviderRef == "" || p.Capture {
			t.Fatalf("resolved %+v, %v; want authorized (capture was not asked)", p, err)
		}
		if again, err := restarted.Resolve(ctx, p.ID); err != nil || again.Status != p.Status || again.ProviderRef != p.ProviderRef {
			t.Fatalf("resolving again: %+v, %v", again, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_sandbox_charges WHERE reference = 'order-1'`); n != 1 {
			t.Fatalf("%d charges at the provider, want 1", n)
		}
		if ps, _ := svc.Unresolved(ctx, farFuture, 10); len(ps) != 0 {
			t.Fatalf("still unresolved: %+v", ps)
		}
	})
}

// TestCancelLeavesAClaimedPaymentAlone: the reconciler's undo of an
// unclaimed payment and a retry's order claiming it may race; whichever
// commits first wins, and a claimed payment is never refunded.
func TestCancelLeavesAClaimedPaymentAlone(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := payment.NewService(db, payment.NewSandbox(payment.WithSandboxLedger(db)))
		p, err := svc.Pay(ctx, "order-2", eur(300), "pm_card_visa", true)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { return svc.AttachOrder(ctx, tx, p.ID, "order-2") }); err != nil {
			t.Fatal(err)
		}
		if ok, err := svc.Cancel(ctx, p.ID, "no order"); err != nil || ok {
			t.Fatalf("cancel of a claimed payment: %v, %v; want nothing done", ok, err)
		}
		if got, _ := svc.Get(ctx, p.ID); got.Status != payment.StatusCaptured || got.RefundedAmount != 0 {
			t.Fatalf("claimed payment %+v was touched", got)
		}
		// And a payment undone first cannot be claimed.
		q, _ := svc.Pay(ctx, "order-3", eur(300), "pm_card_visa", true)
		if ok, err := svc.Cancel(ctx, q.ID, "no order"); err != nil || !ok {
			t.Fatalf("cancel: %v, %v", ok, err)
		}
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { return svc.AttachOrder(ctx, tx, q.ID, "order-3") }); err == nil {
			t.Fatal("an undone payment was claimed by an order")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM payment_sandbox_charges WHERE reference = 'order-3' AND status = 'refunded'`); n != 1 {
			t.Fatal("the provider did not refund the undone payment")
		}
	})
}

var farFuture = time.Now().Add(time.Hour)

// recordingProvider remembers every authorization request it gets.
type recordingProvider struct {
	*failingOnce
	reqs []payment.AuthorizeRequest
}

func (p *recordingProvider) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.Result, error) {
	p.reqs = append(p.reqs, req)
	return p.failingOnce.Authorize(ctx, req)
}

// TestResolveReplaysTheSameRequest: a provider refuses an idempotency key
// reused with other parameters (Stripe does), so the replay of a payment
// whose answer was lost must send exactly what the first request sent.
func TestResolveReplaysTheSameRequest(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		prov := &recordingProvider{failingOnce: &failingOnce{Sandbox: payment.NewSandbox(payment.WithSandboxLedger(db))}}
		svc := payment.NewService(db, prov)
		prov.fail.Store(true)
		p, err := svc.PayWith(ctx, payment.PayRequest{Reference: "order-9", Amount: eur(900), Method: "pm_card_visa", Capture: true,
			ReturnURL: "https://shop.example/orders/order-9?token=t", Email: "ada@example.com", Description: "Order order-9"})
		if err == nil {
			t.Fatalf("the lost answer was not an error: %+v", p)
		}
		ps, _ := svc.Unresolved(ctx, farFuture, 10)
		if len(ps) != 1 {
			t.Fatalf("unresolved %+v", ps)
		}
		if _, err := svc.Resolve(ctx, ps[0].ID); err != nil {
			t.Fatal(err)
		}
		if len(prov.reqs) != 2 || prov.reqs[0] != prov.reqs[1] {
			t.Fatalf("the replay differs from the first request:\n%+v\n%+v", prov.reqs[0], prov.reqs[len(prov.reqs)-1])
		}
	})
}

// pendingProvider decides later: every authorization is processing, and
// every look-up says it still is.
type pendingProvider struct {
	*payment.Sandbox
	lookups int
}

func (p *pendingProvider) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.Result, error) {
	return payment.Result{ProviderRef: "sb_pi_pending_" + req.Reference, Pending: true}, nil
}

func (p *pendingProvider) Lookup(ctx context.Context, ref string) (payment.Result, error) {
	p.lookups++
	return payment.Result{ProviderRef: ref, Pending: true}, nil
}

// TestProcessingIsAskedOncePerPeriod: the reconciler asks the provider
// about a payment still processing, then leaves it alone until the period
// has passed again (it used to ask at every run, every few seconds).
func TestProcessingIsAskedOncePerPeriod(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		prov := &pendingProvider{Sandbox: payment.NewSandbox()}
		svc := payment.NewService(db, prov)
		p, err := svc.Pay(ctx, "order-p", eur(500), "pm_card_visa", true)
		if err != nil || p.Status != payment.StatusProcessing {
			t.Fatalf("pay: %+v, %v", p, err)
		}
		t0 := time.Now().UTC()
		svc.SetClock(func() time.Time { return t0.Add(20 * time.Minute) })
		period := t0.Add(10 * time.Minute) // untouched for 10 minutes
		ps, err := svc.Processing(ctx, period, 10)
		if err != nil || len(ps) != 1 {
			t.Fatalf("processing before a look-up: %+v, %v", ps, err)
		}
		if got, err := svc.Settle(ctx, p.ID, false); err != nil || got.Status != payment.StatusProcessing || prov.lookups != 1 {
			t.Fatalf("settle: %+v, %v, %d look-ups", got, err, prov.lookups)
		}
		if ps, _ := svc.Processing(ctx, period, 10); len(ps) != 0 {
			t.Fatalf("asked again right after a look-up: %+v", ps)
		}
		if ps, _ := svc.Processing(ctx, t0.Add(31*time.Minute), 10); len(ps) != 1 {
			t.Fatalf("not asked again once the period has passed: %+v", ps)
		}
	})
}
