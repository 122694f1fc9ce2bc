package catalog_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/outbox/outboxtest"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// catalogEvents returns the catalog events committed since the last call,
// in order (the stock events the same transactions wrote are left out).
func catalogEvents(t *testing.T, db *sqldb.DB) []outbox.Event {
	t.Helper()
	var out []outbox.Event
	for _, e := range outboxtest.Drain(t, db) {
		if !strings.HasPrefix(e.Topic, "stock.") {
			out = append(out, e)
		}
	}
	return out
}

// only returns the payload of the one event in evs, which must be of T's topic.
func only[T outbox.Message](t *testing.T, evs []outbox.Event) T {
	t.Helper()
	var p T
	if len(evs) != 1 || evs[0].Topic != p.EventTopic() {
		t.Fatalf("events %+v, want exactly one %s", evs, p.EventTopic())
	}
	if err := evs[0].Decode(&p); err != nil {
		t.Fatal(err)
	}
	if evs[0].AggregateID != p.EventAggregate() {
		t.Fatalf("aggregate id %q, payload names %q", evs[0].AggregateID, p.EventAggregate())
	}
	return p
}

func none(t *testing.T, db *sqldb.DB, what string) {
	t.Helper()
	for _, e := range catalogEvents(t, db) {
		t.Errorf("%s wrote %s %s", what, e.Topic, e.Payload)
	}
}

func TestCreateEvents(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		inv := inventory.NewService(db)
		svc := catalog.NewService(db, inv)

		cat, err := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Mugs", Position: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := only[catalog.CategoryCreated](t, catalogEvents(t, db)), (catalog.CategoryCreated{CategoryID: cat.ID, Slug: "mugs", Name: "Mugs", Position: 2}); !reflect.DeepEqual(got, want) {
			t.Fatalf("category.created = %+v, want %+v", got, want)
		}
		sub, err := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Big mugs", ParentID: &cat.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got := only[catalog.CategoryCreated](t, catalogEvents(t, db)); got.CategoryID != sub.ID || got.ParentID == nil || *got.ParentID != cat.ID {
			t.Fatalf("category.created = %+v, want parent %s", got, cat.ID)
		}
		if _, err := svc.CreateCategory(ctx, catalog.CategoryInput{Name: "Mugs"}); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate category slug: %v", err)
		}
		none(t, db, "a refused category")

		in := product("Mug", 1200, "MUG-1")
		in.CategoryIDs = []string{cat.ID}
		p, err := svc.CreateProduct(ctx, in, "test")
		if err != nil {
			t.Fatal(err)
		}
		want := catalog.ProductCreated{ProductID: p.ID, Slug: "mug", Title: "Mug", Status: catalog.StatusActive, CategoryIDs: []string{cat.ID},
			Variants: []catalog.EventVariant{{VariantID: p.Variants[0].ID, SKU: "MUG-1", Price: eur(1200)}}}
		if got := only[catalog.ProductCreated](t, catalogEvents(t, db)); !reflect.DeepEqual(got, want) {
			t.Fatalf("product.created = %+v, want %+v", got, want)
		}

		// The same title again: the first attempt's slug clash is retried
		// with a unique slug, and only the committed attempt has an event.
		p2, err := svc.CreateProduct(ctx, product("Mug", 900, "MUG-2"), "test")
		if err != nil {
			t.Fatal(err)
		}
		if got := only[catalog.ProductCreated](t, catalogEvents(t, db)); got.ProductID != p2.ID || got.Slug != p2.Slug || got.Slug == "mug" {
			t.Fatalf("product.created = %+v for %s (%s)", got, p2.ID, p2.Slug)
		}

		// The stock is recorded after the product row and its event, in the
		// same transaction: when it fails, neither the product nor its
		// event exists.
		if err := inv.Track(ctx, nil, "another-variant", "TAKEN", nil, nil, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateProduct(ctx, product("Plate", 500, "TAKEN"), "test"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("SKU tracked for another variant: %v", err)
		}
		none(t, db, "a refused product")
		if _, err := svc.GetProduct(ctx, "plate", false); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("refused product exists: %v", err)
		}
	})
}

func TestUpdateEvents(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		inv := inventory.NewService(db)
		svc := catalog.NewService(db, inv)
		p, err := svc.CreateProduct(ctx, catalog.ProductInput{Title: "Tee", Variants: []catalog.VariantInput{
			{SKU: "TEE-S", Options: map[string]string{"size": "S"}, Price: eur(1000), Stock: ptr[int64](3)},
			{SKU: "TEE-M", Options: map[string]string{"size": "M"}, Price: eur(1200), Stock: ptr[int64](3)},
		}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		other, err := svc.CreateProduct(ctx, product("Cap", 800, "CAP"), "test")
		if err != nil {
			t.Fatal(err)
		}
		catalogEvents(t, db)
		small, medium := p.Variants[0], p.Variants[1]

		// Stock below what is reserved fails after the product row and its
		// event were written: the whole update rolls back, event included.
		if _, err := inv.Reserve(ctx, "co-1", []inventory.Line{{VariantID: small.ID, Quantity: 3}}, time.Minute); err != nil {
			t.Fatal(err)
		}
		active := catalog.StatusActive
		_, err = svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Status: &active,
			Variants: []catalog.VariantInput{{ID: small.ID, Price: eur(1500), Stock: ptr[int64](1)}}}, "test")
		if !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("stock below reserved: %v", err)
		}
		if _, err := svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Slug: &other.Slug}, "test"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("slug taken: %v", err)
		}
		if _, err := svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Title: ptr("")}, "test"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("empty title: %v", err)
		}
		none(t, db, "refused updates")
		if got, _ := svc.GetProduct(ctx, p.ID, false); got.Status != catalog.StatusDraft || got.Variants[0].Price != eur(1000) {
			t.Fatalf("a refused update changed the product: %+v", got)
		}

		// A successful update writes exactly one event with its changes.
		got, err := svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Status: &active, Title: ptr("Linen Tee"),
			Variants: []catalog.VariantInput{
				{ID: small.ID, Price: eur(1500)},
				{ID: medium.ID, Price: eur(1200)}, // same price: no price change
				{SKU: "TEE-L", Options: map[string]string{"size": "L"}, Price: eur(1300)},
			}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		want := catalog.ProductUpdated{ProductID: p.ID, Slug: "tee", Status: catalog.StatusActive,
			Changed:       []string{catalog.FieldTitle, catalog.FieldStatus, catalog.FieldVariants},
			StatusChange:  &catalog.StatusChange{Old: catalog.StatusDraft, New: catalog.StatusActive},
			PriceChanges:  []catalog.PriceChange{{VariantID: small.ID, SKU: "TEE-S", Old: eur(1000), New: eur(1500)}},
			AddedVariants: []catalog.EventVariant{{VariantID: got.Variants[2].ID, SKU: "TEE-L", Price: eur(1300)}}}
		evs := catalogEvents(t, db)
		if e := only[catalog.ProductUpdated](t, evs); !reflect.DeepEqual(e, want) {
			t.Fatalf("product.updated = %+v, want %+v", e, want)
		}
		// The wire form: every list is [] rather than null, status_change
		// is null when the status stays.
		var wire map[string]any
		if err := json.Unmarshal(evs[0].Payload, &wire); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"product_id", "slug", "status", "changed", "status_change", "price_changes", "added_variants"} {
			if _, ok := wire[k]; !ok {
				t.Errorf("product.updated has no %q: %s", k, evs[0].Payload)
			}
		}
		if pc := wire["price_changes"].([]any)[0].(map[string]any); pc["old"].(map[string]any)["amount"] != 1000.0 || pc["new"].(map[string]any)["currency"] != "EUR" {
			t.Errorf("price change wire form: %v", pc)
		}

		// A price-only update; then archiving, which is a status change.
		if _, err := svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Variants: []catalog.VariantInput{{ID: medium.ID, Price: eur(1100)}}}, "test"); err != nil {
			t.Fatal(err)
		}
		want = catalog.ProductUpdated{ProductID: p.ID, Slug: "tee", Status: catalog.StatusActive, Changed: []string{catalog.FieldVariants},
			PriceChanges:  []catalog.PriceChange{{VariantID: medium.ID, SKU: "TEE-M", Old: eur(1200), New: eur(1100)}},
			AddedVariants: []catalog.EventVariant{}}
		if e := only[catalog.ProductUpdated](t, catalogEvents(t, db)); !reflect.DeepEqual(e, want) {
			t.Fatalf("product.updated = %+v, want %+v", e, want)
		}
		if _, err := svc.ArchiveProduct(ctx, p.ID, "test"); err != nil {
			t.Fatal(err)
		}
		want = catalog.ProductUpdated{ProductID: p.ID, Slug: "tee", Status: catalog.StatusArchived, Changed: []string{catalog.FieldStatus},
			StatusChange: &catalog.StatusChange{Old: catalog.StatusActive, New: catalog.StatusArchived},
			PriceChanges: []catalog.PriceChange{}, AddedVariants: []catalog.EventVariant{}}
		evs = catalogEvents(t, db)
		if e := only[catalog.ProductUpdated](t, evs); !reflect.DeepEqual(e, want) {
			t.Fatalf("archive: product.updated = %+v, want %+v", e, want)
		}
		if !strings.Contains(string(evs[0].Payload), `"price_changes":[]`) {
			t.Errorf("price_changes not [] on the wire: %s", evs[0].Payload)
		}
	})
}

func TestEventsListsEveryTopic(t *testing.T) {
	var topics []string
	for _, m := range catalog.Events() {
		topics = append(topics, m.EventTopic())
	}
	want := []string{catalog.TopicProductCreated, catalog.TopicProductUpdated, catalog.TopicCategoryCreated}
	if !reflect.DeepEqual(topics, want) {
		t.Fatalf("Events() topics = %v, want %v", topics, want)
	}
}
