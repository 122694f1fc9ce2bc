package app

import (
	"context"

	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/promotion"
)

// The promotion module speaks its own types; these adapters give it to the
// cart (as its Discounter), to the checkout (as a Redemption) and let it
// ask the orders about a customer's history.

// discounter adapts the promotion module to cart.Discounter.
type discounter struct{ promotions *promotion.Service }

func (d discounter) Discounts(ctx context.Context, q cart.DiscountQuery) (cart.DiscountResult, error) {
	c := promotion.Cart{Currency: q.Currency, Subtotal: q.Subtotal.Amount, Codes: q.Codes, CustomerID: q.CustomerID, OrderID: q.OrderID}
	if q.Shipping != nil {
		c.Shipping = q.Shipping.Price.Amount
	}
	for _, l := range q.Lines {
		c.Lines = append(c.Lines, promotion.Line{ItemID: l.ItemID, ProductID: l.ProductID, Quantity: l.Quantity,
			UnitPrice: l.UnitPrice.Amount, LineTotal: l.LineTotal.Amount})
	}
	r, err := d.promotions.Discounts(ctx, c)
	if err != nil {
		return cart.DiscountResult{}, err
	}
	m := func(a int64) money.Money { return money.Money{Amount: a, Currency: q.Currency} }
	out := cart.DiscountResult{Discounts: make([]cart.Discount, len(r.Discounts)), Codes: make([]cart.CodeStatus, len(r.Codes))}
	for i, d := range r.Discounts {
		cd := cart.Discount{PromotionID: d.PromotionID, Code: d.Code, Label: d.Label, Amount: m(d.Amount), FreeShipping: d.FreeShipping,
			Lines: make([]cart.LineAllocation, len(d.Lines))}
		for j, l := range d.Lines {
			cd.Lines[j] = cart.LineAllocation{ItemID: l.ItemID, Amount: m(l.Amount)}
		}
		out.Discounts[i] = cd
	}
	for i, c := range r.Codes {
		out.Codes[i] = cart.CodeStatus{Code: c.Code, Applied: c.Applied, Reason: c.Reason, Message: c.Message}
	}
	return out, nil
}

// promotionUses adapts the promotion module to checkout.Redemption: the
// uses of the promotions the cart was priced with.
type promotionUses struct{ promotions *promotion.Service }

func (p promotionUses) Reserve(ctx context.Context, orderID string, r checkout.Redeem) error {
	res := promotion.Reservation{CustomerID: r.CustomerID, Email: r.Email, Currency: r.Cart.Currency, Until: r.Until}
	for _, d := range r.Cart.Discounts {
		res.Uses = append(res.Uses, promotion.Use{PromotionID: d.PromotionID, Code: d.Code, Amount: d.Amount.Amount})
	}
	return p.promotions.Reserve(ctx, orderID, res)
}

func (p promotionUses) Commit(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	return p.promotions.Commit(ctx, tx, orderID)
}

func (p promotionUses) Release(ctx context.Context, orderID string) error {
	return p.promotions.Release(ctx, orderID)
}

func (p promotionUses) ReleaseExpired(ctx context.Context) (int, error) {
	return p.promotions.ReleaseExpired(ctx)
}

// orderHistory tells the promotion module whether a customer has ordered
// (first-order promotions).
type orderHistory struct{ orders *order.Service }

func (h orderHistory) HasOrdered(ctx context.Context, customerID, email string) (bool, error) {
	for _, q := range []order.ListQuery{{CustomerID: customerID, Limit: 1}, {Email: email, Limit: 1}} {
		if q.CustomerID == "" && q.Email == "" {
			continue
		}
		page, err := h.orders.List(ctx, q)
		if err != nil {
			return false, err
		}
		if len(page.Items) > 0 {
			return true, nil
		}
	}
	return false, nil
}
