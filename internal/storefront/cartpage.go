package storefront

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/ui"
)

// cartLine is one line of the cart page.
type cartLine struct {
	ID, URL, Title, Variant string
	ImageURL, ImageAlt      string
	Tone                    int
	Initials                string
	Unit, Previous, Total   string
	PriceChanged            bool
	Quantity, Max           int64
	Problem                 string // stock or availability trouble, shown on the line
}

// totalsView are a cart's or an order's money lines, formatted.
type totalsView struct {
	Subtotal, Discount, Shipping, Tax, Total string
	HasDiscount                              bool
	Discounts                                []discountLine // each promotion with its label
	GiftCard                                 string
	HasGiftCard                              bool
	ShippingName                             string
	TaxIncluded                              bool
}

// discountLine is one promotion in the totals: its label and what it takes
// off ("Free shipping" for one that only frees the shipping).
type discountLine struct {
	Label, Amount, Code string
	FreeShipping        bool
}

// codeView is the discount code on a cart, and why it does not apply.
type codeView struct {
	Code, Problem string
	Applied       bool
}

type cartView struct {
	view
	Flash        *ui.Flash
	Lines        []cartLine
	Count        int64
	Totals       totalsView
	Codes        []codeView
	CodeValue    string // the code field's value after a refusal
	PriceChanged bool
	CanCheckout  bool
}

func cartTotals(c cart.Cart) totalsView {
	t := totalsView{Subtotal: c.Totals.Subtotal.Format(), Discount: c.Totals.Discount.Format(), HasDiscount: !c.Totals.Discount.IsZero(),
		Shipping: c.Totals.Shipping.Format(), Tax: c.Totals.Tax.Format(), Total: c.Totals.Total.Format(), TaxIncluded: c.TaxIncluded,
		GiftCard: c.Totals.GiftCard.Format(), HasGiftCard: !c.Totals.GiftCard.IsZero()}
	for _, d := range c.Discounts {
		t.Discounts = append(t.Discounts, discountLine{Label: d.Label, Amount: d.Amount.Format(), Code: d.Code, FreeShipping: d.FreeShipping && d.Amount.IsZero()})
		t.HasDiscount = t.HasDiscount || d.FreeShipping
	}
	if c.Shipping != nil {
		t.ShippingName = c.Shipping.Name
		if c.Shipping.Price.IsZero() || c.Totals.Shipping.IsZero() {
			t.Shipping = "Free"
		}
	}
	return t
}

// cartCodes are the cart's discount codes for the page.
func cartCodes(c cart.Cart) []codeView {
	var out []codeView
	for _, st := range c.DiscountCodes {
		out = append(out, codeView{Code: st.Code, Applied: st.Applied, Problem: sentence(st.Message)})
	}
	return out
}

func cartLines(c cart.Cart) ([]cartLine, int64, bool) {
	var (
		lines []cartLine
		count int64
		ok    = len(c.Items) > 0
	)
	for _, it := range c.Items {
		l := cartLine{ID: it.ID, URL: "/p/" + url.PathEscape(it.ProductSlug), Title: it.Title, Variant: it.VariantTitle,
			ImageURL: it.Image.URL, ImageAlt: cmp.Or(it.Image.Alt, it.Title), Tone: tone(it.ProductSlug), Initials: initials(it.Title),
			Unit: it.UnitPrice.Format(), Total: it.LineTotal.Format(), PriceChanged: it.PriceChanged, Quantity: it.Quantity, Max: cart.MaxQuantity}
		if it.PriceChanged && it.PreviousUnitPrice != nil {
			l.Previous = it.PreviousUnitPrice.Format()
		}
		if !it.Backorder {
			l.Max = max(min(it.Available, cart.MaxQuantity), it.Quantity)
		}
		switch {
		case !it.Purchasable:
			l.Problem, ok = "No longer for sale — please remove it.", false
		case !it.Backorder && it.Available <= 0:
			l.Problem, ok = "Out of stock — please remove it.", false
		case !it.Backorder && it.Available < it.Quantity:
			l.Problem, ok = fmt.Sprintf("Only %d left — lower the quantity.", it.Available), false
		}
		count += it.Quantity
		lines = append(lines, l)
	}
	return lines, count, ok
}

// Cart serves GET /cart: the lines with their prices (and price changes),
// quantity forms, the totals with a shipping estimate, and the way to the
// checkout.
func (s *Storefront) Cart() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		c, _, err := s.currentCart(w, r)
		if err != nil {
			return err
		}
		return s.renderCart(w, r, http.StatusOK, c, s.flash.Take(w, r))
	})
}

func (s *Storefront) renderCart(w http.ResponseWriter, r *http.Request, status int, c cart.Cart, fl *ui.Flash) error {
	cats, err := s.cat.Categories(r.Context())
	if err != nil {
		return err
	}
	v := cartView{Flash: fl, PriceChanged: c.PriceChanged, Totals: cartTotals(c), Codes: cartCodes(c)}
	v.Lines, v.Count, v.CanCheckout = cartLines(c)
	for _, cv := range v.Codes {
		v.CanCheckout = v.CanCheckout && cv.Applied
	}
	v.view = s.newView(r, "Your cart", "", "", cats, "")
	v.NoIndex = true
	if c.ID != "" {
		v.Me.CartCount = int(v.Count)
	}
	return s.pages.Render(w, status, "cart", v)
}

func formInt(r *http.Request, name string, def int64) (int64, error) {
	raw := strings.TrimSpace(r.PostFormValue(name))
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, apperr.Field(name, "must be a whole number")
	}
	return n, nil
}

// userError is true for errors the shopper can act on (shown as a message
// on the page); anything else is an error page.
func userError(err error) bool {
	c := apperr.CodeOf(err)
	return c != apperr.Internal && c != ""
}

// AddToCart serves POST /cart/items (variant_id, quantity) from the product
// page: it creates the cart on the first add, then shows the cart. Stock
// and validation problems are shown on the cart page.
func (s *Storefront) AddToCart() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		qty, err := formInt(r, "quantity", 1)
		variantID := strings.TrimSpace(r.PostFormValue("variant_id"))
		if err == nil {
			var (
				id string
				c  cart.Cart
			)
			id, err = s.cartID(r)
			if err == nil && id != "" {
				c, err = s.svc.Carts.AddItem(ctx, id, variantID, qty)
			}
			if id == "" || apperr.Is(err, apperr.NotFound) || (apperr.Is(err, apperr.Conflict) && strings.Contains(err.Error(), "can no longer change")) {
				// No cart yet, or the cookie's cart is gone or checked out: start one.
				if c, err = s.svc.Carts.Create(ctx, ""); err == nil {
					s.referNewCart(ctx, c.ID)
					c, err = s.svc.Carts.AddItem(ctx, c.ID, variantID, qty)
					if err != nil && c.ID != "" {
						s.rememberCart(w, r, c)
					}
				}
			}
			if err == nil {
				s.rememberCart(w, r, c)
				for _, it := range c.Items {
					if it.VariantID == variantID {
						s.flash.Set(w, r, ui.Flash{Text: "Added " + it.Title + variantSuffix(it.VariantTitle) + " to your cart."})
					}
				}
			}
		}
		if err != nil {
			if !userError(err) {
				return err
			}
			s.flash.Set(w, r, ui.Flash{Error: true, Text: cartProblem(err)})
		}
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return nil
	})
}

func variantSuffix(v string) string {
	if v == "" || v == "Default" {
		return ""
	}
	return " (" + v + ")"
}

// cartProblem words a cart error for the shopper.
func cartProblem(err error) string {
	msg, fields := problemMessage(err)
	if q, ok := fields["quantity"]; ok && apperr.Is(err, apperr.Conflict) {
		return "Sorry, we don't have that many: " + strings.TrimSuffix(strings.ToLower(q[:1])+q[1:], ".") + "."
	}
	if apperr.Is(err, apperr.Invalid) && len(fields) > 0 {
		for f, m := range fields {
			switch f {
			case "variant_id":
				return "That product option is not for sale any more."
			case "quantity":
				return "Quantity: " + m
			}
		}
	}
	return msg
}

// UpdateCartItem serves POST /cart/items/{id}: quantity sets the line's
// quantity (0 removes it); the remove button removes it.
func (s *Storefront) UpdateCartItem() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.cartID(r)
		if err != nil {
			return err
		}
		if id == "" {
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		}
		qty, err := formInt(r, "quantity", 0)
		if r.PostFormValue("action") == "remove" {
			qty, err = 0, nil
		}
		if err == nil {
			var c cart.Cart
			c, err = s.svc.Carts.SetQuantity(r.Context(), id, r.PathValue("id"), qty)
			if err == nil {
				s.rememberCart(w, r, c)
				if qty == 0 {
					s.flash.Set(w, r, ui.Flash{Text: "Removed from your cart."})
				} else {
					s.flash.Set(w, r, ui.Flash{Text: "Cart updated."})
				}
			}
		}
		if err != nil {
			if !userError(err) {
				return err
			}
			if apperr.Is(err, apperr.NotFound) {
				err = apperr.NotFoundf("that item is no longer in your cart")
			}
			s.flash.Set(w, r, ui.Flash{Error: true, Text: cartProblem(err)})
		}
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return nil
	})
}

// ApplyCode serves POST /cart/discounts (code): the code goes on the
// visitor's cart (in place of the one it had), and the cart page shows the
// discount with its label, or why the code cannot be used.
func (s *Storefront) ApplyCode() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.cartID(r)
		if err != nil {
			return err
		}
		code := strings.TrimSpace(r.PostFormValue("code"))
		if id == "" {
			s.flash.Set(w, r, ui.Flash{Error: true, Text: "Add something to your cart first, then enter your code."})
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		}
		c, err := s.svc.Carts.ApplyCode(r.Context(), id, code)
		switch {
		case err == nil:
			s.rememberCart(w, r, c)
			text := "Code " + cart.NormalizeCode(code) + " applied."
			for _, d := range c.Discounts {
				if d.Code == cart.NormalizeCode(code) {
					text = "Code " + d.Code + " applied: " + d.Label + "."
				}
			}
			s.flash.Set(w, r, ui.Flash{Text: text})
		case apperr.Is(err, apperr.NotFound):
			forgetCart(w, r)
			s.flash.Set(w, r, ui.Flash{Error: true, Text: "Your cart has expired; please add the items again."})
		case userError(err):
			msg, fields := problemMessage(err)
			if m, ok := fields["code"]; ok {
				msg = "Code " + cart.NormalizeCode(code) + ": " + strings.ToLower(m[:1]) + m[1:]
				if code == "" {
					msg = "Enter a discount code."
				}
			}
			s.flash.Set(w, r, ui.Flash{Error: true, Text: msg})
		default:
			return err
		}
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return nil
	})
}

// RemoveCode serves POST /cart/discounts/{code}/delete: the code comes off
// the visitor's cart.
func (s *Storefront) RemoveCode() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.cartID(r)
		if err != nil {
			return err
		}
		if id != "" {
			c, err := s.svc.Carts.RemoveCode(r.Context(), id, r.PathValue("code"))
			switch {
			case err == nil:
				s.rememberCart(w, r, c)
				s.flash.Set(w, r, ui.Flash{Text: "Code removed."})
			case apperr.Is(err, apperr.NotFound):
				s.flash.Set(w, r, ui.Flash{Error: true, Text: "That code is not on your cart."})
			case userError(err):
				s.flash.Set(w, r, ui.Flash{Error: true, Text: cartProblem(err)})
			default:
				return err
			}
		}
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return nil
	})
}
