package storefront

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/ui"
)

// field is one labelled text input of a form, with its message.
type field struct {
	ID, Name, Label, Type, Value, Error, Autocomplete, Hint string
	Required                                                bool
	Max                                                     int
}

type methodOption struct {
	ID, Name, Price string
	Checked         bool
}

type payOption struct {
	ID, Label, Outcome string
	Declines, Checked  bool
}

type checkoutView struct {
	view
	Error        string
	Email        field
	Address      []field
	Countries    []option
	OtherCountry []option
	CountryError string
	Methods      []methodOption
	MethodError  string
	Payments     []payOption
	PaymentError string
	Key          string
	Lines        []cartLine
	Totals       totalsView
	SignedIn     bool
}

// checkoutForm is what the checkout form posted (or its defaults).
type checkoutForm struct {
	in     checkout.Input
	key    string
	errMsg string
	fields map[string]string
}

func (f *checkoutForm) read(r *http.Request) {
	get := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f.in = checkout.Input{
		Email: get("email"),
		ShippingAddress: address.Address{Name: get("name"), Line1: get("line1"), Line2: get("line2"), City: get("city"),
			PostalCode: get("postal_code"), Country: strings.ToUpper(get("country"))},
		ShippingMethodID: get("shipping_method_id"),
		PaymentMethod:    get("payment_method"),
	}
	f.key = get("idempotency_key")
}

// Checkout serves GET /checkout: contact, address, shipping method and
// payment for the visitor's cart. An empty cart or one with problems goes
// back to the cart page.
func (s *Storefront) Checkout() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		c, ok, err := s.currentCart(w, r)
		if err != nil {
			return err
		}
		if !ok || len(c.Items) == 0 {
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		}
		if _, _, buyable := cartLines(c); !buyable {
			s.flash.Set(w, r, ui.Flash{Error: true, Text: "Some items in your cart cannot be bought as they are; please fix them first."})
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		}
		f := checkoutForm{in: checkout.Input{PaymentMethod: "pm_card_visa"}}
		if p, ok := customerOf(r); ok {
			f.in.Email = p.Email
			f.in.ShippingAddress.Name = p.Name
			if addrs, err := s.svc.Customers.Addresses(r.Context(), p.AccountID); err == nil && len(addrs) > 0 {
				a := addrs[0] // the default comes first
				f.in.ShippingAddress = address.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, PostalCode: a.PostalCode, Country: a.Country}
			}
		}
		return s.renderCheckout(w, r, http.StatusOK, c.ID, f)
	})
}

func (s *Storefront) renderCheckout(w http.ResponseWriter, r *http.Request, status int, cartID string, f checkoutForm) error {
	ctx := r.Context()
	in := f.in
	if in.ShippingAddress.Country == "" {
		in.ShippingAddress.Country = s.svc.Shipping.DefaultCountry()
	}
	if f.key == "" {
		f.key = newCheckoutKey()
	}
	if f.fields == nil {
		f.fields = map[string]string{}
	}
	cats, err := s.cat.Categories(ctx)
	if err != nil {
		return err
	}
	v := checkoutView{Error: f.errMsg, Key: f.key}
	v.Countries, v.OtherCountry, err = s.shipCountries(ctx, in.ShippingAddress.Country)
	if err != nil {
		return err
	}
	v.CountryError = f.fields["country"]
	methods, err := s.svc.Carts.ShippingOptions(ctx, cartID, in.ShippingAddress.Country)
	if apperr.Is(err, apperr.Invalid) {
		methods, err = nil, nil // an unknown country: no methods, the field says why
	}
	if err != nil {
		return err
	}
	chosen := ""
	for _, m := range methods {
		if m.ID == in.ShippingMethodID {
			chosen = m.ID
		}
	}
	if chosen == "" && len(methods) > 0 {
		chosen = methods[0].ID
	}
	for _, m := range methods {
		price := m.Price.Format()
		if m.Price.IsZero() {
			price = "Free"
		}
		v.Methods = append(v.Methods, methodOption{ID: m.ID, Name: m.Name, Price: price, Checked: m.ID == chosen})
	}
	v.MethodError = f.fields["shipping_method_id"]
	if len(methods) == 0 && v.MethodError == "" {
		v.MethodError = "We don't ship to this country yet."
	}
	q, err := s.svc.Carts.Quote(ctx, cartID, in.ShippingAddress.Country, chosen)
	if err != nil && !userError(err) {
		return err
	}
	if err != nil { // no method for the country: price without shipping
		if q, err = s.svc.Carts.Quote(ctx, cartID, "", ""); err != nil {
			return err
		}
	}
	v.Lines, _, _ = cartLines(q.Cart)
	v.Totals = cartTotals(q.Cart)
	if q.Method != nil {
		v.Totals.ShippingName = q.Method.Name
	}
	if s.svc.Payments != nil {
		for _, pm := range s.svc.Payments.PaymentMethods() {
			v.Payments = append(v.Payments, payOption{ID: pm.ID, Label: pm.Name, Outcome: pm.Outcome, Declines: pm.Declines, Checked: pm.ID == in.PaymentMethod})
		}
	}
	v.PaymentError = f.fields["payment_method"]
	_, v.SignedIn = customerOf(r)
	v.Email = field{ID: "co-email", Name: "email", Label: "E-mail", Type: "email", Value: in.Email, Error: f.fields["email"], Autocomplete: "email", Required: true, Max: 254,
		Hint: "We send the order confirmation here."}
	a := in.ShippingAddress
	v.Address = []field{
		{ID: "co-name", Name: "name", Label: "Full name", Type: "text", Value: a.Name, Error: f.fields["name"], Autocomplete: "shipping name", Required: true, Max: address.MaxName},
		{ID: "co-line1", Name: "line1", Label: "Street and number", Type: "text", Value: a.Line1, Error: f.fields["line1"], Autocomplete: "shipping address-line1", Required: true, Max: address.MaxLine},
		{ID: "co-line2", Name: "line2", Label: "Apartment, floor, c/o", Type: "text", Value: a.Line2, Error: f.fields["line2"], Autocomplete: "shipping address-line2", Max: address.MaxLine},
		{ID: "co-postal", Name: "postal_code", Label: "Postal code", Type: "text", Value: a.PostalCode, Error: f.fields["postal_code"], Autocomplete: "shipping postal-code", Required: true, Max: address.MaxPostalCode},
		{ID: "co-city", Name: "city", Label: "City", Type: "text", Value: a.City, Error: f.fields["city"], Autocomplete: "shipping address-level2", Required: true, Max: address.MaxCity},
	}
	v.view = s.newView(r, "Checkout", "", "", cats, "")
	v.NoIndex = true
	return s.pages.Render(w, status, "checkout", v)
}

// newCheckoutKey is the Idempotency-Key of one checkout attempt: made when
// the form renders, so a double submit or a reload of the POST replays the
// first answer instead of ordering twice.
func newCheckoutKey() string { return "web_" + ids.Secret(16) }

// PlaceOrder serves POST /checkout. "Update shipping options" re-renders
// the form with the methods for the entered country; otherwise it places
// the order under the form's idempotency key. A decline or invalid input
// shows the form again with everything typed kept (and a new key); stock
// and price problems go back to the cart; success goes to the order page.
func (s *Storefront) PlaceOrder() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		var f checkoutForm
		f.read(r)
		c, ok, err := s.currentCart(w, r)
		if err != nil {
			return err
		}
		if !ok || len(c.Items) == 0 {
			s.flash.Set(w, r, ui.Flash{Error: true, Text: "Your cart is empty, or it was already checked out. Check your e-mail or account for the order."})
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		}
		if r.PostFormValue("action") == "update" {
			return s.renderCheckout(w, r, http.StatusOK, c.ID, f)
		}
		if s.svc.AllowCheckout != nil {
			if err := s.svc.AllowCheckout(r); err != nil {
				if !userError(err) {
					return err
				}
				f.errMsg, _ = problemMessage(err)
				return s.renderCheckout(w, r, http.StatusTooManyRequests, c.ID, f)
			}
		}
		if f.key == "" {
			f.key = newCheckoutKey()
		}
		o, err := s.svc.Checkout.Checkout(ctx, c.ID, f.key, f.in)
		if err == nil {
			forgetCart(w, r)
			if o.CustomerID != "" {
				http.Redirect(w, r, "/account/orders/"+url.PathEscape(o.ID), http.StatusSeeOther)
				return nil
			}
			ui.SetCookie(w, r, orderCookie, o.AccessToken, "/orders/"+o.ID, cartMaxAge)
			http.Redirect(w, r, "/orders/"+url.PathEscape(o.ID)+"?token="+url.QueryEscape(o.AccessToken), http.StatusSeeOther)
			return nil
		}
		if !userError(err) {
			return err
		}
		var (
			refusal *checkout.Refusal
			e       *apperr.Error
		)
		refused := errors.As(err, &refusal)
		errors.As(err, &e)
		switch {
		case refused && refusal.PricesChanged():
			s.flash.Set(w, r, ui.Flash{Error: true, Text: sentence(e.Message)})
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		case refused && refusal.SoldOut():
			s.flash.Set(w, r, ui.Flash{Error: true, Text: "Sorry, some items sold out while you were checking out: " + strings.TrimPrefix(e.Message, "not enough stock for ") + ". Please adjust your cart. You have not been charged."})
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		case refused && (hasField(e, "code") || hasField(e, "discounts")): // a discount code or promotion that cannot be used (any more)
			s.flash.Set(w, r, ui.Flash{Error: true, Text: sentence(e.Message) + " You have not been charged."})
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		case refused && e.Code == apperr.Unprocessable: // nothing in the cart can be bought as it is
			s.flash.Set(w, r, ui.Flash{Error: true, Text: sentence(e.Message)})
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return nil
		}
		f.errMsg, f.fields = problemMessage(err)
		switch {
		case hasField(e, "Idempotency-Key"):
			f.errMsg = "This form was already sent with other details. Please check them and place the order again."
		case e.Code == apperr.PaymentFailed:
			f.errMsg = sentence(e.Message) + " You have not been charged. Choose another payment method and place the order again."
		}
		f.key = "" // the old key holds this answer; the next attempt needs a new one
		return s.renderCheckout(w, r, web.StatusOf(err), c.ID, f)
	})
}

func hasField(e *apperr.Error, name string) bool {
	for _, f := range e.Fields {
		if f.Field == name {
			return true
		}
	}
	return false
}
