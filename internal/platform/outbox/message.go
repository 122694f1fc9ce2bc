package outbox

import (
	"context"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Message is a typed domain event: a payload struct, declared by its
// publisher in <module>/events.go, that knows its topic and the aggregate it
// concerns. Its JSON form is the event's wire form, and consumers decode an
// Event's payload into the same type (Event.Decode).
type Message interface {
	EventTopic() string     // e.g. "order.paid"; a constant in the publisher's events.go
	EventAggregate() string // the id of the aggregate the event concerns
}

// Write records m in tx, like Add with m's topic and aggregate: it must be
// called in the transaction that makes the change m reports.
func Write(ctx context.Context, tx *sqldb.Tx, m Message) error {
	return Add(ctx, tx, m.EventTopic(), m.EventAggregate(), m)
}
