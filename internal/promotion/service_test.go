package promotion_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
	"github.com/mercato-shop/mercato/internal/promotion"
)

// The promotion store and its rules on SQLite and PostgreSQL. The checkout
// through the whole shop (concurrent checkouts, two instances, crashes) is
// tested in internal/app.

var migrations = []sqldb.Migrations{outbox.Migrations(), promotion.Migrations()}

// orders is a fake order module: the customers and e-mails that ordered.
type orders struct {
	mu      sync.Mutex
	ordered map[string]bool
}

func (o *orders) HasOrdered(_ context.Context, customerID, email string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return (customerID != "" && o.ordered[customerID]) || (email != "" && o.ordered[email]), nil
}

// categories is a fake catalog: product -> categories.
type categories map[string][]string

func (c categories) ProductCategories(_ context.Context, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, id := range ids {
		out[id] = c[id]
	}
	return out, nil
}

func newService(db *sqldb.DB) (*promotion.Service, *orders) {
	o := &orders{ordered: map[string]bool{}}
	return promotion.NewService(db, categories{"prod-shoe": {"cat-shoes", "cat-clothes"}}, o, "EUR", slog.New(slog.NewTextHandler(io.Discard, nil))), o
}

func ptr[T any](v T) *T { return &v }

func wantField(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want %s on %s", err, code, field)
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("error %v does not name %s (%+v)", err, field, e.Fields)
}

func TestCreateUpdateDelete(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc, _ := newService(db)
		start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.FixedZone("CEST", 7200))
		startText := start.Format(time.RFC3339)
		p, err := svc.Create(ctx, promotion.Input{Name: " Summer ", Code: ptr(" summer-10 "), Kind: promotion.Percentage, Value: 10,
			MinSubtotal: 5000, ProductIDs: []string{"prod-a", "prod-a", " "}, StartsAt: &startText, UsageLimit: ptr[int64](10)})
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != "Summer" || p.Code != "SUMMER-10" || !p.Active || len(p.ProductIDs) != 1 || p.CategoryIDs == nil || !p.StartsAt.Equal(start) || p.StartsAt.Location() != time.UTC {
			t.Fatalf("created %+v", p)
		}
		got, err := svc.Get(ctx, p.ID)
		if err != nil || got.Code != "SUMMER-10" || *got.UsageLimit != 10 || got.EndsAt != nil || !got.StartsAt.Equal(start) || got.MinSubtotal != 5000 {
			t.Fatalf("stored %+v %v", got, err)
		}

		// Every bad field is named; nothing is stored.
		for _, tt := range []struct {
			in    promotion.Input
			field string
		}{
			{promotion.Input{Kind: promotion.Percentage, Value: 10}, "name"},
			{promotion.Input{Name: "x", Kind: "bogus"}, "type"},
			{promotion.Input{Name: "x", Kind: promotion.Percentage, Value: 101}, "value"},
			{promotion.Input{Name: "x", Kind: promotion.Fixed}, "value"},
			{promotion.Input{Name: "x", Kind: promotion.FreeShipping, Value: 5}, "value"},
			{promotion.Input{Name: "x", Kind: promotion.BuyXGetY, BuyQuantity: 2}, "get_quantity"},
			{promotion.Input{Name: "x", Kind: promotion.Percentage, Value: 5, BuyQuantity: 2}, "buy_quantity"},
			{promotion.Input{Name: "x", Code: ptr("NO SPACES"), Kind: promotion.Percentage, Value: 5}, "code"},
			{promotion.Input{Name: "x", Kind: promotion.Percentage, Value: 5, UsageLimit: ptr[int64](0)}, "usage_limit"},
			{promotion.Input{Name: "x", Kind: promotion.Percentage, Value: 5, StartsAt: &startText, EndsAt: &startText}, "ends_at"},
			{promotion.Input{Name: "x", Kind: promotion.Percentage, Value: 5, StartsAt: ptr("tomorrow")}, "starts_at"},
			{promotion.Input{Name: "x", Kind: promotion.Percentage, Value: 5, CategoryIDs: []string{"bad id!"}}, "category_ids[0]"},
			{promotion.Input{Name: "x", Kind: promotion.Percentage, Value: 5, MinSubtotal: -1}, "min_subtotal"},
		} {
			_, err := svc.Create(ctx, tt.in)
			wantField(t, err, apperr.Invalid, tt.field)
		}
		_, err = svc.Create(ctx, promotion.Input{Name: "Again", Code: ptr("Summer-10"), Kind: promotion.FreeShipping})
		wantField(t, err, apperr.Conflict, "code")
		if ps, _ := svc.List(ctx); len(ps) != 1 {
			t.Fatalf("%d promotions after refusals, want 1", len(ps))
		}

		// PATCH: absent fields stay, null clears, a bad result changes nothing.
		var patch promotion.Patch
		if err := json.Unmarshal([]byte(`{"value": 20, "usage_limit": null, "ends_at": "2026-07-01T00:00:00Z", "code": null}`), &patch); err != nil {
			t.Fatal(err)
		}
		p, err = svc.Update(ctx, p.ID, patch)
		if err != nil || p.Value != 20 || p.UsageLimit != nil || p.EndsAt == nil || p.Code != "" || p.Name != "Summer" || p.MinSubtotal != 5000 {
			t.Fatalf("patched %+v %v", p, err)
		}
		patch = promotion.Patch{}
		json.Unmarshal([]byte(`{"type": "free_shipping"}`), &patch)
		if p, err = svc.Update(ctx, p.ID, patch); err != nil || p.Kind != promotion.FreeShipping || p.Value != 0 {
			t.Fatalf("to free shipping: %+v %v", p, err)
		}
		patch = promotion.Patch{}
		json.Unmarshal([]byte(`{"value": 150, "type": "percentage", "name": null}`), &patch)
		_, err = svc.Update(ctx, p.ID, patch)
		wantField(t, err, apperr.Invalid, "name")
		patch = promotion.Patch{}
		json.Unmarshal([]byte(`{"value": 150, "type": "percentage"}`), &patch)
		_, err = svc.Update(ctx, p.ID, patch)
		wantField(t, err, apperr.Invalid, "value")
		if got, _ := svc.Get(ctx, p.ID); got.Kind != promotion.FreeShipping {
			t.Fatalf("a refused patch changed the promotion: %+v", got)
		}

		// Delete: gone, its code free again.
		q, err := svc.Create(ctx, promotion.Input{Name: "Coded", Code: ptr("TAKEN"), Kind: promotion.FreeShipping})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Delete(ctx, q.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Get(ctx, q.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("deleted promotion: %v", err)
		}
		if err := svc.Delete(ctx, q.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("deleting twice: %v", err)
		}
		if _, err := svc.Create(ctx, promotion.Input{Name: "Coded again", Code: ptr("taken"), Kind: promotion.FreeShipping}); err != nil {
			t.Fatalf("the deleted promotion's code: %v", err)
		}
		for _, id := range []string{"nope", "bad id!", ids.New()} {
			if _, err := svc.Get(ctx, id); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("Get(%q): %v", id, err)
			}
		}
	})
}

// cart is a one-line cart for the service's Discounts.
func cart(customer string, subtotal int64, codes ...string) promotion.Cart {
	return promotion.Cart{Currency: "EUR", CustomerID: customer, Subtotal: subtotal, Codes: codes,
		Lines: []promotion.Line{{ItemID: "item-1", ProductID: "prod-shoe", Quantity: 1, UnitPrice: subtotal, LineTotal: subtotal}}}
}

func TestDiscountsReadTheShop(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc, ords := newService(db)
		must := func(in promotion.Input) promotion.Promotion {
			p, err := svc.Create(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		must(promotion.Input{Name: "Shoes 10%", Kind: promotion.Percentage, Value: 10, CategoryIDs: []string{"cat-clothes"}})
		must(promotion.Input{Name: "Welcome", Code: ptr("HELLO"), Kind: promotion.Fixed, Value: 500, FirstOrder: true})
		must(promotion.Input{Name: "Off", Code: ptr("OFF"), Kind: promotion.Fixed, Value: 500, Active: ptr(false)})

		r, err := svc.Discounts(ctx, cart("cust-1", 10000, "HELLO"))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Discounts) != 2 || r.Discounts[0].Label != "Shoes 10%" || r.Discounts[0].Amount != 1000 || r.Discounts[1].Amount != 500 || !r.Codes[0].Applied {
			t.Fatalf("discounts %+v codes %+v", r.Discounts, r.Codes)
		}
		ords.ordered["cust-1"] = true
		r, _ = svc.Discounts(ctx, cart("cust-1", 10000, "HELLO"))
		if len(r.Discounts) != 1 || r.Codes[0].Applied || r.Codes[0].Reason != promotion.ReasonNotApplicable {
			t.Fatalf("a returning customer's first-order code: %+v %+v", r.Discounts, r.Codes)
		}
		r, _ = svc.Discounts(ctx, cart("", 10000, "OFF"))
		if r.Codes[0].Reason != promotion.ReasonUnknown {
			t.Fatalf("an inactive code: %+v", r.Codes)
		}
	})
}

func reservation(customer, email string, uses ...promotion.Use) promotion.Reservation {
	return promotion.Reservation{CustomerID: customer, Email: email, Currency: "EUR", Uses: uses, Until: time.Now().Add(time.Hour)}
}

func used(t *testing.T, svc *promotion.Service, id string) int64 {
	t.Helper()
	p, err := svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Used
}

func TestReserveCommitRelease(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc, _ := newService(db)
		p, err := svc.Create(ctx, promotion.Input{Name: "Two", Code: ptr("TWO"), Kind: promotion.Fixed, Value: 100, UsageLimit: ptr[int64](2),
			UsageLimitPerCustomer: ptr[int64](1)})
		if err != nil {
			t.Fatal(err)
		}
		use := promotion.Use{PromotionID: p.ID, Code: "TWO", Amount: 100}
		commit := func(orderID string) error {
			return db.InTx(ctx, func(tx *sqldb.Tx) error { return svc.Commit(ctx, tx, orderID) })
		}

		// Order 1 (a guest, by e-mail) holds a use; a retry under its id keeps it.
		if err := svc.Reserve(ctx, "order-1", reservation("", "Ann@Example.com", use)); err != nil {
			t.Fatal(err)
		}
		if err := svc.Reserve(ctx, "order-1", reservation("", "ann@example.com", use)); err != nil || used(t, svc, p.ID) != 1 {
			t.Fatalf("retry: %v, used %d, want 1", err, used(t, svc, p.ID))
		}
		// The same e-mail again (signed in this time): the per-customer limit.
		err = svc.Reserve(ctx, "order-2", reservation("cust-9", "ann@example.com", use))
		wantField(t, err, apperr.Conflict, "code")
		// Someone else takes the second use; a third is refused: used up.
		if err := svc.Reserve(ctx, "order-3", reservation("cust-3", "bob@example.com", use)); err != nil {
			t.Fatal(err)
		}
		err = svc.Reserve(ctx, "order-4", reservation("cust-4", "cy@example.com", use))
		wantField(t, err, apperr.Conflict, "code")
		var ae *apperr.Error
		errors.As(err, &ae)
		if d := ae.Detail.(map[string]any); d["reason"] != promotion.ReasonExhausted || d["code"] != "TWO" {
			t.Fatalf("refusal detail %v", ae.Detail)
		}
		if used(t, svc, p.ID) != 2 {
			t.Fatalf("used %d, want 2", used(t, svc, p.ID))
		}

		// Order 3 fails: its use goes back (once), and order 4 gets it.
		for range 2 {
			if err := svc.Release(ctx, "order-3"); err != nil {
				t.Fatal(err)
			}
		}
		if used(t, svc, p.ID) != 1 {
			t.Fatalf("used %d after a release, want 1", used(t, svc, p.ID))
		}
		if err := svc.Reserve(ctx, "order-4", reservation("cust-4", "cy@example.com", use)); err != nil {
			t.Fatal(err)
		}
		// Order 1 commits; a release then changes nothing.
		if err := commit("order-1"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Release(ctx, "order-1"); err != nil || used(t, svc, p.ID) != 2 {
			t.Fatalf("release of a committed order: %v, used %d", err, used(t, svc, p.ID))
		}
		// Order 4's hold expires; the reconciler's sweep releases it; its commit is refused.
		if _, err := db.ExecContext(ctx, `UPDATE promotion_redemptions SET expires_at = ? WHERE order_id = 'order-4'`, time.Now().UTC().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n, err := svc.ReleaseExpired(ctx); err != nil || n != 1 {
			t.Fatalf("ReleaseExpired: %d %v, want 1", n, err)
		}
		if n, _ := svc.ReleaseExpired(ctx); n != 0 {
			t.Fatalf("a second sweep released %d", n)
		}
		if err := commit("order-4"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("commit after the hold expired: %v, want a conflict", err)
		}
		if used(t, svc, p.ID) != 1 {
			t.Fatalf("used %d, want 1", used(t, svc, p.ID))
		}
		// A retry that no longer has the promotion gives its use back.
		if err := svc.Reserve(ctx, "order-5", reservation("cust-5", "dee@example.com", use)); err != nil {
			t.Fatal(err)
		}
		if err := svc.Reserve(ctx, "order-5", reservation("cust-5", "dee@example.com")); err != nil || used(t, svc, p.ID) != 1 {
			t.Fatalf("retry without it: %v, used %d", err, used(t, svc, p.ID))
		}

		rep, err := svc.Report(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Usage.Orders != 1 || rep.Usage.Reserved != 0 || *rep.Usage.Remaining != 1 || rep.Usage.DiscountTotal.Amount != 100 || rep.Usage.Customers != 1 ||
			len(rep.Usage.Recent) != 3 || rep.Usage.Recent[0].OrderID == "" {
			t.Fatalf("report %+v", rep.Usage)
		}
	})
}

// TestReserveNeverOverspends: 40 checkouts reserve a code with 10 uses at
// once, on two services (two instances) over one database: exactly 10 get
// it, and once the winners release, 10 others can.
func TestReserveNeverOverspends(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		a, _ := newService(db)
		b, _ := newService(db)
		p, err := a.Create(ctx, promotion.Input{Name: "Ten", Code: ptr("TEN"), Kind: promotion.Percentage, Value: 10, UsageLimit: ptr[int64](10)})
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			won     []string
			refused int
		)
		for i := range 40 {
			svc := a
			if i%2 == 1 {
				svc = b
			}
			wg.Go(func() {
				id := fmt.Sprintf("order-%d", i)
				err := svc.Reserve(ctx, id, reservation("", fmt.Sprintf("shopper%d@example.com", i), promotion.Use{PromotionID: p.ID, Code: "TEN", Amount: 1}))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, id)
				case apperr.Is(err, apperr.Conflict):
					refused++
				default:
					t.Errorf("reserve %s: %v", id, err)
				}
			})
		}
		wg.Wait()
		if len(won) != 10 || refused != 30 || used(t, a, p.ID) != 10 {
			t.Fatalf("%d reserved, %d refused, used %d; want 10, 30, 10", len(won), refused, used(t, a, p.ID))
		}
		var n int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM promotion_redemptions WHERE status = 'reserved'`).Scan(&n)
		if n != 10 {
			t.Fatalf("%d reserved redemptions, want 10", n)
		}
	})
}
