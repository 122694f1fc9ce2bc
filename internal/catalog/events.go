package catalog

import (
	"maps"
	"slices"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
)

// Topics the catalog publishes (docs/EVENTS.md), each written in the
// transaction of its change, so a search index, a cache or a webhook sees
// exactly the committed changes.
//
// There is no product.deleted: products are never deleted (orders refer to
// them), and archiving one (DELETE /api/v1/admin/products/{id}) is a
// product.updated whose status changes to archived. Categories can only be
// created today; category.updated and category.deleted come with the
// operations that change or remove one.
const (
	TopicProductCreated  = "product.created"
	TopicProductUpdated  = "product.updated"
	TopicCategoryCreated = "category.created"
)

// Events returns a zero value of every event the catalog publishes.
func Events() []outbox.Message {
	return []outbox.Message{ProductCreated{}, ProductUpdated{}, CategoryCreated{}}
}

// EventVariant is a variant as catalog events show it.
type EventVariant struct {
	VariantID string      `json:"variant_id"`
	SKU       string      `json:"sku"`
	Price     money.Money `json:"price"`
}

func eventVariants(vs []Variant) []EventVariant {
	out := make([]EventVariant, len(vs))
	for i, v := range vs {
		out[i] = EventVariant{VariantID: v.ID, SKU: v.SKU, Price: v.Price}
	}
	return out
}

// ProductCreated is the payload of product.created.
type ProductCreated struct {
	ProductID   string         `json:"product_id"`
	Slug        string         `json:"slug"`
	Title       string         `json:"title"`
	Status      Status         `json:"status"`
	CategoryIDs []string       `json:"category_ids"`
	Variants    []EventVariant `json:"variants"`
}

func (ProductCreated) EventTopic() string       { return TopicProductCreated }
func (e ProductCreated) EventAggregate() string { return e.ProductID }

func newProductCreated(p Product) ProductCreated {
	cats := p.CategoryIDs
	if cats == nil {
		cats = []string{}
	}
	return ProductCreated{ProductID: p.ID, Slug: p.Slug, Title: p.Title, Status: p.Status, CategoryIDs: cats, Variants: eventVariants(p.Variants)}
}

// StatusChange is a product's status before and after an update.
type StatusChange struct {
	Old Status `json:"old"`
	New Status `json:"new"`
}

// PriceChange is a variant's price before and after an update.
type PriceChange struct {
	VariantID string      `json:"variant_id"`
	SKU       string      `json:"sku"`
	Old       money.Money `json:"old"`
	New       money.Money `json:"new"`
}

// Fields a ProductUpdated lists in Changed.
const (
	FieldSlug        = "slug"
	FieldTitle       = "title"
	FieldDescription = "description"
	FieldStatus      = "status"
	FieldFeatured    = "featured"
	FieldImages      = "images"
	FieldAttributes  = "attributes"
	FieldCategoryIDs = "category_ids"
	FieldVariants    = "variants"
)

// ProductUpdated is the payload of product.updated, written once for every
// successful update (archiving included), even one that changed nothing.
// Slug and Status are the values after the update.
type ProductUpdated struct {
	ProductID string `json:"product_id"`
	Slug      string `json:"slug"`
	Status    Status `json:"status"`
	// Changed names the product's fields whose value changed (Field*
	// constants, in that order); [] when none did.
	Changed []string `json:"changed"`
	// StatusChange is null when the status stayed the same.
	StatusChange *StatusChange `json:"status_change"`
	// PriceChanges lists existing variants whose price changed; [] when none.
	PriceChanges []PriceChange `json:"price_changes"`
	// AddedVariants lists variants the update added; [] when none.
	AddedVariants []EventVariant `json:"added_variants"`
}

func (ProductUpdated) EventTopic() string       { return TopicProductUpdated }
func (e ProductUpdated) EventAggregate() string { return e.ProductID }

// newProductUpdated compares a product before and after an update.
func newProductUpdated(before, after Product) ProductUpdated {
	e := ProductUpdated{ProductID: after.ID, Slug: after.Slug, Status: after.Status,
		Changed: []string{}, PriceChanges: []PriceChange{}, AddedVariants: []EventVariant{}}
	changed := func(field string, yes bool) {
		if yes {
			e.Changed = append(e.Changed, field)
		}
	}
	changed(FieldSlug, before.Slug != after.Slug)
	changed(FieldTitle, before.Title != after.Title)
	changed(FieldDescription, before.Description != after.Description)
	changed(FieldStatus, before.Status != after.Status)
	changed(FieldFeatured, before.Featured != after.Featured)
	changed(FieldImages, !slices.Equal(before.Images, after.Images))
	changed(FieldAttributes, !maps.Equal(before.Attributes, after.Attributes))
	changed(FieldCategoryIDs, !slices.Equal(slices.Sorted(slices.Values(before.CategoryIDs)), slices.Sorted(slices.Values(after.CategoryIDs))))
	if before.Status != after.Status {
		e.StatusChange = &StatusChange{Old: before.Status, New: after.Status}
	}
	old := make(map[string]Variant, len(before.Variants))
	for _, v := range before.Variants {
		old[v.ID] = v
	}
	variantsChanged := false
	for _, v := range after.Variants {
		o, ok := old[v.ID]
		if !ok {
			e.AddedVariants = append(e.AddedVariants, EventVariant{VariantID: v.ID, SKU: v.SKU, Price: v.Price})
			variantsChanged = true
			continue
		}
		if o.Price != v.Price {
			e.PriceChanges = append(e.PriceChanges, PriceChange{VariantID: v.ID, SKU: v.SKU, Old: o.Price, New: v.Price})
		}
		if o.Price != v.Price || o.SKU != v.SKU || o.Title != v.Title || !maps.Equal(o.Options, v.Options) {
			variantsChanged = true
		}
	}
	changed(FieldVariants, variantsChanged)
	return e
}

// CategoryCreated is the payload of category.created.
type CategoryCreated struct {
	CategoryID string  `json:"category_id"`
	Slug       string  `json:"slug"`
	Name       string  `json:"name"`
	ParentID   *string `json:"parent_id"`
	Position   int     `json:"position"`
}

func (CategoryCreated) EventTopic() string       { return TopicCategoryCreated }
func (e CategoryCreated) EventAggregate() string { return e.CategoryID }

func newCategoryCreated(c Category) CategoryCreated {
	return CategoryCreated{CategoryID: c.ID, Slug: c.Slug, Name: c.Name, ParentID: c.ParentID, Position: c.Position}
}
