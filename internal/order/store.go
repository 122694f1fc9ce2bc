package order

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store is the order module's SQL: orders, their items, parcels, timeline
// and refunds. The same statements run on SQLite and PostgreSQL.
type store struct{ db *sqldb.DB }

// nextNumber returns the next order number. On SQLite a counter row is
// incremented (the writer is alone anyway); on PostgreSQL a sequence gives
// the next number without a lock that would be held until tx commits.
func (s store) nextNumber(ctx context.Context, tx *sqldb.Tx) (int64, error) {
	next := `UPDATE order_counters SET value = value + 1 WHERE name = 'number' RETURNING value`
	if tx.Dialect() == sqldb.Postgres {
		next = `SELECT nextval('order_number_seq')`
	}
	var n int64
	if err := tx.QueryRowContext(ctx, next).Scan(&n); err != nil {
		return 0, fmt.Errorf("order number: %w", err)
	}
	return n, nil
}

// insert writes a new order and its items (giving each item its id).
func (s store) insert(ctx context.Context, tx *sqldb.Tx, o *Order, tokenHash string) error {
	addr, _ := json.Marshal(o.ShippingAddress)
	var cust any
	if o.CustomerID != "" {
		cust = o.CustomerID
	}
	t := o.Totals
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_orders (id, number, customer_id, email, access_token_hash, status, payment_status, fulfillment_status,
		currency, subtotal, discount, shipping, tax, total, gift_card, tax_included, shipping_address, shipping_method_id, shipping_method, payment_id, cart_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.Number, cust, o.Email, tokenHash, o.Status, o.PaymentStatus, o.FulfillmentStatus,
		o.Currency, t.Subtotal.Amount, t.Discount.Amount, t.Shipping.Amount, t.Tax.Amount, t.Total.Amount, t.GiftCard.Amount, o.TaxIncluded,
		string(addr), o.ShippingMethod.ID, o.ShippingMethod.Name, o.PaymentID, o.CartID, o.CreatedAt, o.UpdatedAt); err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	for i := range o.Items {
		it := &o.Items[i]
		it.ID = ids.New()
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_items (id, order_id, position, variant_id, product_id, sku, title, variant_title, quantity, unit_price, line_total, discount)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, it.ID, o.ID, i, it.VariantID, it.ProductID, it.SKU, it.Title, it.VariantTitle, it.Quantity, it.UnitPrice.Amount, it.LineTotal.Amount, it.Discount.Amount); err != nil {
			return fmt.Errorf("insert order item: %w", err)
		}
	}
	for i, d := range o.Discounts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_discounts (order_id, position, promotion_id, code, label, amount, free_shipping) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			o.ID, i, d.PromotionID, d.Code, d.Label, d.Amount.Amount, d.FreeShipping); err != nil {
			return fmt.Errorf("insert order discount: %w", err)
		}
	}
	return nil
}

// note appends an entry to an order's timeline.
func (s store) note(ctx context.Context, tx *sqldb.Tx, orderID string, e TimelineEntry) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_timeline (id, order_id, kind, message, actor, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ids.New(), orderID, e.Kind, e.Message, e.Actor, e.CreatedAt); err != nil {
		return fmt.Errorf("order timeline: %w", err)
	}
	return nil
}

const orderCols = `id, number, COALESCE(customer_id, ''), email, access_token_hash, status, payment_status, fulfillment_status, currency,
	subtotal, discount, shipping, tax, total, gift_card, tax_included, refunded, gift_card_refunded, shipping_address, shipping_method_id, shipping_method, payment_id, cart_id, created_at, updated_at`

// storedOrder is an order row with its access token's hash.
type storedOrder struct {
	Order
	tokenHash string
}

func scanOrder(row sqldb.Scanner) (storedOrder, error) {
	var (
		so       storedOrder
		adr      string
		t        [6]int64
		refunded int64
		gcRef    int64
	)
	o := &so.Order
	err := row.Scan(&o.ID, &o.Number, &o.CustomerID, &o.Email, &so.tokenHash, &o.Status, &o.PaymentStatus, &o.FulfillmentStatus, &o.Currency,
		&t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &o.TaxIncluded, &refunded, &gcRef, &adr, &o.ShippingMethod.ID, &o.ShippingMethod.Name, &o.PaymentID, &o.CartID, &o.CreatedAt, &o.UpdatedAt)
	if err != nil {
		return so, err
	}
	m := func(a int64) money.Money { return money.Money{Amount: a, Currency: o.Currency} }
	o.Totals = Totals{Subtotal: m(t[0]), Discount: m(t[1]), Shipping: m(t[2]), Tax: m(t[3]), Total: m(t[4]), GiftCard: m(t[5])}
	o.ShippingMethod.Price = o.Totals.Shipping
	o.Refunded, o.GiftCardRefunded = m(refunded), m(gcRef)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	json.Unmarshal([]byte(adr), &o.ShippingAddress)
	return so, nil
}

const itemCols = `id, variant_id, product_id, sku, title, variant_title, quantity, fulfilled, restocked, unit_price, line_total, discount, refunded_quantity`

func scanItem(row sqldb.Scanner, extra ...any) (Item, error) {
	var it Item
	err := row.Scan(append(extra, &it.ID, &it.VariantID, &it.ProductID, &it.SKU, &it.Title, &it.VariantTitle, &it.Quantity, &it.Fulfilled, &it.Restocked,
		&it.UnitPrice.Amount, &it.LineTotal.Amount, &it.Discount.Amount, &it.Refunded)...)
	return it, err
}

const discountCols = `promotion_id, code, label, amount, free_shipping`

func scanDiscount(row sqldb.Scanner, extra ...any) (Discount, error) {
	var d Discount
	err := row.Scan(append(extra, &d.PromotionID, &d.Code, &d.Label, &d.Amount.Amount, &d.FreeShipping)...)
	return d, err
}

func scanFulfillment(row sqldb.Scanner) (Fulfillment, error) {
	var (
		f       Fulfillment
		items   string
		shipped sql.NullTime
	)
	if err := row.Scan(&f.ID, &f.TrackingNumber, &items, &shipped, &f.CreatedAt); err != nil {
		return f, err
	}
	json.Unmarshal([]byte(items), &f.Items)
	if shipped.Valid {
		t := shipped.Time.UTC()
		f.ShippedAt = &t
	}
	f.CreatedAt = f.CreatedAt.UTC()
	return f, nil
}

func scanTimelineEntry(row sqldb.Scanner) (TimelineEntry, error) {
	var e TimelineEntry
	err := row.Scan(&e.Kind, &e.Message, &e.Actor, &e.CreatedAt)
	e.CreatedAt = e.CreatedAt.UTC()
	return e, err
}

// get loads an order with its items, fulfilments and timeline; NotFound
// when unknown (or when id cannot be an order id).
func (s store) get(ctx context.Context, q sqldb.Querier, id string) (storedOrder, error) {
	if !ids.Plausible(id) {
		return storedOrder{}, apperr.NotFoundf("order not found")
	}
	so, err := scanOrder(q.QueryRowContext(ctx, `SELECT `+orderCols+` FROM order_orders WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return so, apperr.NotFoundf("order not found")
	}
	if err != nil {
		return so, fmt.Errorf("get order: %w", err)
	}
	o := &so.Order
	if o.Items, err = sqldb.All(ctx, q, "get order items", func(row sqldb.Scanner) (Item, error) { return scanItem(row) },
		`SELECT `+itemCols+` FROM order_items WHERE order_id = ? ORDER BY position`, id); err != nil {
		return so, err
	}
	for i := range o.Items {
		o.Items[i].UnitPrice.Currency, o.Items[i].LineTotal.Currency, o.Items[i].Discount.Currency = o.Currency, o.Currency, o.Currency
	}
	if o.Discounts, err = sqldb.All(ctx, q, "get order discounts", func(row sqldb.Scanner) (Discount, error) { return scanDiscount(row) },
		`SELECT `+discountCols+` FROM order_discounts WHERE order_id = ? ORDER BY position`, id); err != nil {
		return so, err
	}
	for i := range o.Discounts {
		o.Discounts[i].Amount.Currency = o.Currency
	}
	if o.Fulfillments, err = sqldb.All(ctx, q, "get fulfillments", scanFulfillment,
		`SELECT id, tracking_number, items, shipped_at, created_at FROM order_fulfillments WHERE order_id = ? ORDER BY created_at, id`, id); err != nil {
		return so, err
	}
	if o.Timeline, err = sqldb.All(ctx, q, "get timeline", scanTimelineEntry,
		`SELECT kind, message, actor, created_at FROM order_timeline WHERE order_id = ? ORDER BY created_at, id`, id); err != nil {
		return so, err
	}
	return so, nil
}

// update re-reads an order in the caller's transaction (or one of its own
// when tx is nil), applies fn and writes back the order's statuses and
// refunded amount. fn's error, or NotFound, leaves the order unchanged
// (and rolls back a transaction of update's own). The order's row is
// locked first (PostgreSQL; SQLite has one writer), so concurrent updates
// (staff and the payment-event consumer) apply one after the other, each
// to what the other wrote.
func (s store) update(ctx context.Context, tx *sqldb.Tx, id string, at time.Time, fn func(tx *sqldb.Tx, o *Order) error) error {
	return s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		if tx.Dialect() == sqldb.Postgres && ids.Plausible(id) {
			if _, err := tx.ExecContext(ctx, `SELECT id FROM order_orders WHERE id = ? FOR UPDATE`, id); err != nil {
				return fmt.Errorf("lock order: %w", err)
			}
		}
		so, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		o := &so.Order
		if err := fn(tx, o); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE order_orders SET status = ?, payment_status = ?, fulfillment_status = ?, refunded = ?, gift_card_refunded = ?, updated_at = ? WHERE id = ?`,
			o.Status, o.PaymentStatus, o.FulfillmentStatus, o.Refunded.Amount, o.GiftCardRefunded.Amount, at, o.ID); err != nil {
			return fmt.Errorf("update order: %w", err)
		}
		return nil
	})
}

// listFilter selects orders (already validated by the service).
type listFilter struct {
	customerID, status, email string
	from, to                  time.Time
	after                     *listCursor
	limit                     int
}

// listCursor is the position after which a page starts.
type listCursor struct {
	ID string    `json:"id"`
	T  time.Time `json:"t"`
}

// list returns up to f.limit orders newest first, with their items but no
// fulfilments or timeline.
func (s store) list(ctx context.Context, f listFilter) ([]Order, error) {
	var (
		where []string
		args  []any
	)
	if c := f.after; c != nil {
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, c.T, c.T, c.ID)
	}
	for _, c := range []struct{ col, val string }{{"customer_id", f.customerID}, {"status", f.status}, {"email", f.email}} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if !f.from.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, f.from.UTC())
	}
	if !f.to.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, f.to.UTC())
	}
	query := `SELECT ` + orderCols + ` FROM order_orders`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, f.limit)
	orders, err := sqldb.All(ctx, s.db, "list orders", func(row sqldb.Scanner) (Order, error) {
		so, err := scanOrder(row)
		return so.Order, err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return orders, s.loadItems(ctx, orders)
}

// loadItems fills in the items of orders in one query.
func (s store) loadItems(ctx context.Context, orders []Order) error {
	if len(orders) == 0 {
		return nil
	}
	idx := map[string]*Order{}
	args := make([]any, len(orders))
	for i := range orders {
		idx[orders[i].ID] = &orders[i]
		args[i] = orders[i].ID
		orders[i].Items, orders[i].Discounts = []Item{}, []Discount{}
	}
	type owned struct {
		orderID string
		item    Item
	}
	items, err := sqldb.All(ctx, s.db, "list order items", func(row sqldb.Scanner) (owned, error) {
		var w owned
		var err error
		w.item, err = scanItem(row, &w.orderID)
		return w, err
	}, `SELECT order_id, `+itemCols+` FROM order_items WHERE order_id IN (`+sqldb.Placeholders(len(orders))+`) ORDER BY order_id, position`, args...)
	if err != nil {
		return err
	}
	for _, w := range items {
		o := idx[w.orderID]
		w.item.UnitPrice.Currency, w.item.LineTotal.Currency, w.item.Discount.Currency = o.Currency, o.Currency, o.Currency
		o.Items = append(o.Items, w.item)
	}
	type ownedDiscount struct {
		orderID string
		d       Discount
	}
	ds, err := sqldb.All(ctx, s.db, "list order discounts", func(row sqldb.Scanner) (ownedDiscount, error) {
		var w ownedDiscount
		var err error
		w.d, err = scanDiscount(row, &w.orderID)
		return w, err
	}, `SELECT order_id, `+discountCols+` FROM order_discounts WHERE order_id IN (`+sqldb.Placeholders(len(orders))+`) ORDER BY order_id, position`, args...)
	if err != nil {
		return err
	}
	for _, w := range ds {
		o := idx[w.orderID]
		w.d.Amount.Currency = o.Currency
		o.Discounts = append(o.Discounts, w.d)
	}
	return nil
}

// fulfilItem adds qty to an item's fulfilled quantity; false when that
// would exceed the item's quantity (a concurrent fulfilment).
func (s store) fulfilItem(ctx context.Context, tx *sqldb.Tx, itemID string, qty int64) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE order_items SET fulfilled = fulfilled + ? WHERE id = ? AND fulfilled + ? <= quantity`, qty, itemID, qty)
	if err != nil {
		return false, fmt.Errorf("fulfil item: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// restockItem adds qty to an item's restocked quantity, never beyond its
// quantity: a Conflict when that would exceed it (a concurrent restock), so
// the caller's transaction, and the stock it put back, roll back.
func (s store) restockItem(ctx context.Context, tx *sqldb.Tx, itemID string, qty int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE order_items SET restocked = restocked + ? WHERE id = ? AND restocked + ? <= quantity`, qty, itemID, qty)
	if err != nil {
		return fmt.Errorf("restock item: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("restock item: %w", err)
	}
	if n != 1 {
		return apperr.Conflictf("the item was restocked concurrently; reload the order")
	}
	return nil
}

// refundItem adds qty to an item's refunded quantity, never beyond its
// quantity: a Conflict when that would exceed it (a concurrent refund).
func (s store) refundItem(ctx context.Context, tx *sqldb.Tx, itemID string, qty int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE order_items SET refunded_quantity = refunded_quantity + ? WHERE id = ? AND refunded_quantity + ? <= quantity`, qty, itemID, qty)
	if err != nil {
		return fmt.Errorf("refund item: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("refund item: %w", err)
	}
	if n != 1 {
		return apperr.Conflictf("the item was refunded concurrently; reload the order")
	}
	return nil
}

// insertFulfillment records a parcel of lines.
func (s store) insertFulfillment(ctx context.Context, tx *sqldb.Tx, orderID string, f Fulfillment) error {
	body, _ := json.Marshal(f.Items)
	var shipped any
	if f.ShippedAt != nil {
		shipped = *f.ShippedAt
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_fulfillments (id, order_id, tracking_number, items, shipped_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		f.ID, orderID, f.TrackingNumber, string(body), shipped, f.CreatedAt); err != nil {
		return fmt.Errorf("insert fulfillment: %w", err)
	}
	return nil
}

// shipFulfillment records a parcel's tracking number and shipping time.
func (s store) shipFulfillment(ctx context.Context, tx *sqldb.Tx, id, tracking string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE order_fulfillments SET tracking_number = ?, shipped_at = ? WHERE id = ?`, tracking, at, id); err != nil {
		return fmt.Errorf("ship: %w", err)
	}
	return nil
}

// insertRefund records a refund of an order under the payment module's
// refund id; false when that refund is recorded already.
func (s store) insertRefund(ctx context.Context, tx *sqldb.Tx, orderID, refundID string, amount int64, atProvider bool, at time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO order_refunds (id, order_id, amount, at_provider, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		refundID, orderID, amount, atProvider, at)
	if err != nil {
		return false, fmt.Errorf("record order refund: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// hasRefund reports whether the refund id is one of the order's refunds.
func (s store) hasRefund(ctx context.Context, q sqldb.Querier, refundID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM order_refunds WHERE id = ?`, refundID).Scan(&n); err != nil {
		return false, fmt.Errorf("find order refund: %w", err)
	}
	return n > 0, nil
}

// exists reports whether an order with this id exists.
func (s store) exists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM order_orders WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}
