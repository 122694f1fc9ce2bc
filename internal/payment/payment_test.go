package payment_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{payment.Migrations(), outbox.Migrations()}

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

func TestSandboxTestCards(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := payment.NewService(db, payment.NewSandbox(payment.WithWebhookSecret("whsec_test")))
		tests := []struct {
			method, status, decline string
			capture                 bool
		}{
			{"pm_card_visa", payment.StatusCaptured, "", true},
			{"pm_card_mastercard", payment.StatusAuthorized, "", false},
			{"pm_card_chargeDeclined", payment.StatusDeclined, "generic_decline", true},
			{"pm_card_insufficientFunds", payment.StatusDeclined, "insufficient_funds", true},
			{"pm_card_expired", payment.StatusDeclined, "expired_card", true},
			{"pm_card_unknown", payment.StatusDeclined, "invalid_payment_method", true},
		}
		for _, tt := range tests {
			p, err := svc.Pay(ctx, "order-"+tt.method, eur(1234), tt.method, tt.capture)
			declined := tt.status == payment.StatusDeclined
			if declined != apperr.Is(err, apperr.PaymentFailed) || (!declined && err != nil) {
				t.Fatalf("%s: err = %v", tt.method, err)
			}
			got, gerr := svc.Get(ctx, p.ID)
			if gerr != nil || got.Status != tt.status || got.DeclineCode != tt.decline {
				t.Errorf("%s: recorded %+v, %v; want %s %s", tt.method, got, gerr, tt.status, tt.decline)
			}
		}
		if _, err := svc.Pay(ctx, "x", eur(1), "visa", true); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("malformed method: %v", err)
		}
	})
}

func TestRefundsNeverExceedTheCapture(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := payment.NewService(db, payment.NewSandbox(payment.WithWebhookSecret("whsec_test")))
		p, err := svc.Pay(ctx, "order-1", eur(1000), "pm_card_visa", true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Refund(ctx, nil, p.ID, 400, "damaged"); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []int64{0, -1, 601} {
			if _, err := svc.Refund(ctx, nil, p.ID, bad, ""); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("refund %d: %v, want invalid", bad, err)
			}
		}
		if _, err := svc.Refund(ctx, nil, p.ID, 600, "rest"); err != nil {
			t.Fatal(err)
		}
		got, _ := svc.Get(ctx, p.ID)
		if got.Status != payment.StatusRefunded || got.RefundedAmount != 1000 {
			t.Fatalf("after full refund: %+v", got)
		}
		if _, err := svc.Refund(ctx, nil, p.ID, 1, ""); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("refund of a refunded payment: %v", err)
		}
		// An authorized payment is voided, captured later, or cancelled.
		a, _ := svc.Pay(ctx, "order-2", eur(500), "pm_card_visa", false)
		if c, err := svc.Capture(ctx, a.ID); err != nil || c.Status != payment.StatusCaptured || c.CapturedAmount != 500 {
			t.Fatalf("capture: %+v %v", c, err)
		}
		if err := svc.Void(ctx, a.ID); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("void after capture: %v", err)
		}
		b, _ := svc.Pay(ctx, "order-3", eur(500), "pm_card_visa", false)
		if ok, err := svc.Cancel(ctx, b.ID, "test"); err != nil || !ok {
			t.Fatal(err)
		}
		if got, _ := svc.Get(ctx, b.ID); got.Status != payment.StatusVoided {
			t.Fatalf("cancelled authorization: %s", got.Status)
		}
		// Unclaimed successful payments are orphans; claimed ones are not.
		orphans, err := svc.Orphans(ctx, -time.Minute)
		if err != nil || len(orphans) != 1 || orphans[0].ID != a.ID {
			t.Fatalf("orphans = %+v, %v; want only the captured, unclaimed order-2 payment", orphans, err)
		}
		var n int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events WHERE topic = 'payment.refunded'`).Scan(&n)
		if n != 2 {
			t.Fatalf("%d payment.refunded events, want 2", n)
		}
	})
}

// countingProvider is the sandbox with refunds counted and, on demand, failing.
type countingProvider struct {
	*payment.Sandbox
	fail    bool
	refunds int
}

func (c *countingProvider) Refund(ctx context.Context, ref string, amount money.Money, key string) (string, error) {
	c.refunds++
	if c.fail {
		return "", errors.New("provider unavailable")
	}
	return c.Sandbox.Refund(ctx, ref, amount, key)
}

func TestRefundsMoveMoneyOnlyAfterCommit(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		prov := &countingProvider{Sandbox: payment.NewSandbox(payment.WithWebhookSecret("whsec_test"))}
		svc := payment.NewService(db, prov)
		p, err := svc.Pay(ctx, "order-1", eur(1000), "pm_card_visa", true)
		if err != nil {
			t.Fatal(err)
		}
		status := func() (string, int64) {
			var st string
			var n int64
			db.QueryRowContext(ctx, `SELECT COALESCE(MAX(status), ''), COUNT(*) FROM payment_refunds WHERE payment_id = ?`, p.ID).Scan(&st, &n)
			return st, n
		}

		// A refund decided in a transaction that rolls back moves no money.
		err = db.InTx(ctx, func(tx *sqldb.Tx) error {
			if _, err := svc.Refund(ctx, tx, p.ID, 300, "test"); err != nil {
				return err
			}
			return errors.New("the order update failed")
		})
		if err == nil || prov.refunds != 0 {
			t.Fatalf("rolled back: err %v, provider refunds %d; want no provider call", err, prov.refunds)
		}
		if _, n := status(); n != 0 {
			t.Fatalf("a rolled-back refund left %d rows", n)
		}

		// The provider fails after commit: the refund stays pending, then the job sends it once.
		prov.fail = true
		if _, err := svc.Refund(ctx, nil, p.ID, 300, "test"); err != nil {
			t.Fatal(err)
		}
		if st, n := status(); st != "pending" || n != 1 || prov.refunds != 1 {
			t.Fatalf("after a failed send: %s ×%d, provider calls %d", st, n, prov.refunds)
		}
		if _, err := svc.SendPendingRefunds(ctx); err == nil {
			t.Fatal("SendPendingRefunds hid the provider failure")
		}
		prov.fail = false
		if n, err := svc.SendPendingRefunds(ctx); err != nil || n != 1 {
			t.Fatalf("SendPendingRefunds = %d, %v", n, err)
		}
		if n, _ := svc.SendPendingRefunds(ctx); n != 0 {
			t.Fatalf("a sent refund is still pending (%d)", n)
		}
		if st, _ := status(); st != "succeeded" || prov.refunds != 3 {
			t.Fatalf("after the retry: %s, provider calls %d (want 3: first, failed retry, success)", st, prov.refunds)
		}
		if got, _ := svc.Get(ctx, p.ID); got.RefundedAmount != 300 {
			t.Fatalf("refunded %d, want 300", got.RefundedAmount)
		}
	})
}
