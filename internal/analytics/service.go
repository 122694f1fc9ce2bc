package analytics

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Service counts sales from events and reports them.
type Service struct {
	db       *sqldb.DB
	log      *slog.Logger
	currency string
	now      func() time.Time
}

// NewService returns the service; currency is the shop's, used by Summary,
// by reports that name none, and for cancellations of orders it never saw
// placed.
func NewService(db *sqldb.DB, currency string, log *slog.Logger) *Service {
	return &Service{db: db, log: log, currency: currency, now: time.Now}
}

// Subscriber is the part of a bus that analytics needs.
type Subscriber interface {
	SubscribeBatch(consumer string, topics []string, handler outbox.BatchHandler)
}

// Subscribe registers the service's consumer for Topics on bus, taking the
// events of a relay round together (HandleBatch): every order placed adds
// to its day's one counter row, so one transaction per event would queue
// on that row.
func (s *Service) Subscribe(bus Subscriber) { bus.SubscribeBatch(Consumer, Topics(), s.HandleBatch) }

// delta is what one event adds to a day's counters.
type delta struct {
	day, currency                           string
	orders, revenue, refunds, cancellations int64
}

// Handle is HandleBatch for one event.
func (s *Service) Handle(ctx context.Context, e outbox.Event) error {
	return s.HandleBatch(ctx, []outbox.Event{e})
}

// HandleBatch is the bus handler: it adds each event to its day's counters
// exactly once, all of them in one transaction. It returns an error only
// when a retry may succeed (the database; then none counts); a malformed
// payload is logged and dropped, since it would fail every retry and hold
// back every later event.
func (s *Service) HandleBatch(ctx context.Context, evs []outbox.Event) error {
	plans := make(map[string]func(context.Context, *sqldb.Tx) error, len(evs))
	keep := evs[:0:0]
	for _, e := range evs {
		apply, err := s.plan(e)
		if err != nil {
			s.log.ErrorContext(ctx, "analytics: event dropped", "topic", e.Topic, "event", e.ID, "err", err)
			continue
		}
		plans[e.ID] = apply
		keep = append(keep, e)
	}
	if len(keep) == 0 {
		return nil
	}
	_, err := outbox.OnceEach(ctx, s.db, Consumer, keep, func(tx *sqldb.Tx, e outbox.Event) error { return plans[e.ID](ctx, tx) })
	if err != nil {
		if len(keep) == 1 {
			return fmt.Errorf("analytics %s %s: %w", keep[0].Topic, keep[0].ID, err)
		}
		return fmt.Errorf("analytics %d events: %w", len(keep), err)
	}
	return nil
}

// plan decodes and checks an event and returns what to do in the
// transaction that records it.
func (s *Service) plan(e outbox.Event) (func(context.Context, *sqldb.Tx) error, error) {
	at := e.CreatedAt
	switch e.Topic {
	case order.TopicOrderPlaced:
		var p order.OrderPlaced
		if err := e.Decode(&p); err != nil {
			return nil, err
		}
		total := p.Totals.Total
		if p.OrderID == "" {
			return nil, fmt.Errorf("payload: order_id is required")
		}
		if err := total.Validate(); err != nil || total.Amount < 0 {
			return nil, fmt.Errorf("payload: totals.total: must be a non-negative amount in a valid currency")
		}
		if p.Currency != "" && p.Currency != total.Currency {
			return nil, fmt.Errorf("payload: currency %q differs from totals.total's %q", p.Currency, total.Currency)
		}
		if !p.CreatedAt.IsZero() {
			at = p.CreatedAt
		}
		d := delta{day: dayOf(at), currency: total.Currency, orders: 1, revenue: total.Amount}
		return func(ctx context.Context, tx *sqldb.Tx) error {
			// An order counts once even if it were announced twice.
			res, err := tx.ExecContext(ctx, `INSERT INTO analytics_orders (order_id, currency, placed_on) VALUES (?, ?, ?) ON CONFLICT (order_id) DO NOTHING`,
				p.OrderID, d.currency, d.day)
			if err != nil {
				return fmt.Errorf("record order: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil
			}
			return add(ctx, tx, d)
		}, nil
	case order.TopicOrderRefunded:
		// order.refunded, not payment.refunded: it is written once per refund
		// of an order (by staff, by a cancellation or at the provider) and
		// never for the compensation of a checkout that produced no order.
		var p order.OrderRefunded
		if err := e.Decode(&p); err != nil {
			return nil, err
		}
		if err := p.Amount.Validate(); err != nil || p.Amount.Amount <= 0 {
			return nil, fmt.Errorf("payload: amount: must be a positive amount in a valid currency")
		}
		d := delta{day: dayOf(at), currency: p.Amount.Currency, refunds: p.Amount.Amount}
		return func(ctx context.Context, tx *sqldb.Tx) error { return add(ctx, tx, d) }, nil
	case order.TopicOrderCancelled:
		var p order.OrderCancelled
		if err := e.Decode(&p); err != nil {
			return nil, err
		}
		if p.OrderID == "" {
			return nil, fmt.Errorf("payload: order_id is required")
		}
		d := delta{day: dayOf(at), currency: s.currency, cancellations: 1}
		return func(ctx context.Context, tx *sqldb.Tx) error {
			var cur string
			err := tx.QueryRowContext(ctx, `SELECT currency FROM analytics_orders WHERE order_id = ?`, p.OrderID).Scan(&cur)
			switch {
			case err == nil:
				d.currency = cur
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("read order currency: %w", err)
			}
			return add(ctx, tx, d)
		}, nil
	}
	return nil, fmt.Errorf("no counters for topic %q", e.Topic)
}

// add increments a day's counters in one statement, creating the row if
// needed; concurrent adds to the same day never lose an increment.
func add(ctx context.Context, tx *sqldb.Tx, d delta) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO analytics_daily_sales (day, currency, orders, revenue, refunds, cancellations)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (day, currency) DO UPDATE SET
			orders = analytics_daily_sales.orders + excluded.orders,
			revenue = analytics_daily_sales.revenue + excluded.revenue,
			refunds = analytics_daily_sales.refunds + excluded.refunds,
			cancellations = analytics_daily_sales.cancellations + excluded.cancellations`,
		d.day, d.currency, d.orders, d.revenue, d.refunds, d.cancellations)
	if err != nil {
		return fmt.Errorf("count sales of %s: %w", d.day, err)
	}
	return nil
}

// Sales returns the counters of q.Days days up to q.Until in one currency,
// oldest first, every day present. Days outside 1..MaxDays or a malformed
// currency are Invalid.
func (s *Service) Sales(ctx context.Context, q SalesQuery) (Sales, error) {
	var v apperr.Validator
	if q.Days == 0 {
		q.Days = 30
	}
	v.Check(q.Days >= 1 && q.Days <= MaxDays, "days", fmt.Sprintf("must be between 1 and %d", MaxDays))
	if q.Currency == "" {
		q.Currency = s.currency
	}
	v.Check(money.ValidCurrency(q.Currency), "currency", "must be a 3-letter ISO 4217 code such as EUR")
	if err := v.Err(); err != nil {
		return Sales{}, err
	}
	until := q.Until
	if until.IsZero() {
		until = s.now()
	}
	until = until.UTC()
	last := time.Date(until.Year(), until.Month(), until.Day(), 0, 0, 0, 0, time.UTC)
	first := last.AddDate(0, 0, -(q.Days - 1))
	out := Sales{Currency: q.Currency, Days: make([]Day, q.Days)}
	index := make(map[string]int, q.Days)
	for i := range out.Days {
		date := dayOf(first.AddDate(0, 0, i))
		out.Days[i] = Day{Date: date, Revenue: money.Zero(q.Currency), Refunds: money.Zero(q.Currency)}
		index[date] = i
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT day, orders, revenue, refunds, cancellations FROM analytics_daily_sales
		WHERE currency = ? AND day >= ? AND day <= ?`, q.Currency, dayOf(first), dayOf(last))
	if err != nil {
		return Sales{}, fmt.Errorf("read sales: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			day string
			d   Day
		)
		if err := rows.Scan(&day, &d.Orders, &d.Revenue.Amount, &d.Refunds.Amount, &d.Cancellations); err != nil {
			return Sales{}, fmt.Errorf("read sales: %w", err)
		}
		if i, ok := index[day]; ok {
			d.Date, d.Revenue.Currency, d.Refunds.Currency = day, q.Currency, q.Currency
			out.Days[i] = d
		}
	}
	if err := rows.Err(); err != nil {
		return Sales{}, fmt.Errorf("read sales: %w", err)
	}
	return out, nil
}

// Summary returns one day's sales (UTC) in the shop's currency, zero when
// nothing happened: what the admin dashboard shows for today.
func (s *Service) Summary(ctx context.Context, day time.Time) (Day, error) {
	sales, err := s.Sales(ctx, SalesQuery{Days: 1, Until: day})
	if err != nil {
		return Day{}, err
	}
	return sales.Days[0], nil
}
