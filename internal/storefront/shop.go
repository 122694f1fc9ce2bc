package storefront

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/shipping"
	"github.com/mercato-shop/mercato/internal/ui"
)

// Carts is what the cart and checkout pages need of the cart module. A
// customer's cart is only visible to that customer; a guest cart to whoever
// holds its id (kept in the cart cookie).
type Carts interface {
	Create(ctx context.Context, currency string) (cart.Cart, error)
	Get(ctx context.Context, id string) (cart.Cart, error)
	Quote(ctx context.Context, id, country, methodID string) (cart.Quote, error)
	AddItem(ctx context.Context, cartID, variantID string, qty int64) (cart.Cart, error)
	SetQuantity(ctx context.Context, cartID, itemID string, qty int64) (cart.Cart, error)
	ApplyCode(ctx context.Context, cartID, code string) (cart.Cart, error)
	RemoveCode(ctx context.Context, cartID, code string) (cart.Cart, error)
	ShippingOptions(ctx context.Context, cartID, country string) ([]cart.ShippingOption, error)
	Claim(ctx context.Context, customerID, guestCartID string) error
	ActiveCartOf(ctx context.Context, customerID string) (string, error)
	Restore(ctx context.Context, token string) (cart.Restored, error)
}

// Checkout places orders (idempotently, per cart and key). The result
// carries, for an order awaiting its payment, what the shopper must do.
type Checkout interface {
	CheckoutResult(ctx context.Context, cartID, idemKey string, in checkout.Input) (checkout.Result, error)
}

// Orders reads orders for their customer or a guest holding the access token.
type Orders interface {
	GetFor(ctx context.Context, id, accessToken string) (order.Order, error)
	List(ctx context.Context, q order.ListQuery) (order.Page, error)
}

// Customers signs customers up, in and out, keeps their addresses, and
// handles the links mailed to them (password reset, verification and
// change of the address).
type Customers interface {
	Register(ctx context.Context, email, password, name string) (customer.Account, customer.Session, error)
	Login(ctx context.Context, email, password string) (customer.Account, customer.Session, error)
	Logout(ctx context.Context) error
	Account(ctx context.Context, id string) (customer.Account, error)
	RequestPasswordReset(ctx context.Context, email string) error
	ResetPassword(ctx context.Context, token, password string) (customer.Account, error)
	VerifyEmail(ctx context.Context, token string) (customer.Account, error)
	ResendVerification(ctx context.Context, p auth.Principal) error
	RequestEmailChange(ctx context.Context, p auth.Principal, newEmail, currentPassword string) error
	ConfirmEmailChange(ctx context.Context, token string) (customer.Account, error)
	Addresses(ctx context.Context, accountID string) ([]customer.Address, error)
	AddAddress(ctx context.Context, accountID string, in customer.AddressInput) (customer.Address, error)
	DeleteAddress(ctx context.Context, accountID, id string) error
}

// Shipping tells which countries the shop ships to.
type Shipping interface {
	Zones(ctx context.Context) ([]shipping.Zone, error)
	DefaultCountry() string
}

// PaymentMethod is a way to pay offered at checkout.
type PaymentMethod struct {
	ID       string // what checkout takes as payment_method, e.g. pm_card_visa (for a card element: see Kind)
	Name     string // for the shopper, e.g. "Visa test card"
	Provider string // the provider's name, e.g. "stripe"
	// Kind is payment.KindCardElement (entered in the provider's fields in
	// the browser, which make the pm_… id the checkout takes),
	// payment.KindRedirect (paid on the provider's page) or payment.KindTest
	// (a sandbox test card).
	Kind     string
	TestMode bool   // no real money moves
	Outcome  string // what a test method does ("succeeds", "is declined ..."); empty for a real one
	Declines bool   // a test method that is always declined
	// PublishableKey is the provider's key for its browser script
	// (Stripe.js), which a card element needs.
	PublishableKey string
}

// PaymentAction is what the shopper must still do for an order's payment
// the provider decides later.
type PaymentAction struct {
	Provider string
	// Type is payment.NextActionStripeSDK (confirm with Stripe.js: 3-D
	// Secure) or payment.NextActionRedirect (pay on RedirectURL).
	Type           string
	RedirectURL    string
	ClientSecret   string
	PublishableKey string // the provider's key for Stripe.js
}

// Payments tells which payment methods the configured providers offer at
// checkout, and what a shopper must still do for a payment.
type Payments interface {
	PaymentMethods() []PaymentMethod
	// PendingAction returns what the shopper must do for the payment
	// paymentID, or nil when nothing (it is settled, or the provider
	// decides alone).
	PendingAction(ctx context.Context, paymentID string) (*PaymentAction, error)
}

// Services are the modules behind the buying pages: cart, checkout, order
// status and the customer account. Without Carts those pages are not
// served (the routes answer 404).
type Services struct {
	Carts     Carts
	Checkout  Checkout
	Orders    Orders
	Customers Customers
	Shipping  Shipping
	Payments  Payments // nil: the checkout offers no payment method to choose
	Mailing   Mailing  // nil: no unsubscribe page (404)
	// AllowCheckout rate-limits checkout attempts (nil: no limit); its
	// error is shown on the checkout page.
	AllowCheckout func(r *http.Request) error
	// Affiliates is the affiliate programme (nil: no programme page, and
	// carts are not referred).
	Affiliates Affiliates
}

// Cookie names. All are set with ui.SetCookie: HttpOnly, SameSite=Lax, and
// Secure over HTTPS.
const (
	cartCookie  = "mercato_cart"       // the cart id
	countCookie = "mercato_cart_count" // items in the cart, for the header
	flashCookie = "mercato_flash"      // a one-time message for the next page (ui.Flashes)
	orderCookie = "mercato_order"      // a guest's order access token, Path=/orders/{id}
	cartMaxAge  = 30 * 24 * time.Hour
)

func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// visitor is who is looking at a page, for the header.
type visitor struct {
	SignedIn  bool
	Name      string
	CartCount int
}

func visitorOf(r *http.Request) visitor {
	var v visitor
	if r == nil {
		return v
	}
	if p, ok := auth.From(r.Context()); ok {
		v.SignedIn, v.Name = true, p.Name
	}
	if n, err := strconv.Atoi(cookie(r, countCookie)); err == nil && n > 0 && n < 1_000_000 {
		v.CartCount = n
	}
	return v
}

// customerOf returns the signed-in customer (or staff member) of r.
func customerOf(r *http.Request) (auth.Principal, bool) {
	return auth.From(r.Context())
}

// rememberCart points the cart cookies at c.
func (s *Storefront) rememberCart(w http.ResponseWriter, r *http.Request, c cart.Cart) {
	ui.SetCookie(w, r, cartCookie, c.ID, "/", cartMaxAge)
	var n int64
	for _, it := range c.Items {
		n += it.Quantity
	}
	ui.SetCookie(w, r, countCookie, strconv.FormatInt(n, 10), "/", cartMaxAge)
}

// forgetCart clears the cart cookies (after checkout or sign-out).
func forgetCart(w http.ResponseWriter, r *http.Request) {
	ui.SetCookie(w, r, cartCookie, "", "/", -1)
	ui.SetCookie(w, r, countCookie, "", "/", -1)
}

// cartID returns the id of the visitor's cart: the cookie's, or a signed-in
// customer's newest active cart; "" when there is none.
func (s *Storefront) cartID(r *http.Request) (string, error) {
	if id := cookie(r, cartCookie); id != "" && len(id) <= 64 {
		return id, nil
	}
	if p, ok := customerOf(r); ok {
		return s.svc.Carts.ActiveCartOf(r.Context(), p.AccountID)
	}
	return "", nil
}

// currentCart loads the visitor's active cart. ok is false when there is
// none (no cookie, an unknown or foreign id, a cart already checked out).
func (s *Storefront) currentCart(w http.ResponseWriter, r *http.Request) (cart.Cart, bool, error) {
	id, err := s.cartID(r)
	if err != nil || id == "" {
		return cart.Cart{}, false, err
	}
	c, err := s.svc.Carts.Get(r.Context(), id)
	if apperr.Is(err, apperr.NotFound) {
		forgetCart(w, r)
		return cart.Cart{}, false, nil
	}
	if err != nil {
		return cart.Cart{}, false, err
	}
	if c.Status != "active" {
		forgetCart(w, r)
		return cart.Cart{}, false, nil
	}
	s.rememberCart(w, r, c)
	return c, true, nil
}

// buying wraps a buying page: 404 when the shop services are not wired;
// POSTs must come from this site (http.CrossOriginProtection), and a
// refused one gets the friendly error page with 403.
func (s *Storefront) buying(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	h := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if s.svc.Carts == nil {
			return errNoPage
		}
		w.Header().Set("Cache-Control", "no-store")
		return fn(w, r)
	})
	return s.csrf.Handler(h)
}

var errCrossSite = apperr.New(apperr.Forbidden, "this form was sent from another site; go back to the shop and try again")

// problemMessage turns an error into a sentence for the page, and the
// messages per form field (a shipping address's fields by their own names).
func problemMessage(err error) (string, map[string]string) {
	f, ok := ui.FormErrorsOf(err, func(field string) string { return strings.TrimPrefix(field, "shipping_address.") })
	if !ok {
		return "Sorry, something went wrong on our side. Please try again in a moment.", nil
	}
	for name, m := range f.Fields {
		f.Fields[name] = sentence(m)
	}
	if f.Code == apperr.Invalid {
		return "Please check the highlighted fields.", f.Fields
	}
	return sentence(f.Message), f.Fields
}

// sentence capitalises the first letter and ends with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}
