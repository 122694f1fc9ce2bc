package storefront

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/ui"
)

// accountNav is the account pages' menu with current marked; the
// affiliate programme's page is in it when the programme is wired.
func (s *Storefront) accountNav(current string) []link {
	out := []link{{Name: "Overview", URL: "/account"}, {Name: "Orders", URL: "/account/orders"}, {Name: "Addresses", URL: "/account/addresses"}}
	if s.svc.Affiliates != nil {
		out = append(out, link{Name: "Affiliate programme", URL: "/account/affiliate"})
	}
	for i := range out {
		out[i].Current = out[i].URL == current
	}
	return out
}

// requireCustomer returns the signed-in account, or sends the visitor to
// the sign-in page (and reports false).
func (s *Storefront) requireCustomer(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p, ok := customerOf(r)
	if !ok {
		http.Redirect(w, r, signInURL(r), http.StatusSeeOther)
	}
	return p, ok
}

type authView struct {
	view
	Flash    *ui.Flash
	Register bool
	Error    string
	Fields   []field
	Next     string
}

func (s *Storefront) renderAuth(w http.ResponseWriter, r *http.Request, status int, register bool, email, name, next, msg string, errs map[string]string) error {
	cats, err := s.cat.Categories(r.Context())
	if err != nil {
		return err
	}
	v := authView{Register: register, Error: msg, Next: next}
	if r.Method == http.MethodGet {
		v.Flash = s.flash.Take(w, r)
	}
	title := "Sign in"
	if register {
		title = "Create an account"
		v.Fields = append(v.Fields, field{ID: "acc-name", Name: "name", Label: "Your name", Type: "text", Value: name, Error: errs["name"], Autocomplete: "name", Required: true, Max: 100})
	}
	v.Fields = append(v.Fields, field{ID: "acc-email", Name: "email", Label: "E-mail", Type: "email", Value: email, Error: errs["email"], Autocomplete: "email", Required: true, Max: 254})
	pw := field{ID: "acc-password", Name: "password", Label: "Password", Type: "password", Error: errs["password"], Autocomplete: "current-password", Required: true, Max: 128}
	if register {
		pw.Autocomplete, pw.Hint = "new-password", "At least 8 characters."
	}
	v.Fields = append(v.Fields, pw)
	v.view = s.newView(r, title, "", "", cats, "")
	v.NoIndex = true
	return s.pages.Render(w, status, "auth", v)
}

// SignInPage serves GET /account/login.
func (s *Storefront) SignInPage() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		next := ui.LocalPath(r.URL.Query().Get("next"), "/account")
		if _, ok := customerOf(r); ok {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return nil
		}
		return s.renderAuth(w, r, http.StatusOK, false, "", "", next, "", nil)
	})
}

// RegisterPage serves GET /account/register.
func (s *Storefront) RegisterPage() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		next := ui.LocalPath(r.URL.Query().Get("next"), "/account")
		if _, ok := customerOf(r); ok {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return nil
		}
		return s.renderAuth(w, r, http.StatusOK, true, "", "", next, "", nil)
	})
}

// signedIn finishes a sign-in or registration: the session and
// known-device cookies, the guest cart claimed (merged with the customer's
// own), the cart cookies.
func (s *Storefront) signedIn(w http.ResponseWriter, r *http.Request, a customer.Account, sess customer.Session) error {
	customer.SetSessionCookie(w, r, sess.Token, time.Time{})
	customer.SetDeviceCookie(w, r, sess.Device)
	ctx := auth.With(r.Context(), auth.Principal{AccountID: a.ID, Email: a.Email, Name: a.Name, Role: a.Role})
	guest := cookie(r, cartCookie)
	if guest != "" && len(guest) <= 64 {
		if err := s.svc.Carts.Claim(ctx, a.ID, guest); err != nil {
			return err
		}
	}
	id, err := s.svc.Carts.ActiveCartOf(ctx, a.ID)
	if err != nil {
		return err
	}
	if id == "" {
		forgetCart(w, r)
		return nil
	}
	c, err := s.svc.Carts.Get(ctx, id)
	if err != nil {
		return err
	}
	s.rememberCart(w, r, c)
	return nil
}

// SignIn serves POST /account/login (email, password, next). A wrong
// password shows the form again with the e-mail kept.
func (s *Storefront) SignIn() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
		next := ui.LocalPath(r.PostFormValue("next"), "/account")
		errs := map[string]string{}
		if email == "" {
			errs["email"] = "Enter your e-mail address."
		}
		if password == "" {
			errs["password"] = "Enter your password."
		}
		if len(errs) > 0 {
			return s.renderAuth(w, r, http.StatusBadRequest, false, email, "", next, "Please fill in both fields.", errs)
		}
		a, sess, err := s.svc.Customers.Login(r.Context(), email, password)
		if err != nil {
			if !userError(err) {
				return err
			}
			ratelimit.SetRetryAfter(w.Header(), err)
			msg, _ := problemMessage(err)
			if apperr.Is(err, apperr.Unauthorized) {
				msg = "The e-mail or password is wrong."
				errs["password"] = "Check your password and try again."
			}
			return s.renderAuth(w, r, web.StatusOf(err), false, email, "", next, msg, errs)
		}
		if err := s.signedIn(w, r, a, sess); err != nil {
			return err
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	})
}

// Register serves POST /account/register (name, email, password, next).
func (s *Storefront) Register() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		name, email, password := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
		next := ui.LocalPath(r.PostFormValue("next"), "/account")
		a, sess, err := s.svc.Customers.Register(r.Context(), email, password, name)
		if err != nil {
			if !userError(err) {
				return err
			}
			ratelimit.SetRetryAfter(w.Header(), err)
			msg, errs := problemMessage(err)
			if apperr.Is(err, apperr.Conflict) {
				msg = "There is already an account with this e-mail. Sign in instead?"
			}
			return s.renderAuth(w, r, web.StatusOf(err), true, email, name, next, msg, errs)
		}
		if err := s.signedIn(w, r, a, sess); err != nil {
			return err
		}
		s.flash.Set(w, r, ui.Flash{Text: "Welcome, " + a.Name + "! Your account is ready."})
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	})
}

// SignOut serves POST /account/logout: it ends the session and forgets the
// cart cookies (the cart stays with the account).
func (s *Storefront) SignOut() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		if _, ok := customerOf(r); ok {
			if err := s.svc.Customers.Logout(r.Context()); err != nil {
				return err
			}
		}
		customer.ClearSessionCookie(w)
		forgetCart(w, r)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	})
}

type orderRow struct {
	URL, Number, Placed, Status, StatusClass, Total string
	Items                                           int
}

type accountView struct {
	view
	Flash      *ui.Flash
	Name       string
	Email      string
	Unverified bool // the address is not verified yet
	AccountNav []link
	Orders     []orderRow
	NextURL    string
	Addresses  []addressRow
	Form       []field
	Countries  []option
	Others     []option
	FormError  string
	CountryErr string
	Section    string // overview, orders, addresses
}

func orderRows(os []order.Order) []orderRow {
	out := make([]orderRow, 0, len(os))
	for _, o := range os {
		var n int
		for _, it := range o.Items {
			n += int(it.Quantity)
		}
		row := orderRow{URL: "/account/orders/" + url.PathEscape(o.ID), Number: o.Number, Placed: o.CreatedAt.Format("2 Jan 2006"),
			Status: label(statusLabels, o.Status), StatusClass: o.Status, Total: o.Totals.Total.Format(), Items: n}
		if o.Status == order.StatusPending && o.PaymentStatus == order.PaymentAwaiting {
			row.Status, row.StatusClass = "Awaiting payment", "awaiting"
		}
		out = append(out, row)
	}
	return out
}

func (s *Storefront) accountPage(r *http.Request, p auth.Principal, section, title string) (accountView, error) {
	cats, err := s.cat.Categories(r.Context())
	if err != nil {
		return accountView{}, err
	}
	v := accountView{Name: p.Name, Email: p.Email, Section: section, AccountNav: s.accountNav(map[string]string{"overview": "/account", "orders": "/account/orders", "addresses": "/account/addresses", "affiliate": "/account/affiliate"}[section])}
	v.view = s.newView(r, title, "", "", cats, "")
	v.NoIndex = true
	return v, nil
}

// Account serves GET /account: the overview with the latest orders.
func (s *Storefront) Account() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		page, err := s.svc.Orders.List(r.Context(), order.ListQuery{CustomerID: p.AccountID, Limit: 5})
		if err != nil {
			return err
		}
		v, err := s.accountPage(r, p, "overview", "Your account")
		if err != nil {
			return err
		}
		a, err := s.svc.Customers.Account(r.Context(), p.AccountID)
		if err != nil {
			return err
		}
		v.Flash = s.flash.Take(w, r)
		v.Unverified = !a.EmailVerified
		v.Orders = orderRows(page.Items)
		return s.pages.Render(w, http.StatusOK, "account", v)
	})
}

// AccountOrders serves GET /account/orders?cursor=: the order history.
func (s *Storefront) AccountOrders() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		page, err := s.svc.Orders.List(r.Context(), order.ListQuery{CustomerID: p.AccountID, Limit: 20, Cursor: r.URL.Query().Get("cursor")})
		if apperr.Is(err, apperr.Invalid) {
			http.Redirect(w, r, "/account/orders", http.StatusSeeOther) // a mangled cursor: start again
			return nil
		}
		if err != nil {
			return err
		}
		v, err := s.accountPage(r, p, "orders", "Your orders")
		if err != nil {
			return err
		}
		v.Orders = orderRows(page.Items)
		if page.NextCursor != nil {
			v.NextURL = "/account/orders?cursor=" + url.QueryEscape(*page.NextCursor)
		}
		return s.pages.Render(w, http.StatusOK, "account", v)
	})
}

type addressRow struct {
	ID      string
	Lines   []string
	Default bool
}

// Addresses serves GET /account/addresses: the saved addresses and a form
// to add one.
func (s *Storefront) Addresses() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		return s.renderAddresses(w, r, p, http.StatusOK, customer.AddressInput{Name: p.Name}, "", nil, s.flash.Take(w, r))
	})
}

func (s *Storefront) renderAddresses(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, in customer.AddressInput, msg string, errs map[string]string, fl *ui.Flash) error {
	ctx := r.Context()
	addrs, err := s.svc.Customers.Addresses(ctx, p.AccountID)
	if err != nil {
		return err
	}
	v, err := s.accountPage(r, p, "addresses", "Your addresses")
	if err != nil {
		return err
	}
	v.Flash, v.FormError = fl, msg
	for _, a := range addrs {
		row := addressRow{ID: a.ID, Default: a.IsDefault}
		for _, l := range []string{a.Name, a.Line1, a.Line2, strings.TrimSpace(a.PostalCode + " " + a.City), countryName(a.Country), a.Phone} {
			if l != "" {
				row.Lines = append(row.Lines, l)
			}
		}
		v.Addresses = append(v.Addresses, row)
	}
	if in.Country == "" {
		in.Country = s.svc.Shipping.DefaultCountry()
	}
	if v.Countries, v.Others, err = s.shipCountries(ctx, in.Country); err != nil {
		return err
	}
	v.CountryErr = errs["country"]
	v.Form = []field{
		{ID: "ad-name", Name: "name", Label: "Full name", Type: "text", Value: in.Name, Error: errs["name"], Autocomplete: "name", Required: true, Max: 100},
		{ID: "ad-line1", Name: "line1", Label: "Street and number", Type: "text", Value: in.Line1, Error: errs["line1"], Autocomplete: "address-line1", Required: true, Max: 200},
		{ID: "ad-line2", Name: "line2", Label: "Apartment, floor, c/o", Type: "text", Value: in.Line2, Error: errs["line2"], Autocomplete: "address-line2", Max: 200},
		{ID: "ad-postal", Name: "postal_code", Label: "Postal code", Type: "text", Value: in.PostalCode, Error: errs["postal_code"], Autocomplete: "postal-code", Required: true, Max: 20},
		{ID: "ad-city", Name: "city", Label: "City", Type: "text", Value: in.City, Error: errs["city"], Autocomplete: "address-level2", Required: true, Max: 100},
		{ID: "ad-phone", Name: "phone", Label: "Phone", Type: "tel", Value: in.Phone, Error: errs["phone"], Autocomplete: "tel", Max: 30, Hint: "Only for the carrier, if they need to reach you."},
	}
	return s.pages.Render(w, status, "account", v)
}

// AddAddress serves POST /account/addresses. Invalid input shows the form
// again with what was typed and a message per field.
func (s *Storefront) AddAddress() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		get := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
		in := customer.AddressInput{Name: get("name"), Line1: get("line1"), Line2: get("line2"), City: get("city"), PostalCode: get("postal_code"),
			Country: strings.ToUpper(get("country")), Phone: get("phone"), IsDefault: r.PostFormValue("is_default") == "1"}
		if _, err := s.svc.Customers.AddAddress(r.Context(), p.AccountID, in); err != nil {
			if !userError(err) {
				return err
			}
			msg, errs := problemMessage(err)
			return s.renderAddresses(w, r, p, web.StatusOf(err), in, msg, errs, nil)
		}
		s.flash.Set(w, r, ui.Flash{Text: "Address saved."})
		http.Redirect(w, r, "/account/addresses", http.StatusSeeOther)
		return nil
	})
}

// DeleteAddress serves POST /account/addresses/{id}/delete (404 for an
// address that is not the customer's).
func (s *Storefront) DeleteAddress() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		if err := s.svc.Customers.DeleteAddress(r.Context(), p.AccountID, r.PathValue("id")); err != nil {
			return err
		}
		s.flash.Set(w, r, ui.Flash{Text: "Address deleted."})
		http.Redirect(w, r, "/account/addresses", http.StatusSeeOther)
		return nil
	})
}
