package storefront

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/payment"
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
	ID, Label, Kind   string
	Note              string // what happens with it: a test card's outcome, where a redirect method is paid
	Test, Card        bool   // a sandbox test card (its id is shown); a card entered in the provider's fields
	Declines, Checked bool
}

// cardEntry is the card field of a provider's browser script (Stripe
// Elements) on the checkout page.
type cardEntry struct {
	Key  string // the provider's publishable key
	Only bool   // no other way to pay is offered (without JavaScript nothing can be paid)
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
	// SandboxNotice: the sandbox's test cards are offered (no provider
	// keys are set), so the page says that no real money moves.
	SandboxNotice bool
	Card          *cardEntry // a card is entered in Stripe Elements
	Key           string
	Lines         []cartLine
	Totals        totalsView
	SignedIn      bool
}

// checkoutForm is what the checkout form posted (or its defaults).
type checkoutForm struct {
	in checkout.Input
	// choice is the payment method chosen in the list: in.PaymentMethod,
	// but for a card element the method's listed ID, and in.PaymentMethod
	// the pm_… id Stripe.js made from the card (card_payment_method).
	choice string
	card   string
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
	f.choice, f.card = f.in.PaymentMethod, get("card_payment_method")
	f.key = get("idempotency_key")
}

// paymentChoice resolves the chosen payment method: a card element's
// listed ID becomes the payment method Stripe.js made in the browser. It
// reports false, with the form's message set, when that is missing (the
// card fields need JavaScript).
func (s *Storefront) paymentChoice(f *checkoutForm) bool {
	if s.svc.Payments == nil {
		return true
	}
	for _, m := range s.svc.Payments.PaymentMethods() {
		if m.ID != f.choice || m.Kind != payment.KindCardElement {
			continue
		}
		if f.card == "" {
			f.fields = map[string]string{"payment_method": "Enter your card details. Card payment needs JavaScript: turn it on, or choose another way to pay."}
			f.errMsg = "Please check the highlighted fields."
			return false
		}
		f.in.PaymentMethod = f.card
	}
	return true
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
		var f checkoutForm
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
	v.Payments, v.Card, v.SandboxNotice = s.payOptions(f.choice)
	if v.Card != nil {
		web.AllowSources(w, stripeSources)
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

// stripeSources are what a page that loads Stripe.js (from Stripe, as it
// must be: https://js.stripe.com/v3/) needs in its Content-Security-Policy:
// the script, its frames (the card fields, 3-D Secure), and its calls to
// Stripe's API.
var stripeSources = web.Sources{Script: []string{"https://js.stripe.com"}, Frame: []string{"https://js.stripe.com"}, Connect: []string{"https://api.stripe.com"}}

// payOptions lists every way to pay the providers offer, chosen checked
// (the first when chosen is none of them). A card element whose provider
// has no publishable key cannot work and is left out.
func (s *Storefront) payOptions(chosen string) (opts []payOption, card *cardEntry, sandbox bool) {
	if s.svc.Payments == nil {
		return nil, nil, false
	}
	for _, m := range s.svc.Payments.PaymentMethods() {
		o := payOption{ID: m.ID, Label: m.Name, Kind: m.Kind, Declines: m.Declines, Checked: m.ID == chosen}
		switch m.Kind {
		case payment.KindTest:
			o.Test, o.Note, sandbox = true, m.Outcome, true
		case payment.KindCardElement:
			if m.PublishableKey == "" || card != nil {
				continue
			}
			o.Card = true
			card = &cardEntry{Key: m.PublishableKey}
			if m.TestMode {
				o.Note = "Test mode"
			}
		default:
			o.Note = "You pay on " + providerName(m.Provider) + "’s page"
			if m.TestMode {
				o.Note += " (test mode)"
			}
		}
		opts = append(opts, o)
	}
	if card != nil {
		card.Only = len(opts) == 1
	}
	if !slices.ContainsFunc(opts, func(o payOption) bool { return o.Checked }) && len(opts) > 0 {
		opts[0].Checked = true
	}
	return opts, card, sandbox
}

// providerName is a provider's name for shoppers ("stripe": "Stripe").
func providerName(name string) string {
	if name == "" {
		return "the payment provider"
	}
	return strings.ToUpper(name[:1]) + name[1:]
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
		if !s.paymentChoice(&f) {
			return s.renderCheckout(w, r, http.StatusBadRequest, c.ID, f)
		}
		res, err := s.svc.Checkout.CheckoutResult(ctx, c.ID, f.key, f.in)
		if err == nil {
			forgetCart(w, r)
			o := res.Order
			q := url.Values{}
			dest := "/account/orders/" + url.PathEscape(o.ID)
			if o.CustomerID == "" {
				ui.SetCookie(w, r, orderCookie, o.AccessToken, "/orders/"+o.ID, cartMaxAge)
				dest = "/orders/" + url.PathEscape(o.ID)
				q.Set("token", o.AccessToken)
			}
			// A payment on the provider's page: the order page sends the
			// shopper on. The checkout's answer cannot: the policy's
			// form-action 'self' holds for every redirect after a form.
			if p := res.Payment; p != nil && p.NextAction != nil && p.NextAction.Type == payment.NextActionRedirect {
				q.Set("pay", "1")
			}
			if len(q) > 0 {
				dest += "?" + q.Encode()
			}
			http.Redirect(w, r, dest, http.StatusSeeOther)
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
