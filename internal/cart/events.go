package cart

import (
	"time"

	"github.com/mercato-shop/mercato/internal/platform/outbox"
)

// TopicAbandoned is the event written when a signed-in customer's cart has
// sat idle with items for the reminder delay (docs/EVENTS.md), in the
// transaction that marks the cart reminded: once per cart.
const TopicAbandoned = "cart.abandoned"

// Events returns a zero value of every event the cart module publishes.
func Events() []outbox.Message { return []outbox.Message{Abandoned{}} }

// Abandoned is the payload of cart.abandoned. RestoreToken is a secret:
// the link made from it (GET /cart/restore/{token}) leads to this cart, so
// only the reminder e-mail should carry it on.
type Abandoned struct {
	CartID       string          `json:"cart_id"`
	CustomerID   string          `json:"customer_id"`
	Email        string          `json:"email"`
	Name         string          `json:"name"`
	RestoreToken string          `json:"restore_token"`
	Items        []AbandonedItem `json:"items"`
	IdleSince    time.Time       `json:"idle_since"` // the cart's last change
}

// AbandonedItem is one line of an abandoned cart, as the customer named it.
type AbandonedItem struct {
	Title    string `json:"title"`
	Quantity int64  `json:"quantity"`
}

func (Abandoned) EventTopic() string       { return TopicAbandoned }
func (e Abandoned) EventAggregate() string { return e.CartID }
