// Package cart owns shopping carts. Totals are always computed here, on the
// server, from the catalog's current prices, the shipping options and the
// tax rules; a price that changed since the customer last saw it is flagged,
// never slipped into a payment silently.
package cart

import (
	"context"
	"embed"

	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the cart tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("cart", migrationFS, "migrations") }

// Limits.
const (
	MaxQuantity = 999
	MaxLines    = 100
)

// Cart is what the API returns.
type Cart struct {
	ID         string          `json:"id"`
	CustomerID string          `json:"customer_id,omitempty"`
	Currency   string          `json:"currency"`
	Status     string          `json:"status"`
	Items      []Item          `json:"items"`
	Totals     Totals          `json:"totals"`
	Shipping   *ShippingOption `json:"shipping_estimate,omitempty"`
	// TaxIncluded says whether item prices include tax (then totals.tax is the included share).
	TaxIncluded  bool `json:"tax_included"`
	PriceChanged bool `json:"price_changed"`
}

// Item is one line of a cart, priced at the catalog's current price.
type Item struct {
	ID           string            `json:"id"`
	VariantID    string            `json:"variant_id"`
	ProductID    string            `json:"product_id"`
	ProductSlug  string            `json:"product_slug"`
	SKU          string            `json:"sku"`
	Title        string            `json:"title"`
	VariantTitle string            `json:"variant_title"`
	Options      map[string]string `json:"options"`
	Image        catalog.Image     `json:"image"`
	Quantity     int64             `json:"quantity"`
	UnitPrice    money.Money       `json:"unit_price"`
	LineTotal    money.Money       `json:"line_total"`
	// PriceChanged is set when the price differs from the one the customer
	// last saw (PreviousUnitPrice).
	PriceChanged      bool         `json:"price_changed"`
	PreviousUnitPrice *money.Money `json:"previous_unit_price,omitempty"`
	Available         int64        `json:"available"`
	Backorder         bool         `json:"backorder"`
	// Purchasable is false when the product is no longer for sale.
	Purchasable bool `json:"purchasable"`
}

// Totals of a cart or an order.
type Totals struct {
	Subtotal money.Money `json:"subtotal"`
	Discount money.Money `json:"discount"`
	Shipping money.Money `json:"shipping"`
	Tax      money.Money `json:"tax"`
	Total    money.Money `json:"total"`
}

// ShippingOption is a priced shipping method.
type ShippingOption struct {
	ID    string      `json:"id"`
	Name  string      `json:"name"`
	Price money.Money `json:"price"`
}

// TaxResult is the tax on an amount.
type TaxResult struct {
	Tax       money.Money
	Inclusive bool
}

// Catalog is what the cart needs of the catalog.
type Catalog interface {
	Variants(ctx context.Context, ids []string) (map[string]catalog.VariantInfo, error)
}

// Stock is what the cart needs of the inventory.
type Stock interface {
	Levels(ctx context.Context, variantIDs []string) (map[string]catalog.StockLevel, error)
}

// Pricing prices shipping and tax for a destination country ("" means the
// shop's default country).
type Pricing interface {
	ShippingOptions(ctx context.Context, country string, subtotal money.Money) ([]ShippingOption, error)
	ShippingOption(ctx context.Context, id, country string, subtotal money.Money) (ShippingOption, error)
	Tax(ctx context.Context, country string, taxable money.Money) (TaxResult, error)
}
