package promotion

import (
	"context"

	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Consumer is the name the promotion module subscribes and records
// processed events under.
const Consumer = "promotion"

// Topics returns the events the promotion module consumes: a cancelled or
// fully refunded order gives its uses back.
func Topics() []string {
	return []string{order.TopicOrderCancelled, order.TopicOrderRefunded}
}

// Subscriber is the part of a bus the promotion module needs.
type Subscriber interface {
	Subscribe(consumer string, topics []string, handler outbox.Handler)
}

// Subscribe registers HandleOrderEvent for Topics on bus.
func (s *Service) Subscribe(bus Subscriber) {
	bus.Subscribe(Consumer, Topics(), s.HandleOrderEvent)
}

// HandleOrderEvent gives back the promotion uses of an order that was
// cancelled (order.cancelled) or fully refunded (order.refunded with
// fully_refunded), exactly once per event (outbox.Once) and once per order
// (a use moves from committed to returned once: a cancelled paid order
// writes both events). It returns an error only when a retry may succeed.
func (s *Service) HandleOrderEvent(ctx context.Context, e outbox.Event) error {
	var orderID string
	switch e.Topic {
	case order.TopicOrderCancelled:
		var p order.OrderCancelled
		if err := e.Decode(&p); err != nil {
			return s.dropped(ctx, e, err)
		}
		orderID = p.OrderID
	case order.TopicOrderRefunded:
		var p order.OrderRefunded
		if err := e.Decode(&p); err != nil {
			return s.dropped(ctx, e, err)
		}
		if !p.FullyRefunded {
			return nil
		}
		orderID = p.OrderID
	default:
		return nil
	}
	_, err := outbox.Once(ctx, s.db, Consumer, e, func(tx *sqldb.Tx) error {
		_, err := s.giveBackOrder(ctx, tx, orderID)
		return err
	})
	return err
}

// dropped logs an event that cannot be decoded: retrying would not help
// and would hold back every later event.
func (s *Service) dropped(ctx context.Context, e outbox.Event, err error) error {
	s.log.ErrorContext(ctx, "promotion: order event dropped", "topic", e.Topic, "event", e.ID, "err", err)
	return nil
}
