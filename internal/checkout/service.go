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
	"github.com/mercato-shop/mercato/internal/money"
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
	if opt.AttemptTimeout <= 0 {
		opt.AttemptTimeout = DefaultAttemptTimeout
	}
	if opt.AwaitPayment <= 0 {
		opt.AwaitPayment = DefaultAwaitPayment
	}
	return &Service{db: db, requests: store{db: db}, carts: carts, stock: stock, payments: payments, orders: orders, log: log, opt: opt,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// DefaultAttemptTimeout bounds one checkout attempt: the provider calls
// and the database work of an attempt all end by then.
const DefaultAttemptTimeout = 20 * time.Second

// lockFor is how long one attempt owns its idempotency key: half as long
// again as an attempt may run, so that a live attempt (its clock skewed a
// little from the other instances') has always ended when a retry or the
// reconciler takes the key over, and never runs beside its successor.
func (s *Service) lockFor() time.Duration { return s.opt.AttemptTimeout * 3 / 2 }

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
	if in.ExpectedTotal != nil {
		v.Check(*in.ExpectedTotal >= 0 && *in.ExpectedTotal <= money.MaxAmount, "expected_total", "must be an amount in minor units, 0 or more")
	}
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

// CheckoutResult is Checkout with what an order awaiting its payment needs
// to complete it (nil when the payment is settled).
func (s *Service) CheckoutResult(ctx context.Context, cartID, key string, in Input) (Result, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return Result{}, fmt.Errorf("checkout: %w", err)
	}
	a, err := s.checkout(ctx, cartID, key, body, in)
	switch {
	case err != nil:
		return Result{}, err
	case a.refusal != nil:
		return Result{}, a.refusal
	}
	return Result{Order: a.order, Payment: a.payment}, nil
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
	att, replay, err := s.begin(ctx, cartID, key, hex.EncodeToString(sum[:]))
	if err != nil {
		return answer{}, err
	}
	if replay != nil {
		return *replay, nil
	}
	// The attempt ends within its timeout, well before its lock does (see
	// lockFor); what it must still record after that (an answer, a
	// compensation) runs without the deadline, fenced by the attempt.
	ctx, cancel := context.WithTimeout(ctx, s.opt.AttemptTimeout)
	defer cancel()
	q, err := s.prepare(ctx, cartID, att.orderID, in)
	if c := apperr.CodeOf(err); err != nil && (c == apperr.Invalid || c == apperr.NotFound) && att.n == 1 {
		s.forget(ctx, att) // nothing was reserved or paid
		return answer{}, err
	}
	var a answer
	if err == nil {
		a, err = s.run(ctx, att, in, q)
	} else if att.n > 1 {
		s.releaseRedemptions(ctx, att.orderID, "checkout refused") // what a dead attempt held
	}
	if err == nil {
		return a, nil
	}
	if apperr.CodeOf(err) == apperr.Internal {
		s.unlock(ctx, att) // let a retry run again
		return answer{}, err
	}
	if errors.Is(err, errSuperseded) {
		return answer{}, err
	}
	rec, rerr := refusedRecord(err)
	if rerr != nil {
		return answer{}, rerr
	}
	if rerr := s.finish(context.WithoutCancel(ctx), nil, att, rec); rerr != nil {
		return answer{}, rerr
	}
	return rec.answer()
}

// begin claims the idempotency key. It returns the attempt to run, or the
// stored answer to replay.
func (s *Service) begin(ctx context.Context, cartID, key, hash string) (attempt, *answer, error) {
	now := s.now()
	orderID, token := ids.New(), order.NewAccessToken()
	ok, err := s.requests.claim(ctx, cartID, key, hash, orderID, token, now, now.Add(s.lockFor()))
	if err != nil || ok {
		return attempt{cartID: cartID, key: key, orderID: orderID, n: 1, accessToken: token}, nil, err
	}
	r, err := s.requests.get(ctx, cartID, key)
	if isNoRows(err) {
		return attempt{}, nil, errInProgress // claimed and forgotten meanwhile
	}
	if err != nil {
		return attempt{}, nil, err
	}
	if r.hash != hash {
		return attempt{}, nil, &apperr.Error{Code: apperr.Unprocessable, Message: "this Idempotency-Key was used with a different request body",
			Fields: []apperr.FieldError{{Field: "Idempotency-Key", Message: "already used for another request; use a new key"}}}
	}
	if r.done {
		a, err := r.answer()
		if err != nil {
			return attempt{}, nil, fmt.Errorf("replay checkout %s: %w", r.orderID, err)
		}
		return attempt{}, &a, nil
	}
	// In progress: wait for a running attempt, or take over from a dead
	// one (it crashed, or failed with a 5xx) under the same order id. The
	// new attempt first settles what the dead ones left under that id (run
	// calls settlePrior): it releases their reservations and uses a payment
	// they took instead of paying again.
	if ok, err := s.requests.takeOver(ctx, cartID, key, r.attempt, now, now.Add(s.lockFor())); err != nil || ok {
		return attempt{cartID: cartID, key: key, orderID: r.orderID, n: r.attempt + 1, accessToken: r.accessToken}, nil, err
	}
	return attempt{}, nil, errInProgress
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
// by the attempt number: only the attempt that holds the key (the latest to
// claim it) may; any other gets errSuperseded.
func (s *Service) finish(ctx context.Context, tx *sqldb.Tx, att attempt, rec record) error {
	outcome, err := rec.encode()
	if err != nil {
		return fmt.Errorf("store checkout outcome: %w", err)
	}
	ok, err := s.requests.finish(ctx, tx, att, outcome, s.now())
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
func (s *Service) forget(ctx context.Context, att attempt) {
	if err := s.requests.forget(context.WithoutCancel(ctx), att); err != nil {
		s.log.WarnContext(ctx, "the key stays claimed until its lock expires", "attempt_order_id", att.orderID, "err", err)
	}
}

// unlock lets a retry take the key over at once (it settles what this
// attempt left). Should it fail, the claim expires after lockFor. (Logged
// without the cart id, as forget.)
func (s *Service) unlock(ctx context.Context, att attempt) {
	if err := s.requests.unlock(context.WithoutCancel(ctx), att, s.now().Add(-time.Second), false); err != nil {
		s.log.WarnContext(ctx, "the key stays locked until its lock expires", "attempt_order_id", att.orderID, "err", err)
	}
}

// prepare prices the cart for the validated input (for order orderID: what
// an earlier attempt of it holds counts as its own) and checks that it can
// be bought, before anything is reserved or paid. A cart whose prices
// changed is acknowledged (the next attempt buys at the new prices) and
// refused with Conflict.
func (s *Service) prepare(ctx context.Context, cartID, orderID string, in Input) (cart.Quote, error) {
	q, err := s.carts.QuoteFor(ctx, cartID, in.ShippingAddress.Country, in.ShippingMethodID, orderID)
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
	for _, st := range c.DiscountCodes {
		if !st.Applied {
			return q, CodeRefused(st.Code, st.Reason, st.Message)
		}
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
	if in.ExpectedTotal != nil && *in.ExpectedTotal != c.Totals.Total.Amount {
		return q, &apperr.Error{Code: apperr.Conflict,
			Message: fmt.Sprintf("the total to pay is now %s, not %s as shown (a gift card was used elsewhere, a promotion changed, or shipping or tax differ). Review the cart and check out again.",
				c.Totals.Total.Format(), money.Money{Amount: *in.ExpectedTotal, Currency: c.Currency}.Format()),
			Fields: []apperr.FieldError{{Field: "expected_total", Message: "the total to pay is now " + c.Totals.Total.Format()}},
			Detail: map[string]any{"total_changed": true, "total": c.Totals.Total}}
	}
	return q, nil
}

// CodeRefused is the checkout's refusal of a discount code on the cart that
// cannot be used (any more): a Conflict naming "code", extra.reason saying
// why (exhausted, expired, not_applicable, ...). Nothing is charged; the
// shopper removes the code (or fixes the cart) and checks out again.
func CodeRefused(code, reason, message string) error {
	if message == "" {
		message = "cannot be used"
	}
	return &apperr.Error{Code: apperr.Conflict,
		Message: fmt.Sprintf("discount code %s cannot be used: %s. Remove it from the cart, or try another, and check out again.", code, strings.TrimSuffix(message, ".")),
		Fields:  []apperr.FieldError{{Field: "code", Message: message}}, Detail: map[string]any{"code": code, "reason": reason}}
}

// run is one checkout attempt for a cart that prepare priced and checked.
// An attempt after the first settles what the earlier ones left first, and
// uses a payment one of them took instead of paying again.
//
// Before the payment it reserves the stock and then the redemptions (a
// promotion's use, a gift card's amount) under the order id; the order's
// transaction commits them; any failure before that commit gives them back.
func (s *Service) run(ctx context.Context, att attempt, in Input, q cart.Quote) (answer, error) {
	c := q.Cart
	orderID := att.orderID
	var prior *payment.Payment
	if att.n > 1 {
		p, err := s.settlePrior(ctx, orderID)
		if err != nil {
			return answer{}, err
		}
		prior = p
	}
	// refuse gives back what the attempt holds (and a payment an earlier
	// attempt took) before the checkout is refused with err.
	refuse := func(err error, why string) (answer, error) {
		s.releaseRedemptions(ctx, orderID, why)
		s.releaseStock(ctx, orderID, why)
		if prior != nil {
			if cerr := s.cancelPayment(ctx, *prior, "the checkout was refused"); cerr != nil {
				return answer{}, cerr
			}
		}
		return answer{}, err
	}
	lines := make([]inventory.Line, len(c.Items))
	for i, it := range c.Items {
		lines[i] = inventory.Line{VariantID: it.VariantID, Quantity: it.Quantity}
	}
	// Every transaction locks stock rows in variant id order, so that two
	// checkouts of the same items in another order cannot deadlock.
	slices.SortFunc(lines, func(a, b inventory.Line) int { return strings.Compare(a.VariantID, b.VariantID) })
	if _, err := s.stock.Reserve(ctx, orderID, lines, s.opt.ReservationTTL); err != nil {
		return refuse(err, "checkout refused")
	}
	customerID := customerOf(ctx)
	red := Redeem{CustomerID: customerID, Email: in.Email, Cart: c, Until: s.now().Add(s.opt.ReservationTTL)}
	for _, r := range s.opt.Redemptions {
		if err := r.Reserve(ctx, orderID, red); err != nil {
			return refuse(err, "checkout refused")
		}
	}
	var pay payment.Payment // none when the card pays nothing (gift cards, discounts)
	total := c.Totals.Total
	if prior != nil && prior.Amount == total {
		pay = *prior // what a crashed attempt paid: never charge twice
	} else {
		if prior != nil {
			if err := s.cancelPayment(ctx, *prior, "the order total changed before the checkout was retried"); err != nil {
				s.releaseRedemptions(ctx, orderID, "checkout failed")
				s.releaseStock(ctx, orderID, "checkout failed")
				return answer{}, err
			}
		}
		if total.Amount > 0 {
			var err error
			pay, err = s.payments.PayWith(ctx, payment.PayRequest{Reference: orderID, Amount: total, Method: in.PaymentMethod,
				Capture: !s.opt.CaptureOnFulfilment, Email: in.Email, Description: "Order " + orderID, ReturnURL: s.returnURL(ctx, att)})
			if err != nil {
				s.releaseRedemptions(ctx, orderID, "payment failed")
				s.releaseStock(ctx, orderID, "payment failed")
				return answer{}, err
			}
		}
	}

	items, discounts := orderLines(c)
	t := c.Totals
	awaiting := pay.Status == payment.StatusProcessing
	var a answer
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		o, err := s.orders.Create(ctx, tx, order.NewOrder{
			ID: orderID, CustomerID: customerID, Email: in.Email, Currency: c.Currency, Items: items, Discounts: discounts,
			Totals:      order.Totals{Subtotal: t.Subtotal, Discount: t.Discount, Shipping: t.Shipping, Tax: t.Tax, GiftCard: t.GiftCard, Total: t.Total},
			TaxIncluded: c.TaxIncluded, ShippingAddress: in.ShippingAddress,
			ShippingMethod: order.ShippingMethod{ID: q.Method.ID, Name: q.Method.Name, Price: q.Method.Price},
			PaymentID:      pay.ID, Captured: pay.ID == "" || pay.Status == payment.StatusCaptured, Awaiting: awaiting, CartID: c.ID,
			AccessToken: att.accessToken,
		})
		if err != nil {
			return fmt.Errorf("create order: %w", err)
		}
		if pay.ID != "" {
			if err := s.payments.AttachOrder(ctx, tx, pay.ID, orderID); err != nil {
				return err
			}
		}
		if err := s.carts.MarkConverted(ctx, tx, c.ID, orderID); err != nil {
			return err
		}
		for _, r := range s.opt.Redemptions {
			if err := r.Commit(ctx, tx, orderID); err != nil {
				return err
			}
		}
		if customerID != "" {
			o.AccessToken = "" // the owner signs in to see it
		}
		rec, err := placedRecord(o)
		if err != nil {
			return err
		}
		if awaiting {
			rec.Payment = &PaymentAction{ID: pay.ID, Provider: pay.Provider, Status: pay.Status, NextAction: pay.NextAction}
		}
		if err := s.finish(ctx, tx, att, rec); err != nil {
			return err
		}
		a = answer{order: o, doc: rec.Order, payment: rec.Payment}
		if awaiting {
			// The stock stays reserved for the order until its payment
			// succeeds (the order takes it then) or fails (it goes back).
			if err := s.stock.Hold(ctx, tx, orderID, s.now().Add(s.opt.AwaitPayment+s.lockFor())); err != nil {
				return fmt.Errorf("hold stock: %w", err)
			}
			return nil
		}
		// Last: a stock row is locked from here to the commit, and a
		// popular item's row is what concurrent checkouts queue on.
		if err := s.stock.Commit(ctx, tx, orderID, "checkout"); err != nil {
			return fmt.Errorf("commit stock: %w", err)
		}
		return nil
	})
	if err != nil {
		// The order did not commit: give the money, the redemptions and the stock back.
		if pay.ID != "" {
			if cerr := s.cancelPayment(ctx, pay, "checkout could not complete"); cerr != nil {
				s.log.ErrorContext(ctx, "compensate payment; the reconciler will retry", "payment_id", pay.ID, "err", cerr)
			}
		}
		s.releaseRedemptions(ctx, orderID, "checkout failed")
		s.releaseStock(ctx, orderID, "checkout failed")
		if apperr.CodeOf(err) == apperr.Internal {
			if s.superseded(ctx, att) {
				return answer{}, errSuperseded // its successor's order was in the way
			}
			return answer{}, fmt.Errorf("checkout %s: %w", orderID, err)
		}
		return answer{}, err
	}
	return a, nil
}

// orderLines are the cart's lines as order items, each with its share of
// the discounts (the sum of the discounts' allocations to it), and the
// discounts as the order keeps them.
func orderLines(c cart.Cart) ([]order.Item, []order.Discount) {
	share := map[string]int64{}
	discounts := make([]order.Discount, len(c.Discounts))
	for i, d := range c.Discounts {
		for _, l := range d.Lines {
			share[l.ItemID] += l.Amount.Amount
		}
		discounts[i] = order.Discount{PromotionID: d.PromotionID, Code: d.Code, Label: d.Label, Amount: d.Amount, FreeShipping: d.FreeShipping}
	}
	items := make([]order.Item, len(c.Items))
	for i, it := range c.Items {
		items[i] = order.Item{VariantID: it.VariantID, ProductID: it.ProductID, SKU: it.SKU, Title: it.Title, VariantTitle: it.VariantTitle,
			Quantity: it.Quantity, UnitPrice: it.UnitPrice, LineTotal: it.LineTotal,
			Discount: money.Money{Amount: min(share[it.ID], it.LineTotal.Amount), Currency: c.Currency}}
	}
	return items, discounts
}

// releaseRedemptions gives back what the redemptions hold under orderID;
// should one fail, the reconciler releases it when the attempt's lock has
// run out (or when the hold expires).
func (s *Service) releaseRedemptions(ctx context.Context, orderID, reason string) {
	for _, r := range s.opt.Redemptions {
		if err := r.Release(context.WithoutCancel(ctx), orderID); err != nil {
			s.log.ErrorContext(ctx, "release redemption after failed checkout", "order_id", orderID, "reason", reason, "err", err)
		}
	}
}

// customerOf returns the id of the signed-in customer the order is for; ""
// for a guest (or staff) order.
func customerOf(ctx context.Context) string {
	if p, ok := auth.From(ctx); ok && p.Role == auth.RoleCustomer {
		return p.AccountID
	}
	return ""
}

// returnURL is where a provider sends the shopper back after its page (3-D
// Secure, a hosted payment page): Options.ReturnURL for the order, with its
// access token for a guest; "" without the option.
func (s *Service) returnURL(ctx context.Context, att attempt) string {
	if s.opt.ReturnURL == nil {
		return ""
	}
	token := att.accessToken
	switch {
	case customerOf(ctx) != "":
		token = "" // the customer signs in to see it
	case token == "":
		return "" // a key claimed before the token was kept: the guest could not open it
	}
	return s.opt.ReturnURL(att.orderID, token)
}

// superseded reports whether another attempt took the key over from att.
func (s *Service) superseded(ctx context.Context, att attempt) bool {
	r, err := s.requests.get(context.WithoutCancel(ctx), att.cartID, att.key)
	return err == nil && r.attempt != att.n
}

// settlePrior settles what the earlier attempts under orderID left (they
// are dead: their lock ran out, or they failed): it releases their stock
// reservations and learns the outcome of payments whose answer they never
// recorded. Their redemptions stay: this attempt's Reserve finds them under
// the order id and keeps them (a promotion's use is not lost to another
// shopper meanwhile). It returns the successful payment no order claimed, for this
// attempt to use; should there be more than one, it undoes the others.
func (s *Service) settlePrior(ctx context.Context, orderID string) (*payment.Payment, error) {
	if err := s.stock.Release(ctx, nil, orderID, "checkout retried"); err != nil {
		return nil, fmt.Errorf("release the stock of an earlier attempt: %w", err)
	}
	ps, err := s.payments.ForReference(ctx, orderID)
	if err != nil {
		return nil, err
	}
	var use *payment.Payment
	for _, p := range ps {
		if p.Unresolved() {
			if p, err = s.payments.Resolve(ctx, p.ID); err != nil {
				return nil, internal("resolve the payment of an earlier attempt", err)
			}
		}
		if !p.Succeeded() || p.OrderID != "" {
			continue
		}
		if use == nil {
			use = &p
			continue
		}
		if err := s.cancelPayment(ctx, p, "a retry of the checkout used an earlier payment"); err != nil {
			return nil, err
		}
	}
	return use, nil
}

// cancelPayment undoes a payment no order claimed; a failure is internal
// (the reconciler undoes it later).
func (s *Service) cancelPayment(ctx context.Context, p payment.Payment, reason string) error {
	if _, err := s.payments.Cancel(context.WithoutCancel(ctx), p.ID, reason); err != nil {
		return internal("undo payment "+p.ID, err)
	}
	return nil
}

// releaseStock gives back the reservations of a failed attempt; should it
// fail, the reconciler does it when the attempt's lock has run out.
func (s *Service) releaseStock(ctx context.Context, orderID, reason string) {
	if err := s.stock.Release(context.WithoutCancel(ctx), nil, orderID, reason); err != nil {
		s.log.ErrorContext(ctx, "release stock after failed checkout", "order_id", orderID, "err", err)
	}
}

// internal makes err an internal error whatever its code: a refusal of a
// step of the checkout machinery must not be stored as the checkout's answer.
func internal(what string, err error) error {
	if apperr.CodeOf(err) == apperr.Internal {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %s", what, err)
}

// processingCheckAfter is how long a payment may stay processing before the
// reconciler asks its provider (its webhook may have been lost), and how
// long between two questions about the same payment.
const processingCheckAfter = 10 * time.Minute

// Reconciled counts what one Reconcile run did.
type Reconciled struct {
	Released  int // references whose expired reservations were released
	Settled   int // dead checkout attempts settled: stock released, payments resolved
	Resolved  int // payments whose unknown outcome was learnt from the provider
	Cancelled int // successful payments no order claimed, voided or refunded
	// Redemptions counts orders whose expired redemption holds (a
	// promotion's use, a gift card's amount) were released.
	Redemptions int
}

// Any reports whether the run did anything.
func (r Reconciled) Any() bool { return r != Reconciled{} }

// Reconcile cleans up after checkouts that did not finish; it runs
// periodically (and its steps are safe to run on several instances at
// once):
//   - a dead attempt (its lock ran out, nobody settled it) is settled under
//     the key, so that no retry runs meanwhile: its reservations are
//     released at once, and its payments' unknown outcomes are asked of the
//     provider; the shopper's retry then uses a payment it took;
//   - every other payment whose outcome is unknown is resolved the same way;
//   - a successful payment that no order claimed within orphanAge (the
//     shopper did not retry) is voided or refunded;
//   - reservations and redemption holds past their expiry are released (a
//     backstop).
func (s *Service) Reconcile(ctx context.Context, orphanAge time.Duration) (Reconciled, error) {
	var (
		r    Reconciled
		errs []error
	)
	stale, err := s.requests.stale(ctx, s.now(), 100)
	errs = append(errs, err)
	for _, req := range stale {
		resolved, ok, err := s.settleDead(ctx, req)
		r.Resolved += resolved
		if ok {
			r.Settled++
		}
		errs = append(errs, err)
	}
	unresolved, err := s.payments.Unresolved(ctx, s.now().Add(-s.lockFor()), 100)
	errs = append(errs, err)
	for _, p := range unresolved {
		if _, err := s.payments.Resolve(ctx, p.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		r.Resolved++
	}
	// Payments the provider decides later: ask after a while (a webhook may
	// have been lost), then once every processingCheckAfter, and cancel those
	// not completed in time (the order follows: cancelled, its stock
	// released).
	processing, err := s.payments.Processing(ctx, s.now().Add(-processingCheckAfter), 100)
	errs = append(errs, err)
	for _, p := range processing {
		expire := s.now().Sub(p.CreatedAt) > s.opt.AwaitPayment
		got, err := s.payments.Settle(ctx, p.ID, expire)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got.Status != payment.StatusProcessing {
			r.Settled++
		}
	}
	orphans, err := s.payments.Orphans(ctx, orphanAge)
	errs = append(errs, err)
	for _, p := range orphans {
		exists, err := s.orders.Exists(ctx, p.Reference)
		if err != nil || exists {
			errs = append(errs, err)
			continue
		}
		ok, err := s.payments.Cancel(ctx, p.ID, "no order was created for this payment")
		if err != nil {
			errs = append(errs, fmt.Errorf("cancel orphan payment %s: %w", p.ID, err))
		}
		if ok {
			r.Cancelled++
		}
	}
	r.Released, err = s.stock.ReleaseExpired(ctx)
	errs = append(errs, err)
	for _, red := range s.opt.Redemptions {
		n, err := red.ReleaseExpired(ctx)
		r.Redemptions += n
		errs = append(errs, err)
	}
	return r, errors.Join(errs...)
}

// settleDead takes a dead attempt's key over and settles what it left, then
// unlocks the key for the shopper's retry. It reports how many payments it
// resolved and whether it settled the attempt (false: someone else took the
// key meanwhile).
func (s *Service) settleDead(ctx context.Context, req request) (int, bool, error) {
	now := s.now()
	ok, err := s.requests.takeOver(ctx, req.cartID, req.key, req.attempt, now, now.Add(s.lockFor()))
	if err != nil || !ok {
		return 0, false, err
	}
	att := attempt{cartID: req.cartID, key: req.key, orderID: req.orderID, n: req.attempt + 1}
	resolved, err := s.settleAttempt(ctx, att.orderID)
	if uerr := s.requests.unlock(context.WithoutCancel(ctx), att, s.now().Add(-time.Second), err == nil); uerr != nil {
		err = errors.Join(err, uerr)
	}
	return resolved, err == nil, err
}

// settleAttempt releases the reservations and the redemptions under orderID
// and resolves its payments whose outcome is unknown; it returns how many
// it resolved.
func (s *Service) settleAttempt(ctx context.Context, orderID string) (int, error) {
	if err := s.stock.Release(ctx, nil, orderID, "checkout abandoned"); err != nil {
		return 0, err
	}
	for _, r := range s.opt.Redemptions {
		if err := r.Release(ctx, orderID); err != nil {
			return 0, fmt.Errorf("release the redemptions of a dead attempt: %w", err)
		}
	}
	ps, err := s.payments.ForReference(ctx, orderID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		if !p.Unresolved() {
			continue
		}
		if _, err := s.payments.Resolve(ctx, p.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// PurgeRequests deletes idempotency records older than age (they hold
// replayable answers, including a guest's order access token) and returns
// how many it deleted.
func (s *Service) PurgeRequests(ctx context.Context, age time.Duration) (int64, error) {
	return s.requests.purge(ctx, s.now().Add(-age), s.now())
}
