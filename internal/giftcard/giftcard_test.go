package giftcard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/outbox/outboxtest"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{outbox.Migrations(), Migrations()}

// clock is a settable time for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestService(t testing.TB, db *sqldb.DB, c *clock, opt Options) *Service {
	t.Helper()
	opt.Currency = "EUR"
	opt.Now = c.now
	return NewService(db, opt, slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func eur(n int64) money.Money { return money.Money{Amount: n, Currency: "EUR"} }

var ctx = context.Background()

// issue makes a card of amount and returns it with its code.
func issue(t testing.TB, s *Service, amount int64) NewCard {
	t.Helper()
	c, err := s.Issue(ctx, IssueInput{Amount: amount}, "staff@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkLedgers fails unless every card's balance and held equal the sums
// of its ledger, and its entries' running results agree with them.
func checkLedgers(t testing.TB, db *sqldb.DB) {
	t.Helper()
	s := store{db}
	cards, err := sqldb.All(ctx, db, "cards", func(r sqldb.Scanner) (Card, error) { return scanCard(r) }, `SELECT `+cardCols("")+` FROM giftcard_cards`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cards {
		bal, held, err := s.ledgerSums(ctx, db, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if bal != c.Balance.Amount || held != c.Held.Amount {
			t.Errorf("card …%s: balance %d held %d, ledger sums %d and %d", c.Last4, c.Balance.Amount, c.Held.Amount, bal, held)
		}
		entries, err := s.ledger(ctx, db, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var b, h int64
		for i, e := range entries {
			b, h = b+e.Amount, h+e.HeldChange
			if e.BalanceAfter != b || e.HeldAfter != h || b < h || h < 0 {
				t.Errorf("card …%s entry %d (%s): after %d/%d, running sums %d/%d", c.Last4, i, e.Kind, e.BalanceAfter, e.HeldAfter, b, h)
			}
		}
		if len(entries) == 0 || entries[0].Kind != KindIssue || entries[0].Amount != c.Initial.Amount {
			t.Errorf("card …%s: ledger does not start with its issue: %+v", c.Last4, entries)
		}
	}
}

func code(err error) apperr.Code { return apperr.CodeOf(err) }

func wantCode(t testing.TB, err error, want apperr.Code, field string) {
	t.Helper()
	if code(err) != want {
		t.Fatalf("err = %v (%s), want %s", err, code(err), want)
	}
	if field == "" {
		return
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || len(ae.Fields) == 0 || ae.Fields[0].Field != field {
		t.Fatalf("err = %v, want one naming %q", err, field)
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := newCode()
		if len(c) != 19 || strings.Count(c, "-") != 3 || strings.ContainsAny(c, "01OI") {
			t.Fatalf("code %q: want four groups of four without 0, O, 1, I", c)
		}
		n, ok := normalize(strings.ToLower(strings.ReplaceAll(c, "-", " ")))
		if !ok || n != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("normalize(%q) = %q, %v", c, n, ok)
		}
		if seen[c] {
			t.Fatalf("code %q twice", c)
		}
		seen[c] = true
	}
	for _, bad := range []string{"", "ABCD", "ABCD-EFGH-JKLM-NPQ0", "ABCD-EFGH-JKLM-NPQRS", "ABCD-EFGH-JKLM-NPQ\x00", "ÄBCD-EFGH-JKLM-NPQR"} {
		if _, ok := normalize(bad); ok {
			t.Errorf("normalize(%q) accepted", bad)
		}
	}
}

// TestCodeShownOnceStoredHashed: the code comes back from Issue only; the
// database holds its hash and last 4 characters, reads never show it, and
// the issued event carries it only for a recipient's mail.
func TestCodeShownOnceStoredHashed(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db, newClock(), Options{})
		exp := newClock().now().Add(365 * 24 * time.Hour)
		mailed, err := s.Issue(ctx, IssueInput{Amount: 5000, RecipientEmail: " Ada@Example.com ", ExpiresAt: &exp, Note: "birthday"}, "staff@example.com")
		if err != nil {
			t.Fatal(err)
		}
		kept := issue(t, s, 2500)
		for _, c := range []NewCard{mailed, kept} {
			norm, ok := normalize(c.Code)
			if !ok || c.Last4 != norm[12:] || c.Balance != c.Initial || c.Status != StatusActive {
				t.Fatalf("issued %+v", c)
			}
			var dump strings.Builder
			rows, err := db.QueryContext(ctx, `SELECT * FROM giftcard_cards`)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&dump, "%v\n", vals)
			}
			rows.Close()
			if strings.Contains(dump.String(), norm) || strings.Contains(dump.String(), c.Code) || !strings.Contains(dump.String(), hashCode(norm)) {
				t.Fatalf("the table holds the code, or not its hash:\n%s", dump.String())
			}
			d, err := s.Get(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			page, err := s.List(ctx, ListQuery{})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal([]any{d, page})
			if strings.Contains(string(b), norm[:12]) || strings.Contains(string(b), c.Code[:14]) {
				t.Fatalf("a read shows the code: %s", b)
			}
			if byCode, err := s.List(ctx, ListQuery{Code: strings.ToLower(c.Code)}); err != nil || len(byCode.Items) != 1 || byCode.Items[0].ID != c.ID {
				t.Fatalf("list by code: %+v %v", byCode, err)
			}
		}
		if mailed.RecipientEmail != "ada@example.com" || mailed.ExpiresAt == nil || !mailed.ExpiresAt.Equal(exp) {
			t.Errorf("issued %+v", mailed)
		}
		evs := outboxtest.Drain(t, db)
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2", len(evs))
		}
		for _, e := range evs {
			p := outboxtest.Decode[Issued](t, e)
			switch p.CardID {
			case mailed.ID:
				if p.Code != mailed.Code || p.RecipientEmail != "ada@example.com" || p.Amount != eur(5000) {
					t.Errorf("issued event %+v", p)
				}
			case kept.ID:
				if p.Code != "" || p.RecipientEmail != "" {
					t.Errorf("an event without recipient carries the code: %+v", p)
				}
			}
		}
		checkLedgers(t, db)
	})
}

func TestIssueRefusesBadInput(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newTestService(t, db, c, Options{})
		past := c.now().Add(-time.Hour)
		far := c.now().Add(11 * 366 * 24 * time.Hour)
		for _, tc := range []struct {
			in    IssueInput
			field string
		}{
			{IssueInput{Amount: 0}, "amount"},
			{IssueInput{Amount: -5}, "amount"},
			{IssueInput{Amount: MaxAmount + 1}, "amount"},
			{IssueInput{Amount: 100, RecipientEmail: "not an address"}, "recipient_email"},
			{IssueInput{Amount: 100, ExpiresAt: &past}, "expires_at"},
			{IssueInput{Amount: 100, ExpiresAt: &far}, "expires_at"},
			{IssueInput{Amount: 100, Note: strings.Repeat("x", 501)}, "note"},
			{IssueInput{Amount: 100, Note: "bell\a"}, "note"},
		} {
			_, err := s.Issue(ctx, tc.in, "staff")
			wantCode(t, err, apperr.Invalid, tc.field)
		}
		if _, err := s.Issue(ctx, IssueInput{Amount: 100, Key: "form-1"}, "staff"); err != nil {
			t.Fatal(err)
		}
		_, err := s.Issue(ctx, IssueInput{Amount: 100, Key: "form-1"}, "staff")
		wantCode(t, err, apperr.Conflict, "")
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM giftcard_cards`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d cards (%v), want 1", n, err)
		}
	})
}

// TestConcurrentHoldsNeverOverspend: 30 checkouts hold a tenth of a card's
// balance at once; exactly 10 succeed, and the books agree.
func TestConcurrentHoldsNeverOverspend(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db, newClock(), Options{})
		c := issue(t, s, 10_000)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ok, lost int
			other    []error
		)
		start := make(chan struct{})
		for i := range 30 {
			wg.Go(func() {
				<-start
				_, err := s.Hold(ctx, fmt.Sprintf("order-%02d", i), c.Code, eur(1000))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case apperr.Is(err, apperr.Conflict):
					lost++
				default:
					other = append(other, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok != 10 || lost != 20 || len(other) > 0 {
			t.Fatalf("%d holds succeeded, %d refused, errors %v; want 10 and 20", ok, lost, other)
		}
		d, err := s.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Held.Amount != 10_000 || d.Available.Amount != 0 || d.Balance.Amount != 10_000 {
			t.Fatalf("card after the rush: %+v", d.Card)
		}
		checkLedgers(t, db)
	})
}

// TestConcurrentCheckoutsOfTwoCards: checkouts reserve two cards in either
// order at once (no deadlock), and each card pays at most its balance.
func TestConcurrentCheckoutsOfTwoCards(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db, newClock(), Options{})
		a, b := issue(t, s, 5000), issue(t, s, 5000)
		var (
			wg sync.WaitGroup
			mu sync.Mutex
			ok int
		)
		for i := range 20 {
			wg.Go(func() {
				uses := []Use{{CardID: a.ID, CodeLast4: a.Last4, Amount: eur(1000)}, {CardID: b.ID, CodeLast4: b.Last4, Amount: eur(1000)}}
				if i%2 == 1 {
					uses[0], uses[1] = uses[1], uses[0]
				}
				err := s.Reserve(ctx, fmt.Sprintf("order-%02d", i), uses)
				if err != nil && !apperr.Is(err, apperr.Conflict) {
					t.Errorf("reserve: %v", err)
				}
				mu.Lock()
				if err == nil {
					ok++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if ok != 5 {
			t.Fatalf("%d checkouts held both cards, want 5", ok)
		}
		checkLedgers(t, db)
	})
}

// TestHoldCaptureReleaseExpire follows a checkout's reference through
// every step.
func TestHoldCaptureReleaseExpire(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newTestService(t, db, c, Options{HoldTTL: 10 * time.Minute})
		a, b := issue(t, s, 3000), issue(t, s, 2000)
		uses := []Use{{CardID: a.ID, CodeLast4: a.Last4, Amount: eur(3000)}, {CardID: b.ID, CodeLast4: b.Last4, Amount: eur(500)}}
		entries := func() int {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM giftcard_ledger`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		available := func(id string) int64 {
			d, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return d.Available.Amount
		}

		// Reserve, and again (a retry of the attempt): nothing more is held.
		if err := s.Reserve(ctx, "order-1", uses); err != nil {
			t.Fatal(err)
		}
		n := entries()
		if err := s.Reserve(ctx, "order-1", uses); err != nil {
			t.Fatal(err)
		}
		if entries() != n || available(a.ID) != 0 || available(b.ID) != 1500 {
			t.Fatalf("a second Reserve moved money: %d entries (was %d), available %d and %d", entries(), n, available(a.ID), available(b.ID))
		}
		// Another checkout cannot use what order-1 holds.
		if err := s.Reserve(ctx, "order-2", []Use{{CardID: a.ID, CodeLast4: a.Last4, Amount: eur(1)}}); code(err) != apperr.Conflict {
			t.Fatalf("reserve of a fully held card: %v", err)
		}
		// A retry with less on card b gives the rest back.
		uses[1].Amount = eur(200)
		if err := s.Reserve(ctx, "order-1", uses); err != nil {
			t.Fatal(err)
		}
		if available(b.ID) != 1800 {
			t.Fatalf("b available %d, want 1800", available(b.ID))
		}
		// Capture in the order's transaction, twice: paid once.
		for range 2 {
			var paid int64
			if err := db.InTx(ctx, func(tx *sqldb.Tx) (err error) { paid, err = s.Capture(ctx, tx, "order-1"); return err }); err != nil {
				t.Fatal(err)
			}
			if paid != 3200 {
				t.Fatalf("captured %d, want 3200", paid)
			}
		}
		// A capture rolled back with its order leaves the hold.
		if err := s.Reserve(ctx, "order-3", []Use{{CardID: b.ID, CodeLast4: b.Last4, Amount: eur(800)}}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("order failed")
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error {
			if _, err := s.Capture(ctx, tx, "order-3"); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		// Release gives it back; releasing again, or a captured reference, does nothing.
		for range 2 {
			if err := s.Release(ctx, "order-3"); err != nil {
				t.Fatal(err)
			}
			if err := s.Release(ctx, "order-1"); err != nil {
				t.Fatal(err)
			}
		}
		d, _ := s.Get(ctx, b.ID)
		if d.Balance.Amount != 1800 || d.Held.Amount != 0 {
			t.Fatalf("b after capture and release: %+v", d.Card)
		}
		// A released reference cannot place its order on the money it gave back.
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { _, err := s.Capture(ctx, tx, "order-3"); return err }); code(err) != apperr.Conflict {
			t.Fatalf("capture after release: %v, want a conflict", err)
		}
		if err := s.Reserve(ctx, "order-3", nil); err != nil { // a new attempt without gift cards
			t.Fatal(err)
		}
		var paid int64
		if err := db.InTx(ctx, func(tx *sqldb.Tx) (err error) { paid, err = s.Capture(ctx, tx, "order-3"); return err }); err != nil || paid != 0 {
			t.Fatalf("capture of a reference that now holds nothing: %d %v", paid, err)
		}
		rs, err := s.Redemptions(ctx, "order-1")
		if err != nil || len(rs) != 2 || rs[0].Amount.Amount+rs[1].Amount.Amount != 3200 || rs[0].Status != HoldCaptured {
			t.Fatalf("redemptions of order-1: %+v %v", rs, err)
		}

		// A hold left alone expires; its reference can no longer capture
		// on it, until a new Reserve holds again.
		if err := s.Reserve(ctx, "order-4", []Use{{CardID: b.ID, CodeLast4: b.Last4, Amount: eur(1000)}}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.ReleaseExpired(ctx, c.now()); err != nil || n != 0 {
			t.Fatalf("released %d holds before their time (%v)", n, err)
		}
		c.add(10 * time.Minute)
		if n, err := s.ReleaseExpired(ctx, c.now()); err != nil || n != 1 {
			t.Fatalf("released %d expired holds, want 1 (%v)", n, err)
		}
		if available(b.ID) != 1800 {
			t.Fatalf("b available %d after expiry, want 1800", available(b.ID))
		}
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { _, err := s.Capture(ctx, tx, "order-4"); return err }); code(err) != apperr.Conflict {
			t.Fatalf("capture after expiry: %v, want a conflict", err)
		}
		if err := s.Reserve(ctx, "order-4", []Use{{CardID: b.ID, CodeLast4: b.Last4, Amount: eur(1000)}}); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { _, err := s.Capture(ctx, tx, "order-4"); return err }); err != nil {
			t.Fatalf("capture after a new reserve: %v", err)
		}
		if d, _ := s.Get(ctx, b.ID); d.Balance.Amount != 800 || d.Held.Amount != 0 {
			t.Fatalf("b at the end: %+v", d.Card)
		}
		checkLedgers(t, db)
	})
}

// TestHoldRefusesWhatCannotPay: expired, disabled, other-currency and
// unknown cards hold nothing.
func TestHoldRefusesWhatCannotPay(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newTestService(t, db, c, Options{})
		exp := c.now().Add(time.Hour)
		soon, err := s.Issue(ctx, IssueInput{Amount: 1000, ExpiresAt: &exp}, "staff")
		if err != nil {
			t.Fatal(err)
		}
		off := issue(t, s, 1000)
		if _, err := s.Disable(ctx, off.ID, "lost", "staff"); err != nil {
			t.Fatal(err)
		}
		ok := issue(t, s, 1000)
		_, err = s.Hold(ctx, "o-1", "AAAA-BBBB-CCCC-DDDD", eur(100))
		wantCode(t, err, apperr.Unprocessable, "code")
		_, err = s.Hold(ctx, "o-1", off.Code, eur(100))
		wantCode(t, err, apperr.Unprocessable, "code")
		_, err = s.Hold(ctx, "o-1", ok.Code, money.Money{Amount: 100, Currency: "USD"})
		wantCode(t, err, apperr.Unprocessable, "code")
		_, err = s.Hold(ctx, "o-1", ok.Code, eur(1001))
		wantCode(t, err, apperr.Conflict, "code")
		// Reserve re-checks at the moment it holds: a card that expired
		// or was disabled since the cart was priced pays nothing.
		c.add(time.Hour)
		err = s.Reserve(ctx, "o-1", []Use{{CardID: soon.ID, CodeLast4: soon.Last4, Amount: eur(100)}})
		wantCode(t, err, apperr.Conflict, "code")
		err = s.Reserve(ctx, "o-1", []Use{{CardID: ok.ID, Amount: eur(100)}, {CardID: off.ID, CodeLast4: off.Last4, Amount: eur(100)}})
		wantCode(t, err, apperr.Conflict, "code")
		if d, _ := s.Get(ctx, ok.ID); d.Held.Amount != 0 {
			t.Fatalf("a refused Reserve held money on another card: %+v", d.Card)
		}
		for _, id := range []string{soon.ID, off.ID, ok.ID} {
			if d, _ := s.Get(ctx, id); d.Held.Amount != 0 || d.Balance.Amount != 1000 {
				t.Errorf("card changed: %+v", d.Card)
			}
		}
		checkLedgers(t, db)
	})
}

// TestCreditBoundedByCaptured: refunds go back to the cards up to what
// they paid for the order, also when refunds run at once.
func TestCreditBoundedByCaptured(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db, newClock(), Options{})
		a, b := issue(t, s, 3000), issue(t, s, 5000)
		if err := s.Reserve(ctx, "order-1", []Use{{CardID: a.ID, Amount: eur(3000)}, {CardID: b.ID, Amount: eur(2000)}}); err != nil {
			t.Fatal(err)
		}
		credit := func(ref string, n int64) int64 {
			var got int64
			if err := db.InTx(ctx, func(tx *sqldb.Tx) (err error) { got, err = s.Credit(ctx, tx, ref, n); return err }); err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := credit("order-1", 1000); got != 0 {
			t.Fatalf("credited %d before the capture, want 0", got)
		}
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { _, err := s.Capture(ctx, tx, "order-1"); return err }); err != nil {
			t.Fatal(err)
		}
		if got := credit("order-1", 4000); got != 4000 {
			t.Fatalf("credited %d, want 4000", got)
		}
		if got := credit("order-1", 4000); got != 1000 {
			t.Fatalf("credited %d, want the 1000 left of what the cards paid", got)
		}
		if got := credit("order-1", 1); got != 0 || credit("order-2", 500) != 0 {
			t.Fatalf("credited %d beyond what was paid", got)
		}
		if d, _ := s.Get(ctx, a.ID); d.Balance.Amount != 3000 {
			t.Errorf("a: %+v", d.Card)
		}
		if d, _ := s.Get(ctx, b.ID); d.Balance.Amount != 5000 {
			t.Errorf("b: %+v", d.Card)
		}

		// Ten refunds of 1000 at once on an order the cards paid 5000 of.
		if err := s.Reserve(ctx, "order-3", []Use{{CardID: a.ID, Amount: eur(3000)}, {CardID: b.ID, Amount: eur(2000)}}); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { _, err := s.Capture(ctx, tx, "order-3"); return err }); err != nil {
			t.Fatal(err)
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int64
		)
		for range 10 {
			wg.Go(func() {
				got, err := s.Credit(ctx, nil, "order-3", 1000)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += got
				mu.Unlock()
			})
		}
		wg.Wait()
		if total != 5000 {
			t.Fatalf("concurrent refunds credited %d, want 5000", total)
		}
		_, err := s.Credit(ctx, nil, "order-3", -1)
		wantCode(t, err, apperr.Invalid, "amount")
		checkLedgers(t, db)
	})
}

// TestCartCards: applying, listing what each card pays, removing.
func TestCartCards(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newTestService(t, db, c, Options{Lookups: 100})
		a, b := issue(t, s, 3000), issue(t, s, 5000)
		cart := "cart_" + ids.Secret(16)
		for _, code := range []string{b.Code, strings.ToLower(strings.ReplaceAll(a.Code, "-", " ")), b.Code} {
			if err := s.Apply(ctx, "192.0.2.1", cart, "EUR", code); err != nil {
				t.Fatal(err)
			}
		}
		uses, err := s.Applied(ctx, cart, "EUR", eur(6000))
		if err != nil {
			t.Fatal(err)
		}
		if len(uses) != 2 || uses[0].CodeLast4 != b.Last4 || uses[0].Amount != eur(5000) || uses[1].Amount != eur(1000) || uses[1].Balance != eur(3000) {
			t.Fatalf("uses = %+v", uses)
		}
		if uses, _ = s.Applied(ctx, cart, "EUR", eur(4000)); uses[0].Amount != eur(4000) || uses[1].Amount != eur(0) {
			t.Fatalf("uses of a smaller total = %+v", uses)
		}
		// What other checkouts hold is not available.
		if _, err := s.Hold(ctx, "other", b.Code, eur(4500)); err != nil {
			t.Fatal(err)
		}
		if uses, _ = s.Applied(ctx, cart, "EUR", eur(6000)); uses[0].Amount != eur(500) || uses[1].Amount != eur(3000) {
			t.Fatalf("uses beside a hold = %+v", uses)
		}
		// A disabled card pays nothing but stays listed.
		if _, err := s.Disable(ctx, b.ID, "", "staff"); err != nil {
			t.Fatal(err)
		}
		if uses, _ = s.Applied(ctx, cart, "EUR", eur(6000)); len(uses) != 2 || uses[0].Amount != eur(0) || uses[1].Amount != eur(3000) {
			t.Fatalf("uses with a disabled card = %+v", uses)
		}
		// Remove by last 4 and by code; unknown ones are NotFound.
		if err := s.Remove(ctx, cart, strings.ToLower(b.Last4)); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.Remove(ctx, cart, b.Last4), apperr.NotFound, "")
		wantCode(t, s.Remove(ctx, cart, "AAAA-BBBB-CCCC-DDDD"), apperr.NotFound, "")
		if err := s.Remove(ctx, cart, a.Code); err != nil {
			t.Fatal(err)
		}
		if uses, _ = s.Applied(ctx, cart, "EUR", eur(6000)); len(uses) != 0 {
			t.Fatalf("uses after removing both = %+v", uses)
		}
		// At most MaxPerCart cards.
		for i := range MaxPerCart {
			if err := s.Apply(ctx, "192.0.2.1", cart, "EUR", issue(t, s, 100).Code); err != nil {
				t.Fatalf("card %d: %v", i, err)
			}
		}
		wantCode(t, s.Apply(ctx, "192.0.2.1", cart, "EUR", issue(t, s, 100).Code), apperr.Unprocessable, "code")
	})
}

// TestApplyRefusals: what a shopper is told for codes that cannot pay.
// Unknown, disabled and other-currency codes get the same words; expired
// and empty cards (which the balance check shows anyway) say why.
func TestApplyRefusals(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newTestService(t, db, c, Options{Lookups: 100})
		exp := c.now().Add(time.Hour)
		expired, _ := s.Issue(ctx, IssueInput{Amount: 1000, ExpiresAt: &exp}, "staff")
		off := issue(t, s, 1000)
		s.Disable(ctx, off.ID, "", "staff")
		spent := issue(t, s, 1000)
		if _, err := s.Adjust(ctx, spent.ID, -1000, "used up", "staff"); err != nil {
			t.Fatal(err)
		}
		c.add(2 * time.Hour)
		message := func(err error) string {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Unprocessable || len(ae.Fields) != 1 || ae.Fields[0].Field != "code" {
				t.Fatalf("err = %v, want a 422 naming code", err)
			}
			return ae.Fields[0].Message
		}
		cart := "cart_x"
		for _, code := range []string{"AAAA-BBBB-CCCC-DDDD", "nonsense", off.Code} {
			if m := message(s.Apply(ctx, "192.0.2.1", cart, "EUR", code)); m != notACard {
				t.Errorf("%s: %q, want %q", code, m, notACard)
			}
		}
		if m := message(s.Apply(ctx, "192.0.2.1", cart, "USD", issue(t, s, 100).Code)); m != notACard {
			t.Errorf("another currency: %q", m)
		}
		if m := message(s.Apply(ctx, "192.0.2.1", cart, "EUR", expired.Code)); !strings.Contains(m, "expired") {
			t.Errorf("expired: %q", m)
		}
		if m := message(s.Apply(ctx, "192.0.2.1", cart, "EUR", spent.Code)); !strings.Contains(m, "no balance") {
			t.Errorf("spent: %q", m)
		}
		wantCode(t, s.Apply(ctx, "192.0.2.1", cart, "EUR", " "), apperr.Invalid, "code")
		if uses, _ := s.Applied(ctx, cart, "EUR", eur(100)); len(uses) != 0 {
			t.Fatalf("refused cards went on the cart: %+v", uses)
		}
	})
}

// TestLookupLimitIsSharedByInstances: two services on one database count
// one allowance per client address; another address has its own, and a
// new window starts over.
func TestLookupLimitIsSharedByInstances(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		one := newTestService(t, db, c, Options{Lookups: 4, LookupWindow: 10 * time.Minute})
		two := newTestService(t, db, c, Options{Lookups: 4, LookupWindow: 10 * time.Minute})
		card := issue(t, one, 1234)
		for i, s := range []*Service{one, two, one, two} {
			b, err := s.Balance(ctx, "198.51.100.7", card.Code)
			if err != nil || b.Balance != eur(1234) {
				t.Fatalf("look-up %d: %+v %v", i, b, err)
			}
		}
		_, err := two.Balance(ctx, "198.51.100.7", card.Code)
		wantCode(t, err, apperr.TooManyRequest, "")
		// Applying to a cart counts too.
		wantCode(t, one.Apply(ctx, "198.51.100.7", "cart_y", "EUR", card.Code), apperr.TooManyRequest, "")
		// An IPv6 address is counted by its /64.
		for i := range 4 {
			if _, err := one.Balance(ctx, fmt.Sprintf("2001:db8::%x", i+1), card.Code); err != nil {
				t.Fatal(err)
			}
		}
		_, err = two.Balance(ctx, "2001:db8::ff", card.Code)
		wantCode(t, err, apperr.TooManyRequest, "")
		if _, err := two.Balance(ctx, "2001:db8:0:1::1", card.Code); err != nil {
			t.Fatalf("another /64: %v", err)
		}
		if _, err := one.Balance(ctx, "203.0.113.9", card.Code); err != nil {
			t.Fatalf("another address: %v", err)
		}
		c.add(10 * time.Minute)
		if _, err := two.Balance(ctx, "198.51.100.7", card.Code); err != nil {
			t.Fatalf("after the window: %v", err)
		}
		if n, err := one.PurgeLookups(ctx); err != nil || n != 3 {
			t.Fatalf("purged %d counters (%v), want the 3 whose window ended", n, err)
		}
	})
}

// TestBalanceRevealsOnlyBalanceAndExpiry.
func TestBalanceRevealsOnlyBalanceAndExpiry(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newTestService(t, db, c, Options{})
		exp := c.now().Add(48 * time.Hour)
		card, err := s.Issue(ctx, IssueInput{Amount: 2000, ExpiresAt: &exp, RecipientEmail: "ada@example.com", Note: "secret note"}, "staff")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Hold(ctx, "o-1", card.Code, eur(500)); err != nil {
			t.Fatal(err)
		}
		b, err := s.Balance(ctx, "192.0.2.1", strings.ToLower(card.Code))
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(b)
		want := fmt.Sprintf(`{"balance":{"amount":1500,"currency":"EUR"},"expires_at":%q}`, exp.Format(time.RFC3339Nano))
		if string(j) != want {
			t.Fatalf("balance = %s, want %s", j, want)
		}
		s.Disable(ctx, card.ID, "", "staff")
		for _, code := range []string{card.Code, "AAAA-BBBB-CCCC-DDDD", "x"} {
			_, err := s.Balance(ctx, "192.0.2.1", code)
			wantCode(t, err, apperr.NotFound, "")
		}
	})
}

// TestAdjustAndDisable: staff corrections keep the ledger whole.
func TestAdjustAndDisable(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db, newClock(), Options{})
		card := issue(t, s, 1000)
		if _, err := s.Hold(ctx, "o-1", card.Code, eur(600)); err != nil {
			t.Fatal(err)
		}
		_, err := s.Adjust(ctx, card.ID, -500, "oops", "staff")
		wantCode(t, err, apperr.Conflict, "amount")
		got, err := s.Adjust(ctx, card.ID, -400, "goodwill taken back", "staff")
		if err != nil || got.Balance != eur(600) || got.Available != eur(0) {
			t.Fatalf("adjusted: %+v %v", got, err)
		}
		_, err = s.Adjust(ctx, card.ID, 0, "", "staff")
		wantCode(t, err, apperr.Invalid, "amount")
		_, err = s.Adjust(ctx, ids.New(), 5, "x", "staff")
		wantCode(t, err, apperr.NotFound, "")
		if _, err := s.Disable(ctx, card.ID, "fraud", "staff"); err != nil {
			t.Fatal(err)
		}
		_, err = s.Disable(ctx, card.ID, "", "staff")
		wantCode(t, err, apperr.Conflict, "")
		_, err = s.Disable(ctx, "not-an-id", "", "staff")
		wantCode(t, err, apperr.NotFound, "")
		// A hold made before the card was disabled can still be captured.
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { _, err := s.Capture(ctx, tx, "o-1"); return err }); err != nil {
			t.Fatal(err)
		}
		d, err := s.Get(ctx, card.ID)
		if err != nil || d.Status != StatusDisabled || d.Balance != eur(0) || len(d.Ledger) != 4 {
			t.Fatalf("card: %+v %v", d, err)
		}
		for _, st := range []string{StatusDisabled, StatusActive, StatusSpent, StatusExpired} {
			p, err := s.List(ctx, ListQuery{Status: st})
			if err != nil || len(p.Items) != map[string]int{StatusDisabled: 1}[st] {
				t.Errorf("list %s: %+v %v", st, p, err)
			}
		}
		_, err = s.List(ctx, ListQuery{Status: "nope"})
		wantCode(t, err, apperr.Invalid, "status")
		checkLedgers(t, db)
	})
}

func TestListPages(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		s := newTestService(t, db, newClock(), Options{})
		made := map[string]bool{}
		for range 5 {
			made[issue(t, s, 100).ID] = true
		}
		seen := map[string]bool{}
		q := ListQuery{Limit: 2}
		for pages := 0; ; pages++ {
			p, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Items {
				seen[c.ID] = true
			}
			if p.NextCursor == nil {
				break
			}
			if pages > 5 {
				t.Fatal("endless pages")
			}
			q.Cursor = *p.NextCursor
		}
		if len(seen) != 5 {
			t.Fatalf("listed %d of 5 cards", len(seen))
		}
		_, err := s.List(ctx, ListQuery{Cursor: "bad"})
		wantCode(t, err, apperr.Invalid, "cursor")
		_, err = s.List(ctx, ListQuery{Limit: 101})
		wantCode(t, err, apperr.Invalid, "limit")
	})
}
