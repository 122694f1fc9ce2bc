package checkout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Service runs checkouts.
type Service struct {
	db       *sqldb.DB
	requests store
	carts    Carts
	stock    Stock
	payments Payments
	orders   Orders
	log      *slog.Logger
	opt      Options
	now      func() time.Time
}

// NewService returns a checkout service.
func NewService(db *sqldb.DB, carts Carts, stock Stock, payments Payments, orders Orders, log *slog.Logger, opt Options) *Service {
	if opt.ReservationTTL == 0 {
		opt.ReservationTTL = 15 * time.Minute
	}
	return &Service{db: db, requests: store{db: db}, carts: carts, stock: stock, payments: payments, orders: orders, log: log, opt: opt,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// lockFor is how long one attempt owns its idempotency key; a crashed
// attempt's key can be taken over after this.
const lockFor = 2 * time.Minute

// validate normalises the input (the e-mail defaults to the signed-in
// customer's) and returns an Invalid error naming every bad field.
func validate(ctx context.Context, in *Input) error {
	var v apperr.Validator
	if in.Email == "" {
		if p, ok := auth.From(ctx); ok {
			in.Email = p.Email
		}
	}
	if e, err := address.NormalizeEmail("email", in.Email); err != nil {
		var ae *apperr.Error
		errors.As(err, &ae)
		v.Add("email", ae.Fields[0].Message)
	} else {
		in.Email = e
	}
	in.ShippingAddress.Normalize()
	in.ShippingAddress.Check(&v, "shipping_address.")
	v.Check(in.ShippingAddress.PostalCode != "", "shipping_address.postal_code", "is required") // for the carrier
	v.Check(in.ShippingMethodID != "" && len(in.ShippingMethodID) <= 64, "shipping_method_id", "is required")
	switch {
	case in.PaymentMethod == "":
		v.Add("payment_method", "is required, e.g. pm_card_visa")
	case !payment.ValidMethod(in.PaymentMethod):
		v.Add("payment_method", "must be a payment method id such as pm_card_visa")
	}
	return v.Err()
}

// validKey checks an Idempotency-Key: 1 to 200 visible ASCII characters.
func validKey(key string) error {
	if key == "" {
		return apperr.Field("Idempotency-Key", "header is required: a unique value per checkout attempt, reused on retries")
	}
	if len(key) > 200 {
		return apperr.Field("Idempotency-Key", "must be at most 200 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return apperr.Field("Idempotency-Key", "must be visible ASCII characters (no spaces)")
		}
	}
	return nil
}

// Checkout places the order for the cart cartID under the Idempotency-Key
// key, or replays how the first checkout under the key ended. A retry under
// the key must send the same input (Unprocessable otherwise; the input is
// compared by its JSON form); it never pays or orders twice.
//
// It returns the order placed, or an error:
//   - Invalid (with a field per problem) for refused input or key, NotFound
//     for a cart the caller may not use; nothing is stored, so the
//     corrected request can reuse the key;
//   - a *Refusal when the checkout ran and was refused (PaymentFailed for a
//     declined payment, Conflict when stock ran out (SoldOut), prices changed
//     (PricesChanged) or the cart was already checked out, Unprocessable for
//     an empty or unbuyable cart); it is stored under the key, and every retry
//     gets it again;
//   - Conflict (not stored) while another attempt under the key is running,
//     or for an attempt a retry took the key over from (it ran past its
//     lock); the client retries to see the answer;
//   - an internal error (not stored: the client may retry with the key).
func (s *Service) Checkout(ctx context.Context, cartID, key string, in Input) (order.Order, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return order.Order{}, fmt.Errorf("checkout: %w", err)
	}
	a, err := s.checkout(ctx, cartID, key, body, in)
	switch {
	case err != nil:
		return order.Order{}, err
	case a.refusal != nil:
		return order.Order{}, a.refusal
	}
	return a.order, nil
}

// checkout is Checkout with the request's fingerprint: body, the request as
// the client sent it (an HTTP body), whose hash a retry must match.
//
// Only whoever may use the cart runs or replays its checkouts. Refused input
// and a cart that is not found are answered without storing anything; every
// answer after that point is stored under the key.
func (s *Service) checkout(ctx context.Context, cartID, key string, body []byte, in Input) (answer, error) {
	if err := validKey(key); err != nil {
		return answer{}, err
	}
	if err := s.carts.Access(ctx, cartID); err != nil {
		return answer{}, err
	}
	if err := validate(ctx, &in); err != nil {
		return answer{}, err
	}
	sum := sha256.Sum256(body)
	orderID, replay, err := s.begin(ctx, cartID, key, hex.EncodeToString(sum[:]))
	if err != nil {
		return answer{}, err
	}
	if replay != nil {
		return *replay, nil
	}
	q, err := s.prepare(ctx, cartID, in)
	if c := apperr.CodeOf(err); err != nil && (c == apperr.Invalid || c == apperr.NotFound) {
		s.forget(ctx, cartID, key, orderID) // nothing was reserved or paid
		return answer{}, err
	}
	var a answer
	if err == nil {
		a, err = s.run(ctx, cartID, key, orderID, in, q)
	}
	if err == nil {
		return a, nil
	}
	if apperr.CodeOf(err) == apperr.Internal {
		s.unlock(ctx, cartID, key, orderID) // let a retry run again
		return answer{}, err
	}
	if errors.Is(err, errSuperseded) {
		return answer{}, err
	}
	rec, rerr := refusedRecord(err)
	if rerr != nil {
		return answer{}, rerr
	}
	if rerr := s.finish(ctx, nil, cartID, key, orderID, rec); rerr != nil {
		return answer{}, rerr
	}
	return rec.answer()
}

// begin claims the idempotency key. It returns the order id to use, or the
// stored answer to replay.
func (s *Service) begin(ctx context.Context, cartID, key, hash string) (string, *answer, error) {
	now := s.now()
	orderID := ids.New()
	ok, err := s.requests.claim(ctx, cartID, key, hash, orderID, now, now.Add(lockFor))
	if err != nil || ok {
		return orderID, nil, err
	}
	r, err := s.requests.get(ctx, cartID, key)
	if isNoRows(err) {
		return "", nil, errInProgress // claimed and forgotten meanwhile
	}
	if err != nil {
		return "", nil, err
	}
	if r.hash != hash {
		return "", nil, &apperr.Error{Code: apperr.Unprocessable, Message: "this Idempotency-Key was used with a different request body",
			Fields: []apperr.FieldError{{Field: "Idempotency-Key", Message: "already used for another request; use a new key"}}}
	}
	if r.done {
		a, err := r.answer()
		if err != nil {
			return "", nil, fmt.Errorf("replay checkout %s: %w", r.orderID, err)
		}
		return "", &a, nil
	}
	// In progress: wait for a running attempt, or take over a stale one (it
	// crashed, or failed with a 5xx) under a new order id. What the stale
	// attempt reserved then expires, and a payment it took is an orphan the
	// reconciler undoes, because no order ever gets its reference. Reusing
	// the id would commit the stale reservations with the new ones, and the
	// new order would hide the stale payment from the reconciler (a double
	// charge).
	orderID = ids.New()
	if ok, err := s.requests.takeOver(ctx, cartID, key, orderID, now, now.Add(lockFor)); err != nil || ok {
		return orderID, nil, err
	}
	return "", nil, errInProgress
}

// answer is the stored answer of a done request.
func (r request) answer() (answer, error) {
	var (
		rec record
		err error
	)
	if r.outcome != "" {
		rec, err = decodeRecord(r.outcome)
	} else {
		rec, err = legacyRecord(r.legacyStatus, r.legacyBody)
	}
	if err != nil {
		return answer{}, err
	}
	return rec.answer()
}

var errInProgress = apperr.Conflictf("a checkout with this Idempotency-Key is in progress; retry shortly")

// errSuperseded: a retry took this attempt's key over (the attempt ran past
// its lock); the attempt must not store an answer or commit an order.
var errSuperseded = apperr.Conflictf("this checkout attempt was superseded by a retry with the same Idempotency-Key; retry to see its answer")

// finish stores the outcome under the key, in tx when it is not nil, fenced
// by the attempt's order id: only the attempt that holds the key (the latest
// to claim it) may; any other gets errSuperseded.
func (s *Service) finish(ctx context.Context, tx *sqldb.Tx, cartID, key, orderID string, rec record) error {
	outcome, err := rec.encode()
	if err != nil {
		return fmt.Errorf("store checkout outcome: %w", err)
	}
	ok, err := s.requests.finish(ctx, tx, cartID, key, orderID, outcome, s.now())
	if err != nil {
		return err
	}
	if !ok {
		return errSuperseded
	}
	return nil
}

// forget drops the claim on a key whose attempt did nothing, so that the
// key can be used again with another body. Should it fail, the claim
// expires after lockFor. The log names the attempt by its order id (the
// checkout_requests row's order_id), never by the cart id: a guest cart's
// id opens the cart, so it is a credential that logs must not carry.
func (s *Service) forget(ctx context.Context, cartID, key, orderID string) {
	if err := s.requests.forget(context.WithoutCancel(ctx), cartID, key, orderID); err != nil {
		s.log.WarnContext(ctx, "the key stays claimed until its lock expires", "attempt_order_id", orderID, "err", err)
	}
}

// unlock lets a retry take the key over at once. Should it fail, the claim
// expires after lockFor. (Logged without the cart id, as forget.)
func (s *Service) unlock(ctx context.Context, cartID, key, orderID string) {
	if err := s.requests.unlock(context.WithoutCancel(ctx), cartID, key, orderID, s.now().Add(-time.Second)); err != nil {
		s.log.WarnContext(ctx, "the key stays locked until its lock expires", "attempt_order_id", orderID, "err", err)
	}
}

// prepare prices the cart for the validated input and checks that it can
// be bought, before anything is reserved or paid. A cart whose prices
// changed is acknowledged (the next attempt buys at the new prices) and
// refused with Conflict.
func (s *Service) prepare(ctx context.Context, cartID string, in Input) (cart.Quote, error) {
	q, err := s.carts.Quote(ctx, cartID, in.ShippingAddress.Country, in.ShippingMethodID)
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code == apperr.Invalid && len(ae.Fields) == 1 && ae.Fields[0].Field == "country" {
		// The shipping module names its own parameter; the client sent shipping_address.country.
		return q, apperr.Field("shipping_address.country", ae.Fields[0].Message)
	}
	if err != nil {
		return q, err
	}
	c := q.Cart
	if c.Status != "active" {
		return q, apperr.Conflictf("cart was already checked out")
	}
	if len(c.Items) == 0 {
		return q, &apperr.Error{Code: apperr.Unprocessable, Message: "the cart is empty"}
	}
	var v apperr.Validator
	for i, it := range c.Items {
		v.Check(it.Purchasable, fmt.Sprintf("items[%d]", i), it.SKU+" is no longer for sale; remove it from the cart")
	}
	if err := v.Err(); err != nil {
		return q, &apperr.Error{Code: apperr.Unprocessable, Message: "the cart has items that cannot be bought", Fields: err.(*apperr.Error).Fields}
	}
	if c.PriceChanged {
		if err := s.carts.AcknowledgePrices(ctx, c); err != nil {
			return q, err
		}
		var changed []string
		for _, it := range c.Items {
			if it.PriceChanged {
				changed = append(changed, fmt.Sprintf("%s: %s → %s", it.SKU, it.PreviousUnitPrice.Format(), it.UnitPrice.Format()))
			}
		}
		return q, &apperr.Error{Code: apperr.Conflict, Message: "prices changed since you added these items: " + strings.Join(changed, "; ") + ". Review the cart and check out again.",
			Detail: map[string]any{"price_changed": true, "total": c.Totals.Total}}
	}
	if q.Method == nil {
		return q, apperr.Field("shipping_method_id", "no shipping method available")
	}
	return q, nil
}

// run is one checkout attempt under an order id fixed by the idempotency
// key, for a cart that prepare priced and checked.
func (s *Service) run(ctx context.Context, cartID, idemKey, orderID string, in Input, q cart.Quote) (answer, error) {
	c := q.Cart
	lines := make([]inventory.Line, len(c.Items))
	for i, it := range c.Items {
		lines[i] = inventory.Line{VariantID: it.VariantID, Quantity: it.Quantity}
	}
	// Every transaction locks stock rows in variant id order, so that two
	// checkouts of the same items in another order cannot deadlock.
	slices.SortFunc(lines, func(a, b inventory.Line) int { return strings.Compare(a.VariantID, b.VariantID) })
	if _, err := s.stock.Reserve(ctx, orderID, lines, s.opt.ReservationTTL); err != nil {
		return answer{}, err
	}
	capture := !s.opt.CaptureOnFulfilment
	pay, err := s.payments.Pay(ctx, orderID, c.Totals.Total, in.PaymentMethod, capture)
	if err != nil {
		if rerr := s.stock.Release(context.WithoutCancel(ctx), nil, orderID, "payment failed"); rerr != nil {
			s.log.ErrorContext(ctx, "release stock after failed payment", "order_id", orderID, "err", rerr)
		}
		return answer{}, err
	}

	customerID := ""
	if p, ok := auth.From(ctx); ok && p.Role == auth.RoleCustomer {
		customerID = p.AccountID
	}
	items := make([]order.Item, len(c.Items))
	for i, it := range c.Items {
		items[i] = order.Item{VariantID: it.VariantID, ProductID: it.ProductID, SKU: it.SKU, Title: it.Title, VariantTitle: it.VariantTitle,
			Quantity: it.Quantity, UnitPrice: it.UnitPrice, LineTotal: it.LineTotal}
	}
	t := c.Totals
	var a answer
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		o, err := s.orders.Create(ctx, tx, order.NewOrder{
			ID: orderID, CustomerID: customerID, Email: in.Email, Currency: c.Currency, Items: items,
			Totals:      order.Totals{Subtotal: t.Subtotal, Discount: t.Discount, Shipping: t.Shipping, Tax: t.Tax, Total: t.Total},
			TaxIncluded: c.TaxIncluded, ShippingAddress: in.ShippingAddress,
			ShippingMethod: order.ShippingMethod{ID: q.Method.ID, Name: q.Method.Name, Price: q.Method.Price},
			PaymentID:      pay.ID, Captured: capture, CartID: cartID,
		})
		if err != nil {
			return fmt.Errorf("create order: %w", err)
		}
		if err := s.payments.AttachOrder(ctx, tx, pay.ID, orderID); err != nil {
			return err
		}
		if err := s.carts.MarkConverted(ctx, tx, cartID, orderID); err != nil {
			return err
		}
		if customerID != "" {
			o.AccessToken = "" // the owner signs in to see it
		}
		rec, err := placedRecord(o)
		if err != nil {
			return err
		}
		if err := s.finish(ctx, tx, cartID, idemKey, orderID, rec); err != nil {
			return err
		}
		a = answer{order: o, doc: rec.Order}
		// Last: a stock row is locked from here to the commit, and a
		// popular item's row is what concurrent checkouts queue on.
		if err := s.stock.Commit(ctx, tx, orderID, "checkout"); err != nil {
			return fmt.Errorf("commit stock: %w", err)
		}
		return nil
	})
	if err != nil {
		// The order did not commit: give the money and the stock back.
		bg := context.WithoutCancel(ctx)
		if cerr := s.payments.Cancel(bg, pay.ID, "checkout could not complete"); cerr != nil {
			s.log.ErrorContext(ctx, "compensate payment; the reconciler will retry", "payment_id", pay.ID, "err", cerr)
		}
		if rerr := s.stock.Release(bg, nil, orderID, "checkout failed"); rerr != nil {
			s.log.ErrorContext(ctx, "release stock after failed checkout", "order_id", orderID, "err", rerr)
		}
		if apperr.CodeOf(err) == apperr.Internal {
			return answer{}, fmt.Errorf("checkout %s: %w", orderID, err)
		}
		return answer{}, err
	}
	return a, nil
}

// Reconcile releases expired reservations and undoes payments that no order
// claimed (what a crash between payment and order commit leaves behind).
// It runs periodically; age must exceed the longest checkout.
func (s *Service) Reconcile(ctx context.Context, age time.Duration) (released, cancelled int, err error) {
	released, err = s.stock.ReleaseExpired(ctx)
	if err != nil {
		return 0, 0, err
	}
	orphans, err := s.payments.Orphans(ctx, age)
	if err != nil {
		return released, 0, err
	}
	for _, p := range orphans {
		exists, err := s.orders.Exists(ctx, p.Reference)
		if err != nil {
			return released, cancelled, err
		}
		if exists {
			continue
		}
		if err := s.payments.Cancel(ctx, p.ID, "no order was created for this payment"); err != nil {
			return released, cancelled, fmt.Errorf("cancel orphan payment %s: %w", p.ID, err)
		}
		if err := s.stock.Release(ctx, nil, p.Reference, "checkout abandoned"); err != nil {
			return released, cancelled, err
		}
		cancelled++
	}
	return released, cancelled, nil
}

// PurgeRequests deletes idempotency records older than age (they hold
// replayable answers, including a guest's order access token) and returns
// how many it deleted.
func (s *Service) PurgeRequests(ctx context.Context, age time.Duration) (int64, error) {
	return s.requests.purge(ctx, s.now().Add(-age))
}
