// Package order owns orders: their number, lines, totals, lifecycle,
// fulfilments, refunds and timeline. Orders are created by the checkout
// inside one transaction with the stock commit and the payment link. The
// module publishes the order.* events (events.go) and follows changes made
// at the payment provider from the payment.* events (consumer.go); it calls
// the payment module only through the small Payments interface.
package order

import (
	"embed"
	"time"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the order tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("order", migrationFS, "migrations") }

// Order statuses. The lifecycle is
//
//	pending -> paid -> partially_fulfilled -> fulfilled -> shipped -> delivered
//
// with cancelled (before any fulfilment) and refunded (fully) as ends.
// pending means authorized, not yet captured (capture-on-fulfilment mode).
const (
	StatusPending            = "pending"
	StatusPaid               = "paid"
	StatusPartiallyFulfilled = "partially_fulfilled"
	StatusFulfilled          = "fulfilled"
	StatusShipped            = "shipped"
	StatusDelivered          = "delivered"
	StatusCancelled          = "cancelled"
	StatusRefunded           = "refunded"
)

// Statuses lists every order status (for filters).
var Statuses = []string{StatusPending, StatusPaid, StatusPartiallyFulfilled, StatusFulfilled, StatusShipped, StatusDelivered, StatusCancelled, StatusRefunded}

// Payment and fulfilment statuses.
const (
	// PaymentAwaiting: the provider decides later (3-D Secure, a hosted
	// page); the order's stock is reserved, not yet taken, until it does.
	PaymentAwaiting          = "awaiting"
	PaymentAuthorized        = "authorized"
	PaymentPaid              = "paid"
	PaymentPartiallyRefunded = "partially_refunded"
	PaymentRefunded          = "refunded"
	PaymentVoided            = "voided"

	FulfillmentUnfulfilled = "unfulfilled"
	FulfillmentPartial     = "partial"
	FulfillmentFulfilled   = "fulfilled"
	FulfillmentShipped     = "shipped"
	FulfillmentDelivered   = "delivered"
)

// Address is a postal address (the one address type, with its rules).
type Address = address.Address

// Totals of an order. Total is what the payment (the card) took; GiftCard
// what gift cards paid beside it. The order's value is Total + GiftCard.
type Totals struct {
	Subtotal money.Money `json:"subtotal"`
	Discount money.Money `json:"discount"`
	Shipping money.Money `json:"shipping"`
	Tax      money.Money `json:"tax"`
	GiftCard money.Money `json:"gift_card"`
	Total    money.Money `json:"total"`
}

// Discount is a promotion the order got, as the cart showed it.
// FreeShipping discounts made the shipping free (Amount is what they took
// off the items).
type Discount struct {
	PromotionID  string      `json:"promotion_id"`
	Code         string      `json:"code,omitempty"`
	Label        string      `json:"label"`
	Amount       money.Money `json:"amount"`
	FreeShipping bool        `json:"free_shipping"`
}

// Item is an order line: a snapshot of what was bought at what price.
type Item struct {
	ID           string      `json:"id"`
	VariantID    string      `json:"variant_id"`
	ProductID    string      `json:"product_id"`
	SKU          string      `json:"sku"`
	Title        string      `json:"title"`
	VariantTitle string      `json:"variant_title"`
	Quantity     int64       `json:"quantity"`
	Fulfilled    int64       `json:"fulfilled_quantity"`
	Restocked    int64       `json:"restocked_quantity"`
	UnitPrice    money.Money `json:"unit_price"`
	LineTotal    money.Money `json:"line_total"`
	// Discount is the line's share of the order's discounts: the line cost
	// LineTotal − Discount, and a refund of the line gives back that (and
	// its share of the tax when prices exclude tax).
	Discount money.Money `json:"discount"`
	// Refunded counts the units refunded by line (RefundInput.Lines).
	Refunded int64 `json:"refunded_quantity"`
}

// FulfillmentLine is a quantity of one order item.
type FulfillmentLine struct {
	ItemID   string `json:"item_id"`
	Quantity int64  `json:"quantity"`
}

// Fulfillment is a parcel: some items, maybe a tracking number.
type Fulfillment struct {
	ID             string            `json:"id"`
	TrackingNumber string            `json:"tracking_number"`
	Items          []FulfillmentLine `json:"items"`
	ShippedAt      *time.Time        `json:"shipped_at"`
	CreatedAt      time.Time         `json:"created_at"`
}

// TimelineEntry is one thing that happened to an order.
type TimelineEntry struct {
	Kind      string    `json:"kind"`
	Message   string    `json:"message"`
	Actor     string    `json:"actor"`
	CreatedAt time.Time `json:"created_at"`
}

// ShippingMethod is the method chosen at checkout.
type ShippingMethod struct {
	ID    string      `json:"id"`
	Name  string      `json:"name"`
	Price money.Money `json:"price"`
}

// Order is a placed order.
type Order struct {
	ID                string     `json:"id"`
	Number            string     `json:"number"`
	Status            string     `json:"status"`
	PaymentStatus     string     `json:"payment_status"`
	FulfillmentStatus string     `json:"fulfillment_status"`
	Email             string     `json:"email"`
	CustomerID        string     `json:"customer_id,omitempty"`
	Currency          string     `json:"currency"`
	Items             []Item     `json:"items"`
	Totals            Totals     `json:"totals"`
	Discounts         []Discount `json:"discounts"`
	TaxIncluded       bool       `json:"tax_included"`
	// Refunded is what went back to the customer, to gift cards and to the
	// card alike (gift cards first); GiftCardRefunded the gift cards' part.
	Refunded         money.Money     `json:"refunded"`
	GiftCardRefunded money.Money     `json:"-"`
	ShippingAddress  Address         `json:"shipping_address"`
	ShippingMethod   ShippingMethod  `json:"shipping_method"`
	Fulfillments     []Fulfillment   `json:"fulfillments"`
	Timeline         []TimelineEntry `json:"timeline"`
	PaymentID        string          `json:"-"` // "" when the order cost nothing by card (gift cards, discounts)
	CartID           string          `json:"-"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	// AccessToken is returned once, in the checkout response of a guest
	// order; it lets the guest read the order later.
	AccessToken string `json:"access_token,omitempty"`
}

// paidValue is what the order cost: the card's part and the gift cards'.
func (o *Order) paidValue() int64 { return o.Totals.Total.Amount + o.Totals.GiftCard.Amount }

// refundable is what is left to refund.
func (o *Order) refundable() int64 { return o.paidValue() - o.Refunded.Amount }

// cardRefundable is what is left to refund of the card payment.
func (o *Order) cardRefundable() int64 {
	return o.Totals.Total.Amount - (o.Refunded.Amount - o.GiftCardRefunded.Amount)
}
