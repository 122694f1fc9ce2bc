package cart

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Service manages carts.
type Service struct {
	db       *sqldb.DB
	catalog  Catalog
	stock    Stock
	pricing  Pricing
	currency string
	now      func() time.Time
}

// NewService returns a cart service for a shop selling in currency.
func NewService(db *sqldb.DB, cat Catalog, stock Stock, pricing Pricing, currency string) *Service {
	return &Service{db: db, catalog: cat, stock: stock, pricing: pricing, currency: currency,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// NewCartID returns an unguessable cart id (128 random bits): for a guest,
// knowing the id is what proves the cart is theirs.
func NewCartID() string { return "cart_" + ids.Secret(16) }

type row struct {
	id, customerID, currency, status string
}

type itemRow struct {
	id, variantID string
	qty, seen     int64
}

// load reads a cart and checks that p may use it: a customer's cart belongs
// to that customer only; a guest cart to whoever knows its id. Anything else
// is NotFound, so ids of other people's carts are not confirmed.
func (s *Service) load(ctx context.Context, q sqldb.Querier, id string, p *auth.Principal) (row, []itemRow, error) {
	var (
		r    row
		cust sql.NullString
	)
	if !ids.Plausible(id) {
		return r, nil, apperr.NotFoundf("cart not found")
	}
	err := q.QueryRowContext(ctx, `SELECT id, customer_id, currency, status FROM cart_carts WHERE id = ?`, id).Scan(&r.id, &cust, &r.currency, &r.status)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil, apperr.NotFoundf("cart not found")
	}
	if err != nil {
		return r, nil, fmt.Errorf("load cart: %w", err)
	}
	r.customerID = cust.String
	if r.customerID != "" && (p == nil || p.AccountID != r.customerID) {
		return r, nil, apperr.NotFoundf("cart not found")
	}
	rows, err := q.QueryContext(ctx, `SELECT id, variant_id, quantity, seen_price FROM cart_items WHERE cart_id = ? ORDER BY created_at, id`, id)
	if err != nil {
		return r, nil, fmt.Errorf("load cart items: %w", err)
	}
	defer rows.Close()
	var items []itemRow
	for rows.Next() {
		var it itemRow
		if err := rows.Scan(&it.id, &it.variantID, &it.qty, &it.seen); err != nil {
			return r, nil, fmt.Errorf("load cart items: %w", err)
		}
		items = append(items, it)
	}
	return r, items, rows.Err()
}

// Access returns nil when the caller (the principal in ctx, or nobody) may
// use cart id, whatever its status, and NotFound otherwise: the same answer
// as for an unknown id. It reads one row, for callers that must check
// ownership before doing anything else (the checkout, before it looks up an
// idempotency key).
func (s *Service) Access(ctx context.Context, id string) error {
	if !ids.Plausible(id) {
		return apperr.NotFoundf("cart not found")
	}
	var cust sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT customer_id FROM cart_carts WHERE id = ?`, id).Scan(&cust)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.NotFoundf("cart not found")
	}
	if err != nil {
		return fmt.Errorf("load cart: %w", err)
	}
	if p := principal(ctx); cust.String != "" && (p == nil || p.AccountID != cust.String) {
		return apperr.NotFoundf("cart not found")
	}
	return nil
}

func principal(ctx context.Context) *auth.Principal {
	if p, ok := auth.From(ctx); ok {
		return &p
	}
	return nil
}

// Create makes an empty cart, owned by the signed-in customer if there is one.
func (s *Service) Create(ctx context.Context, currency string) (Cart, error) {
	if currency == "" {
		currency = s.currency
	}
	if currency != s.currency {
		return Cart{}, apperr.Field("currency", "this shop sells in "+s.currency)
	}
	id := NewCartID()
	var cust any
	if p := principal(ctx); p != nil {
		cust = p.AccountID
	}
	now := s.now()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO cart_carts (id, customer_id, currency, status, created_at, updated_at) VALUES (?, ?, ?, 'active', ?, ?)`,
		id, cust, currency, now, now); err != nil {
		return Cart{}, fmt.Errorf("create cart: %w", err)
	}
	return s.Get(ctx, id)
}

// Get returns a cart priced with a shipping estimate for the default country.
func (s *Service) Get(ctx context.Context, id string) (Cart, error) {
	q, err := s.Quote(ctx, id, "", "")
	return q.Cart, err
}

// Quote is a cart priced for a destination and shipping method.
type Quote struct {
	Cart   Cart
	Method *ShippingOption
}

// Quote prices a cart for a destination country and shipping method; empty
// country means the default country, empty method the cheapest one (an
// estimate).
func (s *Service) Quote(ctx context.Context, id, country, methodID string) (Quote, error) {
	r, items, err := s.load(ctx, s.db, id, principal(ctx))
	if err != nil {
		return Quote{}, err
	}
	return s.price(ctx, r, items, country, methodID)
}

func (s *Service) price(ctx context.Context, r row, items []itemRow, country, methodID string) (Quote, error) {
	c := Cart{ID: r.id, CustomerID: r.customerID, Currency: r.currency, Status: r.status, Items: []Item{}}
	vids := make([]string, len(items))
	for i, it := range items {
		vids[i] = it.variantID
	}
	variants, err := s.catalog.Variants(ctx, vids)
	if err != nil {
		return Quote{}, fmt.Errorf("price cart: %w", err)
	}
	levels, err := s.stock.Levels(ctx, vids)
	if err != nil {
		return Quote{}, fmt.Errorf("price cart: %w", err)
	}
	subtotal := money.Zero(r.currency)
	for _, it := range items {
		v, ok := variants[it.variantID]
		item := Item{ID: it.id, VariantID: it.variantID, Quantity: it.qty, Options: map[string]string{}}
		if ok {
			item.ProductID, item.ProductSlug, item.SKU, item.Title, item.VariantTitle, item.Options, item.Image =
				v.ProductID, v.ProductSlug, v.SKU, v.ProductTitle, v.Title, v.Options, v.Image
			item.UnitPrice = v.Price
			item.Purchasable = v.ProductStatus == catalog.StatusActive && v.Price.Currency == r.currency
		} else {
			item.UnitPrice = money.Zero(r.currency)
		}
		l := levels[it.variantID]
		item.Available, item.Backorder = l.Available, l.Backorder
		item.LineTotal = item.UnitPrice.Mul(it.qty)
		if item.UnitPrice.Amount != it.seen {
			prev := money.Money{Amount: it.seen, Currency: r.currency}
			item.PriceChanged, item.PreviousUnitPrice = true, &prev
			c.PriceChanged = true
		}
		if item.Purchasable {
			subtotal.Amount += item.LineTotal.Amount
		}
		c.Items = append(c.Items, item)
	}
	t := Totals{Subtotal: subtotal, Discount: money.Zero(r.currency), Shipping: money.Zero(r.currency), Tax: money.Zero(r.currency)}
	var method *ShippingOption
	if len(items) > 0 && s.pricing != nil {
		if methodID != "" {
			m, err := s.pricing.ShippingOption(ctx, methodID, country, subtotal)
			if err != nil {
				return Quote{}, err
			}
			method = &m
		} else if opts, err := s.pricing.ShippingOptions(ctx, country, subtotal); err != nil {
			return Quote{}, err
		} else if len(opts) > 0 {
			method = &opts[0]
		}
	}
	if method != nil {
		t.Shipping = method.Price
	}
	taxable := money.Money{Amount: t.Subtotal.Amount - t.Discount.Amount + t.Shipping.Amount, Currency: r.currency}
	t.Total = taxable
	if s.pricing != nil && taxable.Amount > 0 {
		tr, err := s.pricing.Tax(ctx, country, taxable)
		if err != nil {
			return Quote{}, err
		}
		t.Tax, c.TaxIncluded = tr.Tax, tr.Inclusive
		if !tr.Inclusive {
			t.Total.Amount += tr.Tax.Amount
		}
	} else if s.pricing != nil {
		tr, err := s.pricing.Tax(ctx, country, money.Zero(r.currency))
		if err == nil {
			c.TaxIncluded = tr.Inclusive
		}
	}
	c.Totals, c.Shipping = t, method
	return Quote{Cart: c, Method: method}, nil
}

func validQuantity(q int64) error {
	if q < 1 || q > MaxQuantity {
		return apperr.Field("quantity", fmt.Sprintf("must be between 1 and %d", MaxQuantity))
	}
	return nil
}

// AddItem adds quantity of a variant (or more of it, when it is already in
// the cart). The variant must be for sale in the cart's currency and in
// stock (or on backorder); otherwise nothing changes. The catalog and stock
// are consulted before the write transaction, never inside it.
func (s *Service) AddItem(ctx context.Context, cartID, variantID string, qty int64) (Cart, error) {
	if err := validQuantity(qty); err != nil {
		return Cart{}, err
	}
	if variantID == "" {
		return Cart{}, apperr.Field("variant_id", "is required")
	}
	if !ids.Plausible(variantID) {
		return Cart{}, apperr.Field("variant_id", "no such product variant for sale")
	}
	r, items, err := s.load(ctx, s.db, cartID, principal(ctx))
	if err != nil {
		return Cart{}, err
	}
	if r.status != "active" {
		return Cart{}, apperr.Conflictf("cart is %s and can no longer change", r.status)
	}
	var existing *itemRow
	for i := range items {
		if items[i].variantID == variantID {
			existing = &items[i]
		}
	}
	total := qty
	if existing != nil {
		total += existing.qty
	} else if len(items) >= MaxLines {
		return Cart{}, apperr.Field("variant_id", fmt.Sprintf("a cart holds at most %d different items", MaxLines))
	}
	if total > MaxQuantity {
		return Cart{}, apperr.Field("quantity", fmt.Sprintf("at most %d of one item per cart", MaxQuantity))
	}
	price, err := s.checkVariant(ctx, r.currency, variantID, total)
	if err != nil {
		return Cart{}, err
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.touchActive(ctx, tx, cartID); err != nil {
			return err
		}
		// One statement either way, so concurrent adds of the same variant sum up.
		res, err := tx.ExecContext(ctx, `UPDATE cart_items SET quantity = quantity + ?, seen_price = ? WHERE cart_id = ? AND variant_id = ? AND quantity + ? <= ?`,
			qty, price, cartID, variantID, qty, MaxQuantity)
		if err != nil {
			return fmt.Errorf("add to cart: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO cart_items (id, cart_id, variant_id, quantity, seen_price, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			ids.New(), cartID, variantID, qty, price, s.now())
		if sqldb.IsUniqueViolation(err) {
			return apperr.Field("quantity", fmt.Sprintf("at most %d of one item per cart", MaxQuantity))
		}
		if err != nil {
			return fmt.Errorf("add to cart: %w", err)
		}
		return nil
	})
	if err != nil {
		return Cart{}, err
	}
	return s.Get(ctx, cartID)
}

// touchActive bumps the cart's updated_at, refusing a cart that is no longer active.
func (s *Service) touchActive(ctx context.Context, tx *sqldb.Tx, cartID string) error {
	res, err := tx.ExecContext(ctx, `UPDATE cart_carts SET updated_at = ? WHERE id = ? AND status = 'active'`, s.now(), cartID)
	if err != nil {
		return fmt.Errorf("update cart: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.Conflictf("cart can no longer change")
	}
	return nil
}

// checkVariant returns the variant's price if qty of it can be sold.
func (s *Service) checkVariant(ctx context.Context, currency, variantID string, qty int64) (int64, error) {
	vs, err := s.catalog.Variants(ctx, []string{variantID})
	if err != nil {
		return 0, fmt.Errorf("look up variant: %w", err)
	}
	v, ok := vs[variantID]
	if !ok || v.ProductStatus != catalog.StatusActive {
		return 0, apperr.Field("variant_id", "no such product variant for sale")
	}
	if v.Price.Currency != currency {
		return 0, &apperr.Error{Code: apperr.Unprocessable, Message: "variant is priced in another currency",
			Fields: []apperr.FieldError{{Field: "variant_id", Message: "is priced in " + v.Price.Currency + ", the cart in " + currency}}}
	}
	levels, err := s.stock.Levels(ctx, []string{variantID})
	if err != nil {
		return 0, fmt.Errorf("look up stock: %w", err)
	}
	if l := levels[variantID]; !l.Backorder && l.Available < qty {
		return 0, &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("only %d of %s available", max(0, l.Available), v.SKU),
			Fields: []apperr.FieldError{{Field: "quantity", Message: fmt.Sprintf("only %d available", max(0, l.Available))}},
			Detail: map[string]any{"shortages": []map[string]any{{"sku": v.SKU, "requested": qty, "available": max(0, l.Available)}}}}
	}
	return v.Price.Amount, nil
}

// SetQuantity changes a line's quantity; 0 removes it. Raising it checks
// stock; lowering it is always allowed.
func (s *Service) SetQuantity(ctx context.Context, cartID, itemID string, qty int64) (Cart, error) {
	if qty < 0 || qty > MaxQuantity {
		return Cart{}, apperr.Field("quantity", fmt.Sprintf("must be between 0 and %d", MaxQuantity))
	}
	r, items, err := s.load(ctx, s.db, cartID, principal(ctx))
	if err != nil {
		return Cart{}, err
	}
	if r.status != "active" {
		return Cart{}, apperr.Conflictf("cart is %s and can no longer change", r.status)
	}
	var it *itemRow
	for i := range items {
		if items[i].id == itemID {
			it = &items[i]
		}
	}
	if it == nil {
		return Cart{}, apperr.NotFoundf("cart item not found")
	}
	price := it.seen
	if qty > it.qty {
		if price, err = s.checkVariant(ctx, r.currency, it.variantID, qty); err != nil {
			return Cart{}, err
		}
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.touchActive(ctx, tx, cartID); err != nil {
			return err
		}
		if qty == 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM cart_items WHERE id = ? AND cart_id = ?`, it.id, cartID)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE cart_items SET quantity = ?, seen_price = ? WHERE id = ? AND cart_id = ?`, qty, price, it.id, cartID)
		}
		if err != nil {
			return fmt.Errorf("update cart item: %w", err)
		}
		return nil
	})
	if err != nil {
		return Cart{}, err
	}
	return s.Get(ctx, cartID)
}

// RemoveItem deletes a line.
func (s *Service) RemoveItem(ctx context.Context, cartID, itemID string) (Cart, error) {
	return s.SetQuantity(ctx, cartID, itemID, 0)
}

// AcknowledgePrices records that the customer has seen the current prices
// (the checkout calls it when it refuses a cart whose prices changed).
func (s *Service) AcknowledgePrices(ctx context.Context, c Cart) error {
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		for _, it := range c.Items {
			if it.PriceChanged {
				if _, err := tx.ExecContext(ctx, `UPDATE cart_items SET seen_price = ? WHERE id = ? AND cart_id = ?`, it.UnitPrice.Amount, it.ID, c.ID); err != nil {
					return fmt.Errorf("acknowledge prices: %w", err)
				}
			}
		}
		return nil
	})
}

// MarkConverted closes a cart once its order exists, inside the order's
// transaction. A cart converts once: a second conversion is a Conflict.
func (s *Service) MarkConverted(ctx context.Context, tx *sqldb.Tx, cartID, orderID string) error {
	res, err := tx.ExecContext(ctx, `UPDATE cart_carts SET status = 'converted', order_id = ?, updated_at = ? WHERE id = ? AND status = 'active'`, orderID, s.now(), cartID)
	if err != nil {
		return fmt.Errorf("close cart: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.Conflictf("cart was already checked out")
	}
	return nil
}

// Claim gives a guest cart to a customer who just signed in, merging the
// customer's other active cart into it (quantities add up, capped at
// MaxQuantity). The guest cart keeps its id, so a browser's cart cookie stays
// valid. A cart that is already someone else's is left alone.
func (s *Service) Claim(ctx context.Context, customerID, guestCartID string) error {
	if guestCartID == "" {
		return nil
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		r, items, err := s.load(ctx, tx, guestCartID, &auth.Principal{AccountID: customerID})
		if apperr.Is(err, apperr.NotFound) || (err == nil && r.status != "active") {
			return nil // nothing to claim
		}
		if err != nil {
			return err
		}
		have := map[string]itemRow{}
		for _, it := range items {
			have[it.variantID] = it
		}
		var others []string
		rows, err := tx.QueryContext(ctx, `SELECT id FROM cart_carts WHERE customer_id = ? AND status = 'active' AND id <> ?`, customerID, guestCartID)
		if err != nil {
			return fmt.Errorf("claim cart: %w", err)
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			others = append(others, id)
		}
		rows.Close()
		for _, other := range others {
			_, oitems, err := s.load(ctx, tx, other, &auth.Principal{AccountID: customerID})
			if err != nil {
				return err
			}
			for _, it := range oitems {
				if cur, ok := have[it.variantID]; ok {
					q := min(cur.qty+it.qty, MaxQuantity)
					if _, err := tx.ExecContext(ctx, `UPDATE cart_items SET quantity = ? WHERE id = ?`, q, cur.id); err != nil {
						return fmt.Errorf("merge carts: %w", err)
					}
					cur.qty = q
					have[it.variantID] = cur
					continue
				}
				if _, err := tx.ExecContext(ctx, `UPDATE cart_items SET cart_id = ? WHERE id = ?`, guestCartID, it.id); err != nil {
					return fmt.Errorf("merge carts: %w", err)
				}
				have[it.variantID] = it
			}
			if _, err := tx.ExecContext(ctx, `UPDATE cart_carts SET status = 'merged', updated_at = ? WHERE id = ?`, s.now(), other); err != nil {
				return fmt.Errorf("merge carts: %w", err)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE cart_carts SET customer_id = ?, updated_at = ? WHERE id = ?`, customerID, s.now(), guestCartID)
		return err
	})
}

// ActiveCartOf returns the id of a customer's newest active cart, or "".
func (s *Service) ActiveCartOf(ctx context.Context, customerID string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM cart_carts WHERE customer_id = ? AND status = 'active' ORDER BY updated_at DESC LIMIT 1`, customerID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

func validationError(field, msg string) error { return apperr.Field(field, msg) }

// ShippingOptions lists the shipping methods for a cart's subtotal and a
// destination country ("" for the default country).
func (s *Service) ShippingOptions(ctx context.Context, cartID, country string) ([]ShippingOption, error) {
	q, err := s.Quote(ctx, cartID, "", "")
	if err != nil {
		return nil, err
	}
	if len(country) > 2 {
		return nil, apperr.Field("country", "must be an ISO 3166-1 alpha-2 code such as DE")
	}
	opts, err := s.pricing.ShippingOptions(ctx, country, q.Cart.Totals.Subtotal)
	if err != nil {
		return nil, err
	}
	if opts == nil {
		opts = []ShippingOption{}
	}
	return opts, nil
}
