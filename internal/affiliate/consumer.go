package affiliate

import (
	"context"
	"fmt"

	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Consumer is the name the module subscribes and records processed events
// under.
const Consumer = "affiliate"

// Topics returns the event topics the module consumes.
func Topics() []string {
	return []string{order.TopicOrderPlaced, order.TopicOrderRefunded, order.TopicOrderCancelled, customer.TopicEmailChanged}
}

// Subscriber is the part of a bus that the module needs.
type Subscriber interface {
	Subscribe(consumer string, topics []string, handler outbox.Handler)
}

// Subscribe registers Handle for Topics on bus.
func (s *Service) Subscribe(bus Subscriber) { bus.Subscribe(Consumer, Topics(), s.Handle) }

// Handle is the bus handler, exactly once per event (outbox.Once):
//   - order.placed: an order whose cart an approved affiliate referred
//     within the window earns that affiliate a pending commission, unless
//     the buyer is the affiliate (its account, or its e-mail address);
//   - order.refunded: the commission is reversed in the proportion of the
//     order's total refunded so far (all of it once the order is fully
//     refunded); a commission already paid keeps its status and the amount
//     taken back is deducted from the next payout;
//   - order.cancelled: the commission is reversed entirely;
//   - customer.email_changed: the affiliate's address follows the account's.
//
// It returns an error only when a retry may succeed (the database); a
// malformed payload is logged and dropped, since it would fail every retry
// and hold back every later event.
func (s *Service) Handle(ctx context.Context, e outbox.Event) error {
	apply, err := s.plan(ctx, e)
	if err != nil {
		s.log.ErrorContext(ctx, "affiliate: event dropped", "topic", e.Topic, "event", e.ID, "err", err)
		return nil
	}
	if apply == nil {
		return nil
	}
	if _, err := outbox.Once(ctx, s.db, Consumer, e, apply); err != nil {
		return fmt.Errorf("affiliate %s %s: %w", e.Topic, e.ID, err)
	}
	return nil
}

// plan decodes an event and returns what to do in the transaction that
// records it (nil: nothing).
func (s *Service) plan(ctx context.Context, e outbox.Event) (func(tx *sqldb.Tx) error, error) {
	switch e.Topic {
	case order.TopicOrderPlaced:
		var p order.OrderPlaced
		if err := e.Decode(&p); err != nil {
			return nil, err
		}
		if p.OrderID == "" {
			return nil, fmt.Errorf("payload: order_id is required")
		}
		if p.CartID == "" || !ids.Plausible(p.CartID) {
			return nil, nil // placed before order.placed named its cart, or not from a cart
		}
		return func(tx *sqldb.Tx) error { return s.placed(ctx, tx, p) }, nil
	case order.TopicOrderRefunded:
		var p order.OrderRefunded
		if err := e.Decode(&p); err != nil {
			return nil, err
		}
		if p.OrderID == "" || p.Refunded.Amount < 0 {
			return nil, fmt.Errorf("payload: order_id and a refunded total are required")
		}
		return func(tx *sqldb.Tx) error {
			return s.reverse(ctx, tx, p.OrderID, func(c commissionRow) int64 {
				if p.Refunded.Currency != c.currency {
					return c.reversed
				}
				if p.Refunded.Amount >= c.orderTotal {
					return c.amount
				}
				return mulDiv(c.amount, p.Refunded.Amount, c.orderTotal)
			})
		}, nil
	case order.TopicOrderCancelled:
		var p order.OrderCancelled
		if err := e.Decode(&p); err != nil {
			return nil, err
		}
		if p.OrderID == "" {
			return nil, fmt.Errorf("payload: order_id is required")
		}
		return func(tx *sqldb.Tx) error {
			return s.reverse(ctx, tx, p.OrderID, func(c commissionRow) int64 { return c.amount })
		}, nil
	case customer.TopicEmailChanged:
		var p customer.EmailChanged
		if err := e.Decode(&p); err != nil {
			return nil, err
		}
		if p.AccountID == "" || p.NewEmail == "" {
			return nil, fmt.Errorf("payload: account_id and new_email are required")
		}
		return func(tx *sqldb.Tx) error { return s.st.setEmail(ctx, tx, p.AccountID, p.NewEmail, s.now()) }, nil
	}
	return nil, nil
}

// placed records the commission of a referred order, at the affiliate's
// rate when the order was placed.
func (s *Service) placed(ctx context.Context, tx *sqldb.Tx, p order.OrderPlaced) error {
	ref, ok, err := s.st.referralOf(ctx, tx, p.CartID)
	if err != nil || !ok {
		return err
	}
	a, err := s.st.one(ctx, tx, "id", ref.AffiliateID)
	if err != nil {
		return err
	}
	placedAt := p.CreatedAt.UTC()
	if placedAt.IsZero() {
		placedAt = s.now()
	}
	switch {
	case a.Status != StatusApproved:
		s.log.InfoContext(ctx, "affiliate: order not credited: the affiliate is not approved", "order", p.OrderID, "affiliate", a.ID, "status", a.Status)
		return nil
	case placedAt.After(ref.ClickedAt.Add(s.opts.Window)):
		s.log.InfoContext(ctx, "affiliate: order not credited: the referral is older than the window", "order", p.OrderID, "affiliate", a.ID)
		return nil
	case (p.CustomerID != "" && p.CustomerID == a.AccountID) || sameMailbox(p.Email, a.Email):
		s.log.InfoContext(ctx, "affiliate: self-referral refused", "order", p.OrderID, "affiliate", a.ID)
		return nil
	}
	t := p.Totals
	net := NetAmount(t.Subtotal.Amount, t.Discount.Amount, t.Shipping.Amount, t.Tax.Amount, p.TaxIncluded)
	// The rate of the moment the order was placed, however late this runs.
	rate := s.rate
	own, changed, err := s.st.rateAt(ctx, tx, a.ID, placedAt)
	switch {
	case err != nil:
		return err
	case changed && own != nil:
		rate = *own
	}
	now := s.now()
	c := commissionRow{id: ids.New(), affiliateID: a.ID, orderID: p.OrderID, orderNumber: p.Number, currency: t.Total.Currency,
		orderTotal: t.Total.Amount, net: net, rate: rate, amount: rate.Of(net), status: CommissionPending,
		approveAfter: placedAt.Add(s.opts.ReturnWindow), placedAt: placedAt}
	_, err = s.st.addCommission(ctx, tx, c, now)
	return err
}

// reverse sets an order's commission's reversed total to target(c)
// (bounded by its amount; it never decreases): the difference comes off
// a pending or approved commission, which becomes reversed when nothing is
// left, or is owed back from a paid one (a clawback on the next payout).
func (s *Service) reverse(ctx context.Context, tx *sqldb.Tx, orderID string, target func(commissionRow) int64) error {
	c, ok, err := s.st.commissionOf(ctx, tx, orderID)
	if err != nil || !ok {
		return err
	}
	want := min(max(target(c), 0), c.amount)
	delta := want - c.reversed
	if delta <= 0 {
		return nil
	}
	now := s.now()
	c.reversed = want
	switch c.status {
	case CommissionPaid:
		if err := s.st.addClawback(ctx, tx, c, delta, now); err != nil {
			return err
		}
	default:
		if c.reversed == c.amount {
			c.status = CommissionReversed
		}
	}
	return s.st.setReversed(ctx, tx, c, now)
}
