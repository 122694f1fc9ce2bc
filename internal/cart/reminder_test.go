package cart_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/outbox/outboxtest"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// contacts is the customer module as the reminder sees it: e-mail and name
// by account id; an unknown account is NotFound. touch, when set, runs
// when the reminder asks (to change the cart between its read and its
// mark).
type contacts struct {
	mu    sync.Mutex
	asked int
	touch func(customerID string)
}

func (c *contacts) Contact(ctx context.Context, id string) (string, string, error) {
	c.mu.Lock()
	c.asked++
	touch := c.touch
	c.mu.Unlock()
	if touch != nil {
		touch(id)
	}
	if id == "gone" {
		return "", "", apperr.NotFoundf("account not found")
	}
	return id + "@example.com", "Name of " + id, nil
}

// age sets a cart's last change to d ago, as if it had sat idle since.
func (e *env) age(id string, d time.Duration) {
	e.t.Helper()
	at := time.Now().UTC().Add(-d).Truncate(time.Microsecond)
	if _, err := e.db.ExecContext(context.Background(), `UPDATE cart_carts SET updated_at = ? WHERE id = ?`, at, id); err != nil {
		e.t.Fatal(err)
	}
}

func abandonedEvents(t *testing.T, db *sqldb.DB) []cart.Abandoned {
	t.Helper()
	var out []cart.Abandoned
	for _, e := range outboxtest.Drain(t, db) {
		if e.Topic == cart.TopicAbandoned {
			out = append(out, outboxtest.Decode[cart.Abandoned](t, e))
		}
	}
	return out
}

// TestAbandonedCartsAreRemindedOnce: only a customer's active, non-empty
// cart idle past the delay (and within the window) gets a reminder; two
// instances running at once write one event for it; running again writes
// nothing; the restore token leads to the cart until it is checked out.
func TestAbandonedCartsAreRemindedOnce(t *testing.T) {
	sqldbtest.ForEach(t, []sqldb.Migrations{cart.Migrations(), outbox.Migrations()}, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, true)
		tee := e.shop.add("TEE", 1990, 10)
		mug := e.shop.add("MUG", 1250, 10)
		const idle = 4 * time.Hour

		cartOf := func(who string, age time.Duration, variants ...string) string {
			c := e.newCart(as(who))
			for _, v := range variants {
				e.add(as(who), c.ID, v, 2)
			}
			e.age(c.ID, age)
			return c.ID
		}
		left := cartOf("ada", 5*time.Hour, tee, mug)
		cartOf("bob", time.Hour, tee)                          // not idle long enough
		cartOf("", 5*time.Hour, tee)                           // a guest's: no address
		cartOf("cy", 5*time.Hour)                              // empty
		cartOf("dee", cart.ReminderWindow+idle+time.Hour, tee) // left too long ago
		gone := cartOf("gone", 5*time.Hour, tee)               // the account is gone
		bought := cartOf("eve", 5*time.Hour, tee)
		if err := e.svc.MarkConverted(ctx, nil, bought, "order-1"); err != nil {
			t.Fatal(err)
		}
		e.age(bought, 5*time.Hour)

		// Two instances at once.
		other := cart.NewService(db, e.shop, e.shop, pricing{}, "EUR")
		c := &contacts{}
		var wg sync.WaitGroup
		counts := make([]int, 2)
		errs := make([]error, 2)
		for i, svc := range []*cart.Service{e.svc, other} {
			wg.Go(func() { counts[i], errs[i] = svc.RemindAbandoned(ctx, idle, c) })
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		if counts[0]+counts[1] != 1 {
			t.Fatalf("reminders written: %v, want 1 in all", counts)
		}
		evs := abandonedEvents(t, db)
		if len(evs) != 1 {
			t.Fatalf("%d cart.abandoned events, want 1: %+v", len(evs), evs)
		}
		ev := evs[0]
		if ev.CartID != left || ev.CustomerID != "ada" || ev.Email != "ada@example.com" || ev.Name != "Name of ada" ||
			len(ev.Items) != 2 || ev.Items[0] != (cart.AbandonedItem{Title: "Product TEE (M)", Quantity: 2}) || ev.IdleSince.IsZero() {
			t.Fatalf("event %+v", ev)
		}
		if !strings.HasPrefix(ev.RestoreToken, "cr_") || len(ev.RestoreToken) < 32 || strings.Contains(ev.RestoreToken, left) {
			t.Fatalf("restore token %q", ev.RestoreToken)
		}
		var goneReminded int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cart_carts WHERE id = ? AND reminded_at IS NOT NULL`, gone).Scan(&goneReminded)
		if goneReminded != 1 {
			t.Fatal("the cart of a deleted account is not marked: it would be looked at forever")
		}

		// Once only, however often it runs, even after the cart changes.
		e.add(as("ada"), left, tee, 1)
		e.age(left, 6*time.Hour)
		for range 2 {
			if n, err := e.svc.RemindAbandoned(ctx, idle, c); err != nil || n != 0 {
				t.Fatalf("again: %d, %v", n, err)
			}
		}
		if evs := abandonedEvents(t, db); len(evs) != 0 {
			t.Fatalf("%d more events", len(evs))
		}

		// The token leads to the cart (and only to it) while it is active.
		r, err := e.svc.Restore(ctx, ev.RestoreToken)
		if err != nil || r.CartID != left || r.CustomerID != "ada" {
			t.Fatalf("Restore = %+v, %v", r, err)
		}
		for _, bad := range []string{"", left, "cr_" + strings.Repeat("A", 32), ev.RestoreToken + "x", "cr_'; DROP TABLE cart_carts; --", "cr_\x00" + strings.Repeat("A", 30)} {
			if _, err := e.svc.Restore(ctx, bad); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("Restore(%q) = %v, want NotFound", bad, err)
			}
		}
		if ok, err := e.svc.Active(ctx, left); err != nil || !ok {
			t.Fatalf("Active = %v, %v", ok, err)
		}
		if err := e.svc.MarkConverted(ctx, nil, left, "order-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Restore(ctx, ev.RestoreToken); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Restore after checkout = %v, want NotFound", err)
		}
		for _, id := range []string{left, "cart_nope", ""} {
			if ok, err := e.svc.Active(ctx, id); err != nil || ok {
				t.Fatalf("Active(%q) = %v, %v; want false", id, ok, err)
			}
		}
	})
}

// TestReminderSkipsACartThatChangesMeanwhile: a cart the customer touches
// between the reminder's read and its mark is active again, not reminded.
func TestReminderSkipsACartThatChangesMeanwhile(t *testing.T) {
	sqldbtest.ForEach(t, []sqldb.Migrations{cart.Migrations(), outbox.Migrations()}, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, true)
		tee := e.shop.add("TEE", 1990, 10)
		c := e.newCart(as("ada"))
		e.add(as("ada"), c.ID, tee, 1)
		e.age(c.ID, 5*time.Hour)
		touched := &contacts{touch: func(string) { e.add(as("ada"), c.ID, tee, 1) }}
		if n, err := e.svc.RemindAbandoned(ctx, 4*time.Hour, touched); err != nil || n != 0 {
			t.Fatalf("RemindAbandoned = %d, %v; want 0", n, err)
		}
		if evs := abandonedEvents(t, db); len(evs) != 0 {
			t.Fatalf("%d events", len(evs))
		}
		// Idle again later: now it is reminded.
		e.age(c.ID, 5*time.Hour)
		if n, err := e.svc.RemindAbandoned(ctx, 4*time.Hour, &contacts{}); err != nil || n != 1 {
			t.Fatalf("RemindAbandoned = %d, %v; want 1", n, err)
		}
	})
}
