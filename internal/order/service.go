package order

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	Capture(ctx context.Context, paymentID string) (payment.Payment, error)
	Void(ctx context.Context, paymentID string) error
	Refund(ctx context.Context, tx *sqldb.Tx, paymentID string, amount int64, reason string, notify map[string]any) (string, error)
}

// Stock is what orders need of the inventory module.
type Stock interface {
	Restock(ctx context.Context, tx *sqldb.Tx, variantID string, qty int64, reference, actor string) error
}

// Service manages orders.
type Service struct {
	db       *sqldb.DB
	payments Payments
	stock    Stock
	now      func() time.Time
}

// NewService returns an order service.
func NewService(db *sqldb.DB, payments Payments, stock Stock) *Service {
	return &Service{db: db, payments: payments, stock: stock, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// NewOrder is what the checkout hands over to create an order.
type NewOrder struct {
	ID              string // chosen by the checkout before payment (payment reference)
	CustomerID      string
	Email           string
	Currency        string
	Items           []Item
	Totals          Totals
	TaxIncluded     bool
	ShippingAddress Address
	ShippingMethod  ShippingMethod
	PaymentID       string
	Captured        bool // payment captured (else authorized)
	CartID          string
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// Create stores an order inside the checkout's transaction, with its
// order.placed (and order.paid) events. It returns the order with its access
// token set (shown once to a guest).
func (s *Service) Create(ctx context.Context, tx *sqldb.Tx, in NewOrder) (Order, error) {
	// The counter row would be locked until this transaction commits; on
	// PostgreSQL a sequence gives the next number without a lock.
	next := `UPDATE order_counters SET value = value + 1 WHERE name = 'number' RETURNING value`
	if tx.Dialect() == sqldb.Postgres {
		next = `SELECT nextval('order_number_seq')`
	}
	var n int64
	if err := tx.QueryRowContext(ctx, next).Scan(&n); err != nil {
		return Order{}, fmt.Errorf("order number: %w", err)
	}
	now := s.now()
	o := Order{
		ID: in.ID, Number: strconv.FormatInt(n, 10), Email: in.Email, CustomerID: in.CustomerID, Currency: in.Currency,
		Items: in.Items, Totals: in.Totals, TaxIncluded: in.TaxIncluded, Refunded: money.Zero(in.Currency),
		ShippingAddress: in.ShippingAddress, ShippingMethod: in.ShippingMethod, PaymentID: in.PaymentID, CartID: in.CartID,
		Status: StatusPending, PaymentStatus: PaymentAuthorized, FulfillmentStatus: FulfillmentUnfulfilled,
		Fulfillments: []Fulfillment{}, CreatedAt: now, UpdatedAt: now,
		AccessToken: "oat_" + ids.Secret(24),
	}
	if in.Captured {
		o.Status, o.PaymentStatus = StatusPaid, PaymentPaid
	}
	addr, _ := json.Marshal(o.ShippingAddress)
	var cust any
	if o.CustomerID != "" {
		cust = o.CustomerID
	}
	t := o.Totals
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_orders (id, number, customer_id, email, access_token_hash, status, payment_status, fulfillment_status,
		currency, subtotal, discount, shipping, tax, total, tax_included, shipping_address, shipping_method_id, shipping_method, payment_id, cart_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.Number, cust, o.Email, hashToken(o.AccessToken), o.Status, o.PaymentStatus, o.FulfillmentStatus,
		o.Currency, t.Subtotal.Amount, t.Discount.Amount, t.Shipping.Amount, t.Tax.Amount, t.Total.Amount, o.TaxIncluded,
		string(addr), o.ShippingMethod.ID, o.ShippingMethod.Name, o.PaymentID, o.CartID, now, now); err != nil {
		return Order{}, fmt.Errorf("insert order: %w", err)
	}
	for i := range o.Items {
		it := &o.Items[i]
		it.ID = ids.New()
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_items (id, order_id, position, variant_id, product_id, sku, title, variant_title, quantity, unit_price, line_total)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, it.ID, o.ID, i, it.VariantID, it.ProductID, it.SKU, it.Title, it.VariantTitle, it.Quantity, it.UnitPrice.Amount, it.LineTotal.Amount); err != nil {
			return Order{}, fmt.Errorf("insert order item: %w", err)
		}
	}
	if err := s.note(ctx, tx, o.ID, "placed", fmt.Sprintf("Order placed (%s)", o.Totals.Total.Format()), "customer"); err != nil {
		return Order{}, err
	}
	lines := make([]map[string]any, len(o.Items))
	for i, it := range o.Items {
		lines[i] = map[string]any{"sku": it.SKU, "title": it.Title + variantSuffix(it.VariantTitle), "quantity": it.Quantity, "unit_price": it.UnitPrice, "line_total": it.LineTotal}
	}
	if err := outbox.Add(ctx, tx, "order.placed", o.ID, map[string]any{
		"order_id": o.ID, "number": o.Number, "email": o.Email, "customer_id": o.CustomerID, "currency": o.Currency,
		"items": lines, "totals": o.Totals, "shipping_address": o.ShippingAddress, "shipping_method": o.ShippingMethod.Name, "created_at": now,
	}); err != nil {
		return Order{}, err
	}
	if in.Captured {
		if err := outbox.Add(ctx, tx, "order.paid", o.ID, map[string]any{"order_id": o.ID, "number": o.Number, "email": o.Email, "amount": o.Totals.Total}); err != nil {
			return Order{}, err
		}
	}
	o.Timeline = []TimelineEntry{{Kind: "placed", Message: "Order placed", Actor: "customer", CreatedAt: now}}
	return o, nil
}

func variantSuffix(v string) string {
	if v == "" || v == "Default" {
		return ""
	}
	return " (" + v + ")"
}

func (s *Service) note(ctx context.Context, tx *sqldb.Tx, orderID, kind, msg, actor string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_timeline (id, order_id, kind, message, actor, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ids.New(), orderID, kind, msg, actor, s.now()); err != nil {
		return fmt.Errorf("order timeline: %w", err)
	}
	return nil
}

const orderCols = `id, number, COALESCE(customer_id, ''), email, access_token_hash, status, payment_status, fulfillment_status, currency,
	subtotal, discount, shipping, tax, total, tax_included, refunded, shipping_address, shipping_method_id, shipping_method, payment_id, cart_id, created_at, updated_at`

func scanOrder(row interface{ Scan(...any) error }) (Order, string, error) {
	var (
		o              Order
		tokenHash, adr string
		t              [5]int64
		refunded       int64
	)
	err := row.Scan(&o.ID, &o.Number, &o.CustomerID, &o.Email, &tokenHash, &o.Status, &o.PaymentStatus, &o.FulfillmentStatus, &o.Currency,
		&t[0], &t[1], &t[2], &t[3], &t[4], &o.TaxIncluded, &refunded, &adr, &o.ShippingMethod.ID, &o.ShippingMethod.Name, &o.PaymentID, &o.CartID, &o.CreatedAt, &o.UpdatedAt)
	if err != nil {
		return o, "", err
	}
	m := func(a int64) money.Money { return money.Money{Amount: a, Currency: o.Currency} }
	o.Totals = Totals{Subtotal: m(t[0]), Discount: m(t[1]), Shipping: m(t[2]), Tax: m(t[3]), Total: m(t[4])}
	o.ShippingMethod.Price = o.Totals.Shipping
	o.Refunded = m(refunded)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	json.Unmarshal([]byte(adr), &o.ShippingAddress)
	return o, tokenHash, nil
}

// get loads an order with its items, fulfilments and timeline; NotFound when unknown.
func (s *Service) get(ctx context.Context, q sqldb.Querier, id string) (Order, string, error) {
	if !ids.Plausible(id) {
		return Order{}, "", apperr.NotFoundf("order not found")
	}
	o, tokenHash, err := scanOrder(q.QueryRowContext(ctx, `SELECT `+orderCols+` FROM order_orders WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return o, "", apperr.NotFoundf("order not found")
	}
	if err != nil {
		return o, "", fmt.Errorf("get order: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT id, variant_id, product_id, sku, title, variant_title, quantity, fulfilled, restocked, unit_price, line_total
		FROM order_items WHERE order_id = ? ORDER BY position`, id)
	if err != nil {
		return o, "", fmt.Errorf("get order items: %w", err)
	}
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.ID, &it.VariantID, &it.ProductID, &it.SKU, &it.Title, &it.VariantTitle, &it.Quantity, &it.Fulfilled, &it.Restocked,
			&it.UnitPrice.Amount, &it.LineTotal.Amount); err != nil {
			rows.Close()
			return o, "", err
		}
		it.UnitPrice.Currency, it.LineTotal.Currency = o.Currency, o.Currency
		o.Items = append(o.Items, it)
	}
	rows.Close()
	o.Fulfillments = []Fulfillment{}
	rows, err = q.QueryContext(ctx, `SELECT id, tracking_number, items, shipped_at, created_at FROM order_fulfillments WHERE order_id = ? ORDER BY created_at, id`, id)
	if err != nil {
		return o, "", fmt.Errorf("get fulfillments: %w", err)
	}
	for rows.Next() {
		var (
			f       Fulfillment
			items   string
			shipped sql.NullTime
		)
		if err := rows.Scan(&f.ID, &f.TrackingNumber, &items, &shipped, &f.CreatedAt); err != nil {
			rows.Close()
			return o, "", err
		}
		json.Unmarshal([]byte(items), &f.Items)
		if shipped.Valid {
			t := shipped.Time.UTC()
			f.ShippedAt = &t
		}
		f.CreatedAt = f.CreatedAt.UTC()
		o.Fulfillments = append(o.Fulfillments, f)
	}
	rows.Close()
	o.Timeline = []TimelineEntry{}
	rows, err = q.QueryContext(ctx, `SELECT kind, message, actor, created_at FROM order_timeline WHERE order_id = ? ORDER BY created_at, id`, id)
	if err != nil {
		return o, "", fmt.Errorf("get timeline: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e TimelineEntry
		if err := rows.Scan(&e.Kind, &e.Message, &e.Actor, &e.CreatedAt); err != nil {
			return o, "", err
		}
		e.CreatedAt = e.CreatedAt.UTC()
		o.Timeline = append(o.Timeline, e)
	}
	return o, tokenHash, rows.Err()
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

// Get returns an order for staff (any order).
func (s *Service) Get(ctx context.Context, id string) (Order, error) {
	o, _, err := s.get(ctx, s.db, id)
	return o, err
}

// GetFor returns an order to whoever may see it: its customer (signed in),
// staff, or anyone holding its access token. Everybody else gets NotFound,
// whether or not the order exists.
func (s *Service) GetFor(ctx context.Context, id, accessToken string) (Order, error) {
	o, tokenHash, err := s.get(ctx, s.db, id)
	if err != nil {
		return Order{}, err
	}
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
	var where []string
	var args []any
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		var c struct {
			T  time.Time `json:"t"`
			ID string    `json:"id"`
		}
		if err != nil || json.Unmarshal(b, &c) != nil || !ids.Plausible(c.ID) {
			v.Add("cursor", "is not a cursor returned by this list")
		} else {
			where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
			args = append(args, c.T, c.T, c.ID)
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
	if q.CustomerID != "" {
		where = append(where, "customer_id = ?")
		args = append(args, q.CustomerID)
	}
	if q.Status != "" {
		where = append(where, "status = ?")
		args = append(args, q.Status)
	}
	if q.Email != "" {
		where = append(where, "email = ?")
		args = append(args, strings.ToLower(q.Email))
	}
	if !q.From.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, q.From.UTC())
	}
	if !q.To.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, q.To.UTC())
	}
	query := `SELECT ` + orderCols + ` FROM order_orders`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, q.Limit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return Page{}, fmt.Errorf("list orders: %w", err)
	}
	page := Page{Items: []Order{}}
	for rows.Next() {
		o, _, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return Page{}, fmt.Errorf("list orders: %w", err)
		}
		page.Items = append(page.Items, o)
	}
	rows.Close()
	if len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		last := page.Items[q.Limit-1]
		b, _ := json.Marshal(map[string]any{"t": last.CreatedAt, "id": last.ID})
		c := base64.RawURLEncoding.EncodeToString(b)
		page.NextCursor = &c
	}
	if err := s.loadItems(ctx, page.Items); err != nil {
		return Page{}, err
	}
	return page, nil
}

func (s *Service) loadItems(ctx context.Context, os []Order) error {
	if len(os) == 0 {
		return nil
	}
	idx := map[string]*Order{}
	args := make([]any, len(os))
	for i := range os {
		idx[os[i].ID] = &os[i]
		args[i] = os[i].ID
		os[i].Items = []Item{}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT order_id, id, variant_id, product_id, sku, title, variant_title, quantity, fulfilled, restocked, unit_price, line_total
		FROM order_items WHERE order_id IN (`+sqldb.Placeholders(len(os))+`) ORDER BY order_id, position`, args...)
	if err != nil {
		return fmt.Errorf("list order items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			oid string
			it  Item
		)
		if err := rows.Scan(&oid, &it.ID, &it.VariantID, &it.ProductID, &it.SKU, &it.Title, &it.VariantTitle, &it.Quantity, &it.Fulfilled, &it.Restocked,
			&it.UnitPrice.Amount, &it.LineTotal.Amount); err != nil {
			return err
		}
		o := idx[oid]
		it.UnitPrice.Currency, it.LineTotal.Currency = o.Currency, o.Currency
		o.Items = append(o.Items, it)
	}
	return rows.Err()
}

// transition applies fn to an order inside a transaction, after re-reading it.
func (s *Service) transition(ctx context.Context, id string, fn func(tx *sqldb.Tx, o *Order) error) (Order, error) {
	if err := s.db.InTx(ctx, func(tx *sqldb.Tx) error { return s.transitionIn(ctx, tx, id, fn) }); err != nil {
		return Order{}, err
	}
	return s.Get(ctx, id)
}

// transitionIn is transition inside the caller's transaction.
func (s *Service) transitionIn(ctx context.Context, tx *sqldb.Tx, id string, fn func(tx *sqldb.Tx, o *Order) error) error {
	o, _, err := s.get(ctx, tx, id)
	if err != nil {
		return err
	}
	if err := fn(tx, &o); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE order_orders SET status = ?, payment_status = ?, fulfillment_status = ?, refunded = ?, updated_at = ? WHERE id = ?`,
		o.Status, o.PaymentStatus, o.FulfillmentStatus, o.Refunded.Amount, s.now(), o.ID)
	return err
}

// ProviderCaptured marks the order paid after the payment provider reported
// a capture (payment.OrderSync).
func (s *Service) ProviderCaptured(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	return s.transitionIn(ctx, tx, orderID, func(tx *sqldb.Tx, o *Order) error {
		if o.PaymentStatus != PaymentAuthorized {
			return nil
		}
		o.PaymentStatus = PaymentPaid
		if o.Status == StatusPending {
			o.Status = StatusPaid
		}
		if err := s.note(ctx, tx, o.ID, "captured", "Payment captured at the payment provider", "payment provider"); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, "order.paid", o.ID, map[string]any{"order_id": o.ID, "number": o.Number, "email": o.Email, "amount": o.Totals.Total})
	})
}

// ProviderCanceled cancels an unfulfilled order whose authorization the
// provider cancelled, putting its items back on stock (payment.OrderSync).
func (s *Service) ProviderCanceled(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	return s.transitionIn(ctx, tx, orderID, func(tx *sqldb.Tx, o *Order) error {
		if o.PaymentStatus != PaymentAuthorized {
			return nil
		}
		o.PaymentStatus = PaymentVoided
		if o.Status != StatusPending || len(o.Fulfillments) > 0 {
			// Goods already left: staff must sort it out; the timeline says why.
			return s.note(ctx, tx, o.ID, "payment_voided", "The payment provider cancelled the payment after fulfilment started", "payment provider")
		}
		for _, it := range o.Items {
			if q := it.Quantity - it.Restocked; q > 0 {
				if err := s.restock(ctx, tx, o, it, q, "payment provider"); err != nil {
					return err
				}
			}
		}
		o.Status = StatusCancelled
		if err := s.note(ctx, tx, o.ID, "cancelled", "Order cancelled: the payment provider cancelled the payment", "payment provider"); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, "order.cancelled", o.ID, map[string]any{"order_id": o.ID, "number": o.Number, "email": o.Email, "reason": "payment cancelled"})
	})
}

// ProviderRefunded records a refund made at the payment provider (for
// example from its dashboard) on the order (payment.OrderSync).
func (s *Service) ProviderRefunded(ctx context.Context, tx *sqldb.Tx, orderID string, amount int64) (map[string]any, error) {
	var notify map[string]any
	err := s.transitionIn(ctx, tx, orderID, func(tx *sqldb.Tx, o *Order) error {
		amount = min(amount, o.Totals.Total.Amount-o.Refunded.Amount)
		if amount <= 0 {
			return nil
		}
		o.Refunded.Amount += amount
		o.PaymentStatus = PaymentPartiallyRefunded
		if o.Refunded.Amount == o.Totals.Total.Amount {
			o.PaymentStatus, o.Status = PaymentRefunded, StatusRefunded
		}
		notify = map[string]any{"email": o.Email, "number": o.Number}
		return s.note(ctx, tx, o.ID, "refunded", "Refunded "+money.Money{Amount: amount, Currency: o.Currency}.Format()+" at the payment provider", "payment provider")
	})
	return notify, err
}

func notAllowed(action string, o *Order) error {
	return apperr.Conflictf("cannot %s an order that is %s", action, o.Status)
}

// Fulfill records a parcel of items (partial fulfilment allowed). With a
// tracking number the parcel counts as shipped. In capture-on-fulfilment
// mode the authorized payment is captured first.
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
			if err := outbox.Add(ctx, tx, "order.paid", o.ID, map[string]any{"order_id": o.ID, "number": o.Number, "email": o.Email, "amount": o.Totals.Total}); err != nil {
				return err
			}
		}
		byID := map[string]*Item{}
		for i := range o.Items {
			byID[o.Items[i].ID] = &o.Items[i]
		}
		var evItems []map[string]any
		for i, l := range lines {
			it, ok := byID[l.ItemID]
			if !ok {
				return apperr.Field(fmt.Sprintf("items[%d].item_id", i), "no such item in this order")
			}
			if it.Fulfilled+l.Quantity > it.Quantity {
				return apperr.Field(fmt.Sprintf("items[%d].quantity", i), fmt.Sprintf("only %d left to fulfil", it.Quantity-it.Fulfilled))
			}
			res, err := tx.ExecContext(ctx, `UPDATE order_items SET fulfilled = fulfilled + ? WHERE id = ? AND fulfilled + ? <= quantity`, l.Quantity, it.ID, l.Quantity)
			if err != nil {
				return fmt.Errorf("fulfil item: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return apperr.Conflictf("item %s was fulfilled concurrently", it.SKU)
			}
			it.Fulfilled += l.Quantity
			evItems = append(evItems, map[string]any{"sku": it.SKU, "title": it.Title, "quantity": l.Quantity})
		}
		fid := ids.New()
		var shipped any
		if tracking != "" {
			shipped = s.now()
		}
		body, _ := json.Marshal(lines)
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_fulfillments (id, order_id, tracking_number, items, shipped_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			fid, o.ID, tracking, string(body), shipped, s.now()); err != nil {
			return fmt.Errorf("insert fulfillment: %w", err)
		}
		o.Fulfillments = append(o.Fulfillments, Fulfillment{ID: fid, TrackingNumber: tracking})
		if tracking != "" {
			now := s.now()
			o.Fulfillments[len(o.Fulfillments)-1].ShippedAt = &now
		}
		msg := fmt.Sprintf("Fulfilled %d item(s)", len(lines))
		if tracking != "" {
			msg += ", tracking " + tracking
		}
		if err := s.note(ctx, tx, o.ID, "fulfilled", msg, actor); err != nil {
			return err
		}
		if err := outbox.Add(ctx, tx, "order.fulfilled", o.ID, map[string]any{"order_id": o.ID, "number": o.Number, "email": o.Email,
			"fulfillment_id": fid, "tracking_number": tracking, "items": evItems}); err != nil {
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
	shipped, tracking := true, []string{}
	for _, f := range o.Fulfillments {
		shipped = shipped && f.ShippedAt != nil
		if f.TrackingNumber != "" {
			tracking = append(tracking, f.TrackingNumber)
		}
	}
	if !shipped {
		return nil
	}
	o.Status, o.FulfillmentStatus = StatusShipped, FulfillmentShipped
	if err := s.note(ctx, tx, o.ID, "shipped", "Order shipped", actor); err != nil {
		return err
	}
	return outbox.Add(ctx, tx, "order.shipped", o.ID, map[string]any{"order_id": o.ID, "number": o.Number, "email": o.Email, "tracking_number": strings.Join(tracking, ", ")})
}

// Ship marks a parcel shipped with a tracking number.
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
		if _, err := tx.ExecContext(ctx, `UPDATE order_fulfillments SET tracking_number = ?, shipped_at = ? WHERE id = ?`, tracking, now, f.ID); err != nil {
			return fmt.Errorf("ship: %w", err)
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

// Deliver marks a shipped order delivered.
func (s *Service) Deliver(ctx context.Context, id, actor string) (Order, error) {
	return s.transition(ctx, id, func(tx *sqldb.Tx, o *Order) error {
		if o.Status != StatusShipped {
			return notAllowed("mark delivered", o)
		}
		o.Status, o.FulfillmentStatus = StatusDelivered, FulfillmentDelivered
		if err := s.note(ctx, tx, o.ID, "delivered", "Order delivered", actor); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, "order.delivered", o.ID, map[string]any{"order_id": o.ID, "number": o.Number, "email": o.Email})
	})
}

// Cancel cancels an order that has not been fulfilled: the payment is voided
// (authorized) or refunded (captured) and every item goes back on stock.
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
	if o.PaymentStatus == PaymentAuthorized {
		if err := s.payments.Void(ctx, o.PaymentID); err != nil {
			return Order{}, fmt.Errorf("void payment: %w", err)
		}
	}
	return s.transition(ctx, id, func(tx *sqldb.Tx, o *Order) error {
		if (o.Status != StatusPending && o.Status != StatusPaid) || len(o.Fulfillments) > 0 {
			return notAllowed("cancel", o)
		}
		switch o.PaymentStatus {
		case PaymentAuthorized:
			o.PaymentStatus = PaymentVoided
		case PaymentPaid, PaymentPartiallyRefunded:
			left := o.Totals.Total.Amount - o.Refunded.Amount
			if left > 0 {
				if _, err := s.payments.Refund(ctx, tx, o.PaymentID, left, "order cancelled", map[string]any{"email": o.Email, "number": o.Number, "order_id": o.ID}); err != nil {
					return err
				}
			}
			o.Refunded.Amount += left
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
		return outbox.Add(ctx, tx, "order.cancelled", o.ID, map[string]any{"order_id": o.ID, "number": o.Number, "email": o.Email, "reason": reason})
	})
}

// byVariant returns the items in variant id order: the order in which every
// transaction locks stock rows, so that two of them cannot deadlock.
func byVariant(items []Item) []Item {
	return slices.SortedStableFunc(slices.Values(items), func(a, b Item) int { return strings.Compare(a.VariantID, b.VariantID) })
}

func (s *Service) restock(ctx context.Context, tx *sqldb.Tx, o *Order, it Item, qty int64, actor string) error {
	if err := s.stock.Restock(ctx, tx, it.VariantID, qty, o.ID, actor); err != nil && !apperr.Is(err, apperr.NotFound) {
		return fmt.Errorf("restock %s: %w", it.SKU, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE order_items SET restocked = restocked + ? WHERE id = ? AND restocked + ? <= quantity`, qty, it.ID, qty); err != nil {
		return fmt.Errorf("restock %s: %w", it.SKU, err)
	}
	return nil
}

// RefundInput asks for a refund of amount minor units; with Restock, the
// listed items (or, when none are listed, every item not yet restocked) go
// back on stock.
type RefundInput struct {
	Amount  int64             `json:"amount"`
	Restock bool              `json:"restock"`
	Items   []FulfillmentLine `json:"items"`
	Reason  string            `json:"reason"`
}

// Refund refunds a paid order fully or partially.
func (s *Service) Refund(ctx context.Context, id string, in RefundInput, actor string) (Order, error) {
	var v apperr.Validator
	v.Check(in.Amount >= 1 && in.Amount <= money.MaxAmount, "amount", "must be a positive amount in minor units")
	checkText(&v, "reason", in.Reason, 500, true)
	v.Check(len(in.Items) <= 100, "items", "at most 100 items")
	if err := v.Err(); err != nil {
		return Order{}, err
	}
	return s.transition(ctx, id, func(tx *sqldb.Tx, o *Order) error {
		if o.PaymentStatus != PaymentPaid && o.PaymentStatus != PaymentPartiallyRefunded {
			return apperr.Conflictf("cannot refund an order whose payment is %s", o.PaymentStatus)
		}
		left := o.Totals.Total.Amount - o.Refunded.Amount
		if in.Amount > left {
			return apperr.Field("amount", fmt.Sprintf("must be at most %d (what is left to refund)", left))
		}
		// Check the items to restock before the provider moves any money.
		type restockLine struct {
			item Item
			qty  int64
		}
		var restock []restockLine
		if in.Restock {
			byID := map[string]Item{}
			for _, it := range o.Items {
				byID[it.ID] = it
			}
			lines := in.Items
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
		if _, err := s.payments.Refund(ctx, tx, o.PaymentID, in.Amount, in.Reason, map[string]any{"email": o.Email, "number": o.Number, "order_id": o.ID}); err != nil {
			return err
		}
		o.Refunded.Amount += in.Amount
		o.PaymentStatus = PaymentPartiallyRefunded
		if o.Refunded.Amount == o.Totals.Total.Amount {
			o.PaymentStatus, o.Status = PaymentRefunded, StatusRefunded
		}
		slices.SortStableFunc(restock, func(a, b restockLine) int { return strings.Compare(a.item.VariantID, b.item.VariantID) })
		for _, r := range restock {
			if err := s.restock(ctx, tx, o, r.item, r.qty, actor); err != nil {
				return err
			}
		}
		msg := "Refunded " + money.Money{Amount: in.Amount, Currency: o.Currency}.Format()
		if in.Restock {
			msg += " with restock"
		}
		if in.Reason != "" {
			msg += ": " + in.Reason
		}
		return s.note(ctx, tx, o.ID, "refunded", msg, actor)
	})
}

// ExistsForReference reports whether an order with this id exists (the
// checkout reconciler uses it to tell an orphan payment from a paid order).
func (s *Service) Exists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM order_orders WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}
