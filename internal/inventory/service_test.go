package inventory_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{outbox.Migrations(), inventory.Migrations()}

func ptr[T any](v T) *T { return &v }

// track creates a stock record for variant v with sku and on-hand n.
func track(t *testing.T, svc *inventory.Service, v, sku string, n int64) {
	t.Helper()
	if err := svc.Track(context.Background(), nil, v, sku, &n, nil, "test"); err != nil {
		t.Fatalf("track %s: %v", sku, err)
	}
}

func TestSetAdjustAndLedger(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := inventory.NewService(db)
		track(t, svc, "v1", "SKU-1", 10)

		l, err := svc.Set(ctx, "SKU-1", inventory.SetInput{OnHand: ptr[int64](7), Reason: ptr("stock count")}, "alice@example.com")
		if err != nil || l.OnHand != 7 || l.Available != 7 {
			t.Fatalf("Set = %+v, %v", l, err)
		}
		if l, err = svc.Adjust(ctx, "SKU-1", -3, "damaged", "bob@example.com"); err != nil || l.OnHand != 4 {
			t.Fatalf("Adjust = %+v, %v", l, err)
		}
		if _, err := svc.Adjust(ctx, "SKU-1", -5, "too much", "bob@example.com"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("Adjust below zero: err = %v, want conflict", err)
		}
		if _, err := svc.Set(ctx, "NOPE", inventory.SetInput{OnHand: ptr[int64](1)}, "x"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Set unknown SKU: err = %v, want not found", err)
		}
		for _, bad := range []inventory.SetInput{{}, {OnHand: ptr[int64](-1)}, {OnHand: ptr[int64](inventory.MaxQuantity + 1)}, {OnHand: ptr[int64](1), Reason: ptr(" ")}} {
			if _, err := svc.Set(ctx, "SKU-1", bad, "x"); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Set(%+v): err = %v, want invalid", bad, err)
			}
		}

		ms, err := svc.Movements(ctx, "SKU-1", 10)
		if err != nil {
			t.Fatal(err)
		}
		// Newest first: adjustment -3 by bob, set -3 by alice, initial +10 by test.
		want := []struct {
			delta         int64
			reason, actor string
			after         int64
		}{{-3, "damaged", "bob@example.com", 4}, {-3, "stock count", "alice@example.com", 7}, {10, inventory.ReasonInitial, "test", 10}}
		if len(ms) != len(want) {
			t.Fatalf("ledger has %d entries, want %d: %+v", len(ms), len(want), ms)
		}
		for i, w := range want {
			m := ms[i]
			if m.DeltaOnHand != w.delta || m.Reason != w.reason || m.Actor != w.actor || m.OnHandAfter != w.after {
				t.Errorf("ledger[%d] = %+v, want %+v", i, m, w)
			}
		}
	})
}

func TestReserveCommitRelease(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := inventory.NewService(db)
		track(t, svc, "v1", "A", 5)
		track(t, svc, "v2", "B", 1)

		// All or nothing: B lacks stock, so A is not reserved either.
		_, err := svc.Reserve(ctx, "co-1", []inventory.Line{{VariantID: "v1", Quantity: 2}, {VariantID: "v2", Quantity: 2}}, time.Minute)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Code != apperr.Conflict {
			t.Fatalf("Reserve short: err = %v, want conflict", err)
		}
		if sh := e.Detail.(map[string]any)["shortages"].([]inventory.Shortage); len(sh) != 1 || sh[0].SKU != "B" || sh[0].Available != 1 {
			t.Fatalf("shortages = %+v, want only B with 1 available", sh)
		}
		if l, _ := svc.Get(ctx, "A"); l.Reserved != 0 {
			t.Fatalf("A reserved %d after a failed reservation", l.Reserved)
		}

		if _, err := svc.Reserve(ctx, "co-2", []inventory.Line{{VariantID: "v1", Quantity: 2}, {VariantID: "v2", Quantity: 1}}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if l, _ := svc.Get(ctx, "A"); l.OnHand != 5 || l.Reserved != 2 || l.Available != 3 {
			t.Fatalf("after reserve A = %+v", l)
		}
		// on_hand cannot be set below what is reserved.
		if _, err := svc.Set(ctx, "A", inventory.SetInput{OnHand: ptr[int64](1)}, "x"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("Set below reserved: err = %v", err)
		}
		if err := svc.Commit(ctx, nil, "co-2", "test"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Commit(ctx, nil, "co-2", "test"); err != nil { // idempotent
			t.Fatal(err)
		}
		if l, _ := svc.Get(ctx, "A"); l.OnHand != 3 || l.Reserved != 0 {
			t.Fatalf("after commit A = %+v, want on_hand 3 reserved 0", l)
		}

		if _, err := svc.Reserve(ctx, "co-3", []inventory.Line{{VariantID: "v1", Quantity: 3}}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := svc.Release(ctx, nil, "co-3", ""); err != nil {
			t.Fatal(err)
		}
		if err := svc.Release(ctx, nil, "co-3", ""); err != nil {
			t.Fatal(err)
		}
		if l, _ := svc.Get(ctx, "A"); l.OnHand != 3 || l.Reserved != 0 {
			t.Fatalf("after release A = %+v", l)
		}

		// Expired reservations are swept back.
		if _, err := svc.Reserve(ctx, "co-4", []inventory.Line{{VariantID: "v1", Quantity: 1}}, -time.Second); err != nil {
			t.Fatal(err)
		}
		if n, err := svc.ReleaseExpired(ctx); err != nil || n != 1 {
			t.Fatalf("ReleaseExpired = %d, %v", n, err)
		}
		if l, _ := svc.Get(ctx, "A"); l.Reserved != 0 {
			t.Fatalf("expired reservation still held: %+v", l)
		}
	})
}

func TestBackorder(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := inventory.NewService(db)
		n := int64(0)
		if err := svc.Track(ctx, nil, "v1", "PRE", &n, ptr(true), "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Reserve(ctx, "co", []inventory.Line{{VariantID: "v1", Quantity: 3}}, time.Minute); err != nil {
			t.Fatalf("backorder reserve: %v", err)
		}
		levels, err := svc.Levels(ctx, []string{"v1", "unknown"})
		if err != nil {
			t.Fatal(err)
		}
		if l := levels["v1"]; l.Available != -3 || !l.Backorder {
			t.Fatalf("levels = %+v", levels)
		}
		if _, ok := levels["unknown"]; ok {
			t.Fatal("unknown variant has a level")
		}
	})
}

// TestConcurrentDecrementsNeverOversell: many goroutines take the same SKU at
// once; exactly on_hand of them succeed and stock ends at zero, never below.
func TestConcurrentDecrementsNeverOversell(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := inventory.NewService(db)
		const stock, workers = 20, 100
		track(t, svc, "hot", "HOT", stock)
		track(t, svc, "hot2", "HOT2", stock)

		var adjusted, reserved, conflicts atomic.Int64
		var wg sync.WaitGroup
		for i := range workers {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := svc.Adjust(ctx, "HOT", -1, "sale", "test")
				switch {
				case err == nil:
					adjusted.Add(1)
				case apperr.Is(err, apperr.Conflict):
					conflicts.Add(1)
				default:
					t.Errorf("adjust: %v", err)
				}
			}()
			go func() {
				defer wg.Done()
				_, err := svc.Reserve(ctx, "co-"+string(rune('a'+i%26))+string(rune('0'+i/26)), []inventory.Line{{VariantID: "hot2", Quantity: 1}}, time.Minute)
				switch {
				case err == nil:
					reserved.Add(1)
				case apperr.Is(err, apperr.Conflict):
					conflicts.Add(1)
				default:
					t.Errorf("reserve: %v", err)
				}
			}()
		}
		wg.Wait()
		if adjusted.Load() != stock || reserved.Load() != stock || conflicts.Load() != 2*(workers-stock) {
			t.Fatalf("adjusted %d, reserved %d, conflicts %d; want %d, %d, %d", adjusted.Load(), reserved.Load(), conflicts.Load(), stock, stock, 2*(workers-stock))
		}
		if l, _ := svc.Get(ctx, "HOT"); l.OnHand != 0 || l.Available != 0 {
			t.Fatalf("HOT ends at %+v, want 0", l)
		}
		if l, _ := svc.Get(ctx, "HOT2"); l.OnHand != stock || l.Reserved != stock || l.Available != 0 {
			t.Fatalf("HOT2 ends at %+v, want all reserved", l)
		}
		ms, _ := svc.Movements(ctx, "HOT", 500)
		if len(ms) != stock+1 {
			t.Fatalf("ledger has %d entries for HOT, want %d", len(ms), stock+1)
		}
	})
}
