package promotion

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The money rules and the conditions, without a database: what a cart gets
// from a set of promotions.

var now = time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// promo is an active promotion made from a few fields.
func promo(id string, kind Kind, value int64, edit ...func(*Promotion)) Promotion {
	p := Promotion{ID: id, Name: "Promo " + id, Kind: kind, Value: value, Active: true, ProductIDs: []string{}, CategoryIDs: []string{},
		CreatedAt: now.Add(-time.Hour)}
	for _, e := range edit {
		e(&p)
	}
	return p
}

func code(c string) func(*Promotion) { return func(p *Promotion) { p.Code = c } }

// cartOf is a cart of lines given as "item:product:qty:unit".
func cartOf(codes []string, lines ...string) Cart {
	c := Cart{Currency: "EUR", Codes: codes, Shipping: 490}
	for _, l := range lines {
		var item, product string
		var qty, unit int64
		parts := strings.Split(l, ":")
		item, product = parts[0], parts[1]
		fmt.Sscan(parts[2], &qty)
		fmt.Sscan(parts[3], &unit)
		c.Lines = append(c.Lines, Line{ItemID: item, ProductID: product, CategoryIDs: []string{"cat-" + product}, Quantity: qty, UnitPrice: unit, LineTotal: qty * unit})
		c.Subtotal += qty * unit
	}
	return c
}

func defaultFacts() facts { return facts{now: now, currency: "EUR", customerUses: map[string]int64{}} }

// summary writes what a cart got: "label=amount[a:x b:y]" per discount,
// "+ship" for free shipping, and each code's status.
func summary(r Result) string {
	var parts []string
	for _, d := range r.Discounts {
		s := fmt.Sprintf("%s=%d", d.PromotionID, d.Amount)
		if d.FreeShipping {
			s += "+ship"
		}
		var ls []string
		var sum int64
		for _, l := range d.Lines {
			ls = append(ls, fmt.Sprintf("%s:%d", l.ItemID, l.Amount))
			sum += l.Amount
		}
		if sum != d.Amount {
			s += fmt.Sprintf("(LINES SUM TO %d)", sum)
		}
		if len(ls) > 0 {
			s += "[" + strings.Join(ls, " ") + "]"
		}
		parts = append(parts, s)
	}
	for _, c := range r.Codes {
		if c.Applied {
			parts = append(parts, c.Code+":ok")
		} else {
			parts = append(parts, c.Code+":"+c.Reason)
		}
	}
	return strings.Join(parts, " ")
}

func TestMoneyRules(t *testing.T) {
	for _, tt := range []struct {
		name   string
		promos []Promotion
		cart   Cart
		want   string
	}{
		{"percentage off the order, rounded half up and allocated by largest remainder",
			[]Promotion{promo("p", Percentage, 15)}, cartOf(nil, "a:x:1:1999", "b:y:3:333"), "p=450[a:300 b:150]"},
		// 15% of 29.98 = 4.497 -> 4.50; shares 2.9985 and 1.4985 -> 3.00 and 1.50.
		{"percentage on one cent lines: the parts still sum exactly",
			[]Promotion{promo("p", Percentage, 50)}, cartOf(nil, "a:x:1:1", "b:y:1:1", "c:z:1:1"), "p=2[a:1 b:1]"},
		{"fixed off the order, shared by price",
			[]Promotion{promo("p", Fixed, 1000)}, cartOf(nil, "a:x:1:3000", "b:y:1:1000"), "p=1000[a:750 b:250]"},
		{"fixed never below zero",
			[]Promotion{promo("p", Fixed, 1_000_000)}, cartOf(nil, "a:x:2:1250"), "p=2500[a:2500]"},
		{"100% off is everything, not more",
			[]Promotion{promo("p", Percentage, 100)}, cartOf(nil, "a:x:3:333", "b:y:1:1"), "p=1000[a:999 b:1]"},
		{"percentage off given products only",
			[]Promotion{promo("p", Percentage, 10, func(p *Promotion) { p.ProductIDs = []string{"x"} })}, cartOf(nil, "a:x:1:1000", "b:y:1:5000"), "p=100[a:100]"},
		{"fixed off a category, shared between its lines",
			[]Promotion{promo("p", Fixed, 300, func(p *Promotion) { p.CategoryIDs = []string{"cat-y"} })}, cartOf(nil, "a:x:1:1000", "b:y:1:500", "c:y:1:1000"), "p=300[b:100 c:200]"},
		{"free shipping",
			[]Promotion{promo("p", FreeShipping, 0)}, cartOf(nil, "a:x:1:1000"), "p=0+ship"},
		{"buy 2 get 1 free: the cheapest unit of each three",
			[]Promotion{promo("p", BuyXGetY, 100, func(p *Promotion) { p.BuyQuantity, p.GetQuantity = 2, 1 })}, cartOf(nil, "a:x:2:1000", "b:y:1:400"), "p=400[b:400]"},
		{"buy 2 get 1 free with 7 units: two free, the two cheapest",
			[]Promotion{promo("p", BuyXGetY, 100, func(p *Promotion) { p.BuyQuantity, p.GetQuantity = 2, 1 })}, cartOf(nil, "a:x:5:1000", "b:y:2:300"), "p=600[b:600]"},
		{"buy 1 get 1 half price, cheapest from two lines",
			[]Promotion{promo("p", BuyXGetY, 50, func(p *Promotion) { p.BuyQuantity, p.GetQuantity = 1, 1 })}, cartOf(nil, "a:x:3:1000", "b:y:1:301"), "p=651[a:500 b:151]"},
		{"buy x get y among given products only",
			[]Promotion{promo("p", BuyXGetY, 100, func(p *Promotion) { p.BuyQuantity, p.GetQuantity, p.ProductIDs = 1, 1, []string{"x"} })},
			cartOf(nil, "a:x:2:800", "b:y:5:10"), "p=800[a:800]"},
		{"automatic promotions combine, each on what the earlier left",
			[]Promotion{promo("p1", Percentage, 10), promo("p2", Fixed, 500, func(p *Promotion) { p.CreatedAt = now })}, cartOf(nil, "a:x:1:10000"),
			"p1=1000[a:1000] p2=500[a:500]"},
		{"a code adds to the automatic promotions",
			[]Promotion{promo("auto", FreeShipping, 0), promo("c", Percentage, 20, code("SPRING"))}, cartOf([]string{"SPRING"}, "a:x:1:5000"),
			"auto=0+ship c=1000[a:1000] SPRING:ok"},
		{"an exclusive code worth more wins over the automatic ones",
			[]Promotion{promo("auto", Percentage, 5), promo("c", Percentage, 30, code("BIG"), func(p *Promotion) { p.Exclusive = true })},
			cartOf([]string{"BIG"}, "a:x:1:1000"), "c=300[a:300] BIG:ok"},
		{"an exclusive code worth less loses, and says why",
			[]Promotion{promo("auto", Percentage, 40), promo("c", Percentage, 10, code("SMALL"), func(p *Promotion) { p.Exclusive = true })},
			cartOf([]string{"SMALL"}, "a:x:1:1000"), "auto=400[a:400] SMALL:not_applicable"},
		{"an exclusive automatic promotion worth more than code and others",
			[]Promotion{promo("ex", Fixed, 5000, func(p *Promotion) { p.Exclusive = true }), promo("auto", Percentage, 10), promo("c", Fixed, 100, code("C"))},
			cartOf([]string{"C"}, "a:x:1:10000"), "ex=5000[a:5000] C:not_applicable"},
		{"a tie goes to the shopper's code",
			[]Promotion{promo("ex", Fixed, 100, func(p *Promotion) { p.Exclusive = true }), promo("c", Fixed, 100, code("C"))},
			cartOf([]string{"C"}, "a:x:1:1000"), "c=100[a:100] C:ok"},
		{"free shipping counts what it saves when choosing",
			[]Promotion{promo("ex", Fixed, 400, func(p *Promotion) { p.Exclusive = true }), promo("ship", FreeShipping, 0, code("SHIP"))},
			cartOf([]string{"SHIP"}, "a:x:1:1000"), "ship=0+ship SHIP:ok"},
		{"a second code is refused",
			[]Promotion{promo("a", Fixed, 100, code("A")), promo("b", Fixed, 100, code("B"))}, cartOf([]string{"A", "B"}, "a:x:1:1000"),
			"a=100[a:100] A:ok B:not_applicable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := summary(evaluate(tt.promos, tt.cart, defaultFacts())); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	base := func(edit ...func(*Promotion)) []Promotion {
		return []Promotion{promo("c", Percentage, 10, append([]func(*Promotion){code("C")}, edit...)...)}
	}
	guest := cartOf([]string{"C"}, "a:x:2:1500")
	signedIn := guest
	signedIn.CustomerID = "cust-1"
	for _, tt := range []struct {
		name   string
		promos []Promotion
		cart   Cart
		facts  func(*facts)
		want   string
	}{
		{"unknown code", base(), cartOf([]string{"NOPE"}, "a:x:1:100"), nil, "NOPE:unknown"},
		{"inactive", base(func(p *Promotion) { p.Active = false }), guest, nil, "C:unknown"},
		{"not yet valid", base(func(p *Promotion) { p.StartsAt = ptr(now.Add(time.Minute)) }), guest, nil, "C:not_yet_valid"},
		{"started", base(func(p *Promotion) { p.StartsAt = ptr(now) }), guest, nil, "c=300[a:300] C:ok"},
		{"expired at its end", base(func(p *Promotion) { p.EndsAt = ptr(now) }), guest, nil, "C:expired"},
		{"before its end", base(func(p *Promotion) { p.EndsAt = ptr(now.Add(time.Second)) }), guest, nil, "c=300[a:300] C:ok"},
		{"used up", base(func(p *Promotion) { p.UsageLimit, p.Used = ptr[int64](10), 10 }), guest, nil, "C:exhausted"},
		{"one use left", base(func(p *Promotion) { p.UsageLimit, p.Used = ptr[int64](10), 9 }), guest, nil, "c=300[a:300] C:ok"},
		{"the customer used it up", base(func(p *Promotion) { p.UsageLimitPerCustomer = ptr[int64](2) }), signedIn,
			func(f *facts) { f.customerUses["c"] = 2 }, "C:exhausted"},
		{"the customer has a use left", base(func(p *Promotion) { p.UsageLimitPerCustomer = ptr[int64](2) }), signedIn,
			func(f *facts) { f.customerUses["c"] = 1 }, "c=300[a:300] C:ok"},
		{"below the minimum subtotal", base(func(p *Promotion) { p.MinSubtotal = 3001 }), guest, nil, "C:not_applicable"},
		{"at the minimum subtotal", base(func(p *Promotion) { p.MinSubtotal = 3000 }), guest, nil, "c=300[a:300] C:ok"},
		{"products not in the cart", base(func(p *Promotion) { p.ProductIDs = []string{"z"} }), guest, nil, "C:not_applicable"},
		{"a category in the cart", base(func(p *Promotion) { p.CategoryIDs = []string{"cat-x"} }), guest, nil, "c=300[a:300] C:ok"},
		{"first order: a guest must sign in", base(func(p *Promotion) { p.FirstOrder = true }), guest, nil, "C:not_applicable"},
		{"first order: a customer who ordered before", base(func(p *Promotion) { p.FirstOrder = true }), signedIn,
			func(f *facts) { f.hasOrdered = true }, "C:not_applicable"},
		{"first order: a new customer", base(func(p *Promotion) { p.FirstOrder = true }), signedIn, nil, "c=300[a:300] C:ok"},
		{"first order: used once already", base(func(p *Promotion) { p.FirstOrder = true }), signedIn,
			func(f *facts) { f.customerUses["c"] = 1 }, "C:exhausted"},
		{"nothing to take off", base(), cartOf([]string{"C"}), nil, "C:not_applicable"},
		{"buy x get y without enough units", []Promotion{promo("c", BuyXGetY, 100, code("C"), func(p *Promotion) { p.BuyQuantity, p.GetQuantity = 2, 1 })},
			guest, nil, "C:not_applicable"},
		{"another currency", base(), func() Cart { c := guest; c.Currency = "USD"; return c }(), nil, "C:not_applicable"},
		{"automatic promotions that do not apply are left out silently",
			[]Promotion{promo("late", Fixed, 100, func(p *Promotion) { p.StartsAt = ptr(now.Add(time.Hour)) }), promo("min", Fixed, 100, func(p *Promotion) { p.MinSubtotal = 1_000_000 })},
			guest, nil, "C:unknown"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := defaultFacts()
			if tt.facts != nil {
				tt.facts(&f)
			}
			r := evaluate(tt.promos, tt.cart, f)
			if got := summary(r); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			for _, c := range r.Codes {
				if !c.Applied && c.Message == "" {
					t.Errorf("code %s refused (%s) without a message", c.Code, c.Reason)
				}
			}
		})
	}
}

// TestAllocationsNeverExceedTheLines runs many promotion mixes over many
// carts: the discounts' lines sum to their amounts, no line loses more
// than its total, and the discount is never more than the subtotal.
func TestAllocationsNeverExceedTheLines(t *testing.T) {
	mixes := [][]Promotion{
		{promo("a", Percentage, 33), promo("b", Fixed, 777), promo("c", Percentage, 99, code("C"))},
		{promo("a", BuyXGetY, 100, func(p *Promotion) { p.BuyQuantity, p.GetQuantity = 1, 2 }), promo("b", Percentage, 100, code("C"))},
		{promo("a", Fixed, 1, func(p *Promotion) { p.ProductIDs = []string{"p1"} }), promo("b", Fixed, 999_999, code("C"))},
	}
	for seed := int64(1); seed <= 200; seed++ {
		var lines []string
		for i := range seed%5 + 1 {
			lines = append(lines, fmt.Sprintf("i%d:p%d:%d:%d", i, i, (seed*7+i)%4+1, (seed*131+i*17)%997+1))
		}
		c := cartOf([]string{"C"}, lines...)
		for m, promos := range mixes {
			r := evaluate(promos, c, defaultFacts())
			taken := map[string]int64{}
			var total int64
			for _, d := range r.Discounts {
				var sum int64
				for _, l := range d.Lines {
					if l.Amount <= 0 {
						t.Fatalf("seed %d mix %d: a line allocation of %d", seed, m, l.Amount)
					}
					sum += l.Amount
					taken[l.ItemID] += l.Amount
				}
				if sum != d.Amount {
					t.Fatalf("seed %d mix %d: %s's lines sum to %d, its amount is %d", seed, m, d.PromotionID, sum, d.Amount)
				}
				total += d.Amount
			}
			for _, l := range c.Lines {
				if taken[l.ItemID] > l.LineTotal {
					t.Fatalf("seed %d mix %d: line %s (%d) lost %d", seed, m, l.ItemID, l.LineTotal, taken[l.ItemID])
				}
			}
			if total > c.Subtotal {
				t.Fatalf("seed %d mix %d: %d off a subtotal of %d", seed, m, total, c.Subtotal)
			}
		}
	}
}
