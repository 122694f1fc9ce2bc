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
	"unicode"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// Service runs checkouts.
type Service struct {
	db       *sqldb.DB
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
	return &Service{db: db, carts: carts, stock: stock, payments: payments, orders: orders, log: log, opt: opt,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// Response is a checkout answer as the client sees it; it is stored under
// the Idempotency-Key and replayed byte for byte.
type Response struct {
	Status int
	Body   []byte
}

// lockFor is how long one attempt owns its idempotency key; a crashed
// attempt's key can be taken over after this.
const lockFor = 2 * time.Minute

func validate(ctx context.Context, in *Input) error {
	var v apperr.Validator
	if in.Email == "" {
		if p, ok := auth.From(ctx); ok {
			in.Email = p.Email
		}
	}
	if e, err := customer.NormalizeEmail("email", in.Email); err != nil {
		var ae *apperr.Error
		errors.As(err, &ae)
		v.Add("email", ae.Fields[0].Message)
	} else {
		in.Email = e
	}
	a := &in.ShippingAddress
	for _, f := range []struct {
		name  string
		value *string
		req   bool
		max   int
	}{
		{"shipping_address.name", &a.Name, true, 100},
		{"shipping_address.line1", &a.Line1, true, 200},
		{"shipping_address.line2", &a.Line2, false, 200},
		{"shipping_address.city", &a.City, true, 100},
		{"shipping_address.postal_code", &a.PostalCode, true, 20},
	} {
		*f.value = strings.TrimSpace(*f.value)
		switch {
		case !utf8.ValidString(*f.value):
			v.Add(f.name, "must be valid UTF-8")
		case strings.IndexFunc(*f.value, unicode.IsControl) >= 0:
			v.Add(f.name, "must not contain control characters")
		case f.req && *f.value == "":
			v.Add(f.name, "is required")
		case utf8.RuneCountInString(*f.value) > f.max:
			v.Add(f.name, fmt.Sprintf("must be at most %d characters", f.max))
		}
	}
	a.Country = strings.ToUpper(strings.TrimSpace(a.Country))
	if !customer.ValidCountry(a.Country) {
		v.Add("shipping_address.country", "must be an ISO 3166-1 alpha-2 code such as DE")
	}
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

// Checkout runs (or replays) the checkout of cartID under idemKey. body is
// the raw request body (the key's fingerprint); in is its decoded form. The
// returned Response is what the client must see; err is only for failures
// whose answer must not be stored (the caller writes it as a problem and the
// client may retry with the same key).
//
// Only whoever may use the cart runs or replays its checkouts (NotFound for
// everybody else). Refused input (Invalid) and a cart that is not found are
// answered without storing anything, so the corrected request can reuse the
// key; every answer after that point is stored under the key.
func (s *Service) Checkout(ctx context.Context, cartID, idemKey string, body []byte, in Input) (Response, error) {
	if err := validKey(idemKey); err != nil {
		return Response{}, err
	}
	if err := s.carts.Access(ctx, cartID); err != nil {
		return Response{}, err
	}
	if err := validate(ctx, &in); err != nil {
		return Response{}, err
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	orderID, replay, err := s.begin(ctx, cartID, idemKey, hash)
	if err != nil || replay != nil {
		if replay != nil {
			return *replay, nil
		}
		return Response{}, err
	}
	q, err := s.prepare(ctx, cartID, in)
	if c := apperr.CodeOf(err); err != nil && (c == apperr.Invalid || c == apperr.NotFound) {
		s.forget(ctx, cartID, idemKey, orderID) // nothing was reserved or paid
		return Response{}, err
	}
	var resp Response
	if err == nil {
		resp, err = s.run(ctx, cartID, idemKey, orderID, in, q)
	}
	if err != nil {
		if web.StatusOf(err) >= 500 {
			s.unlock(ctx, cartID, idemKey, orderID) // let a retry run again
			return Response{}, err
		}
		if errors.Is(err, errSuperseded) {
			return Response{}, err
		}
		resp = problemResponse(err)
		if ferr := s.finish(ctx, nil, cartID, idemKey, orderID, resp); ferr != nil {
			return Response{}, ferr
		}
	}
	return resp, nil
}

func problemResponse(err error) Response {
	p := web.ProblemOf(err)
	b, _ := json.Marshal(p)
	return Response{Status: p.Status, Body: b}
}

// begin claims the idempotency key. It returns the order id to use, or a
// stored response to replay.
func (s *Service) begin(ctx context.Context, cartID, key, hash string) (string, *Response, error) {
	now := s.now()
	orderID := ids.New()
	_, err := s.db.ExecContext(ctx, `INSERT INTO checkout_requests (cart_id, idem_key, request_hash, order_id, status, locked_until, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'in_progress', ?, ?, ?)`, cartID, key, hash, orderID, now.Add(lockFor), now, now)
	if err == nil {
		return orderID, nil, nil
	}
	if !sqldb.IsUniqueViolation(err) {
		return "", nil, fmt.Errorf("idempotency key: %w", err)
	}
	var (
		storedHash, status, body string
		code                     int
		lockedUntil              time.Time
	)
	err = s.db.QueryRowContext(ctx, `SELECT request_hash, order_id, status, locked_until, response_status, response_body FROM checkout_requests WHERE cart_id = ? AND idem_key = ?`,
		cartID, key).Scan(&storedHash, &orderID, &status, &lockedUntil, &code, &body)
	if err != nil {
		return "", nil, fmt.Errorf("idempotency key: %w", err)
	}
	if storedHash != hash {
		return "", nil, &apperr.Error{Code: apperr.Unprocessable, Message: "this Idempotency-Key was used with a different request body",
			Fields: []apperr.FieldError{{Field: "Idempotency-Key", Message: "already used for another request; use a new key"}}}
	}
	if status == "done" {
		return "", &Response{Status: code, Body: []byte(body)}, nil
	}
	// In progress: wait for a running attempt, or take over a stale one (it
	// crashed, or failed with a 5xx) under a new order id. What the stale
	// attempt reserved then expires, and a payment it took is an orphan the
	// reconciler undoes, because no order ever gets its reference. Reusing
	// the id would commit the stale reservations with the new ones, and the
	// new order would hide the stale payment from the reconciler (a double
	// charge).
	orderID = ids.New()
	res, err := s.db.ExecContext(ctx, `UPDATE checkout_requests SET order_id = ?, locked_until = ?, updated_at = ? WHERE cart_id = ? AND idem_key = ? AND status = 'in_progress' AND locked_until < ?`,
		orderID, now.Add(lockFor), now, cartID, key, now)
	if err != nil {
		return "", nil, fmt.Errorf("idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return orderID, nil, nil
	}
	return "", nil, apperr.Conflictf("a checkout with this Idempotency-Key is in progress; retry shortly")
}

// errSuperseded: a retry took this attempt's key over (the attempt ran past
// its lock); the attempt must not store an answer or commit an order.
var errSuperseded = apperr.Conflictf("this checkout attempt was superseded by a retry with the same Idempotency-Key; retry to see its answer")

// finish stores the answer under the key, fenced by the attempt's order id:
// only the attempt that holds the key (the latest to claim it) may.
func (s *Service) finish(ctx context.Context, tx *sqldb.Tx, cartID, key, orderID string, r Response) error {
	q := sqldb.Querier(s.db)
	if tx != nil {
		q = tx
	}
	res, err := q.ExecContext(ctx, `UPDATE checkout_requests SET status = 'done', response_status = ?, response_body = ?, updated_at = ?
		WHERE cart_id = ? AND idem_key = ? AND order_id = ? AND status = 'in_progress'`, r.Status, string(r.Body), s.now(), cartID, key, orderID)
	if err != nil {
		return fmt.Errorf("store checkout response: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errSuperseded
	}
	return nil
}

// forget drops the claim on a key whose attempt did nothing, so that the
// key can be used again with another body. Should it fail, the claim
// expires after lockFor.
func (s *Service) forget(ctx context.Context, cartID, key, orderID string) {
	s.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM checkout_requests WHERE cart_id = ? AND idem_key = ? AND order_id = ? AND status = 'in_progress'`, cartID, key, orderID)
}

func (s *Service) unlock(ctx context.Context, cartID, key, orderID string) {
	s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE checkout_requests SET locked_until = ? WHERE cart_id = ? AND idem_key = ? AND order_id = ? AND status = 'in_progress'`,
		s.now().Add(-time.Second), cartID, key, orderID)
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
func (s *Service) run(ctx context.Context, cartID, idemKey, orderID string, in Input, q cart.Quote) (Response, error) {
	c := q.Cart
	lines := make([]inventory.Line, len(c.Items))
	for i, it := range c.Items {
		lines[i] = inventory.Line{VariantID: it.VariantID, Quantity: it.Quantity}
	}
	// Every transaction locks stock rows in variant id order, so that two
	// checkouts of the same items in another order cannot deadlock.
	slices.SortFunc(lines, func(a, b inventory.Line) int { return strings.Compare(a.VariantID, b.VariantID) })
	if _, err := s.stock.Reserve(ctx, orderID, lines, s.opt.ReservationTTL); err != nil {
		return Response{}, err
	}
	capture := !s.opt.CaptureOnFulfilment
	pay, err := s.payments.Pay(ctx, orderID, c.Totals.Total, in.PaymentMethod, capture)
	if err != nil {
		if rerr := s.stock.Release(context.WithoutCancel(ctx), nil, orderID, "payment failed"); rerr != nil {
			s.log.ErrorContext(ctx, "release stock after failed payment", "order_id", orderID, "err", rerr)
		}
		return Response{}, err
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
	var resp Response
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
		body, err := json.Marshal(Result{Order: o})
		if err != nil {
			return err
		}
		resp = Response{Status: 201, Body: body}
		if err := s.finish(ctx, tx, cartID, idemKey, orderID, resp); err != nil {
			return err
		}
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
			return Response{}, fmt.Errorf("checkout %s: %w", orderID, err)
		}
		return Response{}, err
	}
	return resp, nil
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
// replayable responses, including a guest's order access token).
func (s *Service) PurgeRequests(ctx context.Context, age time.Duration) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM checkout_requests WHERE created_at < ? AND status = 'done'`, s.now().Add(-age))
	if err != nil {
		return 0, fmt.Errorf("purge checkout requests: %w", err)
	}
	return res.RowsAffected()
}
