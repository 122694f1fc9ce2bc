package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/order"
)

type ordersView struct {
	view
	Orders   []order.Order
	Statuses []string
	Status   string
	From, To string
	Email    string
	Next     string // URL of the next page, or ""
	Errors   fieldErrors
}

const dateLayout = "2006-01-02"

// Orders serves GET /admin/orders?status=&from=&to=&email=&cursor=.
func (a *Admin) Orders() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		q := r.URL.Query()
		v := ordersView{view: a.newView(r, w, p, "Orders", "orders"), Statuses: order.Statuses,
			Status: q.Get("status"), From: q.Get("from"), To: q.Get("to"), Email: strings.TrimSpace(q.Get("email"))}
		lq := order.ListQuery{Status: v.Status, Email: v.Email, Cursor: q.Get("cursor"), Limit: 25}
		var bad apperr.Validator
		if v.From != "" {
			t, err := time.Parse(dateLayout, v.From)
			bad.Check(err == nil, "from", "must be a date such as 2025-01-31")
			lq.From = t
		}
		if v.To != "" {
			t, err := time.Parse(dateLayout, v.To)
			bad.Check(err == nil, "to", "must be a date such as 2025-01-31")
			if err == nil {
				lq.To = t.AddDate(0, 0, 1) // the whole day
			}
		}
		err := bad.Err()
		var page order.Page
		if err == nil {
			page, err = a.svc.Orders.List(r.Context(), lq)
		}
		status := http.StatusOK
		if err != nil {
			fe, msg, ok := formError(err, nil)
			if !ok {
				return err
			}
			v.Errors, v.Error, status = fe, msg, http.StatusBadRequest
		}
		v.Orders = page.Items
		if page.NextCursor != nil {
			nq := url.Values{}
			for k, vals := range q {
				nq[k] = vals
			}
			nq.Set("cursor", *page.NextCursor)
			v.Next = "/admin/orders?" + nq.Encode()
		}
		return a.render(w, status, "orders", v)
	})
}

type orderView struct {
	view
	Order      order.Order
	Lines      []orderLine
	Errors     fieldErrors
	Input      map[string]string
	CanFulfil  bool
	CanCancel  bool
	CanRefund  bool
	CanDeliver bool
	Refundable string              // what is left to refund, formatted
	Pending    []order.Fulfillment // parcels not shipped yet
}

type orderLine struct {
	order.Item
	Remaining int64
}

// OrderDetail serves GET /admin/orders/{id}.
func (a *Admin) OrderDetail() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		o, err := a.svc.Orders.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "order", a.orderView(w, r, p, o))
	})
}

func (a *Admin) orderView(w http.ResponseWriter, r *http.Request, p auth.Principal, o order.Order) orderView {
	v := orderView{view: a.newView(r, w, p, "Order #"+o.Number, "orders"), Order: o, Input: map[string]string{}, Errors: fieldErrors{}}
	for _, it := range o.Items {
		v.Lines = append(v.Lines, orderLine{Item: it, Remaining: it.Quantity - it.Fulfilled})
	}
	switch o.Status {
	case order.StatusPending, order.StatusPaid, order.StatusPartiallyFulfilled:
		v.CanFulfil = true
	}
	v.CanCancel = o.Status == order.StatusPending || o.Status == order.StatusPaid
	v.CanDeliver = o.Status == order.StatusShipped
	v.CanRefund = o.PaymentStatus == order.PaymentPaid || o.PaymentStatus == order.PaymentPartiallyRefunded
	left := o.Totals.Total
	left.Amount -= o.Refunded.Amount
	v.Refundable = left.Decimal()
	for _, f := range o.Fulfillments {
		if f.ShippedAt == nil {
			v.Pending = append(v.Pending, f)
		}
	}
	return v
}

// orderAction runs one action on an order from a posted form, then
// redirects to the order with flash; a refused action shows the order again
// with the form's errors (keyed "<form>.<field>") and input.
func (a *Admin) orderAction(form string, act func(r *http.Request, o order.Order, actor string) (string, func(string) string, error)) http.Handler {
	return a.post(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return apperr.New(apperr.Invalid, "the form could not be read")
		}
		o, err := a.svc.Orders.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		flash, rename, err := act(r, o, p.Email)
		if err == nil {
			return a.redirect(w, r, "/admin/orders/"+o.ID, flash)
		}
		fe, msg, ok := formError(err, rename)
		if !ok {
			return err
		}
		if o2, gerr := a.svc.Orders.Get(r.Context(), o.ID); gerr == nil {
			o = o2
		}
		v := a.orderView(w, r, p, o)
		v.Error = msg
		for k, m := range fe {
			v.Errors[form+"."+k] = m
		}
		for k := range r.PostForm {
			v.Input[form+"."+k] = r.PostForm.Get(k)
		}
		return a.render(w, formStatus(err), "order", v)
	})
}

// Fulfil serves POST /admin/orders/{id}/fulfil: qty.<item id> per line and
// an optional tracking_number (which marks the parcel shipped).
func (a *Admin) Fulfil() http.Handler {
	return a.orderAction("fulfil", func(r *http.Request, o order.Order, actor string) (string, func(string) string, error) {
		var (
			lines []order.FulfillmentLine
			index []string // lines[i] is the form field index[i]
			bad   apperr.Validator
			units int64
		)
		for _, it := range o.Items {
			raw := strings.TrimSpace(r.PostForm.Get("qty." + it.ID))
			if raw == "" || raw == "0" {
				continue
			}
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || n < 0 || n > it.Quantity-it.Fulfilled {
				bad.Add("qty."+it.ID, fmt.Sprintf("must be a whole number from 0 to %d", it.Quantity-it.Fulfilled))
				continue
			}
			lines = append(lines, order.FulfillmentLine{ItemID: it.ID, Quantity: n})
			index = append(index, "qty."+it.ID)
			units += n
		}
		if err := bad.Err(); err != nil {
			return "", nil, err
		}
		if len(lines) == 0 {
			return "", nil, apperr.Field("items", "choose at least one item to fulfil")
		}
		tracking := strings.TrimSpace(r.PostForm.Get("tracking_number"))
		_, err := a.svc.Orders.Fulfill(r.Context(), o.ID, lines, tracking, actor)
		rename := func(f string) string {
			var i int
			var rest string
			if n, _ := fmt.Sscanf(f, "items[%d]%s", &i, &rest); n >= 1 && i >= 0 && i < len(index) {
				return index[i]
			}
			return f
		}
		flash := fmt.Sprintf("Fulfilled %d item(s).", units)
		if tracking != "" {
			flash = fmt.Sprintf("Fulfilled %d item(s) and marked the parcel shipped with tracking number %s.", units, tracking)
		}
		return flash, rename, err
	})
}

// Ship serves POST /admin/orders/{id}/ship: fulfillment_id, tracking_number.
func (a *Admin) Ship() http.Handler {
	return a.orderAction("ship", func(r *http.Request, o order.Order, actor string) (string, func(string) string, error) {
		tracking := strings.TrimSpace(r.PostForm.Get("tracking_number"))
		_, err := a.svc.Orders.Ship(r.Context(), o.ID, r.PostForm.Get("fulfillment_id"), tracking, actor)
		return "Marked the parcel shipped with tracking number " + tracking + ".", nil, err
	})
}

// Deliver serves POST /admin/orders/{id}/deliver.
func (a *Admin) Deliver() http.Handler {
	return a.orderAction("deliver", func(r *http.Request, o order.Order, actor string) (string, func(string) string, error) {
		_, err := a.svc.Orders.Deliver(r.Context(), o.ID, actor)
		return "Marked the order delivered.", nil, err
	})
}

// Cancel serves POST /admin/orders/{id}/cancel: reason.
func (a *Admin) Cancel() http.Handler {
	return a.orderAction("cancel", func(r *http.Request, o order.Order, actor string) (string, func(string) string, error) {
		_, err := a.svc.Orders.Cancel(r.Context(), o.ID, strings.TrimSpace(r.PostForm.Get("reason")), actor)
		return "Cancelled the order; the payment was released and the items went back on stock.", nil, err
	})
}

// Refund serves POST /admin/orders/{id}/refund: amount (a decimal in the
// order's currency), restock (checkbox), reason.
func (a *Admin) Refund() http.Handler {
	return a.orderAction("refund", func(r *http.Request, o order.Order, actor string) (string, func(string) string, error) {
		digits := 0
		if _, frac, ok := strings.Cut(zeroDecimal(o.Currency), "."); ok {
			digits = len(frac)
		}
		amount, err := parseAmount("amount", r.PostForm.Get("amount"), digits)
		if err != nil {
			return "", nil, err
		}
		in := order.RefundInput{Amount: amount, Restock: r.PostForm.Get("restock") == "on", Reason: strings.TrimSpace(r.PostForm.Get("reason"))}
		_, err = a.svc.Orders.Refund(r.Context(), o.ID, in, actor)
		flash := "Refunded " + moneyOf(amount, o.Currency) + "."
		if in.Restock {
			flash = "Refunded " + moneyOf(amount, o.Currency) + " and put the items back on stock."
		}
		return flash, nil, err
	})
}
