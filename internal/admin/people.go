package admin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/order"
)

type customersView struct {
	view
	Customers []customer.Account
	Q         string
	Next      string
}

// Customers serves GET /admin/customers?q=&cursor=.
func (a *Admin) Customers() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		q := r.URL.Query()
		v := customersView{view: a.newView(r, w, p, "Customers", "customers"), Q: strings.TrimSpace(q.Get("q"))}
		page, err := a.svc.Accounts.Customers(r.Context(), customer.CustomerQuery{Q: v.Q, Cursor: q.Get("cursor"), Limit: 25})
		if err != nil {
			return err
		}
		v.Customers = page.Items
		if page.NextCursor != nil {
			v.Next = "/admin/customers?" + url.Values{"q": {v.Q}, "cursor": {*page.NextCursor}}.Encode()
		}
		return a.render(w, http.StatusOK, "customers", v)
	})
}

type customerView struct {
	view
	Customer customer.CustomerDetail
	Orders   []order.Order
	More     bool
}

// CustomerDetail serves GET /admin/customers/{id}: the account, its
// addresses and its latest orders.
func (a *Admin) CustomerDetail() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		c, err := a.svc.Accounts.Customer(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		page, err := a.svc.Orders.List(r.Context(), order.ListQuery{CustomerID: c.ID, Limit: 50})
		if err != nil {
			return err
		}
		title := c.Name
		if title == "" {
			title = c.Email
		}
		v := customerView{view: a.newView(r, w, p, title, "customers"), Customer: c, Orders: page.Items, More: page.NextCursor != nil}
		return a.render(w, http.StatusOK, "customer", v)
	})
}

type staffView struct {
	view
	Members []customer.Account
	Errors  fieldErrors
	Input   map[string]string
}

// Staff serves GET /admin/staff (admins only): the staff accounts and the
// form to add one.
func (a *Admin) Staff() http.Handler {
	return a.handle(adminOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		v, err := a.staffView(w, r, p)
		if err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "staff", v)
	})
}

func (a *Admin) staffView(w http.ResponseWriter, r *http.Request, p auth.Principal) (staffView, error) {
	ms, err := a.svc.Accounts.StaffMembers(r.Context())
	return staffView{view: a.newView(r, w, p, "Staff", "staff"), Members: ms, Errors: fieldErrors{}, Input: map[string]string{"role": "staff"}}, err
}

func (a *Admin) staffForm(act func(r *http.Request) (string, error)) http.Handler {
	return a.post(adminOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return apperr.New(apperr.Invalid, "the form could not be read")
		}
		flash, err := act(r)
		if err == nil {
			return a.redirect(w, r, "/admin/staff", flash)
		}
		fe, msg, ok := formError(err, nil)
		if !ok || apperr.Is(err, apperr.NotFound) {
			return err
		}
		v, verr := a.staffView(w, r, p)
		if verr != nil {
			return verr
		}
		v.Error, v.Errors = msg, fe
		for k := range r.PostForm {
			if k != "password" {
				v.Input[k] = r.PostForm.Get(k)
			}
		}
		return a.render(w, formStatus(err), "staff", v)
	})
}

// CreateStaff serves POST /admin/staff: email, name, password, role.
func (a *Admin) CreateStaff() http.Handler {
	return a.staffForm(func(r *http.Request) (string, error) {
		f := r.PostForm
		acc, err := a.svc.Accounts.CreateStaff(r.Context(), f.Get("email"), f.Get("password"), f.Get("name"), auth.Role(f.Get("role")))
		return "Added " + acc.Email + " as " + string(acc.Role) + ".", err
	})
}

// SetStaffRole serves POST /admin/staff/{id}/role: role.
func (a *Admin) SetStaffRole() http.Handler {
	return a.staffForm(func(r *http.Request) (string, error) {
		acc, err := a.svc.Accounts.SetStaffRole(r.Context(), r.PathValue("id"), auth.Role(r.PostForm.Get("role")))
		return acc.Email + " is now " + string(acc.Role) + ".", err
	})
}
