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
	// Discounts are the promotions that apply, each with its label and
	// amount (totals.discount is their sum); never nil.
	Discounts []Discount `json:"discounts"`
	// DiscountCodes are the codes applied to the cart, and whether each
	// takes effect now (a code whose conditions no longer hold stays on the
	// cart, with the reason); never nil.
	DiscountCodes []CodeStatus `json:"discount_codes"`
	// GiftCards are the gift cards applied to the cart with what each
	// covers (totals.gift_card is their sum); never nil.
	GiftCards []GiftCard `json:"gift_cards"`
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

// Totals of a cart. Tax is computed on the discounted price (subtotal −
// discount + shipping); Total is what is left to pay by card once the gift
// cards have covered their part: subtotal − discount + shipping (+ tax when
// prices exclude it) − gift_card. None is ever below zero.
type Totals struct {
	Subtotal money.Money `json:"subtotal"`
	Discount money.Money `json:"discount"`
	Shipping money.Money `json:"shipping"`
	Tax      money.Money `json:"tax"`
	GiftCard money.Money `json:"gift_card"`
	Total    money.Money `json:"total"`
}

// Discount is one promotion applied to a cart: Amount off the items
// (allocated to the lines in Lines, whose amounts sum to it exactly) and,
// with FreeShipping, the shipping made free (Amount is then what it takes
// off the items, often zero).
type Discount struct {
	PromotionID  string           `json:"promotion_id"`
	Code         string           `json:"code,omitempty"` // "" for an automatic promotion
	Label        string           `json:"label"`
	Amount       money.Money      `json:"amount"`
	FreeShipping bool             `json:"free_shipping"`
	Lines        []LineAllocation `json:"lines"`
}

// LineAllocation is the part of a discount that falls on one cart line.
type LineAllocation struct {
	ItemID string      `json:"item_id"`
	Amount money.Money `json:"amount"`
}

// CodeStatus says whether a code applied to a cart takes effect. Reason is
// a short word for programs (Discounter's Reason* constants) and Message
// the sentence for people, both empty when it applies.
type CodeStatus struct {
	Code    string `json:"code"`
	Applied bool   `json:"applied"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Why a code does not apply (CodeStatus.Reason).
const (
	ReasonUnknown       = "unknown"
	ReasonExpired       = "expired"
	ReasonNotYetValid   = "not_yet_valid"
	ReasonExhausted     = "exhausted"
	ReasonNotApplicable = "not_applicable"
)

// GiftCard is a gift card applied to a cart and the part of the amount due
// it covers. ID is the gift card module's reference (for the checkout's
// hold), not shown; Code is the card as the cart shows it.
type GiftCard struct {
	ID      string      `json:"-"`
	Code    string      `json:"code"`
	Amount  money.Money `json:"amount"`
	Balance money.Money `json:"balance"`
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

// Discounter prices a cart's promotions (the promotion module). It is given
// the priced cart and the codes applied to it and answers the discounts
// that apply and, for every code, whether it does and why not. A code that
// does not apply is no error; an error is an outage.
type Discounter interface {
	Discounts(ctx context.Context, q DiscountQuery) (DiscountResult, error)
}

// DiscountQuery is a priced cart as the Discounter sees it.
type DiscountQuery struct {
	CartID     string
	CustomerID string // "" for a guest
	Currency   string
	Country    string // the destination ("" for the shop's default country)
	Lines      []DiscountLine
	Subtotal   money.Money
	Shipping   *ShippingOption // the method priced, if any
	Codes      []string        // the codes applied, normalised
	// OrderID is the order being checked out (QuoteFor), "" otherwise:
	// the uses that order already holds count as available to it.
	OrderID string
}

// DiscountLine is a cart line that can be bought (the subtotal's lines).
type DiscountLine struct {
	ItemID, VariantID, ProductID string
	Quantity                     int64
	UnitPrice, LineTotal         money.Money
}

// DiscountResult is what a Discounter answers: the discounts in the order
// they apply, and the status of each code of the query.
type DiscountResult struct {
	Discounts []Discount
	Codes     []CodeStatus
}

// GiftCards tells what the gift cards applied to a cart cover (the gift
// card module keeps which cards a cart has). Cover returns them in the
// order they are used, each with the part of due it covers; the parts sum
// to at most due. A cart without cards gets an empty list.
type GiftCards interface {
	Cover(ctx context.Context, cartID string, due money.Money) ([]GiftCard, error)
}

// Pricing prices shipping and tax for a destination country ("" means the
// shop's default country).
type Pricing interface {
	ShippingOptions(ctx context.Context, country string, subtotal money.Money) ([]ShippingOption, error)
	ShippingOption(ctx context.Context, id, country string, subtotal money.Money) (ShippingOption, error)
	Tax(ctx context.Context, country string, taxable money.Money) (TaxResult, error)
}
