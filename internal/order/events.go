package order

import (
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
)

// Topics the order module publishes (docs/EVENTS.md). Every event's
// aggregate is the order id.
const (
	TopicOrderPlaced    = "order.placed"
	TopicOrderPaid      = "order.paid"
	TopicOrderCancelled = "order.cancelled"
	TopicOrderFulfilled = "order.fulfilled"
	TopicOrderShipped   = "order.shipped"
	TopicOrderDelivered = "order.delivered"
	TopicOrderRefunded  = "order.refunded"
)

// Events returns a zero value of every event the order module publishes.
func Events() []outbox.Message {
	return []outbox.Message{OrderPlaced{}, OrderPaid{}, OrderCancelled{}, OrderFulfilled{}, OrderShipped{}, OrderDelivered{}, OrderRefunded{}}
}

// PlacedItem is an order line as order.placed announces it: the title
// carries the variant ("Tee (M)").
type PlacedItem struct {
	SKU       string      `json:"sku"`
	Title     string      `json:"title"`
	Quantity  int64       `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	LineTotal money.Money `json:"line_total"`
}

// OrderPlaced is order.placed: an order was created by a checkout.
// CustomerID is "" for a guest. CartID is the cart the checkout turned into
// the order; TaxIncluded says whether the prices (and so the subtotal)
// include the tax in Totals.Tax.
type OrderPlaced struct {
	OrderID         string       `json:"order_id"`
	Number          string       `json:"number"`
	Email           string       `json:"email"`
	CustomerID      string       `json:"customer_id"`
	Currency        string       `json:"currency"`
	Items           []PlacedItem `json:"items"`
	Totals          Totals       `json:"totals"`
	ShippingAddress Address      `json:"shipping_address"`
	ShippingMethod  string       `json:"shipping_method"`
	CartID          string       `json:"cart_id"`
	TaxIncluded     bool         `json:"tax_included"`
	CreatedAt       time.Time    `json:"created_at"`
}

func newOrderPlaced(o *Order) OrderPlaced {
	items := make([]PlacedItem, len(o.Items))
	for i, it := range o.Items {
		items[i] = PlacedItem{SKU: it.SKU, Title: it.Title + variantSuffix(it.VariantTitle), Quantity: it.Quantity, UnitPrice: it.UnitPrice, LineTotal: it.LineTotal}
	}
	return OrderPlaced{OrderID: o.ID, Number: o.Number, Email: o.Email, CustomerID: o.CustomerID, Currency: o.Currency, Items: items,
		Totals: o.Totals, ShippingAddress: o.ShippingAddress, ShippingMethod: o.ShippingMethod.Name, CartID: o.CartID, TaxIncluded: o.TaxIncluded,
		CreatedAt: o.CreatedAt}
}

// EventTopic implements outbox.Message.
func (OrderPlaced) EventTopic() string { return TopicOrderPlaced }

// EventAggregate implements outbox.Message.
func (e OrderPlaced) EventAggregate() string { return e.OrderID }

func variantSuffix(v string) string {
	if v == "" || v == "Default" {
		return ""
	}
	return " (" + v + ")"
}

// OrderPaid is order.paid: the order's payment was captured (at checkout,
// at fulfilment or at the payment provider). Amount is the order total.
type OrderPaid struct {
	OrderID string      `json:"order_id"`
	Number  string      `json:"number"`
	Email   string      `json:"email"`
	Amount  money.Money `json:"amount"`
}

func newOrderPaid(o *Order) OrderPaid {
	return OrderPaid{OrderID: o.ID, Number: o.Number, Email: o.Email, Amount: o.Totals.Total}
}

// EventTopic implements outbox.Message.
func (OrderPaid) EventTopic() string { return TopicOrderPaid }

// EventAggregate implements outbox.Message.
func (e OrderPaid) EventAggregate() string { return e.OrderID }

// OrderCancelled is order.cancelled: the order was cancelled before any
// fulfilment and its items went back on stock. A refund of what was paid,
// if any, is announced by its own order.refunded.
type OrderCancelled struct {
	OrderID string `json:"order_id"`
	Number  string `json:"number"`
	Email   string `json:"email"`
	Reason  string `json:"reason"`
}

func newOrderCancelled(o *Order, reason string) OrderCancelled {
	return OrderCancelled{OrderID: o.ID, Number: o.Number, Email: o.Email, Reason: reason}
}

// EventTopic implements outbox.Message.
func (OrderCancelled) EventTopic() string { return TopicOrderCancelled }

// EventAggregate implements outbox.Message.
func (e OrderCancelled) EventAggregate() string { return e.OrderID }

// FulfilledItem is a quantity of one order line in a parcel.
type FulfilledItem struct {
	SKU      string `json:"sku"`
	Title    string `json:"title"`
	Quantity int64  `json:"quantity"`
}

// OrderFulfilled is order.fulfilled: a parcel was recorded (partial
// fulfilment included). TrackingNumber is "" until it ships.
type OrderFulfilled struct {
	OrderID        string          `json:"order_id"`
	Number         string          `json:"number"`
	Email          string          `json:"email"`
	FulfillmentID  string          `json:"fulfillment_id"`
	TrackingNumber string          `json:"tracking_number"`
	Items          []FulfilledItem `json:"items"`
}

func newOrderFulfilled(o *Order, f Fulfillment, items []FulfilledItem) OrderFulfilled {
	return OrderFulfilled{OrderID: o.ID, Number: o.Number, Email: o.Email, FulfillmentID: f.ID, TrackingNumber: f.TrackingNumber, Items: items}
}

// EventTopic implements outbox.Message.
func (OrderFulfilled) EventTopic() string { return TopicOrderFulfilled }

// EventAggregate implements outbox.Message.
func (e OrderFulfilled) EventAggregate() string { return e.OrderID }

// OrderShipped is order.shipped: every item has left in parcels that all
// shipped. TrackingNumber lists the parcels' numbers, comma-separated.
type OrderShipped struct {
	OrderID        string `json:"order_id"`
	Number         string `json:"number"`
	Email          string `json:"email"`
	TrackingNumber string `json:"tracking_number"`
}

func newOrderShipped(o *Order) OrderShipped {
	tracking := []string{}
	for _, f := range o.Fulfillments {
		if f.TrackingNumber != "" {
			tracking = append(tracking, f.TrackingNumber)
		}
	}
	return OrderShipped{OrderID: o.ID, Number: o.Number, Email: o.Email, TrackingNumber: strings.Join(tracking, ", ")}
}

// EventTopic implements outbox.Message.
func (OrderShipped) EventTopic() string { return TopicOrderShipped }

// EventAggregate implements outbox.Message.
func (e OrderShipped) EventAggregate() string { return e.OrderID }

// OrderDelivered is order.delivered.
type OrderDelivered struct {
	OrderID string `json:"order_id"`
	Number  string `json:"number"`
	Email   string `json:"email"`
}

func newOrderDelivered(o *Order) OrderDelivered {
	return OrderDelivered{OrderID: o.ID, Number: o.Number, Email: o.Email}
}

// EventTopic implements outbox.Message.
func (OrderDelivered) EventTopic() string { return TopicOrderDelivered }

// EventAggregate implements outbox.Message.
func (e OrderDelivered) EventAggregate() string { return e.OrderID }

// OrderRefunded is order.refunded: money went back to the customer for this
// order, by staff (a refund, or the refund of a cancelled paid order) or at
// the payment provider (AtProvider). RefundID is the payment module's refund
// id (a "gcr_" id when the refund went to gift cards only); Amount is what
// this refund gave back, GiftCard the part of it that went back to gift
// cards, and Refunded the order's refunded total after it; FullyRefunded
// says nothing is left to refund. It is the event to count refunds and tell
// the customer by: payment.refunded also reports refunds of payments that
// never got an order.
type OrderRefunded struct {
	OrderID       string      `json:"order_id"`
	Number        string      `json:"number"`
	Email         string      `json:"email"`
	RefundID      string      `json:"refund_id"`
	Amount        money.Money `json:"amount"`
	GiftCard      money.Money `json:"gift_card"`
	Refunded      money.Money `json:"refunded"`
	FullyRefunded bool        `json:"fully_refunded"`
	Reason        string      `json:"reason"`
	AtProvider    bool        `json:"at_provider"`
}

func newOrderRefunded(o *Order, refundID string, amount, toGiftCards int64, reason string, atProvider bool) OrderRefunded {
	return OrderRefunded{OrderID: o.ID, Number: o.Number, Email: o.Email, RefundID: refundID,
		Amount: money.Money{Amount: amount, Currency: o.Currency}, GiftCard: money.Money{Amount: toGiftCards, Currency: o.Currency},
		Refunded: o.Refunded, FullyRefunded: o.refundable() <= 0, Reason: reason, AtProvider: atProvider}
}

// EventTopic implements outbox.Message.
func (OrderRefunded) EventTopic() string { return TopicOrderRefunded }

// EventAggregate implements outbox.Message.
func (e OrderRefunded) EventAggregate() string { return e.OrderID }
