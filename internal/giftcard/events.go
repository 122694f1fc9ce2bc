package giftcard

import (
	"time"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
)

// Topics the gift card module publishes (docs/EVENTS.md), each written in
// the transaction of its change.
const (
	// TopicIssued: a card was issued, by staff or by the sale of a gift
	// card product. With a recipient, the payload holds the code for the
	// mail to the recipient (the only other place the code is shown).
	TopicIssued = "giftcard.issued"
)

// Events returns a zero value of every event the module publishes.
func Events() []outbox.Message { return []outbox.Message{Issued{}} }

// Issued is the payload of giftcard.issued. Code is set only when
// RecipientEmail is: it goes into the mail to the recipient and nowhere
// else (the notify module does not show that mail's body to staff).
// OrderID is the order that sold the card ("" when staff issued it).
type Issued struct {
	CardID         string      `json:"card_id"`
	Last4          string      `json:"last4"`
	Amount         money.Money `json:"amount"`
	ExpiresAt      *time.Time  `json:"expires_at"`
	RecipientEmail string      `json:"recipient_email"`
	Code           string      `json:"code"`
	OrderID        string      `json:"order_id"`
	OrderNumber    string      `json:"order_number"`
}

func (Issued) EventTopic() string       { return TopicIssued }
func (e Issued) EventAggregate() string { return e.CardID }

func newIssued(c Card, code, orderNumber string) Issued {
	e := Issued{CardID: c.ID, Last4: c.Last4, Amount: c.Initial, ExpiresAt: c.ExpiresAt, RecipientEmail: c.RecipientEmail,
		OrderID: c.OrderID, OrderNumber: orderNumber}
	if c.RecipientEmail != "" {
		e.Code = code
	}
	return e
}
