// Package demo generates the demo catalog loaded on first start.
package demo

import (
	"context"
	"fmt"
	"io"

	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
)

// Seed loads the demo catalog through the catalog service, reporting
// progress to w, and returns how many products it created.
func Seed(ctx context.Context, cat *catalog.Service, currency string, w io.Writer) (int, error) {
	stock := int64(25)
	p, err := cat.CreateProduct(ctx, catalog.ProductInput{Title: "Demo tee", Status: catalog.StatusActive,
		Variants: []catalog.VariantInput{{SKU: "DEMO-TEE", Price: money.Money{Amount: 1900, Currency: currency}, Stock: &stock}}}, "demo")
	if err != nil {
		return 0, fmt.Errorf("demo product: %w", err)
	}
	fmt.Fprintln(w, "created", p.Title)
	return 1, nil
}
