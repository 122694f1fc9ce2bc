package inventory_test

import (
	"context"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/platform/outbox/outboxtest"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestStockEvents: every movement writes stock.changed in its transaction,
// stock.low is written once when the level crosses its threshold, and a
// refused movement writes nothing.
func TestStockEvents(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := inventory.NewService(db)

		// A new row with stock above the threshold (5): one stock.changed.
		track(t, svc, "v1", "SKU-1", 10)
		evs := outboxtest.Drain(t, db)
		if len(evs) != 1 {
			t.Fatalf("track wrote %d events, want 1: %+v", len(evs), evs)
		}
		if got, want := outboxtest.Decode[inventory.StockChanged](t, evs[0]), (inventory.StockChanged{VariantID: "v1", SKU: "SKU-1", OnHand: 10, Available: 10, Reason: inventory.ReasonInitial}); got != want {
			t.Fatalf("stock.changed = %+v, want %+v", got, want)
		}

		// Reserving 6 leaves 4 available: changed, then low.
		if _, err := svc.Reserve(ctx, "co-1", []inventory.Line{{VariantID: "v1", Quantity: 6}}, time.Minute); err != nil {
			t.Fatal(err)
		}
		evs = outboxtest.Drain(t, db)
		if len(evs) != 2 {
			t.Fatalf("reserve wrote %d events, want 2: %+v", len(evs), evs)
		}
		if got, want := outboxtest.Decode[inventory.StockChanged](t, evs[0]), (inventory.StockChanged{VariantID: "v1", SKU: "SKU-1", OnHand: 10, Reserved: 6, Available: 4, Reason: inventory.ReasonReserve}); got != want {
			t.Fatalf("stock.changed = %+v, want %+v", got, want)
		}
		if got, want := outboxtest.Decode[inventory.StockLow](t, evs[1]), (inventory.StockLow{VariantID: "v1", SKU: "SKU-1", Available: 4, Threshold: 5}); got != want {
			t.Fatalf("stock.low = %+v, want %+v", got, want)
		}

		// Still low after the sale: no second stock.low.
		if err := svc.Commit(ctx, nil, "co-1", "test"); err != nil {
			t.Fatal(err)
		}
		evs = outboxtest.Drain(t, db)
		if len(evs) != 1 || evs[0].Topic != inventory.TopicStockChanged {
			t.Fatalf("commit wrote %+v, want one stock.changed", evs)
		}
		if got := outboxtest.Decode[inventory.StockChanged](t, evs[0]); got.OnHand != 4 || got.Reserved != 0 || got.Reason != inventory.ReasonCommit {
			t.Fatalf("stock.changed after commit = %+v", got)
		}

		// A refused movement rolls back with its events.
		if _, err := svc.Adjust(ctx, "SKU-1", -5, "damaged", "test"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("adjust below zero: %v", err)
		}
		if _, err := svc.Reserve(ctx, "co-2", []inventory.Line{{VariantID: "v1", Quantity: 1}, {VariantID: "nope", Quantity: 1}}, time.Minute); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("reserve unknown variant: %v", err)
		}
		if evs := outboxtest.Drain(t, db); len(evs) != 0 {
			t.Fatalf("refused movements wrote %+v", evs)
		}

		// Back above the threshold and down again: low a second time; a
		// backordered variant is never low.
		if _, err := svc.Adjust(ctx, "SKU-1", 10, "delivery", "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Set(ctx, "SKU-1", inventory.SetInput{OnHand: ptr[int64](2)}, "test"); err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		if err := svc.Track(ctx, nil, "v2", "PRE", &n, ptr(true), "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Reserve(ctx, "co-3", []inventory.Line{{VariantID: "v2", Quantity: 1}}, time.Minute); err != nil {
			t.Fatal(err)
		}
		var topics []string
		for _, e := range outboxtest.Drain(t, db) {
			topics = append(topics, e.Topic+" "+e.AggregateID)
		}
		want := []string{"stock.changed v1", "stock.changed v1", "stock.low v1", "stock.changed v2"}
		if len(topics) != len(want) {
			t.Fatalf("events %v, want %v", topics, want)
		}
		for i := range want {
			if topics[i] != want[i] {
				t.Fatalf("events %v, want %v", topics, want)
			}
		}
	})
}

func TestEventsListsEveryTopic(t *testing.T) {
	got := map[string]bool{}
	for _, m := range inventory.Events() {
		got[m.EventTopic()] = true
	}
	if len(got) != 2 || !got[inventory.TopicStockChanged] || !got[inventory.TopicStockLow] {
		t.Fatalf("Events() topics = %v", got)
	}
}
