package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/payment/stripe"
	"github.com/mercato-shop/mercato/internal/payment/xendit"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/promotion"
	"github.com/mercato-shop/mercato/internal/shipping"
	"github.com/mercato-shop/mercato/internal/storefront"
	"github.com/mercato-shop/mercato/internal/tax"
)

// Checkout rate limit per client address, and how long a payment that no
// order claimed waits for the shopper's retry (which uses it) before the
// reconciler voids or refunds it.
const (
	checkoutsPerMinute = 30
	orphanAge          = 15 * time.Minute
)

// reconcileEvery is how often the checkout reconciler and the refund sender
// run: often enough that a crashed attempt's reservations are released soon
// after its key's lock runs out (1.5 checkout timeouts).
func reconcileEvery(checkoutTimeout time.Duration) time.Duration {
	if checkoutTimeout <= 0 {
		checkoutTimeout = checkout.DefaultAttemptTimeout
	}
	return min(max(checkoutTimeout/2, 500*time.Millisecond), 15*time.Second)
}

// wireShop builds the buying path: payments, orders, carts and checkout,
// and subscribes orders to the payment events (wireEvents made the bus).
func (a *App) wireShop() error {
	var err error
	if a.Payments, err = a.paymentService(); err != nil {
		return err
	}
	a.Orders = order.NewService(a.DB, a.Payments, a.Inventory, a.Log, order.WithGiftCards(giftCardRefunds{a.GiftCards}))
	a.Orders.Subscribe(a.Bus) // changes made at the payment provider reach orders as payment events
	a.Promotions = promotion.NewService(a.DB, a.Catalog, orderHistory{a.Orders}, a.Config.Currency, a.Log)
	a.Promotions.Subscribe(a.Bus) // a cancelled or fully refunded order gives its uses back
	a.Carts = cart.NewService(a.DB, a.Catalog, a.Inventory, pricing{a.Shipping, a.Tax}, a.Config.Currency,
		cart.WithDiscounter(discounter{a.Promotions}), cart.WithGiftCards(giftCardCover{a.GiftCards}))
	a.Checkout = checkout.NewService(a.DB, a.Carts, a.Inventory, a.Payments, a.Orders, a.Log,
		checkout.Options{CaptureOnFulfilment: a.Config.CaptureOnFulfilment, AttemptTimeout: a.Config.CheckoutTimeout, ReturnURL: a.orderPageURL,
			// Promotions first: a code used up meanwhile refuses the checkout before a card is held.
			Redemptions: []checkout.Redemption{promotionUses{a.Promotions}, giftCardHolds{a.GiftCards}}})
	a.checkoutLimit = ratelimit.NewMemory(checkoutsPerMinute, time.Minute)
	every := reconcileEvery(a.Config.CheckoutTimeout)
	a.Every(every, "checkout-reconcile", func(ctx context.Context) error {
		r, err := a.Checkout.Reconcile(ctx, orphanAge)
		if r.Any() {
			a.Log.Info("checkout reconciler", "dead_attempts_settled", r.Settled, "payments_resolved", r.Resolved,
				"orphan_payments_undone", r.Cancelled, "expired_reservations_released", r.Released, "expired_redemptions_released", r.Redemptions)
		}
		if err != nil {
			return err
		}
		_, err = a.Checkout.PurgeRequests(ctx, 24*time.Hour)
		return err
	})
	a.Every(every, "payment-refunds", func(ctx context.Context) error {
		_, err := a.Payments.SendPendingRefunds(ctx)
		return err
	})
	if after := a.Config.AbandonedCartAfter; after > 0 {
		a.Every(reminderEvery(after), "abandoned-cart-reminders", func(ctx context.Context) error {
			n, err := a.Carts.RemindAbandoned(ctx, after, contacts{a.Customers})
			if n > 0 {
				a.Log.Info("abandoned-cart reminders", "carts", n)
			}
			return err
		})
	}
	return nil
}

// reminderEvery is how often idle carts are looked for: a reminder goes
// out between the delay and the delay plus a quarter of it (5 minutes at
// most).
func reminderEvery(after time.Duration) time.Duration {
	return min(max(after/4, time.Second), 5*time.Minute)
}

// contacts gives the cart module the e-mail address of a cart's owner.
type contacts struct{ customers *customer.Service }

func (c contacts) Contact(ctx context.Context, id string) (string, string, error) {
	acc, err := c.customers.Account(ctx, id)
	return acc.Email, acc.Name, err
}

// paymentService builds the payment module with the configured providers:
// Stripe takes the cards when its keys are set; otherwise the sandbox does.
// The sandbox stays wired either way, for its earlier payments' refunds.
// Xendit, when its key is set, takes its own methods (pm_xendit_invoice)
// beside them; its invoices run out when an order stops awaiting its
// payment.
func (a *App) paymentService() (*payment.Service, error) {
	// The sandbox keeps its books in the database, as a real provider keeps
	// them on its side: a payment replayed after a crash is answered as the
	// first time, never charged again.
	sandbox := payment.NewSandbox(payment.WithSandboxLedger(a.DB), payment.WithWebhookSecret(a.Config.SandboxWebhookSecret))
	var others []payment.Provider
	if a.Config.XenditSecretKey != "" {
		xp, err := xendit.New(xendit.Config{SecretKey: a.Config.XenditSecretKey, CallbackToken: a.Config.XenditCallbackToken,
			APIBase: a.Config.XenditAPIBase, InvoiceDuration: checkout.DefaultAwaitPayment, ShopURL: a.Config.BaseURL})
		if err != nil {
			return nil, fmt.Errorf("wire Xendit: %w", err)
		}
		others = append(others, xp)
	}
	others = append(others, a.Config.moreProviders...)
	if a.Config.StripeSecretKey == "" {
		return payment.NewService(a.DB, sandbox, others...), nil
	}
	st := stripe.New(stripe.Config{SecretKey: a.Config.StripeSecretKey, PublishableKey: a.Config.StripePublishableKey,
		WebhookSecret: a.Config.StripeWebhookSecret, APIBase: a.Config.StripeAPIBase})
	return payment.NewService(a.DB, st, append(others, sandbox)...), nil
}

// clientIP is the address of the client of r: the one customer.Authenticate
// found (behind trusted proxies, the forwarded one), else the connection's.
func clientIP(r *http.Request) string {
	ip := customer.ClientIPFrom(r.Context())
	if ip == "" {
		ip = r.RemoteAddr // without customer.Authenticate in front: the address, not the port
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
	}
	return ip
}

// allowCheckout applies the per-address checkout rate limit.
func (a *App) allowCheckout(r *http.Request) error {
	ip := clientIP(r)
	if ok, retry := a.checkoutLimit.Allow("checkout:" + ip); !ok {
		return ratelimit.Exceeded("too many checkout attempts from this address; try again shortly", retry)
	}
	return nil
}

// orderPageURL is where a payment provider sends the shopper back after its
// page (3-D Secure, a hosted payment page): the storefront's order page, a
// guest's with the order's access token (as the checkout's own redirect
// has it), a customer's in the account.
func (a *App) orderPageURL(orderID, accessToken string) string {
	base := a.Config.BaseURL
	if base == "" {
		base = "http://localhost:8080" // the storefront's default
	}
	if accessToken == "" {
		return base + "/account/orders/" + url.PathEscape(orderID)
	}
	return base + "/orders/" + url.PathEscape(orderID) + "?token=" + url.QueryEscape(accessToken)
}

// paymentMethods adapts the payment module to what the storefront shows.
type paymentMethods struct{ payments *payment.Service }

func (p paymentMethods) PaymentMethods() []storefront.PaymentMethod {
	ms := p.payments.Methods()
	keys := p.payments.PublishableKeys()
	out := make([]storefront.PaymentMethod, len(ms))
	for i, m := range ms {
		out[i] = storefront.PaymentMethod{ID: m.ID, Name: m.Name, Provider: m.Provider, Kind: m.Kind, TestMode: m.TestMode,
			Outcome: m.Outcome, Declines: m.Declines, PublishableKey: keys[m.Provider]}
	}
	return out
}

// PendingAction is what the shopper must still do for a processing
// payment: its provider's next action, if it asked for one.
func (p paymentMethods) PendingAction(ctx context.Context, paymentID string) (*storefront.PaymentAction, error) {
	pay, err := p.payments.Get(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	na := pay.NextAction
	if pay.Status != payment.StatusProcessing || na == nil {
		return nil, nil
	}
	return &storefront.PaymentAction{Provider: pay.Provider, Type: na.Type, RedirectURL: na.RedirectURL, ClientSecret: na.ClientSecret,
		PublishableKey: p.payments.PublishableKey(pay.Provider)}, nil
}

// pricing adapts the shipping and tax modules to what the cart needs.
type pricing struct {
	shipping *shipping.Service
	tax      *tax.Service
}

func option(m shipping.Method) cart.ShippingOption {
	return cart.ShippingOption{ID: m.ID, Name: m.Name, Price: m.Price}
}

func (p pricing) ShippingOptions(ctx context.Context, country string, subtotal money.Money) ([]cart.ShippingOption, error) {
	ms, err := p.shipping.Methods(ctx, country, subtotal)
	if err != nil {
		return nil, err
	}
	out := make([]cart.ShippingOption, len(ms))
	for i, m := range ms {
		out[i] = option(m)
	}
	return out, nil
}

func (p pricing) ShippingOption(ctx context.Context, id, country string, subtotal money.Money) (cart.ShippingOption, error) {
	m, err := p.shipping.Method(ctx, id, country, subtotal)
	return option(m), err
}

func (p pricing) Tax(ctx context.Context, country string, taxable money.Money) (cart.TaxResult, error) {
	b, err := p.tax.Calculate(ctx, country, taxable)
	return cart.TaxResult{Tax: b.Tax, Inclusive: b.Inclusive}, err
}
