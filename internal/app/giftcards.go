package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
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

// giftCardCover tells the cart what the gift cards applied to it cover
// (cart.GiftCards).
type giftCardCover struct{ cards *giftcard.Service }

func (g giftCardCover) Cover(ctx context.Context, cartID string, due money.Money) ([]cart.GiftCard, error) {
	uses, err := g.cards.Applied(ctx, cartID, due.Currency, due)
	if err != nil {
		return nil, err
	}
	out := make([]cart.GiftCard, len(uses))
	for i, u := range uses {
		out[i] = cart.GiftCard{ID: u.CardID, Code: "…" + u.CodeLast4, Amount: u.Amount, Balance: u.Balance}
	}
	return out, nil
}

// giftCardHolds holds at checkout what the cart's gift cards cover, under
// the order id, and takes it in the order's transaction
// (checkout.Redemption).
type giftCardHolds struct{ cards *giftcard.Service }

func (g giftCardHolds) Reserve(ctx context.Context, orderID string, r checkout.Redeem) error {
	uses := make([]giftcard.Use, 0, len(r.Cart.GiftCards))
	for _, c := range r.Cart.GiftCards {
		uses = append(uses, giftcard.Use{CardID: c.ID, CodeLast4: strings.TrimPrefix(c.Code, "…"), Amount: c.Amount, Balance: c.Balance})
	}
	return g.cards.Reserve(ctx, orderID, uses)
}

func (g giftCardHolds) Commit(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	_, err := g.cards.Capture(ctx, tx, orderID)
	return err
}

func (g giftCardHolds) Release(ctx context.Context, orderID string) error {
	return g.cards.Release(ctx, orderID)
}

func (g giftCardHolds) ReleaseExpired(ctx context.Context) (int, error) {
	return g.cards.ReleaseExpired(ctx, time.Now())
}

// giftCardRefunds gives an order's refunds back to the gift cards that
// paid for it (order.GiftCards): the order refunds them first.
type giftCardRefunds struct{ cards *giftcard.Service }

func (g giftCardRefunds) Refund(ctx context.Context, tx *sqldb.Tx, orderID string, amount money.Money, reason string) error {
	credited, err := g.cards.Credit(ctx, tx, orderID, amount.Amount)
	if err != nil {
		return err
	}
	if credited != amount.Amount {
		return fmt.Errorf("refund order %s to its gift cards: %d credited of %d", orderID, credited, amount.Amount)
	}
	return nil
}
