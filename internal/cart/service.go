package cart

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	db         *sqldb.DB
	store      store
	catalog    Catalog
	stock      Stock
	pricing    Pricing
	discounter Discounter // nil: no promotions, every code is unknown
	giftCards  GiftCards  // nil: no gift cards
	currency   string
	now        func() time.Time
}

// Option configures a cart service.
type Option func(*Service)

// WithDiscounter prices promotions and discount codes with d.
func WithDiscounter(d Discounter) Option { return func(s *Service) { s.discounter = d } }

// WithGiftCards lets the gift cards applied to a cart cover what it costs.
func WithGiftCards(g GiftCards) Option { return func(s *Service) { s.giftCards = g } }

// NewService returns a cart service for a shop selling in currency.
func NewService(db *sqldb.DB, cat Catalog, stock Stock, pricing Pricing, currency string, opts ...Option) *Service {
	s := &Service{db: db, store: store{db: db}, catalog: cat, stock: stock, pricing: pricing, currency: currency,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NewCartID returns an unguessable cart id (128 random bits): for a guest,
// knowing the id is what proves the cart is theirs.
func NewCartID() string { return "cart_" + ids.Secret(16) }

// mayUse reports whether p may use a cart owned by customerID: a customer's
// cart belongs to that customer only; a guest cart ("") to whoever knows
// its id.
func mayUse(customerID string, p *auth.Principal) bool {
	return customerID == "" || (p != nil && p.AccountID == customerID)
}

// load reads a cart that p may use. Anything else (an implausible or
// unknown id, someone else's cart) is NotFound, so ids of other people's
// carts are not confirmed.
func (s *Service) load(ctx context.Context, id string, p *auth.Principal) (record, error) {
	if !ids.Plausible(id) {
		return record{}, errCartNotFound()
	}
	r, err := s.store.get(ctx, s.db, id)
	if err != nil {
		return record{}, err
	}
	if !mayUse(r.customerID, p) {
		return record{}, errCartNotFound()
	}
	return r, nil
}

// Access returns nil when the caller (the principal in ctx, or nobody) may
// use cart id, whatever its status, and NotFound otherwise: the same answer
// as for an unknown id. It reads one row, for callers that must check
// ownership before doing anything else (the checkout, before it looks up an
// idempotency key).
func (s *Service) Access(ctx context.Context, id string) error {
	if !ids.Plausible(id) {
		return errCartNotFound()
	}
	cust, err := s.store.customerOf(ctx, id)
	if err != nil {
		return err
	}
	if !mayUse(cust, principal(ctx)) {
		return errCartNotFound()
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
// currency "" means the shop currency; any other currency is Invalid on
// "currency".
func (s *Service) Create(ctx context.Context, currency string) (Cart, error) {
	if currency == "" {
		currency = s.currency
	}
	if currency != s.currency {
		return Cart{}, apperr.Field("currency", "this shop sells in "+s.currency)
	}
	now := s.now()
	r := record{id: NewCartID(), currency: currency, status: statusActive, createdAt: now, updatedAt: now}
	if p := principal(ctx); p != nil {
		r.customerID = p.AccountID
	}
	if err := s.store.create(ctx, r); err != nil {
		return Cart{}, err
	}
	return s.Get(ctx, r.id)
}

// Get returns a cart priced with a shipping estimate for the default country.
// A cart that is unknown or not the caller's is NotFound ("cart not found").
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
// estimate). A cart the caller may not use is NotFound; the pricing's
// refusals come back as they are (Invalid on "country" for a destination
// not served, on "shipping_method_id" for a method that does not serve it).
func (s *Service) Quote(ctx context.Context, id, country, methodID string) (Quote, error) {
	return s.QuoteFor(ctx, id, country, methodID, "")
}

// QuoteFor is Quote for the checkout of order orderID: what the order
// already holds (a promotion's use an earlier attempt under the same
// Idempotency-Key reserved) counts as available to it.
func (s *Service) QuoteFor(ctx context.Context, id, country, methodID, orderID string) (Quote, error) {
	r, err := s.load(ctx, id, principal(ctx))
	if err != nil {
		return Quote{}, err
	}
	return s.price(ctx, r, country, methodID, orderID)
}

// price prices a stored cart at the catalog's current prices, with the
// shipping method (or the cheapest one), the discounts of its promotions and
// codes, the tax for country on the discounted price, and what its gift
// cards cover.
func (s *Service) price(ctx context.Context, r record, country, methodID, orderID string) (Quote, error) {
	items := r.lines
	c := Cart{ID: r.id, CustomerID: r.customerID, Currency: r.currency, Status: r.status, Items: []Item{},
		Discounts: []Discount{}, DiscountCodes: []CodeStatus{}, GiftCards: []GiftCard{}}
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
	zero := money.Zero(r.currency)
	t := Totals{Subtotal: subtotal, Discount: zero, Shipping: zero, Tax: zero, GiftCard: zero}
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
	if err := s.discount(ctx, r, country, orderID, &c, &t, method); err != nil {
		return Quote{}, err
	}
	// Tax on the discounted price.
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
	if s.giftCards != nil {
		cards, err := s.giftCards.Cover(ctx, r.id, t.Total)
		if err != nil {
			return Quote{}, fmt.Errorf("price cart: gift cards: %w", err)
		}
		for _, g := range cards {
			t.GiftCard.Amount += g.Amount.Amount
		}
		t.GiftCard.Amount = min(max(t.GiftCard.Amount, 0), t.Total.Amount)
		t.Total.Amount -= t.GiftCard.Amount
		c.GiftCards = append(c.GiftCards, cards...)
	}
	c.Totals, c.Shipping = t, method
	return Quote{Cart: c, Method: method}, nil
}

// discount asks the Discounter for the cart's discounts and applies them
// to t: the discount is their sum (never more than the subtotal), and a
// free-shipping one makes the shipping free. Without a Discounter every
// code on the cart is unknown.
func (s *Service) discount(ctx context.Context, r record, country, orderID string, c *Cart, t *Totals, method *ShippingOption) error {
	if s.discounter == nil {
		for _, code := range r.codes {
			c.DiscountCodes = append(c.DiscountCodes, CodeStatus{Code: code, Reason: ReasonUnknown, Message: "there is no such code"})
		}
		return nil
	}
	q := DiscountQuery{CartID: r.id, CustomerID: r.customerID, Currency: r.currency, Country: country, Subtotal: t.Subtotal,
		Shipping: method, Codes: r.codes, OrderID: orderID}
	if q.CustomerID == "" {
		if p := principal(ctx); p != nil && p.Role == auth.RoleCustomer {
			q.CustomerID = p.AccountID
		}
	}
	for _, it := range c.Items {
		if it.Purchasable {
			q.Lines = append(q.Lines, DiscountLine{ItemID: it.ID, VariantID: it.VariantID, ProductID: it.ProductID,
				Quantity: it.Quantity, UnitPrice: it.UnitPrice, LineTotal: it.LineTotal})
		}
	}
	if len(q.Lines) == 0 && len(q.Codes) == 0 {
		return nil
	}
	res, err := s.discounter.Discounts(ctx, q)
	if err != nil {
		return fmt.Errorf("price cart: discounts: %w", err)
	}
	free := false
	for _, d := range res.Discounts {
		if d.Lines == nil {
			d.Lines = []LineAllocation{}
		}
		t.Discount.Amount += d.Amount.Amount
		free = free || d.FreeShipping
		c.Discounts = append(c.Discounts, d)
	}
	t.Discount.Amount = min(max(t.Discount.Amount, 0), t.Subtotal.Amount)
	if free {
		t.Shipping.Amount = 0
	}
	c.DiscountCodes = append(c.DiscountCodes, res.Codes...)
	return nil
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
//
// A quantity outside 1..MaxQuantity, or a line that would exceed it, is
// Invalid on "quantity"; a missing, unknown or withdrawn variant, or one
// line more than MaxLines, Invalid on "variant_id"; a variant priced in
// another currency Unprocessable; not enough stock Conflict on "quantity"
// (with the shortage in Detail); a cart that is no longer active Conflict;
// a cart the caller may not use NotFound.
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
	p := principal(ctx)
	r, err := s.load(ctx, cartID, p)
	if err != nil {
		return Cart{}, err
	}
	if err := changeable(r); err != nil {
		return Cart{}, err
	}
	total := qty
	if i := r.lineOf(variantID); i >= 0 {
		total += r.lines[i].qty
	} else if len(r.lines) >= MaxLines {
		return Cart{}, tooManyLines()
	}
	if total > MaxQuantity {
		return Cart{}, tooMany()
	}
	price, err := s.checkVariant(ctx, r.currency, variantID, total)
	if err != nil {
		return Cart{}, err
	}
	// The cart may have changed since it was read: the limits are checked
	// again on the locked cart, so concurrent adds of one variant sum up.
	err = s.store.update(ctx, nil, cartID, func(c *record) error {
		if err := mayChange(c, p); err != nil {
			return err
		}
		now := s.now()
		c.updatedAt = now
		if i := c.lineOf(variantID); i >= 0 {
			if c.lines[i].qty+qty > MaxQuantity {
				return tooMany()
			}
			c.lines[i].qty += qty
			c.lines[i].seen = price
			return nil
		}
		if len(c.lines) >= MaxLines {
			return tooManyLines()
		}
		c.lines = append(c.lines, line{id: ids.New(), variantID: variantID, qty: qty, seen: price, createdAt: now})
		return nil
	})
	if err != nil {
		return Cart{}, err
	}
	return s.Get(ctx, cartID)
}

func tooMany() error {
	return apperr.Field("quantity", fmt.Sprintf("at most %d of one item per cart", MaxQuantity))
}

func tooManyLines() error {
	return apperr.Field("variant_id", fmt.Sprintf("a cart holds at most %d different items", MaxLines))
}

// changeable refuses a cart that is no longer active (Conflict).
func changeable(r record) error {
	if r.status != statusActive {
		return apperr.Conflictf("cart is %s and can no longer change", r.status)
	}
	return nil
}

// mayChange checks, on the locked cart, what load and changeable checked
// before: p may still use it and it is still active.
func mayChange(c *record, p *auth.Principal) error {
	if !mayUse(c.customerID, p) {
		return errCartNotFound()
	}
	if c.status != statusActive {
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
// stock (and takes the current price as seen); lowering it is always
// allowed. A quantity outside 0..MaxQuantity is Invalid on "quantity"; an
// unknown line NotFound; otherwise the errors of AddItem.
func (s *Service) SetQuantity(ctx context.Context, cartID, itemID string, qty int64) (Cart, error) {
	if qty < 0 || qty > MaxQuantity {
		return Cart{}, apperr.Field("quantity", fmt.Sprintf("must be between 0 and %d", MaxQuantity))
	}
	p := principal(ctx)
	r, err := s.load(ctx, cartID, p)
	if err != nil {
		return Cart{}, err
	}
	if err := changeable(r); err != nil {
		return Cart{}, err
	}
	i := slices.IndexFunc(r.lines, func(l line) bool { return l.id == itemID })
	if i < 0 {
		return Cart{}, errItemNotFound()
	}
	price := int64(-1) // keep the seen price
	if qty > r.lines[i].qty {
		if price, err = s.checkVariant(ctx, r.currency, r.lines[i].variantID, qty); err != nil {
			return Cart{}, err
		}
	}
	err = s.store.update(ctx, nil, cartID, func(c *record) error {
		if err := mayChange(c, p); err != nil {
			return err
		}
		i := slices.IndexFunc(c.lines, func(l line) bool { return l.id == itemID })
		if i < 0 {
			return errItemNotFound()
		}
		c.updatedAt = s.now()
		if qty == 0 {
			c.lines = slices.Delete(c.lines, i, i+1)
			return nil
		}
		c.lines[i].qty = qty
		if price >= 0 {
			c.lines[i].seen = price
		}
		return nil
	})
	if err != nil {
		return Cart{}, err
	}
	return s.Get(ctx, cartID)
}

func errItemNotFound() error { return apperr.NotFoundf("cart item not found") }

// RemoveItem deletes a line; see SetQuantity.
func (s *Service) RemoveItem(ctx context.Context, cartID, itemID string) (Cart, error) {
	return s.SetQuantity(ctx, cartID, itemID, 0)
}

// AcknowledgePrices records that the customer has seen the current prices
// of c (a cart Quote returned): the lines flagged PriceChanged take their
// UnitPrice as the seen price (the checkout calls it when it refuses a cart
// whose prices changed). Lines no longer in the cart are skipped; an
// unknown cart is NotFound.
func (s *Service) AcknowledgePrices(ctx context.Context, c Cart) error {
	seen := map[string]int64{}
	for _, it := range c.Items {
		if it.PriceChanged {
			seen[it.ID] = it.UnitPrice.Amount
		}
	}
	if len(seen) == 0 {
		return nil
	}
	if !ids.Plausible(c.ID) {
		return errCartNotFound()
	}
	return s.store.update(ctx, nil, c.ID, func(r *record) error {
		for i, l := range r.lines {
			if price, ok := seen[l.id]; ok {
				r.lines[i].seen = price
			}
		}
		return nil
	})
}

// MarkConverted closes a cart once its order exists, in the caller's
// transaction tx (the order's), or in one of its own when tx is nil: when
// that transaction rolls back, the cart stays open. A cart converts once: a
// cart that is not active (already converted, merged) or unknown is a
// Conflict.
func (s *Service) MarkConverted(ctx context.Context, tx *sqldb.Tx, cartID, orderID string) error {
	if !ids.Plausible(cartID) {
		return apperr.Conflictf("cart was already checked out")
	}
	return s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		ok, err := s.store.convert(ctx, tx, cartID, orderID, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return apperr.Conflictf("cart was already checked out")
		}
		return nil
	})
}

// errNothingToClaim ends a Claim that has nothing to do.
var errNothingToClaim = errors.New("nothing to claim")

// Claim gives a guest cart to a customer who just signed in, merging the
// customer's other active carts into it (quantities add up, capped at
// MaxQuantity; the lines of a variant the guest cart lacks move over). The
// guest cart keeps its id, so a browser's cart cookie stays valid. A cart
// that is unknown, someone else's or no longer active is left alone, and
// that is no error: signing in must not fail over a stale cookie.
func (s *Service) Claim(ctx context.Context, customerID, guestCartID string) error {
	if guestCartID == "" || !ids.Plausible(guestCartID) {
		return nil
	}
	owner := &auth.Principal{AccountID: customerID}
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		return s.store.update(ctx, tx, guestCartID, func(g *record) error {
			if !mayUse(g.customerID, owner) || g.status != statusActive {
				return errNothingToClaim
			}
			others, err := s.store.activeOf(ctx, tx, customerID, g.id)
			if err != nil {
				return err
			}
			now := s.now()
			for _, id := range others {
				err := s.store.update(ctx, tx, id, func(o *record) error {
					if o.status != statusActive || o.customerID != customerID {
						return nil // merged by a concurrent sign-in
					}
					var stay []line
					for _, l := range o.lines {
						if i := g.lineOf(l.variantID); i >= 0 {
							g.lines[i].qty = min(g.lines[i].qty+l.qty, MaxQuantity)
							stay = append(stay, l)
							continue
						}
						g.lines = append(g.lines, l) // moves over with its id and position
					}
					o.lines, o.status, o.updatedAt = stay, statusMerged, now
					return nil
				})
				if err != nil {
					return fmt.Errorf("merge carts: %w", err)
				}
			}
			g.customerID, g.updatedAt = customerID, now
			return nil
		})
	})
	if errors.Is(err, errNothingToClaim) || apperr.Is(err, apperr.NotFound) {
		return nil
	}
	return err
}

// ActiveCartOf returns the id of a customer's newest active cart, or "".
func (s *Service) ActiveCartOf(ctx context.Context, customerID string) (string, error) {
	return s.store.newestActive(ctx, customerID)
}

func validationError(field, msg string) error { return apperr.Field(field, msg) }

// ShippingOptions lists the shipping methods for a cart's subtotal and a
// destination country ("" for the default country), never nil. A cart the
// caller may not use is NotFound; a malformed or unserved country Invalid
// on "country".
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

// MaxCodeLength bounds a discount code.
const MaxCodeLength = 64

// NormalizeCode is the form a discount code is kept and compared in: trimmed,
// upper case.
func NormalizeCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// codeRefused is the answer for a code that cannot be used: Unprocessable
// on "code" with the reason in words, and extra.reason for programs.
func codeRefused(st CodeStatus) error {
	msg := st.Message
	if msg == "" {
		msg = "this code cannot be used"
	}
	return &apperr.Error{Code: apperr.Unprocessable, Message: "discount code " + st.Code + " cannot be used: " + msg,
		Fields: []apperr.FieldError{{Field: "code", Message: msg}}, Detail: map[string]any{"reason": st.Reason}}
}

// ApplyCode applies a discount code to a cart, in place of the code it had
// (a cart holds one code, beside the automatic promotions), and returns the
// cart priced with it. The code is compared in upper case.
//
// A missing code is Invalid on "code"; a code that is unknown, expired, not
// yet valid, used up, or whose conditions the cart does not meet is
// Unprocessable on "code" with the reason (extra.reason: unknown, expired,
// not_yet_valid, exhausted, not_applicable), and the cart is unchanged; a
// cart that is no longer active is a Conflict, one the caller may not use
// NotFound.
func (s *Service) ApplyCode(ctx context.Context, cartID, code string) (Cart, error) {
	code = NormalizeCode(code)
	switch {
	case code == "":
		return Cart{}, apperr.Field("code", "is required")
	case len(code) > MaxCodeLength || strings.IndexFunc(code, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		return Cart{}, codeRefused(CodeStatus{Code: "", Reason: ReasonUnknown, Message: "there is no such code"})
	}
	p := principal(ctx)
	r, err := s.load(ctx, cartID, p)
	if err != nil {
		return Cart{}, err
	}
	if err := changeable(r); err != nil {
		return Cart{}, err
	}
	trial := r
	trial.codes = []string{code}
	q, err := s.price(ctx, trial, "", "", "")
	if err != nil {
		return Cart{}, err
	}
	i := slices.IndexFunc(q.Cart.DiscountCodes, func(c CodeStatus) bool { return c.Code == code })
	if i < 0 {
		return Cart{}, codeRefused(CodeStatus{Code: code, Reason: ReasonUnknown, Message: "there is no such code"})
	}
	if st := q.Cart.DiscountCodes[i]; !st.Applied {
		return Cart{}, codeRefused(st)
	}
	err = s.store.update(ctx, nil, cartID, func(c *record) error {
		if err := mayChange(c, p); err != nil {
			return err
		}
		if slices.Equal(c.codes, []string{code}) {
			return nil
		}
		c.codes, c.updatedAt = []string{code}, s.now()
		return nil
	})
	if err != nil {
		return Cart{}, err
	}
	return s.Get(ctx, cartID)
}

// RemoveCode takes a discount code off a cart and returns the cart. A code
// the cart does not have is NotFound; otherwise the errors of ApplyCode.
func (s *Service) RemoveCode(ctx context.Context, cartID, code string) (Cart, error) {
	code = NormalizeCode(code)
	p := principal(ctx)
	r, err := s.load(ctx, cartID, p)
	if err != nil {
		return Cart{}, err
	}
	if err := changeable(r); err != nil {
		return Cart{}, err
	}
	err = s.store.update(ctx, nil, cartID, func(c *record) error {
		if err := mayChange(c, p); err != nil {
			return err
		}
		i := slices.Index(c.codes, code)
		if i < 0 {
			return apperr.NotFoundf("this cart has no discount code %q", code)
		}
		c.codes, c.updatedAt = slices.Delete(c.codes, i, i+1), s.now()
		return nil
	})
	if err != nil {
		return Cart{}, err
	}
	return s.Get(ctx, cartID)
}
