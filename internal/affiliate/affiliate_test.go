package affiliate_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{outbox.Migrations(), affiliate.Migrations()}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

// clock is a settable time for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(t testing.TB, db *sqldb.DB, c *clock) *affiliate.Service {
	t.Helper()
	svc, err := affiliate.NewService(db, affiliate.Options{Currency: "EUR", BaseURL: "https://shop.test", Now: c.now}, discard())
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// must returns a function that returns its value, failing t on an error.
func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// approved makes an approved affiliate for a new account.
func approved(t testing.TB, svc *affiliate.Service, email string) affiliate.Affiliate {
	t.Helper()
	ctx := context.Background()
	a, created, err := svc.Apply(ctx, auth.Principal{AccountID: ids.New(), Email: email, Name: "Affi " + email}, "")
	if err != nil || !created || a.Status != affiliate.StatusPending {
		t.Fatalf("apply: %+v %v %v", a, created, err)
	}
	st := affiliate.StatusApproved
	a, err = svc.Update(ctx, a.ID, affiliate.Patch{Status: &st})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// placed is an order.placed of a guest order of cartID: 119.00 of goods
// (19 % VAT included), 4.90 shipping.
func placed(orderID, cartID, email string, at time.Time) order.OrderPlaced {
	tax := int64(1900 + 78) // 19 % of 119.00 and of 4.90, included
	return order.OrderPlaced{OrderID: orderID, Number: "M-" + orderID, Email: email, Currency: "EUR", CartID: cartID, TaxIncluded: true,
		Totals:    order.Totals{Subtotal: eur(11900), Discount: eur(0), Shipping: eur(490), Tax: eur(tax), Total: eur(12390)},
		CreatedAt: at}
}

func refunded(orderID string, amount, total int64) order.OrderRefunded {
	return order.OrderRefunded{OrderID: orderID, Number: "M-" + orderID, RefundID: ids.New(), Amount: eur(amount), Refunded: eur(total)}
}

func emit(t testing.TB, db *sqldb.DB, ms ...outbox.Message) {
	t.Helper()
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *sqldb.Tx) error {
		for _, m := range ms {
			if err := outbox.Write(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// process is one running instance: a service on its own bus fed by its
// own relay; seen keeps what it delivered, for redelivery.
type process struct {
	svc   *affiliate.Service
	relay *outbox.Relay
	bus   *outbox.LocalBus
	mu    sync.Mutex
	seen  []outbox.Event
}

func newProcess(t testing.TB, db *sqldb.DB, c *clock) *process {
	p := &process{svc: newService(t, db, c), bus: outbox.NewLocalBus()}
	p.svc.Subscribe(p.bus)
	p.bus.Subscribe("probe", []string{"*"}, func(_ context.Context, e outbox.Event) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.seen = append(p.seen, e)
		return nil
	})
	p.relay = outbox.NewRelay(db, p.bus, discard(), time.Hour)
	return p
}

func (p *process) drain(t testing.TB, db *sqldb.DB) {
	t.Helper()
	if err := p.flushAll(db); err != nil {
		t.Fatal(err)
	}
}

// flushAll runs the relay until no event is pending; beside another relay
// it may find events the other has leased, so it tries a while.
func (p *process) flushAll(db *sqldb.DB) error {
	ctx := context.Background()
	for range 1000 {
		if _, err := p.relay.Flush(ctx); err != nil {
			return err
		}
		if n, err := outbox.Pending(ctx, db); err != nil || n == 0 {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("events still pending")
}

func dashboard(t testing.TB, svc *affiliate.Service, a affiliate.Affiliate) affiliate.Dashboard {
	t.Helper()
	d, err := svc.Mine(context.Background(), a.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func bucket(n, amount int64) affiliate.Bucket { return affiliate.Bucket{Count: n, Amount: eur(amount)} }

func TestAmounts(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		sub, disc, ship, tax int64
		incl                 bool
		want                 int64
	}{
		{"tax on top: tax and shipping left out", 10000, 0, 490, 1993, false, 10000},
		{"discount comes off", 10000, 2500, 0, 0, false, 7500},
		{"tax included, no shipping", 11900, 0, 0, 1900, true, 10000},
		// 19 % of 119.00 + 4.90 = 19.78 tax; the goods' share is 19.78 × 119/123.9 = 19.00 (18.9977 rounded).
		{"tax included, split with shipping", 11900, 0, 490, 1978, true, 10000},
		{"discount larger than the subtotal", 1000, 5000, 490, 0, false, 0},
		{"free order", 0, 0, 490, 78, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := affiliate.NetAmount(tc.sub, tc.disc, tc.ship, tc.tax, tc.incl); got != tc.want {
				t.Errorf("NetAmount = %d, want %d", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		pct  float64
		ok   bool
		rate affiliate.Rate
	}{{10, true, 1000}, {12.5, true, 1250}, {0, true, 0}, {100, true, 10000}, {7.25, true, 725}, {0.01, true, 1},
		{12.345, false, 0}, {-1, false, 0}, {100.01, false, 0}} {
		r, ok := affiliate.RateFromPercent(tc.pct)
		if ok != tc.ok || (ok && r != tc.rate) {
			t.Errorf("RateFromPercent(%v) = %d, %v; want %d, %v", tc.pct, r, ok, tc.rate, tc.ok)
		}
	}
	for _, tc := range []struct {
		rate      affiliate.Rate
		net, want int64
	}{{1000, 10000, 1000}, {1000, 5, 1 /* 0.5 rounds up */}, {1000, 4, 0}, {1250, 999, 125 /* 124.875 */}, {0, 10000, 0},
		{10000, 1 << 60, 1 << 60 /* no overflow */}} {
		if got := tc.rate.Of(tc.net); got != tc.want {
			t.Errorf("Rate(%d).Of(%d) = %d, want %d", tc.rate, tc.net, got, tc.want)
		}
	}
}

func TestCookieAndCodes(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	code, when, ok := affiliate.ParseCookie(affiliate.FormatCookie("ABCD2345", at))
	if !ok || code != "ABCD2345" || !when.Equal(at) {
		t.Fatalf("round trip: %q %v %v", code, when, ok)
	}
	for _, bad := range []string{"", "ABCD2345", "ABCD2345.", ".1700000000", "AB.1700000000", "ABC$D.1700000000", "ABCD2345.-5", "ABCD2345.x",
		"ABCD2345.99999999999999999999", "ABCD2345.1700000000.1"} {
		if _, _, ok := affiliate.ParseCookie(bad); ok {
			t.Errorf("ParseCookie(%q) accepted", bad)
		}
	}
	if c, ok := affiliate.NormalizeCode(" abcd2345 "); !ok || c != "ABCD2345" {
		t.Errorf("NormalizeCode: %q %v", c, ok)
	}
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://evil\")": "'=HYPERLINK(\"http://evil\")", "+1+1": "'+1+1", "-2+3": "'-2+3", "@SUM(A1)": "'@SUM(A1)",
		"\t=1": "'\t=1", "\r=1": "'\r=1", "Ann": "Ann", "": "", "a=b": "a=b", "'quoted": "'quoted",
	} {
		if got := affiliate.SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLedger follows one affiliate through the whole ledger on both
// engines: referral, commission, partial and full reversal, approval
// after the return window, payout, a refund after the payout (clawback)
// and its deduction from the next payout.
func TestLedger(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		p := newProcess(t, db, c)
		svc := p.svc
		a := approved(t, svc, "ann@affiliates.test")

		for _, cart := range []string{"cart_one", "cart_two", "cart_three", "cart_four"} {
			if err := svc.ReferCart(ctx, cart, a.Code); err != nil {
				t.Fatal(err)
			}
		}
		at := c.now()
		emit(t, db, placed("o1", "cart_one", "buyer@example.com", at), placed("o2", "cart_two", "buyer@example.com", at),
			placed("o3", "cart_three", "buyer@example.com", at), placed("o4", "cart_unreferred", "buyer@example.com", at))
		p.drain(t, db)
		d := dashboard(t, svc, a)
		// 10 % of 100.00 net each.
		if d.Orders != 3 || d.Commissions.Pending != bucket(3, 3000) || d.Commissions.Approved != bucket(0, 0) || len(d.Recent) != 3 {
			t.Fatalf("after three orders: %+v", d.Affiliate)
		}
		if r := d.Recent[0]; r.Net != eur(10000) || r.Amount != eur(1000) || r.Percent != 10 || !r.ApproveAfter.Equal(at.Add(affiliate.DefaultReturnWindow)) {
			t.Fatalf("a commission: %+v", r)
		}

		// o1: a quarter refunded, then all of it; o2 cancelled.
		emit(t, db, refunded("o1", 3097, 3097))
		p.drain(t, db)
		if d := dashboard(t, svc, a); d.Commissions.Pending != bucket(3, 2750) || d.Commissions.Reversed != bucket(1, 250) {
			t.Fatalf("after a quarter refunded: %+v", d.Commissions)
		}
		emit(t, db, refunded("o1", 9293, 12390), order.OrderCancelled{OrderID: "o2", Number: "M-o2"})
		p.drain(t, db)
		if d := dashboard(t, svc, a); d.Commissions.Pending != bucket(1, 1000) || d.Commissions.Reversed != bucket(2, 2000) {
			t.Fatalf("after o1 refunded and o2 cancelled: %+v", d.Commissions)
		}

		// The return window: nothing before it ends, o3 after.
		if n, err := svc.ApproveDue(ctx, at.Add(affiliate.DefaultReturnWindow-time.Second)); err != nil || n != 0 {
			t.Fatalf("approve before the window: %d, %v", n, err)
		}
		if n, err := svc.ApproveDue(ctx, at.Add(affiliate.DefaultReturnWindow)); err != nil || n != 1 {
			t.Fatalf("approve after the window: %d, %v", n, err)
		}
		d = dashboard(t, svc, a)
		if d.Commissions.Approved != bucket(1, 1000) || d.Commissions.Pending != bucket(0, 0) || d.Payable != eur(1000) {
			t.Fatalf("approved: %+v payable %v", d.Commissions, d.Payable)
		}

		po, err := svc.Payout(ctx, a.ID, affiliate.PayoutInput{Reference: "SEPA 1"}, "staff@shop.test")
		if err != nil || po.Amount != eur(1000) || po.Gross != eur(1000) || po.Clawback != eur(0) || po.Commissions != 1 {
			t.Fatalf("payout: %+v, %v", po, err)
		}
		if _, err := svc.Payout(ctx, a.ID, affiliate.PayoutInput{}, "staff@shop.test"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("second payout: %v, want a conflict", err)
		}
		if d := dashboard(t, svc, a); d.Commissions.Paid != bucket(1, 1000) || d.Commissions.Approved != bucket(0, 0) || d.Payable != eur(0) {
			t.Fatalf("paid: %+v", d.Commissions)
		}

		// o3 refunded in half after it was paid: the commission stays paid,
		// 5.00 is owed back and comes off the next payout.
		emit(t, db, refunded("o3", 6195, 6195))
		p.drain(t, db)
		d = dashboard(t, svc, a)
		if d.Commissions.Paid != bucket(1, 1000) || d.Commissions.Reversed != bucket(3, 2500) || d.Payable != eur(-500) {
			t.Fatalf("refund after payout: %+v payable %v", d.Commissions, d.Payable)
		}
		if err := svc.ReferCart(ctx, "cart_four", ""); err != nil { // no cookie in ctx: changes nothing
			t.Fatal(err)
		}
		c.add(time.Hour)
		emit(t, db, placed("o5", "cart_four", "other@example.com", c.now()))
		p.drain(t, db)
		if _, err := svc.ApproveDue(ctx, c.now().Add(affiliate.DefaultReturnWindow)); err != nil {
			t.Fatal(err)
		}
		po, err = svc.Payout(ctx, a.ID, affiliate.PayoutInput{}, "staff@shop.test")
		if err != nil || po.Gross != eur(1000) || po.Clawback != eur(500) || po.Amount != eur(500) {
			t.Fatalf("payout with a clawback: %+v, %v", po, err)
		}
		ps := must[[]affiliate.Payout](t)(svc.Payouts(ctx, a.ID))
		if len(ps) != 2 || ps[0].ID != po.ID || ps[1].Reference != "SEPA 1" {
			t.Fatalf("payouts: %+v", ps)
		}
		if d := dashboard(t, svc, a); d.Payable != eur(0) || d.Commissions.Paid != bucket(2, 2000) {
			t.Fatalf("after the second payout: %+v payable %v", d.Commissions, d.Payable)
		}
	})
}

// TestNoCommission: orders that earn nothing, on both engines.
func TestNoCommission(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		p := newProcess(t, db, c)
		svc := p.svc
		a := approved(t, svc, "Bo+shop@affiliates.test")
		other := approved(t, svc, "cy@affiliates.test")
		self := auth.With(ctx, auth.Principal{AccountID: a.AccountID, Email: "bo+shop@affiliates.test"})

		// Naming one's own code is refused; one's own cookie is ignored.
		if err := svc.CheckReferral(self, a.Code); !apperr.Is(err, apperr.Unprocessable) {
			t.Fatalf("own code: %v, want unprocessable", err)
		}
		if err := svc.ReferCart(affiliate.WithReferral(self, affiliate.Referral{Code: a.Code, ClickedAt: c.now()}), "cart_self", ""); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []struct {
			code string
			want apperr.Code
		}{{"NOPE2345", apperr.Unprocessable}, {"x!", apperr.Invalid}, {"", ""}} {
			err := svc.CheckReferral(ctx, bad.code)
			if (bad.want == "" && err != nil) || (bad.want != "" && !apperr.Is(err, bad.want)) {
				t.Errorf("CheckReferral(%q) = %v, want %q", bad.code, err, bad.want)
			}
		}
		must[bool](t)(true, svc.ReferCart(ctx, "cart_guest_self", a.Code))
		must[bool](t)(true, svc.ReferCart(ctx, "cart_account_self", a.Code))
		must[bool](t)(true, svc.ReferCart(ctx, "cart_late", other.Code))
		must[bool](t)(true, svc.ReferCart(ctx, "cart_rejected", other.Code))
		// A cookie older than the window refers nothing.
		old := affiliate.WithReferral(ctx, affiliate.Referral{Code: other.Code, ClickedAt: c.now().Add(-affiliate.DefaultWindow - time.Minute)})
		must[bool](t)(true, svc.ReferCart(old, "cart_old_cookie", ""))

		at := c.now()
		byAccount := placed("o-account", "cart_account_self", "someone@else.test", at)
		byAccount.CustomerID = a.AccountID
		late := placed("o-late", "cart_late", "buyer@example.com", at.Add(affiliate.DefaultWindow+time.Hour))
		emit(t, db,
			placed("o-self-cookie", "cart_self", "x@example.com", at),           // never referred
			placed("o-guest-self", "cart_guest_self", "BO@affiliates.test", at), // the affiliate's e-mail, without the +tag
			byAccount,
			late,
			placed("o-old-cookie", "cart_old_cookie", "buyer@example.com", at))
		p.drain(t, db)
		st := affiliate.StatusRejected
		must[affiliate.Affiliate](t)(svc.Update(ctx, other.ID, affiliate.Patch{Status: &st}))
		emit(t, db, placed("o-rejected", "cart_rejected", "buyer@example.com", at))
		p.drain(t, db)
		for _, x := range []affiliate.Affiliate{a, other} {
			if d := dashboard(t, svc, x); d.Orders != 0 {
				t.Errorf("%s earned on %d orders: %+v", x.Email, d.Orders, d.Recent)
			}
		}

		// The address follows the account: the new one is the affiliate's own.
		emit(t, db, customer.EmailChanged{AccountID: a.AccountID, OldEmail: a.Email, NewEmail: "bo.new@affiliates.test"})
		must[bool](t)(true, svc.ReferCart(ctx, "cart_new_mail", a.Code))
		p.drain(t, db)
		emit(t, db, placed("o-new-mail", "cart_new_mail", "bo.new@affiliates.test", at))
		p.drain(t, db)
		if d := dashboard(t, svc, a); d.Email != "bo.new@affiliates.test" || d.Orders != 0 {
			t.Errorf("after the e-mail change: %s, %d orders", d.Email, d.Orders)
		}
	})
}

// TestEachEventAppliesOnce: two instances deliver the same events at once,
// and every event is delivered again by hand; each order earns one
// commission and each refund reverses its share once.
func TestEachEventAppliesOnce(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		p1, p2 := newProcess(t, db, c), newProcess(t, db, c)
		a := approved(t, p1.svc, "dee@affiliates.test")
		const orders = 12
		var ms []outbox.Message
		for i := range orders {
			cart := fmt.Sprintf("cart_%d", i)
			if err := p1.svc.ReferCart(ctx, cart, a.Code); err != nil {
				t.Fatal(err)
			}
			ms = append(ms, placed(fmt.Sprintf("o%d", i), cart, "buyer@example.com", c.now()))
		}
		for i := range orders / 2 { // half of them: a quarter refunded, twice (two refunds of a quarter each)
			id := fmt.Sprintf("o%d", i)
			ms = append(ms, refunded(id, 3097, 3097), refunded(id, 3098, 6195))
		}
		emit(t, db, ms...)
		var wg sync.WaitGroup
		for _, p := range []*process{p1, p2} {
			wg.Go(func() {
				if err := p.flushAll(db); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		// Every event once more, from both, at once.
		var errs atomic.Int32
		all := slices.Concat(p1.seen, p2.seen)
		if len(all) != len(ms) {
			t.Fatalf("%d events delivered, want %d (each once by one of the relays)", len(all), len(ms))
		}
		for _, p := range []*process{p1, p2} {
			wg.Go(func() {
				for _, e := range all {
					if err := p.svc.Handle(ctx, e); err != nil {
						errs.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if errs.Load() != 0 {
			t.Fatalf("%d redeliveries failed", errs.Load())
		}
		d := dashboard(t, p1.svc, a)
		// 12 commissions of 10.00; 6 halved (5.00 reversed each).
		if d.Orders != orders || d.Commissions.Pending != bucket(orders, orders*1000-6*500) || d.Commissions.Reversed != bucket(6, 6*500) {
			t.Fatalf("figures: orders %d, %+v", d.Orders, d.Commissions)
		}
	})
}

// TestConcurrentPayouts: staff pressing "pay" in several places at once
// pay each commission once.
func TestConcurrentPayouts(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		p := newProcess(t, db, c)
		a := approved(t, p.svc, "eve@affiliates.test")
		var ms []outbox.Message
		for i := range 5 {
			cart := fmt.Sprintf("cart_%d", i)
			must[bool](t)(true, p.svc.ReferCart(ctx, cart, a.Code))
			ms = append(ms, placed(fmt.Sprintf("o%d", i), cart, "buyer@example.com", c.now()))
		}
		emit(t, db, ms...)
		p.drain(t, db)
		must[int64](t)(p.svc.ApproveDue(ctx, c.now().Add(affiliate.DefaultReturnWindow)))
		const staff = 8
		var (
			wg        sync.WaitGroup
			paid      atomic.Int64
			conflicts atomic.Int32
			others    = make(chan error, staff)
		)
		for range staff {
			wg.Go(func() {
				po, err := p.svc.Payout(ctx, a.ID, affiliate.PayoutInput{}, "staff@shop.test")
				switch {
				case err == nil:
					paid.Add(po.Amount.Amount)
				case apperr.Is(err, apperr.Conflict):
					conflicts.Add(1)
				default:
					others <- err
				}
			})
		}
		wg.Wait()
		close(others)
		for err := range others {
			t.Fatal(err)
		}
		if paid.Load() != 5000 || conflicts.Load() != staff-1 {
			t.Fatalf("paid %d in total with %d conflicts; want 5000 once and %d conflicts", paid.Load(), conflicts.Load(), staff-1)
		}
		if ps := must[[]affiliate.Payout](t)(p.svc.Payouts(ctx, a.ID)); len(ps) != 1 {
			t.Fatalf("%d payouts", len(ps))
		}
	})
}

// TestClicks: a click counts once per code, client and hour, also when
// the same client sends many at once; IPv6 clients count by their /64.
func TestClicks(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC)}
		svc := newService(t, db, c)
		a := approved(t, svc, "fay@affiliates.test")
		pending, _, err := svc.Apply(ctx, auth.Principal{AccountID: ids.New(), Email: "gus@affiliates.test"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := svc.Click(ctx, pending.Code, "10.0.0.1", ""); ok || err != nil {
			t.Fatalf("a pending affiliate's code refers: %v %v", ok, err)
		}
		if _, ok, err := svc.Click(ctx, "NOSUCHCODE", "10.0.0.1", ""); ok || err != nil {
			t.Fatalf("an unknown code refers: %v %v", ok, err)
		}
		self := auth.With(ctx, auth.Principal{AccountID: a.AccountID, Email: a.Email})
		if _, ok, err := svc.Click(self, a.Code, "10.0.0.9", "cart_self"); !ok || err != nil {
			t.Fatalf("the affiliate's own click: %v %v", ok, err)
		}
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, ok, err := svc.Click(ctx, a.Code, "10.0.0.1", ""); !ok || err != nil {
					t.Errorf("click: %v %v", ok, err)
				}
			})
		}
		wg.Wait()
		clicks := func() int64 { return dashboard(t, svc, a).Clicks }
		if n := clicks(); n != 1 {
			t.Fatalf("20 clicks from one address in an hour (and the affiliate's own) count %d, want 1", n)
		}
		click := func(addr, cart string) {
			t.Helper()
			if _, ok, err := svc.Click(ctx, strings.ToLower(a.Code), addr, cart); !ok || err != nil {
				t.Fatalf("click from %s: %v %v", addr, ok, err)
			}
		}
		for _, addr := range []string{"10.0.0.2", "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"} {
			click(addr, "")
		}
		if n := clicks(); n != 4 { // 10.0.0.1, 10.0.0.2, 2001:db8:1:2::/64, 2001:db8:1:3::/64
			t.Fatalf("clicks %d, want 4", n)
		}
		c.add(time.Hour)
		click("10.0.0.1", "cart_clicked")
		if n := clicks(); n != 5 {
			t.Fatalf("a click an hour later: %d, want 5", n)
		}
		// The purge forgets past hours and referrals older than the window.
		var marks, refs int
		count := func() {
			t.Helper()
			if err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM affiliate_click_marks), (SELECT COUNT(*) FROM affiliate_referrals)`).Scan(&marks, &refs); err != nil {
				t.Fatal(err)
			}
		}
		must[int64](t)(svc.Purge(ctx, c.now()))
		if count(); marks != 1 || refs != 1 {
			t.Fatalf("after purging the past hour: %d marks, %d referrals", marks, refs)
		}
		must[int64](t)(svc.Purge(ctx, c.now().Add(affiliate.DefaultWindow+time.Hour)))
		if count(); marks != 0 || refs != 0 {
			t.Fatalf("after the window: %d marks, %d referrals", marks, refs)
		}
	})
}

// TestStaffList: filters, pages, decisions and the CSV export.
func TestStaffList(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		svc := newService(t, db, c)
		for i := range 5 {
			must[affiliate.Affiliate](t)(func() (affiliate.Affiliate, error) {
				a, _, err := svc.Apply(ctx, auth.Principal{AccountID: ids.New(), Email: fmt.Sprintf("p%d@affiliates.test", i), Name: fmt.Sprintf("Pending %d", i)}, "")
				return a, err
			}())
		}
		evil := approved(t, svc, "=cmd@affiliates.test")
		// A name that a spreadsheet would run.
		x, _, err := svc.Apply(ctx, auth.Principal{AccountID: ids.New(), Email: "mal@affiliates.test", Name: `=HYPERLINK("http://evil.test","x")`}, "")
		if err != nil {
			t.Fatal(err)
		}
		rate := affiliate.Rate(1250)
		x, err = svc.Update(ctx, x.ID, affiliate.Patch{SetRate: true, Rate: &rate})
		if err != nil || x.CommissionPercent != 12.5 || x.DefaultCommission || x.Status != affiliate.StatusPending {
			t.Fatalf("set rate: %+v %v", x, err)
		}
		x, err = svc.Update(ctx, x.ID, affiliate.Patch{SetRate: true})
		if err != nil || x.CommissionPercent != 10 || !x.DefaultCommission {
			t.Fatalf("back to the default: %+v %v", x, err)
		}
		page := must[affiliate.Page](t)(svc.List(ctx, affiliate.ListQuery{Status: affiliate.StatusPending, Limit: 4}))
		if len(page.Items) != 4 || page.NextCursor == nil || page.Items[0].ID != x.ID {
			t.Fatalf("first page: %d items, next %v", len(page.Items), page.NextCursor)
		}
		page = must[affiliate.Page](t)(svc.List(ctx, affiliate.ListQuery{Status: affiliate.StatusPending, Limit: 4, Cursor: *page.NextCursor}))
		if len(page.Items) != 2 || page.NextCursor != nil {
			t.Fatalf("second page: %d items, next %v", len(page.Items), page.NextCursor)
		}
		if page := must[affiliate.Page](t)(svc.List(ctx, affiliate.ListQuery{Q: evil.Code})); len(page.Items) != 1 || page.Items[0].ID != evil.ID {
			t.Fatalf("search by code: %+v", page.Items)
		}
		for _, bad := range []struct {
			q     affiliate.ListQuery
			field string
		}{
			{affiliate.ListQuery{Status: "paid"}, "status"}, {affiliate.ListQuery{Limit: 101}, "limit"}, {affiliate.ListQuery{Cursor: "%%%"}, "cursor"},
		} {
			_, err := svc.List(ctx, bad.q)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Fields[0].Field != bad.field {
				t.Errorf("List(%+v) = %v, want invalid %s", bad.q, err, bad.field)
			}
		}
		for _, p := range []affiliate.Patch{{Status: ptr("paused")}, {SetRate: true, Rate: ptr(affiliate.Rate(10001))}} {
			if _, err := svc.Update(ctx, x.ID, p); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Update(%+v) = %v, want invalid", p, err)
			}
		}
		if _, err := svc.Update(ctx, ids.New(), affiliate.Patch{Status: ptr(affiliate.StatusApproved)}); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("unknown affiliate: %v", err)
		}

		body := must[[]byte](t)(svc.ExportCSV(ctx, affiliate.ListQuery{}))
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 8 || rows[0][1] != "name" {
			t.Fatalf("%d rows: %q", len(rows), rows)
		}
		byID := map[string][]string{}
		for _, r := range rows[1:] {
			byID[r[0]] = r
		}
		if r := byID[x.ID]; r[1] != `'=HYPERLINK("http://evil.test","x")` || r[5] != "10" || r[12] != "0.00" || r[13] != "EUR" {
			t.Errorf("the formula name's row: %q", r)
		}
		if r := byID[evil.ID]; r[2] != "'=cmd@affiliates.test" || r[4] != "approved" {
			t.Errorf("the formula e-mail's row: %q", r)
		}
		approvedOnly := must[[]byte](t)(svc.ExportCSV(ctx, affiliate.ListQuery{Status: affiliate.StatusApproved}))
		if rows, _ := csv.NewReader(bytes.NewReader(approvedOnly)).ReadAll(); len(rows) != 2 {
			t.Errorf("approved export: %q", rows)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestApplyOnce: an account applying from several places at once gets one
// application.
func TestApplyOnce(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(t, db, &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
		p := auth.Principal{AccountID: ids.New(), Email: "hal@affiliates.test", Name: "Hal"}
		const n = 8
		var (
			wg      sync.WaitGroup
			created atomic.Int32
			got     = make(chan string, n)
		)
		for range n {
			wg.Go(func() {
				a, c, err := svc.Apply(ctx, p, "")
				if err != nil {
					t.Error(err)
					return
				}
				if c {
					created.Add(1)
				}
				got <- a.ID + " " + a.Code
			})
		}
		wg.Wait()
		close(got)
		seen := map[string]bool{}
		for g := range got {
			seen[g] = true
		}
		if created.Load() != 1 || len(seen) != 1 {
			t.Fatalf("%d created, %d different answers: %v", created.Load(), len(seen), seen)
		}
		if _, _, err := svc.Apply(ctx, auth.Principal{}, ""); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("anonymous: %v", err)
		}
	})
}
