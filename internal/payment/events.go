package payment

import (
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
)

// Topics the payment module publishes (docs/EVENTS.md). Every event's
// aggregate is the payment id. They carry payment facts only: OrderID is
// the payment's order, or the reference the checkout paid for when no
// order claimed the payment (yet); AtProvider tells a change reported by the
// provider's webhook (made outside Mercato) from one Mercato asked for.
const (
	TopicPaymentAuthorized = "payment.authorized"
	TopicPaymentCaptured   = "payment.captured"
	TopicPaymentCancelled  = "payment.cancelled"
	TopicPaymentRefunded   = "payment.refunded"
)

// Events returns a zero value of every event the payment module publishes.
func Events() []outbox.Message {
	return []outbox.Message{PaymentAuthorized{}, PaymentCaptured{}, PaymentCancelled{}, PaymentRefunded{}}
}

// orderRef is the order a payment event names: the claiming order, else the
// reference the payment was made for.
func orderRef(p Payment) string {
	if p.OrderID != "" {
		return p.OrderID
	}
	return p.Reference
}

// PaymentAuthorized is payment.authorized: a processing payment (one the
// provider decided on later, e.g. after 3-D Secure) was authorized, to be
// captured later. A payment authorized at once at checkout has no event:
// its order is created authorized.
type PaymentAuthorized struct {
	PaymentID  string      `json:"payment_id"`
	OrderID    string      `json:"order_id"`
	Amount     money.Money `json:"amount"`
	AtProvider bool        `json:"at_provider"`
}

func newPaymentAuthorized(p Payment, atProvider bool) PaymentAuthorized {
	return PaymentAuthorized{PaymentID: p.ID, OrderID: orderRef(p), Amount: p.Amount, AtProvider: atProvider}
}

// EventTopic implements outbox.Message.
func (PaymentAuthorized) EventTopic() string { return TopicPaymentAuthorized }

// EventAggregate implements outbox.Message.
func (e PaymentAuthorized) EventAggregate() string { return e.PaymentID }

// PaymentCaptured is payment.captured: the payment's Amount was taken (at
// checkout, on capture, or at the provider, also for a payment that was
// processing).
type PaymentCaptured struct {
	PaymentID  string      `json:"payment_id"`
	OrderID    string      `json:"order_id"`
	Amount     money.Money `json:"amount"`
	AtProvider bool        `json:"at_provider"`
}

func newPaymentCaptured(p Payment, atProvider bool) PaymentCaptured {
	return PaymentCaptured{PaymentID: p.ID, OrderID: orderRef(p), Amount: p.Amount, AtProvider: atProvider}
}

// EventTopic implements outbox.Message.
func (PaymentCaptured) EventTopic() string { return TopicPaymentCaptured }

// EventAggregate implements outbox.Message.
func (e PaymentCaptured) EventAggregate() string { return e.PaymentID }

// PaymentCancelled is payment.cancelled: an authorized payment was voided,
// or a processing one failed, was cancelled or expired (by Mercato, or at
// the provider); it will never be captured.
type PaymentCancelled struct {
	PaymentID  string      `json:"payment_id"`
	OrderID    string      `json:"order_id"`
	Amount     money.Money `json:"amount"`
	AtProvider bool        `json:"at_provider"`
}

func newPaymentCancelled(p Payment, atProvider bool) PaymentCancelled {
	return PaymentCancelled{PaymentID: p.ID, OrderID: orderRef(p), Amount: p.Amount, AtProvider: atProvider}
}

// EventTopic implements outbox.Message.
func (PaymentCancelled) EventTopic() string { return TopicPaymentCancelled }

// EventAggregate implements outbox.Message.
func (e PaymentCancelled) EventAggregate() string { return e.PaymentID }

// PaymentRefunded is payment.refunded: Amount of a captured payment was
// given back, under RefundID (the id Refund returned, or the one recorded
// for a refund made at the provider).
type PaymentRefunded struct {
	PaymentID  string      `json:"payment_id"`
	OrderID    string      `json:"order_id"`
	RefundID   string      `json:"refund_id"`
	Amount     money.Money `json:"amount"`
	AtProvider bool        `json:"at_provider"`
}

func newPaymentRefunded(p Payment, refundID string, amount int64, atProvider bool) PaymentRefunded {
	return PaymentRefunded{PaymentID: p.ID, OrderID: orderRef(p), RefundID: refundID,
		Amount: money.Money{Amount: amount, Currency: p.Amount.Currency}, AtProvider: atProvider}
}

// EventTopic implements outbox.Message.
func (PaymentRefunded) EventTopic() string { return TopicPaymentRefunded }

// EventAggregate implements outbox.Message.
func (e PaymentRefunded) EventAggregate() string { return e.PaymentID }
