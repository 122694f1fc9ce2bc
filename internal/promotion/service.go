package promotion

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Catalog is what promotions need of the catalog: the categories of
// products (each product's own and those above them), for promotions on
// categories.
type Catalog interface {
	ProductCategories(ctx context.Context, productIDs []string) (map[string][]string, error)
}

// Orders is what promotions need of the orders: whether a customer has
// ordered before (first-order promotions), by account id and, when email
// is not "", by e-mail address.
type Orders interface {
	HasOrdered(ctx context.Context, customerID, email string) (bool, error)
}

// Service manages promotions and their uses.
type Service struct {
	db       *sqldb.DB
	st       store
	catalog  Catalog
	orders   Orders
	currency string
	log      *slog.Logger
	now      func() time.Time
}

// NewService returns a promotion service for a shop selling in currency
// (fixed amounts and minimum subtotals are in it); log receives what its
// event consumer has to drop.
func NewService(db *sqldb.DB, catalog Catalog, orders Orders, currency string, log *slog.Logger) *Service {
	return &Service{db: db, st: store{db}, catalog: catalog, orders: orders, currency: currency, log: log,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// Create adds a promotion (active unless the input says otherwise). Bad
// fields are Invalid, each named; a code another promotion has is a
// Conflict on "code".
func (s *Service) Create(ctx context.Context, in Input) (Promotion, error) {
	var v apperr.Validator
	p := fromInput(in, &v)
	p.normalize()
	if err := p.validate(v); err != nil {
		return Promotion{}, err
	}
	now := s.now()
	p.ID, p.CreatedAt, p.UpdatedAt = ids.New(), now, now
	if err := s.st.insert(ctx, &p); err != nil {
		return Promotion{}, err
	}
	return p, nil
}

// Get returns a promotion; NotFound when there is none (or it was deleted).
func (s *Service) Get(ctx context.Context, id string) (Promotion, error) {
	return s.st.get(ctx, s.db, id, "")
}

// List returns every promotion, newest first.
func (s *Service) List(ctx context.Context) ([]Promotion, error) {
	return s.st.list(ctx)
}

// Update changes the fields of a promotion that the patch sets; the result
// must be valid as a whole (Invalid naming each bad field, nothing
// changed). Uses already counted stay counted. NotFound when unknown; a
// code taken is a Conflict on "code".
func (s *Service) Update(ctx context.Context, id string, patch Patch) (Promotion, error) {
	var v apperr.Validator
	patch.notNull(&v)
	if err := v.Err(); err != nil {
		return Promotion{}, err
	}
	return s.st.update(ctx, id, s.now(), func(p *Promotion) error {
		var v apperr.Validator
		patch.apply(p, &v)
		if p.Kind != BuyXGetY {
			if !patch.BuyQuantity.Set {
				p.BuyQuantity = 0
			}
			if !patch.GetQuantity.Set {
				p.GetQuantity = 0
			}
		}
		if p.Kind == FreeShipping && !patch.Value.Set {
			p.Value = 0
		}
		p.normalize()
		return p.validate(v)
	})
}

// Delete removes a promotion: it no longer applies and its code is free;
// the orders that got it keep their discount, and a cancelled one still
// gives its use back. NotFound when unknown.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.st.remove(ctx, id, s.now())
}

// Report is a promotion with how it was used.
type Report struct {
	Promotion
	Usage Usage `json:"usage"`
}

// Usage is how a promotion was used: Orders placed with it (not given
// back), checkouts holding a use now (Reserved), uses given back by
// cancelled or refunded orders (Returned), the uses left under its limit
// (nil: no limit), the discount its orders got and how many customers (by
// e-mail) they were, and its newest redemptions.
type Usage struct {
	Orders        int64        `json:"orders"`
	Reserved      int64        `json:"reserved"`
	Returned      int64        `json:"returned"`
	Remaining     *int64       `json:"remaining"`
	DiscountTotal money.Money  `json:"discount_total"`
	Customers     int64        `json:"customers"`
	Recent        []Redemption `json:"recent"`
}

// Redemption is one order's use of a promotion.
type Redemption struct {
	OrderID    string      `json:"order_id"`
	CustomerID string      `json:"customer_id,omitempty"`
	Email      string      `json:"email"`
	Amount     money.Money `json:"amount"`
	Status     string      `json:"status"` // reserved, committed, released, returned
	CreatedAt  time.Time   `json:"created_at"`
}

// RecentRedemptions is how many redemptions a Report lists.
const RecentRedemptions = 50

// Report returns a promotion with its usage; NotFound when unknown.
func (s *Service) Report(ctx context.Context, id string) (Report, error) {
	p, err := s.Get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	byStatus, discount, customers, err := s.st.usage(ctx, p.ID)
	if err != nil {
		return Report{}, err
	}
	rs, err := s.st.recent(ctx, p.ID, RecentRedemptions)
	if err != nil {
		return Report{}, err
	}
	r := Report{Promotion: p, Usage: Usage{Orders: byStatus[statusCommitted], Reserved: byStatus[statusReserved], Returned: byStatus[statusReturned],
		DiscountTotal: money.Money{Amount: discount, Currency: s.currency}, Customers: customers, Recent: []Redemption{}}}
	if p.UsageLimit != nil {
		left := max(*p.UsageLimit-p.Used, 0)
		r.Usage.Remaining = &left
	}
	for _, x := range rs {
		r.Usage.Recent = append(r.Usage.Recent, Redemption{OrderID: x.orderID, CustomerID: x.customerID, Email: x.email,
			Amount: money.Money{Amount: x.amount, Currency: x.currency}, Status: x.status, CreatedAt: x.createdAt})
	}
	return r, nil
}

// Discounts gives a priced cart its promotions (see evaluate): the
// automatic ones and that of its code, with each code's status. The lines'
// categories are looked up here. It reads from the read pool, so a caller
// in a write transaction may use it.
func (s *Service) Discounts(ctx context.Context, c Cart) (Result, error) {
	promos, err := s.st.live(ctx, s.db.Reader(), c.Codes)
	if err != nil {
		return Result{}, err
	}
	f := facts{now: s.now(), currency: s.currency, customerUses: map[string]int64{}}
	var limited, cats []string
	firstOrder := false
	for _, p := range promos {
		if _, ok := p.perCustomerLimit(); ok {
			limited = append(limited, p.ID)
		}
		if len(p.CategoryIDs) > 0 {
			cats = append(cats, p.ID)
		}
		firstOrder = firstOrder || p.FirstOrder
	}
	if len(cats) > 0 && s.catalog != nil && len(c.Lines) > 0 {
		productIDs := make([]string, len(c.Lines))
		for i, l := range c.Lines {
			productIDs[i] = l.ProductID
		}
		byProduct, err := s.catalog.ProductCategories(ctx, productIDs)
		if err != nil {
			return Result{}, fmt.Errorf("categories of the cart's products: %w", err)
		}
		for i := range c.Lines {
			c.Lines[i].CategoryIDs = byProduct[c.Lines[i].ProductID]
		}
	}
	if c.CustomerID != "" {
		if f.customerUses, err = s.st.customerUses(ctx, s.db.Reader(), "c:"+c.CustomerID, limited); err != nil {
			return Result{}, err
		}
	}
	if c.OrderID != "" {
		// A retry: the uses its order holds are its own.
		held, err := s.st.redemptionsOf(ctx, s.db.Reader(), c.OrderID)
		if err != nil {
			return Result{}, err
		}
		for _, h := range held {
			if h.status != statusReserved {
				continue
			}
			for i := range promos {
				if promos[i].ID == h.promotionID {
					promos[i].Used--
				}
			}
			if c.CustomerID != "" && h.customerID == c.CustomerID && f.customerUses[h.promotionID] > 0 {
				f.customerUses[h.promotionID]--
			}
		}
	}
	if c.CustomerID != "" {
		if firstOrder && s.orders != nil {
			if f.hasOrdered, err = s.orders.HasOrdered(ctx, c.CustomerID, ""); err != nil {
				return Result{}, fmt.Errorf("orders of the customer: %w", err)
			}
		}
	}
	return evaluate(promos, c, f), nil
}

// Use is a promotion an order gets, as the cart priced it.
type Use struct {
	PromotionID string
	Code        string // "" for an automatic promotion
	Amount      int64  // what it took off the lines
}

// Reservation is what a checkout asks Reserve to hold for its order.
type Reservation struct {
	CustomerID string // "" for a guest
	Email      string
	Currency   string
	Uses       []Use
	Until      time.Time // when the hold expires
}

// refused is the checkout's refusal of a promotion it cannot hold: a
// Conflict naming "code" (for an automatic promotion, "discounts"), with
// extra.code and extra.reason.
func refused(p Promotion, reason, message string) error {
	field, what := "code", "discount code "+p.Code
	if p.Code == "" {
		field, what = "discounts", "the promotion "+p.Name
	}
	return &apperr.Error{Code: apperr.Conflict,
		Message: fmt.Sprintf("%s cannot be used: %s. Remove it from the cart, or try another, and check out again.", what, message),
		Fields:  []apperr.FieldError{{Field: field, Message: message}}, Detail: map[string]any{"code": p.Code, "reason": reason}}
}

// Reserve holds a use of every promotion of r for order orderID, all or
// none, before the checkout takes the payment. Each use is a conditional
// update (the promotion is live and not used up; the customer, by account
// and by e-mail, is under its per-customer limit), so a limit holds across
// concurrent checkouts and instances. Uses the order already holds (an
// earlier attempt under the same Idempotency-Key) are kept; those it no
// longer needs are given back. A promotion that cannot be held is a
// Conflict naming "code" (see refused), and nothing is held.
func (s *Service) Reserve(ctx context.Context, orderID string, r Reservation) error {
	want := map[string]Use{}
	for _, u := range r.Uses {
		want[u.PromotionID] = u
	}
	email := strings.ToLower(strings.TrimSpace(r.Email))
	// First-order promotions ask the orders first (outside the transaction).
	promos := map[string]Promotion{}
	for _, id := range sortedIDs(want) {
		p, err := s.st.get(ctx, s.db, id, "")
		if apperr.Is(err, apperr.NotFound) {
			return refused(Promotion{ID: id, Code: want[id].Code, Name: "promotion"}, ReasonUnknown, "it is no longer valid")
		}
		if err != nil {
			return err
		}
		promos[id] = p
		if p.FirstOrder && s.orders != nil {
			ordered, err := s.orders.HasOrdered(ctx, r.CustomerID, email)
			if err != nil {
				return fmt.Errorf("orders of the customer: %w", err)
			}
			if ordered {
				return refused(p, ReasonNotApplicable, "it is for a first order only")
			}
		}
	}
	now := s.now()
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		held, err := s.st.redemptionsOf(ctx, tx, orderID)
		if err != nil {
			return err
		}
		have := map[string]redemption{}
		for _, h := range held {
			have[h.promotionID] = h
			if _, ok := want[h.promotionID]; ok || h.status == statusCommitted || h.status == statusReturned {
				continue
			}
			if h.status == statusReserved {
				if err := s.release(ctx, tx, h, now); err != nil {
					return err
				}
			}
			if err := s.st.dropRedemption(ctx, tx, orderID, h.promotionID); err != nil {
				return err
			}
		}
		for _, id := range sortedIDs(want) {
			u, p := want[id], promos[id]
			if h, ok := have[id]; ok && (h.status == statusReserved || h.status == statusCommitted) {
				if err := s.st.refresh(ctx, tx, orderID, id, u.Amount, r.Until, now); err != nil {
					return err
				}
				continue
			}
			ok, err := s.st.takeUse(ctx, tx, id, now)
			if err != nil {
				return err
			}
			if !ok {
				cur, err := s.st.get(ctx, tx, id, "")
				switch {
				case apperr.Is(err, apperr.NotFound) || (err == nil && !cur.Active):
					return refused(p, ReasonUnknown, "it is no longer valid")
				case err != nil:
					return err
				case cur.EndsAt != nil && !now.Before(*cur.EndsAt):
					return refused(p, ReasonExpired, "it has expired")
				}
				return refused(p, ReasonExhausted, "it has been used up")
			}
			rd := redemption{orderID: orderID, promotionID: id, code: p.Code, customerID: r.CustomerID, email: email, amount: u.Amount, currency: r.Currency}
			limit, limited := p.perCustomerLimit()
			if !limited {
				limit = -1
			}
			for _, k := range rd.keys() {
				ok, err := s.st.takeCustomerUse(ctx, tx, id, k, limit)
				if err != nil {
					return err
				}
				if !ok {
					return refused(p, ReasonExhausted, "you have already used it")
				}
			}
			if err := s.st.putRedemption(ctx, tx, rd, r.Until, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// release gives back a reserved redemption's use, once.
func (s *Service) release(ctx context.Context, tx *sqldb.Tx, r redemption, now time.Time) error {
	ok, err := s.st.move(ctx, tx, r.orderID, r.promotionID, statusReserved, statusReleased, now)
	if err != nil || !ok {
		return err
	}
	return s.st.giveBack(ctx, tx, r)
}

// Commit makes the uses order orderID holds the order's, in the order's
// transaction tx. A use released meanwhile (its hold expired) is a
// Conflict: the order does not commit without the discount it was priced
// with.
func (s *Service) Commit(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	lost, err := s.st.commitAll(ctx, tx, orderID, s.now())
	if err != nil {
		return err
	}
	if lost > 0 {
		return &apperr.Error{Code: apperr.Conflict, Message: "the checkout took too long and its discount was given back; check out again",
			Fields: []apperr.FieldError{{Field: "code", Message: "its hold expired"}}, Detail: map[string]any{"reason": ReasonExhausted}}
	}
	return nil
}

// Release gives back the uses order orderID holds and did not commit (a
// failed checkout, a dead attempt); nothing held is no error, and
// releasing twice gives back once.
func (s *Service) Release(ctx context.Context, orderID string) error {
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		held, err := s.st.redemptionsOf(ctx, tx, orderID)
		if err != nil {
			return err
		}
		now := s.now()
		for _, h := range held {
			if h.status == statusReserved {
				if err := s.release(ctx, tx, h, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ReleaseExpired releases the holds past their expiry (checkouts that
// never finished and that no reconciler settled) and returns for how many
// orders.
func (s *Service) ReleaseExpired(ctx context.Context) (int, error) {
	orders, err := s.st.expiredOrders(ctx, s.now(), 500)
	if err != nil {
		return 0, err
	}
	for i, id := range orders {
		if err := s.Release(ctx, id); err != nil {
			return i, err
		}
	}
	return len(orders), nil
}

// giveBackOrder returns the uses of a placed order (cancelled or fully
// refunded), in tx, once: it reports how many it gave back.
func (s *Service) giveBackOrder(ctx context.Context, tx *sqldb.Tx, orderID string) (int, error) {
	held, err := s.st.redemptionsOf(ctx, tx, orderID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range held {
		if h.status != statusCommitted {
			continue
		}
		ok, err := s.st.move(ctx, tx, orderID, h.promotionID, statusCommitted, statusReturned, s.now())
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		if err := s.st.giveBack(ctx, tx, h); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
