// Package admin serves the staff side of the shop in the browser: the
// dashboard, products and stock, orders and their fulfilment, customers,
// staff accounts and the e-mail outbox, under /admin.
//
// Pages are rendered on the server with html/template inside the shared
// document shell of internal/ui and work without JavaScript. Staff sign in
// with the customer module's session cookie; every page needs the staff or
// admin role, and staff accounts need admin. Every form posts to the same
// origin, and http.CrossOriginProtection refuses a cross-origin POST.
// Actions redirect after they succeed (post/redirect/get) and say what they
// did in a flash message; a refused form is shown again with each field's
// error next to it and the input kept.
package admin

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/analytics"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/ui"
)

//go:embed templates
var templateFS embed.FS

//go:embed static/admin.css
var adminCSS []byte

// Catalog is what the admin panel needs of the catalog module.
type Catalog interface {
	ListProducts(ctx context.Context, q catalog.ListQuery) (catalog.Page, error)
	GetProduct(ctx context.Context, idOrSlug string, publicOnly bool) (catalog.Product, error)
	CreateProduct(ctx context.Context, in catalog.ProductInput, actor string) (catalog.Product, error)
	UpdateProduct(ctx context.Context, id string, patch catalog.ProductPatch, actor string) (catalog.Product, error)
	ArchiveProduct(ctx context.Context, id, actor string) (catalog.Product, error)
	Categories(ctx context.Context) ([]catalog.Category, error)
}

// Inventory is what the admin panel needs of the inventory module.
type Inventory interface {
	Get(ctx context.Context, sku string) (inventory.Level, error)
	Set(ctx context.Context, sku string, in inventory.SetInput, actor string) (inventory.Level, error)
	Adjust(ctx context.Context, sku string, delta int64, reason, actor string) (inventory.Level, error)
	Movements(ctx context.Context, sku string, limit int) ([]inventory.Movement, error)
	LowStock(ctx context.Context, limit int) ([]inventory.Level, error)
}

// Orders is what the admin panel needs of the order module.
type Orders interface {
	List(ctx context.Context, q order.ListQuery) (order.Page, error)
	Get(ctx context.Context, id string) (order.Order, error)
	Fulfill(ctx context.Context, id string, lines []order.FulfillmentLine, tracking, actor string) (order.Order, error)
	Ship(ctx context.Context, id, fulfillmentID, tracking, actor string) (order.Order, error)
	Deliver(ctx context.Context, id, actor string) (order.Order, error)
	Cancel(ctx context.Context, id, reason, actor string) (order.Order, error)
	Refund(ctx context.Context, id string, in order.RefundInput, actor string) (order.Order, error)
}

// Accounts is what the admin panel needs of the customer module.
type Accounts interface {
	Login(ctx context.Context, email, password string) (customer.Account, customer.Session, error)
	ResolveToken(ctx context.Context, secret string) (auth.Principal, error)
	RevokeToken(ctx context.Context, tokenID string) error
	Logout(ctx context.Context) error
	Customers(ctx context.Context, q customer.CustomerQuery) (customer.AccountPage, error)
	Customer(ctx context.Context, id string) (customer.CustomerDetail, error)
	StaffMembers(ctx context.Context) ([]customer.Account, error)
	CreateStaff(ctx context.Context, email, password, name string, role auth.Role) (customer.Account, error)
	SetStaffRole(ctx context.Context, id string, role auth.Role) (customer.Account, error)
}

// Emails is what the admin panel needs of the notify module.
type Emails interface {
	ListEmails(ctx context.Context, q notify.PageQuery) (notify.EmailPage, error)
	GetEmail(ctx context.Context, id string) (notify.Email, error)
	PreviewCSP() string // the Content-Security-Policy to serve an e-mail's HTML body under
	Resend(ctx context.Context, id string) (notify.Email, error)
	Delivering() bool
}

// Sales is what the dashboard needs of the analytics module.
type Sales interface {
	Sales(ctx context.Context, q analytics.SalesQuery) (analytics.Sales, error)
	Summary(ctx context.Context, day time.Time) (analytics.Day, error)
}

// Blobs stores uploaded images (blob.Disk).
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader, contentType string) error
	URL(key string) string
}

// Services are the modules the admin panel drives.
type Services struct {
	Catalog   Catalog
	Inventory Inventory
	Orders    Orders
	Accounts  Accounts
	Emails    Emails
	Sales     Sales
	Blobs     Blobs
	// Affiliates is the affiliate programme (nil: its pages answer 404).
	Affiliates Affiliates
	GiftCards  GiftCards
	Promotions Promotions
}

// Options configure the admin panel.
type Options struct {
	ShopName string     // shown in the header; default "Mercato"
	Currency string     // prices typed in forms are in it; default EUR
	Assets   *ui.Assets // the shared stylesheet, script and icon (the storefront's)
	Now      func() time.Time
}

// Admin serves the admin panel.
type Admin struct {
	svc    Services
	opts   Options
	pages  *ui.Renderer
	css    *ui.Assets // the admin's own stylesheet
	log    *slog.Logger
	csrf   *http.CrossOriginProtection
	errs   ui.ErrorPages
	flash  ui.Flashes
	now    func() time.Time
	digits int // decimal places of the shop currency
}

// New parses the admin templates once. It fails only on broken templates
// (a build defect the package's tests catch) or missing assets.
func New(svc Services, opts Options, log *slog.Logger) (*Admin, error) {
	if opts.ShopName == "" {
		opts.ShopName = "Mercato"
	}
	if opts.Currency == "" {
		opts.Currency = "EUR"
	}
	if opts.Assets == nil {
		return nil, errors.New("admin: no assets")
	}
	a := &Admin{svc: svc, opts: opts, log: log, csrf: ui.NewCSRF(nil), now: opts.Now,
		flash: ui.Flashes{Cookie: flashCookie, Path: "/admin", MaxAge: time.Minute}}
	if a.now == nil {
		a.now = time.Now
	}
	if _, frac, ok := strings.Cut(zeroDecimal(opts.Currency), "."); ok {
		a.digits = len(frac)
	}
	a.css = ui.NewAssetsAt(StaticPrefix, map[string][]byte{"admin.css": adminCSS})
	sub, err := fs.Sub(templateFS, "templates")
	if err != nil {
		return nil, err
	}
	pages, err := ui.NewRenderer(opts.Assets, sub, template.FuncMap{
		"adminCSS": func() (string, error) { return a.css.URL("admin.css") },
		"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
		"datetime": func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04") + " UTC" },
		"isoTime":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"label":    func(v any) string { return humanize(fmt.Sprint(v)) },
		"decimal":  func(m interface{ Decimal() string }) string { return m.Decimal() },
		"thumb":    ThumbURL,
		"add":      func(a, b int) int { return a + b },
		"deref":    func(p *int64) int64 { return *p },
		"available": func(p catalog.Product) (n int64) {
			for _, v := range p.Variants {
				n += v.Available
			}
			return n
		},
		"units": func(f order.Fulfillment) (n int64) {
			for _, l := range f.Items {
				n += l.Quantity
			}
			return n
		},
	})
	if err != nil {
		return nil, fmt.Errorf("admin templates: %w", err)
	}
	a.pages = pages
	a.errs = ui.ErrorPages{Pages: pages, Log: log, View: a.errorView}
	return a, nil
}

// StaticPrefix is where the admin's own static file is served.
const StaticPrefix = "/admin/static/"

// Static serves GET /admin/static/{file}: admin.css at its fingerprinted URL.
func (a *Admin) Static() http.Handler { return a.css }

// ---- request plumbing ----

type access int

const (
	anyone access = iota
	staffOnly
	adminOnly
)

// handle adapts a page handler: it checks the role, and answers a returned
// error with the admin error page (status from web.StatusOf); internal
// errors are logged there, once (ui.ErrorPages). Anonymous visitors (and
// customers) are sent to the sign-in page.
func (a *Admin) handle(level access, fn func(w http.ResponseWriter, r *http.Request, p auth.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		p, _ := auth.From(r.Context())
		if level >= staffOnly && !p.Role.IsStaff() {
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				next = "/admin"
			}
			http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if level == adminOnly && p.Role != auth.RoleAdmin {
			a.errs.Render(w, r, apperr.New(apperr.Forbidden, "only an admin can manage staff accounts"))
			return
		}
		if err := fn(w, r, p); err != nil {
			a.errs.Render(w, r, err)
		}
	})
}

// post is handle for form submissions: cross-origin requests are refused
// before anything else runs.
func (a *Admin) post(level access, fn func(w http.ResponseWriter, r *http.Request, p auth.Principal) error) http.Handler {
	return a.csrf.Handler(a.handle(level, fn))
}

// view is what the admin chrome needs on every page.
type view struct {
	ui.Page
	Staff   auth.Principal
	Section string // the nav entry to mark current
	Flash   string
	Error   string // a form-level message (not tied to one field)
}

func (a *Admin) newView(r *http.Request, w http.ResponseWriter, p auth.Principal, title, section string) view {
	v := view{Page: ui.Page{Title: title, NoIndex: true, Shop: ui.Shop{Name: a.opts.ShopName}}, Staff: p, Section: section}
	if f := a.flash.Take(w, r); f != nil {
		v.Flash = f.Text
	}
	return v
}

// IsAdmin reports whether the signed-in staff member has the admin role.
func (v view) IsAdmin() bool { return v.Staff.Role == auth.RoleAdmin }

func (a *Admin) render(w http.ResponseWriter, status int, page string, v any) error {
	return a.pages.Render(w, status, page, v)
}

type errorView struct {
	view
	Status  int
	Heading string
	Message string
}

// errorView is the admin error page for prob, in the chrome of the signed-in
// staff member (if any).
func (a *Admin) errorView(w http.ResponseWriter, r *http.Request, prob web.Problem) (any, string) {
	p, _ := auth.From(r.Context())
	v := errorView{view: a.newView(r, w, p, "", ""), Status: prob.Status, Message: prob.Detail}
	switch {
	case prob.Status == http.StatusNotFound:
		v.Heading = "Not found"
	case prob.Status == http.StatusForbidden:
		v.Heading = "Not allowed"
	case prob.Status == http.StatusConflict:
		v.Heading = "That cannot be done now"
	case prob.Status < 500:
		v.Heading = "That request is not valid"
	default:
		v.Heading, v.Message = "Something went wrong", "The problem has been logged. Please try again in a moment."
	}
	for _, f := range prob.Errors {
		v.Message += " " + f.Field + ": " + f.Message + "."
	}
	v.Title = v.Heading
	return v, v.Heading
}

// ---- flash messages ----

// flashCookie carries the message for the next admin page (ui.Flashes,
// Path=/admin, one minute).
const flashCookie = "mercato_admin_flash"

// redirect answers a successful form with 303 See Other to path, carrying a
// flash message (if not empty) for the next page.
func (a *Admin) redirect(w http.ResponseWriter, r *http.Request, path, flash string) error {
	if flash != "" {
		a.flash.Set(w, r, ui.Flash{Text: flash})
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// ---- field errors ----

// fieldErrors maps a form field to its message.
type fieldErrors map[string]string

// Of returns the message for a field ("" when none).
func (f fieldErrors) Of(name string) string { return f[name] }

// formError splits an error into field messages and a form-level message.
// It returns ok=false for errors that are not the client's (internal ones),
// which the caller returns to be logged and shown as the error page.
func formError(err error, rename func(string) string) (fieldErrors, string, bool) {
	f, ok := ui.FormErrorsOf(err, rename)
	if !ok {
		return nil, "", false
	}
	msg := f.Message
	if len(f.Fields) > 0 || len(f.Unplaced) > 0 {
		msg = "Please correct the fields marked below."
		if len(f.Unplaced) > 0 {
			loose := make([]string, len(f.Unplaced))
			for i, u := range f.Unplaced {
				loose[i] = u.Field + ": " + u.Message
			}
			msg += " " + strings.Join(loose, "; ")
		}
	}
	return f.Fields, msg, true
}

// formStatus is the status of a form shown again after err: 422 for
// invalid input, otherwise the error's own (409 for a conflict).
func formStatus(err error) int {
	if st := web.StatusOf(err); st != http.StatusBadRequest {
		return st
	}
	return http.StatusUnprocessableEntity
}

// humanize turns "partially_fulfilled" into "Partially fulfilled".
func humanize(s string) string {
	s = strings.NewReplacer("_", " ", "-", " ").Replace(s)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
