package storefront

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/order"
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
}

var (
	statusLabels = map[string]string{
		order.StatusPending: "Confirmed", order.StatusPaid: "Confirmed", order.StatusPartiallyFulfilled: "Being packed",
		order.StatusFulfilled: "Packed, ready to ship", order.StatusShipped: "Shipped", order.StatusDelivered: "Delivered",
		order.StatusCancelled: "Cancelled", order.StatusRefunded: "Refunded",
	}
	paymentLabels = map[string]string{
		order.PaymentAuthorized: "Authorised (charged when shipped)", order.PaymentPaid: "Paid",
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
		JustPlaced: time.Since(o.CreatedAt) < 30*time.Minute && (o.Status == order.StatusPaid || o.Status == order.StatusPending)}
	for _, it := range o.Items {
		v.Lines = append(v.Lines, orderLine{Title: it.Title, Variant: it.VariantTitle, SKU: it.SKU, Quantity: it.Quantity, Unit: it.UnitPrice.Format(), Total: it.LineTotal.Format()})
	}
	t := o.Totals
	v.Totals = totalsView{Subtotal: t.Subtotal.Format(), Discount: t.Discount.Format(), HasDiscount: !t.Discount.IsZero(), Shipping: t.Shipping.Format(),
		Tax: t.Tax.Format(), Total: t.Total.Format(), TaxIncluded: o.TaxIncluded, ShippingName: o.ShippingMethod.Name}
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
// customer. Anyone else gets 404.
func (s *Storefront) Order() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		token := r.URL.Query().Get("token")
		if token == "" {
			token = cookie(r, orderCookie)
		}
		o, err := s.svc.Orders.GetFor(r.Context(), id, token)
		if err != nil {
			return err
		}
		if q := r.URL.Query().Get("token"); q != "" && o.CustomerID == "" {
			ui.SetCookie(w, r, orderCookie, q, "/orders/"+o.ID, cartMaxAge)
		}
		return s.renderOrder(w, r, o, false)
	})
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
