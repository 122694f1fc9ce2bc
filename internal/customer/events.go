package customer

import "github.com/mercato-shop/mercato/internal/platform/outbox"

// TopicRegistered is the event written when a customer account is created
// (docs/EVENTS.md), in the account's transaction. Staff accounts publish
// nothing.
const TopicRegistered = "customer.registered"

// Events returns a zero value of every event the customer module publishes.
func Events() []outbox.Message { return []outbox.Message{Registered{}} }

// Registered is the payload of customer.registered.
type Registered struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
}

func (Registered) EventTopic() string       { return TopicRegistered }
func (e Registered) EventAggregate() string { return e.CustomerID }

func newRegistered(a Account) Registered {
	return Registered{CustomerID: a.ID, Email: a.Email, Name: a.Name}
}
