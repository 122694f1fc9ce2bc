package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/inventory"
)

type inventoryView struct {
	view
	LowStock []inventory.Level
	SKU      string
}

// InventoryIndex serves GET /admin/inventory?sku=: a SKU look-up (which
// redirects to the SKU's page) and the low-stock list.
func (a *Admin) InventoryIndex() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		if sku := strings.TrimSpace(r.URL.Query().Get("sku")); sku != "" {
			http.Redirect(w, r, "/admin/inventory/"+url.PathEscape(sku), http.StatusSeeOther)
			return nil
		}
		v := inventoryView{view: a.newView(r, w, p, "Inventory", "inventory")}
		var err error
		if v.LowStock, err = a.svc.Inventory.LowStock(r.Context(), 100); err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "inventory", v)
	})
}

type stockView struct {
	view
	Level     inventory.Level
	Movements []inventory.Movement
	Errors    fieldErrors
	Input     map[string]string
}

// Stock serves GET /admin/inventory/{sku}: the level, the forms to adjust or
// set it, and the ledger.
func (a *Admin) Stock() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		v, err := a.stockView(w, r, p)
		if err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "stock", v)
	})
}

func (a *Admin) stockView(w http.ResponseWriter, r *http.Request, p auth.Principal) (stockView, error) {
	sku := r.PathValue("sku")
	l, err := a.svc.Inventory.Get(r.Context(), sku)
	if err != nil {
		return stockView{}, err
	}
	ms, err := a.svc.Inventory.Movements(r.Context(), sku, 100)
	if err != nil {
		return stockView{}, err
	}
	return stockView{view: a.newView(r, w, p, "Stock of "+sku, "inventory"), Level: l, Movements: ms, Errors: fieldErrors{}, Input: map[string]string{}}, nil
}

func (a *Admin) stockAction(form string, act func(r *http.Request, sku, actor string) (string, error)) http.Handler {
	return a.pageAction("sku", form, "/admin/inventory/", act, func(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, f formAgain) error {
		v, err := a.stockView(w, r, p)
		if err != nil {
			return err
		}
		v.Error = f.apply(v.Errors, v.Input)
		return a.render(w, status, "stock", v)
	})
}

// formAgain is a refused form of an object's page, to show it again: the
// message, the fields' errors and what was typed, named form.field.
type formAgain struct {
	form   string
	msg    string
	errs   fieldErrors
	posted url.Values
}

// apply puts the refusal's field errors and input into a page's maps and
// returns its message.
func (f formAgain) apply(errs fieldErrors, input map[string]string) string {
	for k, m := range f.errs {
		errs[f.form+"."+k] = m
	}
	for k := range f.posted {
		input[f.form+"."+k] = f.posted.Get(k)
	}
	return f.msg
}

// pageAction is a staff POST that acts on the object named by the path
// value key (a SKU, a gift card id): act does it and returns the flash, and
// the answer is a redirect to base+key; a refusal of the form shows the
// page again (show) with the form's errors; anything else (and NotFound)
// is the error page.
func (a *Admin) pageAction(key, form, base string, act func(r *http.Request, id, actor string) (string, error),
	show func(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, f formAgain) error) http.Handler {
	return a.post(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return apperr.New(apperr.Invalid, "the form could not be read")
		}
		id := r.PathValue(key)
		flash, err := act(r, id, p.Email)
		if err == nil {
			return a.redirect(w, r, base+url.PathEscape(id), flash)
		}
		fe, msg, ok := formError(err, nil)
		if !ok || apperr.Is(err, apperr.NotFound) {
			return err
		}
		return show(w, r, p, formStatus(err), formAgain{form: form, msg: msg, errs: fe, posted: r.PostForm})
	})
}

// AdjustStock serves POST /admin/inventory/{sku}/adjust: delta (+/-), reason.
func (a *Admin) AdjustStock() http.Handler {
	return a.stockAction("adjust", func(r *http.Request, sku, actor string) (string, error) {
		var v apperr.Validator
		delta, err := parseCount("delta", strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("delta")), "+"), -inventory.MaxQuantity, inventory.MaxQuantity)
		if err != nil {
			v.Add("delta", fieldMessage(err))
		}
		v.Check(delta != 0 || err != nil, "delta", "must not be zero")
		reason := strings.TrimSpace(r.PostForm.Get("reason"))
		v.Check(reason != "", "reason", "is required")
		if err := v.Err(); err != nil {
			return "", err
		}
		l, err := a.svc.Inventory.Adjust(r.Context(), sku, delta, reason, actor)
		return fmt.Sprintf("Adjusted %s by %+d: %d on hand, %d available.", sku, delta, l.OnHand, l.Available), err
	})
}

// SetStock serves POST /admin/inventory/{sku}/set: on_hand,
// low_stock_threshold, backorder (checkbox), reason.
func (a *Admin) SetStock() http.Handler {
	return a.stockAction("set", func(r *http.Request, sku, actor string) (string, error) {
		var v apperr.Validator
		var in inventory.SetInput
		if s := r.PostForm.Get("on_hand"); strings.TrimSpace(s) != "" {
			n, err := parseCount("on_hand", s, 0, inventory.MaxQuantity)
			if err != nil {
				v.Add("on_hand", fieldMessage(err))
			}
			in.OnHand = &n
		}
		if s := r.PostForm.Get("low_stock_threshold"); strings.TrimSpace(s) != "" {
			n, err := parseCount("low_stock_threshold", s, 0, inventory.MaxQuantity)
			if err != nil {
				v.Add("low_stock_threshold", fieldMessage(err))
			}
			in.LowStockThreshold = &n
		}
		back := r.PostForm.Get("backorder") == "on"
		in.Backorder = &back
		if reason := strings.TrimSpace(r.PostForm.Get("reason")); reason != "" {
			in.Reason = &reason
		}
		if err := v.Err(); err != nil {
			return "", err
		}
		l, err := a.svc.Inventory.Set(r.Context(), sku, in, actor)
		return fmt.Sprintf("Saved the stock of %s: %d on hand, %d available.", sku, l.OnHand, l.Available), err
	})
}

// fieldMessage is the message of a one-field Invalid error.
func fieldMessage(err error) string {
	if ae, ok := err.(*apperr.Error); ok && len(ae.Fields) == 1 {
		return ae.Fields[0].Message
	}
	return err.Error()
}
