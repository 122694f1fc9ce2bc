package storefront

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/ui"
)

type orderLine struct {
	Title, Variant, SKU string
	Quantity            int64
	Unit, Total         string
}

type event struct {
	When string
	ISO  string
	Text string
}

type orderView struct {
	view
	Account     bool // shown inside the account pages
	JustPlaced  bool
	Number      string
	Email       string
	Placed      string
	Status      string
	StatusClass string
	Payment     string
	Fulfilment  string
	Lines       []orderLine
	Totals      totalsView
	Address     []string
	Method      string
	Tracking    []string
	Timeline    []event
	AccountNav  []link
	// Awaiting: the provider has not yet said whether the payment went
	// through; Pay is what the shopper can do meanwhile (nil: nothing, or
	// not this visitor's to do), Refresh the page's own address.
	Awaiting bool
	Pay      *payView
	Refresh  string
}

// payView is what an order awaiting its payment asks of its shopper.
type payView struct {
	Provider string // for the shopper: "Stripe"
	// Redirect: pay on the provider's page, through PayURL (which answers
	// 303 to it); Go: do so at once (the order was just placed).
	Redirect bool
	PayURL   string
	Go       bool
	// StripeSDK: confirm with Stripe.js (3-D Secure).
	StripeSDK    bool
	StripeKey    string
	ClientSecret string
}

var (
	statusLabels = map[string]string{
		order.StatusPending: "Confirmed", order.StatusPaid: "Confirmed", order.StatusPartiallyFulfilled: "Being packed",
		order.StatusFulfilled: "Packed, ready to ship", order.StatusShipped: "Shipped", order.StatusDelivered: "Delivered",
		order.StatusCancelled: "Cancelled", order.StatusRefunded: "Refunded",
	}
	paymentLabels = map[string]string{
		order.PaymentAwaiting: "Awaiting payment", order.PaymentAuthorized: "Authorised (charged when shipped)", order.PaymentPaid: "Paid",
		order.PaymentPartiallyRefunded: "Partly refunded", order.PaymentRefunded: "Refunded", order.PaymentVoided: "Voided",
	}
	fulfilmentLabels = map[string]string{
		order.FulfillmentUnfulfilled: "Not shipped yet", order.FulfillmentPartial: "Partly shipped", order.FulfillmentFulfilled: "Packed",
		order.FulfillmentShipped: "Shipped", order.FulfillmentDelivered: "Delivered",
	}
)

func label(labels map[string]string, s string) string {
	if l, ok := labels[s]; ok {
		return l
	}
	if s == "" {
		return "—"
	}
	return strings.ToUpper(s[:1]) + strings.ReplaceAll(s[1:], "_", " ")
}

// publicEvents are the timeline entries a customer sees, with their wording.
var publicEvents = map[string]string{
	"placed": "Order placed", "captured": "Payment received", "fulfilled": "Packed", "shipped": "Shipped",
	"parcel_shipped": "", "delivered": "Delivered", "cancelled": "Order cancelled", "refunded": "",
}

func (s *Storefront) newOrderView(o order.Order) orderView {
	v := orderView{Number: o.Number, Email: o.Email, Placed: o.CreatedAt.Format("2 January 2006, 15:04 MST"),
		Status: label(statusLabels, o.Status), StatusClass: o.Status, Payment: label(paymentLabels, o.PaymentStatus), Fulfilment: label(fulfilmentLabels, o.FulfillmentStatus),
		Method:     o.ShippingMethod.Name,
		JustPlaced: time.Since(o.CreatedAt) < 30*time.Minute && (o.Status == order.StatusPaid || o.Status == order.StatusPending),
		Awaiting:   o.PaymentStatus == order.PaymentAwaiting && o.Status == order.StatusPending}
	if v.Awaiting {
		v.Status, v.StatusClass, v.JustPlaced = "Awaiting payment", "awaiting", false
	}
	for _, it := range o.Items {
		v.Lines = append(v.Lines, orderLine{Title: it.Title, Variant: it.VariantTitle, SKU: it.SKU, Quantity: it.Quantity, Unit: it.UnitPrice.Format(), Total: it.LineTotal.Format()})
	}
	t := o.Totals
	v.Totals = totalsView{Subtotal: t.Subtotal.Format(), Discount: t.Discount.Format(), HasDiscount: !t.Discount.IsZero(), Shipping: t.Shipping.Format(),
		Tax: t.Tax.Format(), Total: t.Total.Format(), TaxIncluded: o.TaxIncluded, ShippingName: o.ShippingMethod.Name,
		GiftCard: t.GiftCard.Format(), HasGiftCard: !t.GiftCard.IsZero()}
	for _, d := range o.Discounts {
		v.Totals.Discounts = append(v.Totals.Discounts, discountLine{Label: d.Label, Amount: d.Amount.Format(), Code: d.Code, FreeShipping: d.FreeShipping && d.Amount.IsZero()})
		v.Totals.HasDiscount = v.Totals.HasDiscount || d.FreeShipping
	}
	if t.Shipping.IsZero() {
		v.Totals.Shipping = "Free"
	}
	a := o.ShippingAddress
	for _, l := range []string{a.Name, a.Line1, a.Line2, strings.TrimSpace(a.PostalCode + " " + a.City), countryName(a.Country)} {
		if l != "" {
			v.Address = append(v.Address, l)
		}
	}
	for _, f := range o.Fulfillments {
		if f.TrackingNumber != "" {
			v.Tracking = append(v.Tracking, f.TrackingNumber)
		}
	}
	for _, e := range o.Timeline {
		text, ok := publicEvents[e.Kind]
		if !ok {
			continue
		}
		if text == "" {
			text = e.Message
		}
		v.Timeline = append(v.Timeline, event{When: e.CreatedAt.Format("2 Jan 2006, 15:04"), ISO: e.CreatedAt.UTC().Format(time.RFC3339), Text: text})
	}
	return v
}

// Order serves GET /orders/{id}?token=: the order confirmation and status
// page for a guest holding the order's access token (remembered in a cookie
// scoped to the order, so the page can be reloaded), or for its signed-in
// customer. Anyone else gets 404. An order awaiting its payment shows what
// the shopper must still do (see renderOrder).
func (s *Storefront) Order() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		o, err := s.guestOrder(w, r)
		if err != nil {
			return err
		}
		return s.renderOrder(w, r, o, false)
	})
}

// guestOrder reads the order of GET /orders/{id}… for whoever may see it
// (see orderToken), and remembers a guest's token from the query in the
// cookie.
func (s *Storefront) guestOrder(w http.ResponseWriter, r *http.Request) (order.Order, error) {
	o, err := s.svc.Orders.GetFor(r.Context(), r.PathValue("id"), orderToken(r))
	if err != nil {
		return o, err
	}
	if q := r.URL.Query().Get("token"); q != "" && o.CustomerID == "" {
		ui.SetCookie(w, r, orderCookie, q, "/orders/"+o.ID, cartMaxAge)
	}
	return o, nil
}

// orderToken is the order access token a visitor presents: in the query,
// or else in the order's cookie.
func orderToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	return cookie(r, orderCookie)
}

// ContinuePayment serves GET /orders/{id}/pay (token as for the order
// page): for an order awaiting a payment on the provider's page, a 303 to
// that page; otherwise (paid meanwhile, or nothing to do there) a 303 back
// to the order page. The order page links here, and sends a shopper here
// at once after the checkout (a form's redirects may not leave the site).
func (s *Storefront) ContinuePayment() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		o, err := s.guestOrder(w, r)
		if err != nil {
			return err
		}
		act, err := s.pendingAction(r, o)
		if err != nil {
			return err
		}
		if act != nil && act.Type == payment.NextActionRedirect && providerURL(act.RedirectURL) {
			http.Redirect(w, r, act.RedirectURL, http.StatusSeeOther)
			return nil
		}
		back := "/orders/" + url.PathEscape(o.ID)
		if o.CustomerID != "" {
			back = "/account/orders/" + url.PathEscape(o.ID)
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	})
}

// providerURL reports whether u may be where a provider's page is: an
// absolute http(s) address.
func providerURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
}

// pendingAction is what the visitor must still do for o's payment: nil
// when nothing, or when the visitor is not the shopper: the signed-in
// customer who placed it, or for a guest order whoever holds its token.
// (Staff may open any order, but 3-D Secure and the provider's page are the
// shopper's; a client secret is shown to no one else.)
func (s *Storefront) pendingAction(r *http.Request, o order.Order) (*PaymentAction, error) {
	if o.PaymentStatus != order.PaymentAwaiting || o.PaymentID == "" || s.svc.Payments == nil {
		return nil, nil
	}
	ctx := r.Context()
	if o.CustomerID != "" {
		if p, ok := customerOf(r); !ok || p.AccountID != o.CustomerID {
			return nil, nil
		}
	} else if _, signedIn := customerOf(r); signedIn {
		// Signed in (staff may read any order): the token must open it alone.
		token := orderToken(r)
		if token == "" {
			return nil, nil
		}
		if _, err := s.svc.Orders.GetFor(auth.With(ctx, auth.Principal{}), o.ID, token); apperr.Is(err, apperr.NotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
	}
	return s.svc.Payments.PendingAction(ctx, o.PaymentID)
}

func (s *Storefront) renderOrder(w http.ResponseWriter, r *http.Request, o order.Order, inAccount bool) error {
	cats, err := s.cat.Categories(r.Context())
	if err != nil {
		return err
	}
	v := s.newOrderView(o)
	v.Account = inAccount
	if inAccount {
		v.AccountNav = s.accountNav("/account/orders")
	}
	if v.Awaiting {
		v.Refresh = r.URL.Path
		if t := r.URL.Query().Get("token"); t != "" {
			v.Refresh += "?token=" + url.QueryEscape(t)
		}
		act, err := s.pendingAction(r, o)
		if err != nil {
			return err
		}
		switch {
		case act == nil:
		case act.Type == payment.NextActionRedirect && providerURL(act.RedirectURL):
			pay := "/orders/" + url.PathEscape(o.ID) + "/pay"
			if t := r.URL.Query().Get("token"); t != "" && o.CustomerID == "" {
				pay += "?token=" + url.QueryEscape(t)
			}
			v.Pay = &payView{Provider: providerName(act.Provider), Redirect: true, PayURL: pay, Go: r.URL.Query().Get("pay") == "1"}
		case act.Type == payment.NextActionStripeSDK && act.ClientSecret != "" && act.PublishableKey != "":
			v.Pay = &payView{Provider: providerName(act.Provider), StripeSDK: true, StripeKey: act.PublishableKey, ClientSecret: act.ClientSecret}
			web.AllowSources(w, stripeSources)
		}
	}
	v.view = s.newView(r, "Order "+o.Number, "", "", cats, "")
	v.NoIndex = true
	return s.pages.Render(w, http.StatusOK, "order", v)
}

// AccountOrder serves GET /account/orders/{id}: one of the signed-in
// customer's orders (404 for anyone else's).
func (s *Storefront) AccountOrder() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		o, err := s.svc.Orders.GetFor(r.Context(), r.PathValue("id"), "")
		if err != nil {
			return err
		}
		if o.CustomerID != p.AccountID {
			return apperr.NotFoundf("order not found")
		}
		return s.renderOrder(w, r, o, true)
	})
}

// signInURL is the sign-in page that comes back to r's page afterwards.
func signInURL(r *http.Request) string {
	return "/account/login?next=" + url.QueryEscape(r.URL.RequestURI())
}
