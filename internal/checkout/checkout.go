// Package checkout turns a cart into an order: validate, reserve stock, take
// payment, then create the order, commit the stock, link the payment and
// close the cart in one transaction. Retries with the same Idempotency-Key
// replay the first answer and never pay or order twice; failures after
// payment are compensated (void or refund) so no money is kept without an
// order.
package checkout

import (
	"context"
	"embed"
	"time"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the checkout tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("checkout", migrationFS, "migrations") }

// Carts is what checkout needs of the cart module.
type Carts interface {
	Access(ctx context.Context, id string) error
	QuoteFor(ctx context.Context, id, country, methodID, orderID string) (cart.Quote, error)
	AcknowledgePrices(ctx context.Context, c cart.Cart) error
	MarkConverted(ctx context.Context, tx *sqldb.Tx, cartID, orderID string) error
}

// Stock is what checkout needs of the inventory module.
type Stock interface {
	Reserve(ctx context.Context, reference string, lines []inventory.Line, ttl time.Duration) ([]inventory.Reservation, error)
	Commit(ctx context.Context, tx *sqldb.Tx, reference, actor string) error
	Release(ctx context.Context, tx *sqldb.Tx, reference, reason string) error
	ReleaseExpired(ctx context.Context) (int, error)
	Hold(ctx context.Context, tx *sqldb.Tx, reference string, until time.Time) error
}

// Payments is what checkout needs of the payment module.
type Payments interface {
	Pay(ctx context.Context, reference string, amount money.Money, method string, capture bool) (payment.Payment, error)
	PayWith(ctx context.Context, in payment.PayRequest) (payment.Payment, error)
	Processing(ctx context.Context, before time.Time, limit int) ([]payment.Payment, error)
	Settle(ctx context.Context, paymentID string, expire bool) (payment.Payment, error)
	AttachOrder(ctx context.Context, tx *sqldb.Tx, paymentID, orderID string) error
	Cancel(ctx context.Context, paymentID, reason string) (bool, error)
	Orphans(ctx context.Context, age time.Duration) ([]payment.Payment, error)
	ForReference(ctx context.Context, reference string) ([]payment.Payment, error)
	Resolve(ctx context.Context, paymentID string) (payment.Payment, error)
	Unresolved(ctx context.Context, before time.Time, limit int) ([]payment.Payment, error)
}

// Orders is what checkout needs of the order module.
type Orders interface {
	Create(ctx context.Context, tx *sqldb.Tx, in order.NewOrder) (order.Order, error)
	Exists(ctx context.Context, id string) (bool, error)
}

// Redemption is something a checkout takes for its order besides the card
// payment: a promotion's use, a gift card's amount. Every attempt under an
// Idempotency-Key works under the same order id, so an attempt finds what
// its dead predecessors hold, and so do the retry and the reconciler.
type Redemption interface {
	// Reserve holds what the order needs before the payment is taken (a
	// conditional update: a promotion with uses left, a gift card with
	// the balance). It holds all of it or nothing. A hold found under
	// orderID (an earlier attempt's) is kept and adjusted to r. When it
	// cannot (a code used up meanwhile, a card spent), it returns a
	// Conflict naming the field ("code", "gift_card"): the checkout is
	// refused, nothing charged.
	Reserve(ctx context.Context, orderID string, r Redeem) error
	// Commit makes what orderID holds the order's, in the order's
	// transaction tx. A hold lost meanwhile (released, expired) is a
	// Conflict, and the order does not commit.
	Commit(ctx context.Context, tx *sqldb.Tx, orderID string) error
	// Release gives back what orderID holds and the order did not commit
	// (a failed checkout, a dead attempt); nothing held is no error.
	Release(ctx context.Context, orderID string) error
	// ReleaseExpired releases the holds past their expiry (the reconciler's
	// backstop) and returns for how many orders.
	ReleaseExpired(ctx context.Context) (int, error)
}

// Redeem is what a checkout asks its redemptions to hold for an order.
type Redeem struct {
	CustomerID string    // the signed-in customer, "" for a guest
	Email      string    // the order's e-mail address, normalised
	Cart       cart.Cart // as priced for the order: its discounts, gift cards and totals
	Until      time.Time // when the hold expires if the checkout never finishes
}

// Input is the checkout request body.
type Input struct {
	Email            string          `json:"email"`
	ShippingAddress  address.Address `json:"shipping_address"`
	ShippingMethodID string          `json:"shipping_method_id"`
	PaymentMethod    string          `json:"payment_method"`
	// ExpectedTotal, when sent, is the totals.total (minor units) the
	// shopper was shown: what the card is to pay. A checkout whose total
	// comes out otherwise (a gift card spent elsewhere meanwhile, a
	// promotion ended, another shipping price) is refused with a Conflict
	// (extra.total_changed) instead of charging a different amount.
	ExpectedTotal *int64 `json:"expected_total,omitempty"`
}

// Result is the HTTP API's answer to a successful checkout (201).
type Result struct {
	Order   order.Order    `json:"order"`
	Payment *PaymentAction `json:"payment,omitempty"`
}

// Options tune the checkout.
type Options struct {
	// CaptureOnFulfilment authorizes at checkout and captures when the first
	// parcel is fulfilled; the default captures at checkout.
	CaptureOnFulfilment bool
	// ReservationTTL is how long stock stays reserved for a checkout that
	// does not finish (default 15 minutes); a backstop: the reconciler
	// releases a dead attempt's reservations once its key's lock runs out.
	ReservationTTL time.Duration
	// AttemptTimeout bounds one checkout attempt, provider calls included
	// (DefaultAttemptTimeout when zero). An attempt's key stays locked for
	// 1.5 times this; a retry after that takes over from a dead attempt.
	AttemptTimeout time.Duration
	// Redemptions are held before the payment and committed with the order
	// (promotions, gift cards), in this order.
	Redemptions []Redemption
	// AwaitPayment is how long an order waits for a payment the provider
	// decides later (3-D Secure, a hosted page) before the reconciler
	// cancels the payment and the order (DefaultAwaitPayment when zero);
	// its stock stays reserved that long.
	AwaitPayment time.Duration
	// ReturnURL makes the address a payment provider sends the shopper back
	// to after its own page (3-D Secure, a hosted payment page): the order's
	// page. accessToken is the order's guest access token, "" for a
	// signed-in customer's order. Nil: providers are given none.
	ReturnURL func(orderID, accessToken string) string
}

// DefaultAwaitPayment is how long an order awaits its payment by default.
const DefaultAwaitPayment = time.Hour
