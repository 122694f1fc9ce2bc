package app

import (
	"context"
	"net/http"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/giftcard"
)

// giftCardHoldSweep is how often holds of gift cards past their expiry
// (giftcard.DefaultHoldTTL) are released.
const giftCardHoldSweep = time.Minute

// wireGiftCards builds the gift card module and its periodic jobs; its
// consumer (gift cards sold as products) is subscribed in wireEvents.
func (a *App) wireGiftCards() {
	a.GiftCards = giftcard.NewService(a.DB, giftcard.Options{Currency: a.Config.Currency, SKUPrefix: a.Config.GiftCardSKUPrefix}, a.Log)
	a.Every(giftCardHoldSweep, "giftcard-hold-expiry", func(ctx context.Context) error {
		n, err := a.GiftCards.ReleaseExpired(ctx, time.Now())
		if n > 0 {
			a.Log.Info("gift card holds expired", "released", n)
		}
		return err
	})
	a.Every(loginPurgeEvery, "giftcard-lookup-purge", func(ctx context.Context) error {
		_, err := a.GiftCards.PurgeLookups(ctx)
		return err
	})
}

// giftCardClient is the client address the gift card look-up limit counts
// by (customer.Authenticate records it for every request).
func giftCardClient(r *http.Request) string { return customer.ClientIPFrom(r.Context()) }

// giftCardCarts adapts the cart module to what the gift card routes need.
type giftCardCarts struct{ carts *cart.Service }

func (g giftCardCarts) Changeable(ctx context.Context, cartID string) (string, error) {
	c, err := g.carts.Get(ctx, cartID)
	if err != nil {
		return "", err
	}
	if c.Status != "active" {
		return "", apperr.Conflictf("cart is %s and can no longer change", c.Status)
	}
	return c.Currency, nil
}

func (g giftCardCarts) View(ctx context.Context, cartID string) (any, error) {
	return g.carts.Get(ctx, cartID)
}
