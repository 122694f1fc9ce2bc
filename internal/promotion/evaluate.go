package promotion

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/mercato-shop/mercato/internal/money"
)

// Why a code does not apply (CodeStatus.Reason); the cart's API passes
// them on as extra.reason.
const (
	ReasonUnknown       = "unknown"
	ReasonExpired       = "expired"
	ReasonNotYetValid   = "not_yet_valid"
	ReasonExhausted     = "exhausted"
	ReasonNotApplicable = "not_applicable"
)

// Line is a cart line as promotions see it: what can be bought.
type Line struct {
	ItemID, ProductID string
	// CategoryIDs are the product's categories and the categories above
	// them.
	CategoryIDs          []string
	Quantity             int64
	UnitPrice, LineTotal int64 // minor units
}

// Cart is a priced cart as promotions see it.
type Cart struct {
	Currency   string
	Lines      []Line
	Subtotal   int64    // minor units, before discounts
	Shipping   int64    // the price of the shipping method priced (0: none, or free)
	Codes      []string // normalised
	CustomerID string   // "" for a guest
	// OrderID is the order being checked out, or "": the uses it already
	// holds (an earlier attempt's) count as available to it.
	OrderID string
}

// Allocation is the part of a discount that falls on one line.
type Allocation struct {
	ItemID string
	Amount int64
}

// Discount is what one promotion takes off a cart: Amount off the lines
// (Lines sum to it exactly) and, with FreeShipping, the shipping.
type Discount struct {
	PromotionID  string
	Code         string // "" for an automatic promotion
	Label        string
	Amount       int64
	FreeShipping bool
	Lines        []Allocation
}

// CodeStatus says whether a code applies, and if not why (Reason*) in a
// word and in a sentence.
type CodeStatus struct {
	Code    string
	Applied bool
	Reason  string
	Message string
}

// Result is the discounts of a cart in the order they apply, and the
// status of each of its codes.
type Result struct {
	Discounts []Discount
	Codes     []CodeStatus
}

// facts are what a cart's promotions depend on besides the cart.
type facts struct {
	now          time.Time
	currency     string           // the shop's: fixed amounts and minimum subtotals are in it
	customerUses map[string]int64 // promotion id -> the customer's uses (signed-in customers)
	hasOrdered   bool             // the signed-in customer has placed an order
}

// refusal is why a promotion does not apply to a cart.
type refusal struct{ reason, message string }

// check returns why p cannot apply to c, or nil.
func check(p *Promotion, c *Cart, f facts) *refusal {
	fmtMoney := func(a int64) string { return money.Money{Amount: a, Currency: f.currency}.Format() }
	switch {
	case !p.Active:
		return &refusal{ReasonUnknown, "there is no such code"}
	case p.StartsAt != nil && f.now.Before(*p.StartsAt):
		return &refusal{ReasonNotYetValid, "this code is valid from " + p.StartsAt.Format("2 January 2006 15:04 MST")}
	case p.EndsAt != nil && !f.now.Before(*p.EndsAt):
		return &refusal{ReasonExpired, "this code expired on " + p.EndsAt.Format("2 January 2006 15:04 MST")}
	case p.UsageLimit != nil && p.Used >= *p.UsageLimit:
		return &refusal{ReasonExhausted, "this code has been used up"}
	case c.Currency != f.currency:
		return &refusal{ReasonNotApplicable, "this code is for carts in " + f.currency}
	}
	if n, ok := p.perCustomerLimit(); ok && c.CustomerID != "" && f.customerUses[p.ID] >= n {
		return &refusal{ReasonExhausted, "you have already used this code"}
	}
	if p.FirstOrder {
		switch {
		case c.CustomerID == "":
			return &refusal{ReasonNotApplicable, "this code is for a customer's first order: sign in or create an account to use it"}
		case f.hasOrdered:
			return &refusal{ReasonNotApplicable, "this code is for a first order only"}
		}
	}
	if c.Subtotal < p.MinSubtotal {
		return &refusal{ReasonNotApplicable, "spend at least " + fmtMoney(p.MinSubtotal) + " to use this code"}
	}
	if p.targeted() && !slices.ContainsFunc(c.Lines, func(l Line) bool { return eligible(p, l) }) {
		return &refusal{ReasonNotApplicable, "this code applies to products that are not in your cart"}
	}
	return nil
}

// eligible reports whether p applies to line l.
func eligible(p *Promotion, l Line) bool {
	if !p.targeted() {
		return true
	}
	return slices.Contains(p.ProductIDs, l.ProductID) || slices.ContainsFunc(l.CategoryIDs, func(id string) bool { return slices.Contains(p.CategoryIDs, id) })
}

// discount computes what p takes off the lines' remaining amounts rem
// (what earlier promotions left of each line's total), never more than a
// line's remainder.
func discount(p *Promotion, c *Cart, rem []int64) Discount {
	d := Discount{PromotionID: p.ID, Code: p.Code, Label: p.Name}
	var idx []int // the eligible lines with something left
	var base int64
	for i, l := range c.Lines {
		if eligible(p, l) && rem[i] > 0 {
			idx = append(idx, i)
			base += rem[i]
		}
	}
	amounts := make([]int64, len(c.Lines))
	switch p.Kind {
	case FreeShipping:
		d.FreeShipping = true
	case Percentage, Fixed:
		total := min(p.Value, base)
		if p.Kind == Percentage {
			total = money.PercentOf(base, p.Value)
		}
		weights := make([]int64, len(idx))
		for k, i := range idx {
			weights[k] = rem[i]
		}
		for k, a := range money.Allocate(total, weights) {
			amounts[idx[k]] = a
		}
	case BuyXGetY:
		// Of every buy+get units, the get cheapest are discounted.
		var units int64
		for _, i := range idx {
			units += c.Lines[i].Quantity
		}
		free := units / (p.BuyQuantity + p.GetQuantity) * p.GetQuantity
		cheap := slices.Clone(idx)
		slices.SortStableFunc(cheap, func(a, b int) int { return cmp.Compare(c.Lines[a].UnitPrice, c.Lines[b].UnitPrice) })
		for _, i := range cheap {
			if free == 0 {
				break
			}
			n := min(free, c.Lines[i].Quantity)
			free -= n
			amounts[i] = min(money.PercentOf(n*c.Lines[i].UnitPrice, p.Value), rem[i])
		}
	}
	for i, a := range amounts {
		if a > 0 {
			d.Amount += a
			d.Lines = append(d.Lines, Allocation{ItemID: c.Lines[i].ItemID, Amount: a})
			rem[i] -= a
		}
	}
	return d
}

// option is a set of promotions that may apply together, with what they
// give in the order they apply.
type option struct {
	promos    []*Promotion
	discounts []Discount
	value     int64 // off the lines, plus the shipping made free
}

// apply computes the discounts of promos, in order, each on what the
// earlier ones left.
func apply(promos []*Promotion, c *Cart) option {
	rem := make([]int64, len(c.Lines))
	for i, l := range c.Lines {
		rem[i] = l.LineTotal
	}
	o := option{promos: promos}
	free := false
	for _, p := range promos {
		d := discount(p, c, rem)
		o.value += d.Amount
		if d.FreeShipping && !free {
			free = true
			o.value += c.Shipping
		}
		o.discounts = append(o.discounts, d)
	}
	return o
}

// evaluate gives a cart its promotions: the automatic ones and that of its
// code (a cart gets one code: a second is refused), each that passes check
// and gives something (or frees the shipping). Non-exclusive promotions
// combine (automatic ones first, oldest first, then the code's; each on
// what the earlier left); an exclusive one applies alone. Of these options
// the cart gets the one worth the most to the shopper (the discount plus
// the shipping made free); on a tie, the one with the shopper's code, then
// the combination. A code that loses says so.
func evaluate(promos []Promotion, c Cart, f facts) Result {
	res := Result{Discounts: []Discount{}, Codes: []CodeStatus{}}
	byCode := map[string]*Promotion{}
	var autos []*Promotion
	for i := range promos {
		p := &promos[i]
		if p.Automatic() {
			autos = append(autos, p)
		} else {
			byCode[p.Code] = p
		}
	}
	slices.SortStableFunc(autos, func(a, b *Promotion) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	var candidates []*Promotion
	for _, p := range autos {
		if check(p, &c, f) == nil && gives(p, &c) {
			candidates = append(candidates, p)
		}
	}
	var code *Promotion        // the cart's code, when it can apply
	status := map[string]int{} // code -> its index in res.Codes
	for i, raw := range c.Codes {
		st := CodeStatus{Code: raw}
		p, ok := byCode[raw]
		switch {
		case !ok:
			st.Reason, st.Message = ReasonUnknown, "there is no such code"
		case i > 0 || code != nil:
			st.Reason, st.Message = ReasonNotApplicable, "only one code can be used per order"
		default:
			if r := check(p, &c, f); r != nil {
				st.Reason, st.Message = r.reason, r.message
			} else if !gives(p, &c) {
				st.Reason, st.Message = ReasonNotApplicable, nothingMessage(p)
			} else {
				code, st.Applied = p, true
				candidates = append(candidates, p)
			}
		}
		res.Codes = append(res.Codes, st)
		status[raw] = len(res.Codes) - 1
	}
	if len(candidates) == 0 {
		return res
	}
	// The options: every non-exclusive candidate together, each exclusive alone.
	var shared []*Promotion
	var options []option
	for _, p := range candidates {
		if p.Exclusive {
			options = append(options, apply([]*Promotion{p}, &c))
		} else {
			shared = append(shared, p)
		}
	}
	if len(shared) > 0 {
		options = append(options, apply(shared, &c))
	}
	has := func(o option, p *Promotion) bool { return p != nil && slices.Contains(o.promos, p) }
	best := options[0]
	for _, o := range options[1:] {
		switch {
		case o.value > best.value:
			best = o
		case o.value == best.value && has(o, code) && !has(best, code):
			best = o
		case o.value == best.value && has(o, code) == has(best, code) && len(o.promos) > len(best.promos):
			best = o
		}
	}
	if code != nil && !has(best, code) {
		st := &res.Codes[status[code.Code]]
		st.Applied, st.Reason = false, ReasonNotApplicable
		st.Message = "this code cannot be combined with " + best.promos[0].Name + ", which gives you more"
		if code.Exclusive {
			st.Message = "this code cannot be combined with other promotions, and they give you more"
		}
	}
	res.Discounts = append(res.Discounts, best.discounts...)
	return res
}

// gives reports whether p alone takes something off c or frees its
// shipping: a promotion that would give nothing does not apply.
func gives(p *Promotion, c *Cart) bool {
	if p.Kind == FreeShipping {
		return true
	}
	rem := make([]int64, len(c.Lines))
	for i, l := range c.Lines {
		rem[i] = l.LineTotal
	}
	return discount(p, c, rem).Amount > 0
}

// nothingMessage says why p gives the cart nothing.
func nothingMessage(p *Promotion) string {
	if p.Kind == BuyXGetY {
		off := fmt.Sprintf("%d%% off", p.Value)
		if p.Value == 100 {
			off = "free"
		}
		return fmt.Sprintf("buy %d, get %d more %s: add %d of the products it applies to", p.BuyQuantity, p.GetQuantity, off, p.BuyQuantity+p.GetQuantity)
	}
	return "there is nothing in your cart this code applies to"
}
