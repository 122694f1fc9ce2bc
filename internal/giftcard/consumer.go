package giftcard

import (
	"context"
	"fmt"
	"strings"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Gift cards sold as a product. A catalog product is a gift card when its
// variant's SKU starts with the SKU prefix (Options.SKUPrefix, default
// "GIFTCARD-"): the catalog needs no new field, and the order events carry
// the SKU. Each unit of such a line is one card worth the line's unit
// price, in the order's currency, without expiry:
//
//   - order.placed records the order's gift card lines (pending);
//   - order.paid issues their cards, mailing each code to the order's
//     e-mail address (giftcard.issued with the recipient);
//   - order.cancelled, or an order.refunded that leaves less of the order
//     unrefunded than the value of its cards still in force, disables the
//     cards it sold that were never used (newest first, until the rest is
//     covered); lines not yet paid are dropped. A card already used stays
//     as it is and is left to staff (logged).
//
// And for orders paid with gift cards: order.cancelled gives the order's
// gift card money back (its holds are released, and what the cards paid
// is credited back, less what refunds already credited: Credit's bound
// makes this safe beside a refund path that credits the cards itself).
//
// Each event is handled once (outbox.Once under Consumer).

// Consumer is the name the module subscribes and records processed events
// under.
const Consumer = "giftcard"

// Topics returns the topics the module consumes.
func Topics() []string {
	return []string{order.TopicOrderPlaced, order.TopicOrderPaid, order.TopicOrderCancelled, order.TopicOrderRefunded}
}

// Subscriber is the part of a bus the module needs.
type Subscriber interface {
	Subscribe(consumer string, topics []string, handler outbox.Handler)
}

// Subscribe registers the module's consumer for Topics on bus.
func (s *Service) Subscribe(bus Subscriber) { bus.Subscribe(Consumer, Topics(), s.Handle) }

// Handle is the bus handler (see the comment above). It returns an error
// only when a retry may succeed (the database); an event that does not
// decode is logged and dropped.
func (s *Service) Handle(ctx context.Context, e outbox.Event) error {
	var work func(tx *sqldb.Tx) error
	var err error
	switch e.Topic {
	case order.TopicOrderPlaced:
		var p order.OrderPlaced
		if err = e.Decode(&p); err == nil {
			work = func(tx *sqldb.Tx) error { return s.recordSale(ctx, tx, p) }
		}
	case order.TopicOrderPaid:
		var p order.OrderPaid
		if err = e.Decode(&p); err == nil {
			work = func(tx *sqldb.Tx) error { return s.issueSold(ctx, tx, p.OrderID) }
		}
	case order.TopicOrderCancelled:
		var p order.OrderCancelled
		if err = e.Decode(&p); err == nil {
			work = func(tx *sqldb.Tx) error {
				if err := s.giveBack(ctx, tx, p.OrderID); err != nil {
					return err
				}
				return s.voidSold(ctx, tx, p.OrderID, 0, true, "order cancelled")
			}
		}
	case order.TopicOrderRefunded:
		var p order.OrderRefunded
		if err = e.Decode(&p); err == nil {
			work = func(tx *sqldb.Tx) error {
				return s.voidSold(ctx, tx, p.OrderID, p.Refunded.Amount, false, "order refunded")
			}
		}
	default:
		return nil
	}
	if err != nil {
		// Decoding is deterministic: a retry would fail the same way and
		// hold back every later event.
		s.log.ErrorContext(ctx, "giftcard: event dropped", "topic", e.Topic, "event", e.ID, "err", err)
		return nil
	}
	if _, err := outbox.Once(ctx, s.db, Consumer, e, work); err != nil {
		return fmt.Errorf("giftcard %s %s: %w", e.Topic, e.ID, err)
	}
	return nil
}

// recordSale records the gift card lines of a placed order.
func (s *Service) recordSale(ctx context.Context, tx *sqldb.Tx, p order.OrderPlaced) error {
	now := s.now()
	for i, it := range p.Items {
		if !strings.HasPrefix(it.SKU, s.skuPrefix) {
			continue
		}
		if it.Quantity < 1 || it.UnitPrice.Amount < 1 || it.UnitPrice.Amount > MaxAmount || it.UnitPrice.Currency != p.Currency {
			s.log.WarnContext(ctx, "giftcard: a gift card line that cannot make cards; issue them by hand", "order", p.Number, "sku", it.SKU)
			continue
		}
		if err := s.st.insertSale(ctx, tx, sale{orderID: p.OrderID, line: int64(i), orderNumber: p.Number, sku: it.SKU, title: it.Title,
			quantity: it.Quantity, unitAmount: it.UnitPrice.Amount, currency: it.UnitPrice.Currency, orderTotal: p.Totals.Total.Amount,
			email: p.Email}, now); err != nil {
			return err
		}
	}
	return nil
}

// issueSold issues the cards of the order's pending gift card lines, one
// per unit, each mailed to the order's address.
func (s *Service) issueSold(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	sales, err := s.st.salesOf(ctx, tx, orderID)
	if err != nil {
		return err
	}
	for _, sl := range sales {
		ok, err := s.st.settleSale(ctx, tx, orderID, sl.line, "issued")
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		for range sl.quantity {
			if _, err := s.issue(ctx, tx, Card{Initial: money.Money{Amount: sl.unitAmount, Currency: sl.currency}, RecipientEmail: sl.email,
				Note: sl.title, OrderID: orderID, IssuedBy: "system"}, "", sl.orderNumber); err != nil {
				return err
			}
		}
	}
	return nil
}

// giveBack returns a cancelled order's gift card money to its cards.
func (s *Service) giveBack(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	if checkReference(orderID) != nil {
		return nil
	}
	if err := s.releaseAll(ctx, tx, orderID, "order cancelled"); err != nil {
		return err
	}
	_, err := s.Credit(ctx, tx, orderID, MaxAmount*MaxPerCart)
	return err
}

// voidSold drops the order's unpaid gift card lines (when cancelled) and
// disables the never-used cards it sold while their value exceeds what is
// left unrefunded of the order (refunded of its total).
func (s *Service) voidSold(ctx context.Context, tx *sqldb.Tx, orderID string, refunded int64, cancelled bool, reason string) error {
	sales, err := s.st.salesOf(ctx, tx, orderID)
	if err != nil || len(sales) == 0 {
		return err
	}
	unrefunded := max(sales[0].orderTotal-refunded, 0)
	if cancelled {
		unrefunded = 0
		for _, sl := range sales {
			if _, err := s.st.settleSale(ctx, tx, orderID, sl.line, "cancelled"); err != nil {
				return err
			}
		}
	}
	cards, err := s.st.cardsOfOrder(ctx, tx, orderID)
	if err != nil {
		return err
	}
	var live int64
	for _, c := range cards {
		if c.stored == StatusActive {
			live += c.Initial.Amount
		}
	}
	for _, c := range cards {
		if live <= unrefunded {
			break
		}
		if c.stored != StatusActive {
			continue
		}
		ok, err := s.st.disable(ctx, tx, c.ID, reason, true, s.now())
		if err != nil {
			return err
		}
		if !ok {
			s.log.WarnContext(ctx, "giftcard: a card sold in a refunded or cancelled order was used already; it stays valid", "card", c.ID, "last4", c.Last4, "order", orderID)
			continue
		}
		live -= c.Initial.Amount
	}
	return nil
}
