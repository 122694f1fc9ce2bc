package order

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Payments is what orders need of the payment module.
type Payments interface {
	Get(ctx context.Context, paymentID string) (payment.Payment, error)
	Capture(ctx context.Context, paymentID string) (payment.Payment, error)
	Void(ctx context.Context, paymentID string) error
	// Refund records a refund of paymentID in tx and returns its id.
	Refund(ctx context.Context, tx *sqldb.Tx, paymentID string, amount int64, reason string) (string, error)
}

// Stock is what orders need of the inventory module.
type Stock interface {
	Restock(ctx context.Context, tx *sqldb.Tx, variantID string, qty int64, reference, actor string) error
	// Commit and Release settle the stock an order awaiting its payment
	// holds reserved (under the order id): sold once paid, given back if
	// the payment fails.
	Commit(ctx context.Context, tx *sqldb.Tx, reference, actor string) error
	Release(ctx context.Context, tx *sqldb.Tx, reference, reason string) error
}

// GiftCards is what orders need of the gift card module: a refund or a
// cancellation gives the gift cards' part back to the cards the order was
// paid with, first (before the card payment).
type GiftCards interface {
	// Refund credits amount back to the gift cards that paid for order
	// orderID, in tx (the order's transaction).
	Refund(ctx context.Context, tx *sqldb.Tx, orderID string, amount money.Money, reason string) error
}

// Service manages orders.
type Service struct {
	db        *sqldb.DB
	st        store
	payments  Payments
	stock     Stock
	giftCards GiftCards // nil: no order is paid by gift card
	log       *slog.Logger
	now       func() time.Time
}

// Option configures an order service.
type Option func(*Service)

// WithGiftCards gives refunds of orders paid by gift card back to the cards.
func WithGiftCards(g GiftCards) Option { return func(s *Service) { s.giftCards = g } }

// NewService returns an order service; log receives what its event consumer
// has to drop (see HandlePaymentEvent).
func NewService(db *sqldb.DB, payments Payments, stock Stock, log *slog.Logger, opts ...Option) *Service {
	s := &Service{db: db, st: store{db}, payments: payments, stock: stock, log: log, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NewOrder is what the checkout hands over to create an order.
type NewOrder struct {
	ID              string // chosen by the checkout before payment (payment reference)
	CustomerID      string
	Email           string
	Currency        string
	Items           []Item // with each line's Discount
	Totals          Totals
	Discounts       []Discount
	TaxIncluded     bool
	ShippingAddress Address
	ShippingMethod  ShippingMethod
	PaymentID       string // "" when nothing is paid by card (Totals.Total is zero); Captured then
	Captured        bool   // payment captured (else authorized)
	// Awaiting: the provider decides later; the checkout left the stock
	// reserved under the order id (Captured is false).
	Awaiting bool
	CartID   string
	// AccessToken lets a guest read the order (see Order.AccessToken); the
	// checkout chooses it before paying, so that the provider's return
	// address can carry it. Empty: Create makes one.
	AccessToken string
}

// NewAccessToken returns a new order access token (oat_…).
func NewAccessToken() string { return "oat_" + ids.Secret(24) }

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// Create stores an order inside the checkout's transaction, with its
// order.placed (and, when the payment was captured, order.paid) events. It
// returns the order with its access token set (shown once to a guest).
func (s *Service) Create(ctx context.Context, tx *sqldb.Tx, in NewOrder) (Order, error) {
	n, err := s.st.nextNumber(ctx, tx)
	if err != nil {
		return Order{}, err
	}
	now := s.now()
	o := Order{
		ID: in.ID, Number: strconv.FormatInt(n, 10), Email: in.Email, CustomerID: in.CustomerID, Currency: in.Currency,
		Items: in.Items, Totals: in.Totals, Discounts: in.Discounts, TaxIncluded: in.TaxIncluded,
		Refunded: money.Zero(in.Currency), GiftCardRefunded: money.Zero(in.Currency),
		ShippingAddress: in.ShippingAddress, ShippingMethod: in.ShippingMethod, PaymentID: in.PaymentID, CartID: in.CartID,
		Status: StatusPending, PaymentStatus: PaymentAuthorized, FulfillmentStatus: FulfillmentUnfulfilled,
		Fulfillments: []Fulfillment{}, CreatedAt: now, UpdatedAt: now,
		AccessToken: in.AccessToken,
	}
	if o.AccessToken == "" {
		o.AccessToken = NewAccessToken()
	}
	if o.Discounts == nil {
		o.Discounts = []Discount{}
	}
	for i := range o.Items {
		o.Items[i].Discount.Currency = in.Currency
	}
	if o.Totals.GiftCard.Currency == "" {
		o.Totals.GiftCard = money.Zero(in.Currency)
	}
	switch {
	case in.Captured:
		o.Status, o.PaymentStatus = StatusPaid, PaymentPaid
	case in.Awaiting:
		o.PaymentStatus = PaymentAwaiting
	}
	if err := s.st.insert(ctx, tx, &o, hashToken(o.AccessToken)); err != nil {
		return Order{}, err
	}
	if err := s.note(ctx, tx, o.ID, "placed", fmt.Sprintf("Order placed (%s)", o.Totals.Total.Format()), "customer"); err != nil {
		return Order{}, err
	}
	if err := outbox.Write(ctx, tx, newOrderPlaced(&o)); err != nil {
		return Order{}, err
	}
	if in.Captured {
		if err := outbox.Write(ctx, tx, newOrderPaid(&o)); err != nil {
			return Order{}, err
		}
	}
	o.Timeline = []TimelineEntry{{Kind: "placed", Message: "Order placed", Actor: "customer", CreatedAt: now}}
	return o, nil
}

// note appends to an order's timeline.
func (s *Service) note(ctx context.Context, tx *sqldb.Tx, orderID, kind, msg, actor string) error {
	return s.st.note(ctx, tx, orderID, TimelineEntry{Kind: kind, Message: msg, Actor: actor, CreatedAt: s.now()})
}

// checkText records an error for field unless s is at most max characters
// of text: valid UTF-8 without control characters (newlines and tabs allowed
// when multiline).
func checkText(v *apperr.Validator, field, s string, max int, multiline bool) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, fmt.Sprintf("must be at most %d characters", max))
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) }) >= 0:
		v.Add(field, "must not contain control characters")
	}
}

// StaffOrder is an order as staff see it: with its payment at the provider.
type StaffOrder struct {
	Order
	Payment *PaymentSummary `json:"payment,omitempty"`
}

// PaymentSummary is the order's payment as staff see it: Reference is the
// provider's own id (Stripe's PaymentIntent id), to find it there.
type PaymentSummary struct {
	ID        string      `json:"id"`
	Provider  string      `json:"provider"`
	Reference string      `json:"reference"`
	Method    string      `json:"method"`
	Status    string      `json:"status"`
	Amount    money.Money `json:"amount"`
}

// GetForStaff returns an order with its payment; NotFound when unknown.
func (s *Service) GetForStaff(ctx context.Context, id string) (StaffOrder, error) {
	o, err := s.Get(ctx, id)
	if err != nil {
		return StaffOrder{}, err
	}
	so := StaffOrder{Order: o}
	if o.PaymentID != "" {
		p, err := s.payments.Get(ctx, o.PaymentID)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return StaffOrder{}, err
		}
		if err == nil {
			so.Payment = &PaymentSummary{ID: p.ID, Provider: p.Provider, Reference: p.ProviderRef, Method: p.Method, Status: p.Status, Amount: p.Amount}
		}
	}
	return so, nil
}

// Get returns an order for staff (any order); NotFound when unknown.
func (s *Service) Get(ctx context.Context, id string) (Order, error) {
	so, err := s.st.get(ctx, s.db, id)
	return so.Order, err
}

// GetFor returns an order to whoever may see it: its customer (signed in),
// staff, or anyone holding its access token. Everybody else gets NotFound,
// whether or not the order exists.
func (s *Service) GetFor(ctx context.Context, id, accessToken string) (Order, error) {
	so, err := s.st.get(ctx, s.db, id)
	if err != nil {
		return Order{}, err
	}
	o, tokenHash := so.Order, so.tokenHash
	p, signedIn := auth.From(ctx)
	switch {
	case signedIn && p.Role.IsStaff():
	case signedIn && o.CustomerID != "" && p.AccountID == o.CustomerID:
	case accessToken != "" && subtle.ConstantTimeCompare([]byte(hashToken(accessToken)), []byte(tokenHash)) == 1:
	default:
		return Order{}, apperr.NotFoundf("order not found")
	}
	return o, nil
}

// ListQuery selects orders.
type ListQuery struct {
	CustomerID string
	Status     string
	Email      string
	From, To   time.Time
	Limit      int
	Cursor     string
}

// Page is a page of orders, newest first.
type Page struct {
	Items      []Order `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// List returns orders newest first. Items carry lines and totals but no
// fulfilments or timeline (use Get for those).
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	var v apperr.Validator
	if q.Limit == 0 {
		q.Limit = 20
	}
	v.Check(q.Limit >= 1 && q.Limit <= 100, "limit", "must be between 1 and 100")
	if q.Status != "" {
		ok := false
		for _, st := range Statuses {
			ok = ok || st == q.Status
		}
		v.Check(ok, "status", "must be one of "+strings.Join(Statuses, ", "))
	}
	f := listFilter{customerID: q.CustomerID, status: q.Status, email: strings.ToLower(q.Email), from: q.From, to: q.To, limit: q.Limit + 1}
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		var c listCursor
		if err != nil || json.Unmarshal(b, &c) != nil || !ids.Plausible(c.ID) {
			v.Add("cursor", "is not a cursor returned by this list")
		} else {
			f.after = &c
		}
	}
	if q.CustomerID != "" && !ids.Plausible(q.CustomerID) {
		v.Add("customer_id", "is not an account id")
	}
	if q.Email != "" {
		checkText(&v, "email", q.Email, 254, false)
	}
	if err := v.Err(); err != nil {
		return Page{}, err
	}
	items, err := s.st.list(ctx, f)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: items}
	if len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		last := page.Items[q.Limit-1]
		b, _ := json.Marshal(listCursor{T: last.CreatedAt, ID: last.ID})
		c := base64.RawURLEncoding.EncodeToString(b)
		page.NextCursor = &c
	}
	return page, nil
}

// transition applies fn to an order inside a transaction, after re-reading
// it, and returns the order as committed. NotFound when unknown; fn's error
// rolls everything back.
func (s *Service) transition(ctx context.Context, id string, fn func(tx *sqldb.Tx, o *Order) error) (Order, error) {
	if err := s.st.update(ctx, nil, id, s.now(), fn); err != nil {
		return Order{}, err
	}
	return s.Get(ctx, id)
}

func notAllowed(action string, o *Order) error {
	return apperr.Conflictf("cannot %s an order that is %s", action, o.Status)
}

// Fulfill records a parcel of items (partial fulfilment allowed) and writes
// order.fulfilled (and order.shipped once everything has left). With a
// tracking number the parcel counts as shipped. In capture-on-fulfilment
// mode the authorized payment is captured first (order.paid). Quantities
// beyond what is left to fulfil, or unknown items, are Invalid; an order
// that is not paid or partially fulfilled is a Conflict; NotFound when
// unknown.
func (s *Service) Fulfill(ctx context.Context, id string, lines []FulfillmentLine, tracking, actor string) (Order, error) {
	var v apperr.Validator
	v.Check(len(lines) > 0 && len(lines) <= 100, "items", "must list 1 to 100 items")
	checkText(&v, "tracking_number", tracking, 100, false)
	for i, l := range lines {
		v.Check(l.Quantity >= 1 && l.Quantity <= 1_000_000, fmt.Sprintf("items[%d].quantity", i), "must be at least 1")
	}
	if err := v.Err(); err != nil {
		return Order{}, err
	}
	o, err := s.Get(ctx, id)
	if err != nil {
		return Order{}, err
	}
	if o.PaymentStatus == PaymentAuthorized && (o.Status == StatusPending) {
		if _, err := s.payments.Capture(ctx, o.PaymentID); err != nil {
			return Order{}, fmt.Errorf("capture before fulfilment: %w", err)
		}
	}
	captured := o.PaymentStatus == PaymentAuthorized
	return s.transition(ctx, id, func(tx *sqldb.Tx, o *Order) error {
		switch o.Status {
		case StatusPending, StatusPaid, StatusPartiallyFulfilled:
		default:
			return notAllowed("fulfil", o)
		}
		if captured && o.PaymentStatus == PaymentAuthorized {
			o.PaymentStatus = PaymentPaid
			if err := s.note(ctx, tx, o.ID, "captured", "Payment captured", actor); err != nil {
				return err
			}
			if err := outbox.Write(ctx, tx, newOrderPaid(o)); err != nil {
				return err
			}
		}
		byID := map[string]*Item{}
		for i := range o.Items {
			byID[o.Items[i].ID] = &o.Items[i]
		}
		var evItems []FulfilledItem
		for i, l := range lines {
			it, ok := byID[l.ItemID]
			if !ok {
				return apperr.Field(fmt.Sprintf("items[%d].item_id", i), "no such item in this order")
			}
			if it.Fulfilled+l.Quantity > it.Quantity {
				return apperr.Field(fmt.Sprintf("items[%d].quantity", i), fmt.Sprintf("only %d left to fulfil", it.Quantity-it.Fulfilled))
			}
			ok, err := s.st.fulfilItem(ctx, tx, it.ID, l.Quantity)
			if err != nil {
				return err
			}
			if !ok {
				return apperr.Conflictf("item %s was fulfilled concurrently", it.SKU)
			}
			it.Fulfilled += l.Quantity
			evItems = append(evItems, FulfilledItem{SKU: it.SKU, Title: it.Title, Quantity: l.Quantity})
		}
		now := s.now()
		f := Fulfillment{ID: ids.New(), TrackingNumber: tracking, Items: lines, CreatedAt: now}
		if tracking != "" {
			f.ShippedAt = &now
		}
		if err := s.st.insertFulfillment(ctx, tx, o.ID, f); err != nil {
			return err
		}
		o.Fulfillments = append(o.Fulfillments, f)
		msg := fmt.Sprintf("Fulfilled %d item(s)", len(lines))
		if tracking != "" {
			msg += ", tracking " + tracking
		}
		if err := s.note(ctx, tx, o.ID, "fulfilled", msg, actor); err != nil {
			return err
		}
		if err := outbox.Write(ctx, tx, newOrderFulfilled(o, f, evItems)); err != nil {
			return err
		}
		return s.settleFulfilment(ctx, tx, o, actor)
	})
}

// settleFulfilment derives status from the items and parcels and writes
// order.shipped when everything has left.
func (s *Service) settleFulfilment(ctx context.Context, tx *sqldb.Tx, o *Order, actor string) error {
	all := true
	for _, it := range o.Items {
		all = all && it.Fulfilled == it.Quantity
	}
	if !all {
		o.Status, o.FulfillmentStatus = StatusPartiallyFulfilled, FulfillmentPartial
		return nil
	}
	o.Status, o.FulfillmentStatus = StatusFulfilled, FulfillmentFulfilled
	shipped := true
	for _, f := range o.Fulfillments {
		shipped = shipped && f.ShippedAt != nil
	}
	if !shipped {
		return nil
	}
	o.Status, o.FulfillmentStatus = StatusShipped, FulfillmentShipped
	if err := s.note(ctx, tx, o.ID, "shipped", "Order shipped", actor); err != nil {
		return err
	}
	return outbox.Write(ctx, tx, newOrderShipped(o))
}

// Ship marks a parcel shipped with a tracking number (order.shipped when it
// was the last one). A missing tracking number is Invalid; an unknown
// parcel NotFound; a parcel already shipped a Conflict.
func (s *Service) Ship(ctx context.Context, id, fulfillmentID, tracking, actor string) (Order, error) {
	var v apperr.Validator
	v.Check(tracking != "", "tracking_number", "is required")
	checkText(&v, "tracking_number", tracking, 100, false)
	if err := v.Err(); err != nil {
		return Order{}, err
	}
	return s.transition(ctx, id, func(tx *sqldb.Tx, o *Order) error {
		var f *Fulfillment
		for i := range o.Fulfillments {
			if o.Fulfillments[i].ID == fulfillmentID {
				f = &o.Fulfillments[i]
			}
		}
		if f == nil {
			return apperr.NotFoundf("fulfillment not found")
		}
		if f.ShippedAt != nil {
			return apperr.Conflictf("this parcel has already shipped")
		}
		now := s.now()
		if err := s.st.shipFulfillment(ctx, tx, f.ID, tracking, now); err != nil {
			return err
		}
		f.ShippedAt, f.TrackingNumber = &now, tracking
		if err := s.note(ctx, tx, o.ID, "parcel_shipped", "Parcel shipped, tracking "+tracking, actor); err != nil {
			return err
		}
		if o.Status == StatusFulfilled {
			return s.settleFulfilment(ctx, tx, o, actor)
		}
		return nil
	})
}

// Deliver marks a shipped order delivered (order.delivered); any other
// status is a Conflict.
func (s *Service) Deliver(ctx context.Context, id, actor string) (Order, error) {
	return s.transition(ctx, id, func(tx *sqldb.Tx, o *Order) error {
		if o.Status != StatusShipped {
			return notAllowed("mark delivered", o)
		}
		o.Status, o.FulfillmentStatus = StatusDelivered, FulfillmentDelivered
		if err := s.note(ctx, tx, o.ID, "delivered", "Order delivered", actor); err != nil {
			return err
		}
		return outbox.Write(ctx, tx, newOrderDelivered(o))
	})
}

// Cancel cancels an order that has not been fulfilled: the payment is voided
// (authorized) or what is left of it refunded (captured; order.refunded),
// every item goes back on stock, and order.cancelled is written. An order
// that is past paid or has a parcel is a Conflict.
func (s *Service) Cancel(ctx context.Context, id, reason, actor string) (Order, error) {
	var v apperr.Validator
	checkText(&v, "reason", reason, 500, true)
	if err := v.Err(); err != nil {
		return Order{}, err
	}
	o, err := s.Get(ctx, id)
	if err != nil {
		return Order{}, err
	}
	if (o.Status != StatusPending && o.Status != StatusPaid) || len(o.Fulfillments) > 0 {
		return Order{}, notAllowed("cancel", &o)
	}
	if o.PaymentStatus == PaymentAuthorized || o.PaymentStatus == PaymentAwaiting {
		if err := s.payments.Void(ctx, o.PaymentID); err != nil {
			return Order{}, fmt.Errorf("void payment: %w", err)
		}
	}
	return s.transition(ctx, id, func(tx *sqldb.Tx, o *Order) error {
		if (o.Status != StatusPending && o.Status != StatusPaid) || len(o.Fulfillments) > 0 {
			return notAllowed("cancel", o)
		}
		switch o.PaymentStatus {
		case PaymentAwaiting:
			// Nothing was taken by card: the reservation goes back, no
			// restock; what gift cards paid goes back to them.
			if err := s.returnGiftCards(ctx, tx, o, "order cancelled"); err != nil {
				return err
			}
			o.PaymentStatus, o.Status = PaymentVoided, StatusCancelled
			if err := s.stock.Release(ctx, tx, o.ID, "order cancelled"); err != nil {
				return fmt.Errorf("release stock: %w", err)
			}
			if reason == "" {
				reason = "cancelled"
			}
			if err := s.note(ctx, tx, o.ID, "cancelled", "Order cancelled: "+reason, actor); err != nil {
				return err
			}
			return outbox.Write(ctx, tx, newOrderCancelled(o, reason))
		case PaymentAuthorized:
			if err := s.returnGiftCards(ctx, tx, o, "order cancelled"); err != nil {
				return err
			}
			o.PaymentStatus = PaymentVoided
		case PaymentPaid, PaymentPartiallyRefunded:
			if left := o.refundable(); left > 0 {
				if err := s.refund(ctx, tx, o, left, "order cancelled"); err != nil {
					return err
				}
			}
			o.PaymentStatus = PaymentRefunded
		}
		for _, it := range byVariant(o.Items) {
			if q := it.Quantity - it.Restocked; q > 0 {
				if err := s.restock(ctx, tx, o, it, q, actor); err != nil {
					return err
				}
			}
		}
		o.Status = StatusCancelled
		if reason == "" {
			reason = "cancelled"
		}
		if err := s.note(ctx, tx, o.ID, "cancelled", "Order cancelled: "+reason, actor); err != nil {
			return err
		}
		return outbox.Write(ctx, tx, newOrderCancelled(o, reason))
	})
}

// refund gives amount back for the order in tx: to the gift cards first
// (what they paid and was not refunded yet), then the rest by the payment
// module, as a refund of the card payment recorded as the order's own. It
// writes order.refunded, adds amount to o.Refunded and leaves the statuses
// to the caller.
func (s *Service) refund(ctx context.Context, tx *sqldb.Tx, o *Order, amount int64, reason string) error {
	toCards := min(amount, o.Totals.GiftCard.Amount-o.GiftCardRefunded.Amount)
	toCard := amount - toCards
	refundID := ""
	if toCards > 0 {
		if s.giftCards == nil {
			return fmt.Errorf("refund order %s: it was paid by gift card, and no gift card module is wired", o.ID)
		}
		if err := s.giftCards.Refund(ctx, tx, o.ID, money.Money{Amount: toCards, Currency: o.Currency}, reason); err != nil {
			return fmt.Errorf("refund to gift cards: %w", err)
		}
		o.GiftCardRefunded.Amount += toCards
		refundID = "gcr_" + ids.New()
	}
	if toCard > 0 {
		id, err := s.payments.Refund(ctx, tx, o.PaymentID, toCard, reason)
		if err != nil {
			return err
		}
		if _, err := s.st.insertRefund(ctx, tx, o.ID, id, toCard, false, s.now()); err != nil {
			return err
		}
		refundID = id
	}
	o.Refunded.Amount += amount
	return outbox.Write(ctx, tx, newOrderRefunded(o, refundID, amount, toCards, reason, false))
}

// returnGiftCards gives back to the gift cards what they paid for an order
// whose card payment took nothing (voided, awaiting), when it is cancelled.
func (s *Service) returnGiftCards(ctx context.Context, tx *sqldb.Tx, o *Order, reason string) error {
	if left := o.Totals.GiftCard.Amount - o.GiftCardRefunded.Amount; left > 0 {
		return s.refund(ctx, tx, o, left, reason)
	}
	return nil
}

// byVariant returns the items in variant id order: the order in which every
// transaction locks stock rows, so that two of them cannot deadlock.
func byVariant(items []Item) []Item {
	return slices.SortedStableFunc(slices.Values(items), func(a, b Item) int { return strings.Compare(a.VariantID, b.VariantID) })
}

// restock puts qty of an item back on stock (a variant deleted since is
// skipped) and counts it as restocked.
func (s *Service) restock(ctx context.Context, tx *sqldb.Tx, o *Order, it Item, qty int64, actor string) error {
	if err := s.stock.Restock(ctx, tx, it.VariantID, qty, o.ID, actor); err != nil && !apperr.Is(err, apperr.NotFound) {
		return fmt.Errorf("restock %s: %w", it.SKU, err)
	}
	if err := s.st.restockItem(ctx, tx, it.ID, qty); err != nil {
		return fmt.Errorf("restock %s: %w", it.SKU, err)
	}
	return nil
}

// RefundInput asks for a refund: of Amount minor units, or of the Lines
// (item quantities), whose amount is then what those units cost after
// their share of the discounts (plus their share of the tax when prices
// exclude it). With Restock, the listed Items (or the Lines, or, when
// neither is given, every item not yet restocked) go back on stock.
type RefundInput struct {
	Amount  int64             `json:"amount"`
	Lines   []FulfillmentLine `json:"lines"`
	Restock bool              `json:"restock"`
	Items   []FulfillmentLine `json:"items"`
	Reason  string            `json:"reason"`
}

// Refund refunds a paid order fully or partially and writes order.refunded
// (a full refund makes the order refunded). The money goes back to the gift
// cards the order was paid with first, then to the card. An amount beyond
// what is left, both or neither of amount and lines, line quantities beyond
// what was not refunded yet, or restock quantities beyond what was not
// restocked yet, are Invalid (and move no money); an order whose payment is
// not captured is a Conflict.
func (s *Service) Refund(ctx context.Context, id string, in RefundInput, actor string) (Order, error) {
	var v apperr.Validator
	switch {
	case in.Amount != 0 && len(in.Lines) > 0:
		v.Add("amount", "give an amount or lines, not both")
	case len(in.Lines) == 0:
		v.Check(in.Amount >= 1 && in.Amount <= money.MaxAmount, "amount", "must be a positive amount in minor units")
	}
	checkText(&v, "reason", in.Reason, 500, true)
	v.Check(len(in.Items) <= 100, "items", "at most 100 items")
	v.Check(len(in.Lines) <= 100, "lines", "at most 100 lines")
	if err := v.Err(); err != nil {
		return Order{}, err
	}
	return s.transition(ctx, id, func(tx *sqldb.Tx, o *Order) error {
		if o.PaymentStatus != PaymentPaid && o.PaymentStatus != PaymentPartiallyRefunded {
			return apperr.Conflictf("cannot refund an order whose payment is %s", o.PaymentStatus)
		}
		byID := map[string]Item{}
		for _, it := range o.Items {
			byID[it.ID] = it
		}
		amount := in.Amount
		if len(in.Lines) > 0 {
			shares := lineShares(o)
			for i, l := range in.Lines {
				it, ok := byID[l.ItemID]
				if !ok {
					return apperr.Field(fmt.Sprintf("lines[%d].item_id", i), "no such item in this order")
				}
				if l.Quantity < 1 || it.Refunded+l.Quantity > it.Quantity {
					return apperr.Field(fmt.Sprintf("lines[%d].quantity", i), fmt.Sprintf("must be between 1 and %d (the units not refunded yet)", it.Quantity-it.Refunded))
				}
				// The units' part of what the line cost, cumulative so that
				// refunding every unit gives back the line's share exactly.
				share := shares[it.ID]
				amount += share*(it.Refunded+l.Quantity)/it.Quantity - share*it.Refunded/it.Quantity
				if err := s.st.refundItem(ctx, tx, it.ID, l.Quantity); err != nil {
					return err
				}
				it.Refunded += l.Quantity
				byID[it.ID] = it
			}
			if amount < 1 {
				return apperr.Field("lines", "these units cost nothing after their discount; there is nothing to refund")
			}
		}
		left := o.refundable()
		if amount > left {
			return apperr.Field("amount", fmt.Sprintf("must be at most %d (what is left to refund)", left))
		}
		// Check the items to restock before the provider moves any money.
		type restockLine struct {
			item Item
			qty  int64
		}
		var restock []restockLine
		if in.Restock {
			lines := in.Items
			if len(lines) == 0 {
				lines = in.Lines
			}
			if len(lines) == 0 {
				for _, it := range o.Items {
					if q := it.Quantity - it.Restocked; q > 0 {
						lines = append(lines, FulfillmentLine{ItemID: it.ID, Quantity: q})
					}
				}
			}
			for i, l := range lines {
				it, ok := byID[l.ItemID]
				if !ok {
					return apperr.Field(fmt.Sprintf("items[%d].item_id", i), "no such item in this order")
				}
				if l.Quantity < 1 || it.Restocked+l.Quantity > it.Quantity {
					return apperr.Field(fmt.Sprintf("items[%d].quantity", i), fmt.Sprintf("must be between 1 and %d", it.Quantity-it.Restocked))
				}
				restock = append(restock, restockLine{it, l.Quantity})
				it.Restocked += l.Quantity
				byID[l.ItemID] = it
			}
		}
		o.PaymentStatus = PaymentPartiallyRefunded
		if o.Refunded.Amount+amount == o.paidValue() {
			o.PaymentStatus, o.Status = PaymentRefunded, StatusRefunded
		}
		giftCardsBefore := o.GiftCardRefunded.Amount
		if err := s.refund(ctx, tx, o, amount, in.Reason); err != nil {
			return err
		}
		slices.SortStableFunc(restock, func(a, b restockLine) int { return strings.Compare(a.item.VariantID, b.item.VariantID) })
		for _, r := range restock {
			if err := s.restock(ctx, tx, o, r.item, r.qty, actor); err != nil {
				return err
			}
		}
		msg := "Refunded " + money.Money{Amount: amount, Currency: o.Currency}.Format()
		if g := o.GiftCardRefunded.Amount - giftCardsBefore; g > 0 {
			msg += " (" + money.Money{Amount: g, Currency: o.Currency}.Format() + " to gift cards)"
		}
		if in.Restock {
			msg += " with restock"
		}
		if in.Reason != "" {
			msg += ": " + in.Reason
		}
		return s.note(ctx, tx, o.ID, "refunded", msg, actor)
	})
}

// lineShares is, per item id, what the line cost the customer: its total
// less its share of the discounts, plus, when prices exclude tax, its share
// of the order's tax (the tax allocated over the lines' discounted totals
// and the shipping, by largest remainder, so the shares sum to the tax).
func lineShares(o *Order) map[string]int64 {
	out := make(map[string]int64, len(o.Items))
	weights := make([]int64, 0, len(o.Items)+1)
	for _, it := range o.Items {
		net := max(it.LineTotal.Amount-it.Discount.Amount, 0)
		out[it.ID] = net
		weights = append(weights, net)
	}
	if !o.TaxIncluded && o.Totals.Tax.Amount > 0 {
		tax := money.Allocate(o.Totals.Tax.Amount, append(weights, o.Totals.Shipping.Amount))
		for i, it := range o.Items {
			out[it.ID] += tax[i]
		}
	}
	return out
}

// Exists reports whether an order with this id exists (the checkout
// reconciler uses it to tell an orphan payment from a paid order).
func (s *Service) Exists(ctx context.Context, id string) (bool, error) {
	return s.st.exists(ctx, id)
}
