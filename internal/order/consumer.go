package order

import (
	"context"
	"errors"
	"fmt"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Consumer is the name the order module subscribes and records processed
// payment events under.
const Consumer = "order"

// PaymentTopics returns the payment events the order module consumes.
func PaymentTopics() []string {
	return []string{payment.TopicPaymentAuthorized, payment.TopicPaymentCaptured, payment.TopicPaymentCancelled, payment.TopicPaymentRefunded}
}

// Subscriber is the part of a bus that the order module needs.
type Subscriber interface {
	Subscribe(consumer string, topics []string, handler outbox.Handler)
}

// Subscribe registers HandlePaymentEvent for PaymentTopics on bus.
func (s *Service) Subscribe(bus Subscriber) {
	bus.Subscribe(Consumer, PaymentTopics(), s.HandlePaymentEvent)
}

// dropped logs an event the consumer cannot use. Decoding is deterministic:
// returning the error would only make the relay retry it forever and hold
// back every later event.
func (s *Service) dropped(ctx context.Context, e outbox.Event, err error) error {
	s.log.ErrorContext(ctx, "order: payment event dropped", "topic", e.Topic, "event", e.ID, "err", err)
	return nil
}

// providerActor is who the timeline names for changes made at the provider.
const providerActor = "payment provider"

// errNothingToDo ends an update that has nothing to change.
var errNothingToDo = errors.New("nothing to do")

// HandlePaymentEvent brings an order in line with a change made at the
// payment provider, exactly once per event (outbox.Once):
//   - payment.captured (AtProvider): an authorized order becomes paid (order.paid);
//   - payment.cancelled (AtProvider): an authorized, unfulfilled order is
//     cancelled and restocked (order.cancelled); a fulfilled one is only
//     marked voided, with a timeline note for staff;
//   - payment.refunded: a refund the order did not make itself (its refund
//     id is not among the order's) is added to the order's refunded amount,
//     bounded by what is left (order.refunded).
//
// Captures and voids Mercato asked for (not AtProvider) are the order's own
// doing and are ignored, as are events about payments that are not the
// payment of an existing order (a checkout that never produced one). It
// returns an error only when a retry may succeed (the database).
func (s *Service) HandlePaymentEvent(ctx context.Context, e outbox.Event) error {
	var apply func(tx *sqldb.Tx) error
	switch e.Topic {
	case payment.TopicPaymentAuthorized:
		var p payment.PaymentAuthorized
		if err := e.Decode(&p); err != nil {
			return s.dropped(ctx, e, err)
		}
		if !p.AtProvider {
			return nil
		}
		apply = func(tx *sqldb.Tx) error { return s.providerAuthorized(ctx, tx, p) }
	case payment.TopicPaymentCaptured:
		var p payment.PaymentCaptured
		if err := e.Decode(&p); err != nil {
			return s.dropped(ctx, e, err)
		}
		if !p.AtProvider {
			return nil
		}
		apply = func(tx *sqldb.Tx) error { return s.providerCaptured(ctx, tx, p) }
	case payment.TopicPaymentCancelled:
		var p payment.PaymentCancelled
		if err := e.Decode(&p); err != nil {
			return s.dropped(ctx, e, err)
		}
		if !p.AtProvider {
			return nil
		}
		apply = func(tx *sqldb.Tx) error { return s.providerCancelled(ctx, tx, p) }
	case payment.TopicPaymentRefunded:
		var p payment.PaymentRefunded
		if err := e.Decode(&p); err != nil {
			return s.dropped(ctx, e, err)
		}
		if p.RefundID == "" || p.Amount.Amount <= 0 {
			return nil
		}
		apply = func(tx *sqldb.Tx) error { return s.providerRefunded(ctx, tx, p) }
	default:
		return nil
	}
	_, err := outbox.Once(ctx, s.db, Consumer, e, apply)
	return err
}

// updateForPayment is store.update for the order paymentID belongs to;
// nothing happens when there is no such order, when the payment is not the
// order's, or when fn returns errNothingToDo.
func (s *Service) updateForPayment(ctx context.Context, tx *sqldb.Tx, orderID, paymentID string, fn func(tx *sqldb.Tx, o *Order) error) error {
	err := s.st.update(ctx, tx, orderID, s.now(), func(tx *sqldb.Tx, o *Order) error {
		if o.PaymentID != paymentID {
			return errNothingToDo
		}
		return fn(tx, o)
	})
	if errors.Is(err, errNothingToDo) || apperr.Is(err, apperr.NotFound) {
		return nil
	}
	return err
}

// sellReserved turns the stock an order awaiting its payment held
// reserved into a sale.
func (s *Service) sellReserved(ctx context.Context, tx *sqldb.Tx, o *Order) error {
	if err := s.stock.Commit(ctx, tx, o.ID, "payment confirmed"); err != nil {
		return fmt.Errorf("commit stock of %s: %w", o.ID, err)
	}
	return nil
}

// providerAuthorized marks an order awaiting its payment authorized (to be
// captured at fulfilment) and takes its reserved stock.
func (s *Service) providerAuthorized(ctx context.Context, tx *sqldb.Tx, p payment.PaymentAuthorized) error {
	return s.updateForPayment(ctx, tx, p.OrderID, p.PaymentID, func(tx *sqldb.Tx, o *Order) error {
		if o.PaymentStatus != PaymentAwaiting {
			return errNothingToDo
		}
		if err := s.sellReserved(ctx, tx, o); err != nil {
			return err
		}
		o.PaymentStatus = PaymentAuthorized
		return s.note(ctx, tx, o.ID, "authorized", "Payment authorized at the payment provider", providerActor)
	})
}

// providerCaptured marks an authorized order, or one awaiting its payment,
// paid (the latter's reserved stock is taken then).
func (s *Service) providerCaptured(ctx context.Context, tx *sqldb.Tx, p payment.PaymentCaptured) error {
	return s.updateForPayment(ctx, tx, p.OrderID, p.PaymentID, func(tx *sqldb.Tx, o *Order) error {
		switch o.PaymentStatus {
		case PaymentAuthorized:
		case PaymentAwaiting:
			if err := s.sellReserved(ctx, tx, o); err != nil {
				return err
			}
		default:
			return errNothingToDo
		}
		o.PaymentStatus = PaymentPaid
		if o.Status == StatusPending {
			o.Status = StatusPaid
		}
		if err := s.note(ctx, tx, o.ID, "captured", "Payment captured at the payment provider", providerActor); err != nil {
			return err
		}
		return outbox.Write(ctx, tx, newOrderPaid(o))
	})
}

// providerCancelled cancels an unfulfilled order whose authorization the
// provider cancelled, putting its items back on stock.
func (s *Service) providerCancelled(ctx context.Context, tx *sqldb.Tx, p payment.PaymentCancelled) error {
	return s.updateForPayment(ctx, tx, p.OrderID, p.PaymentID, func(tx *sqldb.Tx, o *Order) error {
		if o.PaymentStatus == PaymentAwaiting {
			// The payment failed or expired before anything was taken by
			// card; what gift cards paid goes back to them.
			if err := s.returnGiftCards(ctx, tx, o, "payment failed"); err != nil {
				return err
			}
			o.PaymentStatus, o.Status = PaymentVoided, StatusCancelled
			if err := s.stock.Release(ctx, tx, o.ID, "payment failed"); err != nil {
				return fmt.Errorf("release stock of %s: %w", o.ID, err)
			}
			if err := s.note(ctx, tx, o.ID, "cancelled", "Order cancelled: the payment failed or was not completed", providerActor); err != nil {
				return err
			}
			return outbox.Write(ctx, tx, newOrderCancelled(o, "payment failed"))
		}
		if o.PaymentStatus != PaymentAuthorized {
			return errNothingToDo
		}
		o.PaymentStatus = PaymentVoided
		if o.Status != StatusPending || len(o.Fulfillments) > 0 {
			// Goods already left: staff must sort it out; the timeline says why.
			return s.note(ctx, tx, o.ID, "payment_voided", "The payment provider cancelled the payment after fulfilment started", providerActor)
		}
		if err := s.returnGiftCards(ctx, tx, o, "payment cancelled"); err != nil {
			return err
		}
		for _, it := range byVariant(o.Items) {
			if q := it.Quantity - it.Restocked; q > 0 {
				if err := s.restock(ctx, tx, o, it, q, providerActor); err != nil {
					return err
				}
			}
		}
		o.Status = StatusCancelled
		if err := s.note(ctx, tx, o.ID, "cancelled", "Order cancelled: the payment provider cancelled the payment", providerActor); err != nil {
			return err
		}
		return outbox.Write(ctx, tx, newOrderCancelled(o, "payment cancelled"))
	})
}

// providerRefunded records a refund made outside the order (for example
// from the provider's dashboard) on the order, once per refund id.
func (s *Service) providerRefunded(ctx context.Context, tx *sqldb.Tx, p payment.PaymentRefunded) error {
	known, err := s.st.hasRefund(ctx, tx, p.RefundID)
	if err != nil || known {
		return err // an error, or the order's own refund (or applied before)
	}
	return s.updateForPayment(ctx, tx, p.OrderID, p.PaymentID, func(tx *sqldb.Tx, o *Order) error {
		amount := min(p.Amount.Amount, o.cardRefundable())
		if amount <= 0 || p.Amount.Currency != o.Currency {
			return errNothingToDo
		}
		if _, err := s.st.insertRefund(ctx, tx, o.ID, p.RefundID, amount, true, s.now()); err != nil {
			return err
		}
		o.Refunded.Amount += amount
		o.PaymentStatus = PaymentPartiallyRefunded
		if o.refundable() <= 0 {
			o.PaymentStatus, o.Status = PaymentRefunded, StatusRefunded
		}
		msg := "Refunded " + money.Money{Amount: amount, Currency: o.Currency}.Format() + " at the payment provider"
		if err := s.note(ctx, tx, o.ID, "refunded", msg, providerActor); err != nil {
			return err
		}
		return outbox.Write(ctx, tx, newOrderRefunded(o, p.RefundID, amount, 0, "refunded at the payment provider", true))
	})
}
