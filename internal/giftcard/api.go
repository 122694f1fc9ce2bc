package giftcard

import (
	"context"
	"net/http"
	"strconv"

	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// Carts is what the cart routes need of the cart module.
type Carts interface {
	// Changeable returns the currency of cart id when the caller (the
	// principal in ctx, or nobody) may use it and it is still open: an
	// unknown cart or another's is NotFound, a cart checked out a
	// Conflict. It writes nothing.
	Changeable(ctx context.Context, cartID string) (currency string, err error)
	// View returns the cart as GET /api/v1/carts/{id} answers it.
	View(ctx context.Context, cartID string) (any, error)
}

// ClientIP returns the address of the client that sent r (for the look-up
// limit); "" when unknown.
type ClientIP func(r *http.Request) string

func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

// HandleApply serves POST /api/v1/carts/{id}/gift-cards with {"code"}: the
// card goes on the cart, and the answer is the cart. A code that cannot
// pay is 422 naming "code"; too many look-ups from the client's address
// 429 with Retry-After.
func HandleApply(svc *Service, carts Carts, client ClientIP) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Code string `json:"code"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		id := r.PathValue("id")
		currency, err := carts.Changeable(r.Context(), id)
		if err != nil {
			return err
		}
		if err := svc.Apply(r.Context(), client(r), id, currency, in.Code); err != nil {
			ratelimit.SetRetryAfter(w.Header(), err)
			return err
		}
		return respondCart(w, r, carts, id)
	}
}

// HandleRemove serves DELETE /api/v1/carts/{id}/gift-cards/{code}: code is
// the card's code or its last 4 characters. The answer is the cart.
func HandleRemove(svc *Service, carts Carts) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if _, err := carts.Changeable(r.Context(), id); err != nil {
			return err
		}
		if err := svc.Remove(r.Context(), id, r.PathValue("code")); err != nil {
			return err
		}
		return respondCart(w, r, carts, id)
	}
}

func respondCart(w http.ResponseWriter, r *http.Request, carts Carts, id string) error {
	c, err := carts.View(r.Context(), id)
	if err != nil {
		return err
	}
	noStore(w)
	web.JSON(w, http.StatusOK, c)
	return nil
}

// HandleBalance serves GET /api/v1/gift-cards/{code}: the card's available
// balance and expiry. Unknown (or disabled) codes are 404; too many
// look-ups from the client's address 429 with Retry-After.
func HandleBalance(svc *Service, client ClientIP) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := svc.Balance(r.Context(), client(r), r.PathValue("code"))
		if err != nil {
			ratelimit.SetRetryAfter(w.Header(), err)
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusOK, b)
		return nil
	}
}

// HandleAdminIssue serves POST /api/v1/admin/gift-cards with {"amount",
// "recipient_email"?, "expires_at"?, "note"?}: 201 with the card and its
// code, shown this once.
func HandleAdminIssue(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in IssueInput
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		c, err := svc.Issue(r.Context(), in, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		noStore(w)
		w.Header().Set("Location", "/api/v1/admin/gift-cards/"+c.ID)
		web.JSON(w, http.StatusCreated, c)
		return nil
	}
}

// HandleAdminList serves GET /api/v1/admin/gift-cards?status=&code=&limit=&cursor=.
func HandleAdminList(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		lq := ListQuery{Status: q.Get("status"), Code: q.Get("code"), Cursor: q.Get("cursor")}
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				n = -1
			}
			lq.Limit = n
		}
		p, err := svc.List(r.Context(), lq)
		if err != nil {
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusOK, p)
		return nil
	}
}

// HandleAdminGet serves GET /api/v1/admin/gift-cards/{id}: the card with
// its ledger.
func HandleAdminGet(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		d, err := svc.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusOK, d)
		return nil
	}
}

// HandleAdminDisable serves POST /api/v1/admin/gift-cards/{id}/disable with
// an optional {"reason"}.
func HandleAdminDisable(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
		}
		c, err := svc.Disable(r.Context(), r.PathValue("id"), in.Reason, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusOK, c)
		return nil
	}
}

// HandleAdminAdjust serves POST /api/v1/admin/gift-cards/{id}/adjustments
// with {"amount" (minor units, either sign), "reason"}.
func HandleAdminAdjust(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Amount int64  `json:"amount"`
			Reason string `json:"reason"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		c, err := svc.Adjust(r.Context(), r.PathValue("id"), in.Amount, in.Reason, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusOK, c)
		return nil
	}
}
