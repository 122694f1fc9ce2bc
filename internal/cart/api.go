package cart

import (
	"context"
	"fmt"
	"net/http"

	"github.com/mercato-shop/mercato/internal/platform/web"
)

// Referrals records which affiliate referred a new cart (the affiliate
// module). CheckReferral refuses a referral code named by the request
// before the cart is made ("" is always fine); ReferCart records the new
// cart's referral from that code or, when it is "", from the visitor's
// referral cookie (in the context).
type Referrals interface {
	CheckReferral(ctx context.Context, code string) error
	ReferCart(ctx context.Context, cartID, code string) error
}

// HandleCreate serves POST /api/v1/carts with an optional {"currency",
// "referral_code"}. With refs, the cart is referred by the code or by the
// visitor's referral cookie; nil refs refuses no code and records nothing.
func HandleCreate(svc *Service, refs Referrals) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Currency     string `json:"currency"`
			ReferralCode string `json:"referral_code"`
		}
		if r.ContentLength != 0 {
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
		}
		if refs != nil {
			if err := refs.CheckReferral(r.Context(), in.ReferralCode); err != nil {
				return err
			}
		}
		c, err := svc.Create(r.Context(), in.Currency)
		if err != nil {
			return err
		}
		if refs != nil {
			if err := refs.ReferCart(r.Context(), c.ID, in.ReferralCode); err != nil {
				return fmt.Errorf("refer cart %s: %w", c.ID, err)
			}
		}
		w.Header().Set("Location", "/api/v1/carts/"+c.ID)
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusCreated, c)
		return nil
	}
}

func respond(w http.ResponseWriter, c Cart) {
	w.Header().Set("Cache-Control", "no-store")
	web.JSON(w, http.StatusOK, c)
}

// HandleGet serves GET /api/v1/carts/{id}.
func HandleGet(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := svc.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		respond(w, c)
		return nil
	}
}

// HandleAddItem serves POST /api/v1/carts/{id}/items with {"variant_id","quantity"}.
func HandleAddItem(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			VariantID string `json:"variant_id"`
			Quantity  *int64 `json:"quantity"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		qty := int64(1)
		if in.Quantity != nil {
			qty = *in.Quantity
		}
		c, err := svc.AddItem(r.Context(), r.PathValue("id"), in.VariantID, qty)
		if err != nil {
			return err
		}
		respond(w, c)
		return nil
	}
}

// HandleUpdateItem serves PATCH /api/v1/carts/{id}/items/{item_id} with {"quantity"} (0 removes).
func HandleUpdateItem(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Quantity *int64 `json:"quantity"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if in.Quantity == nil {
			return validQuantity(-1)
		}
		c, err := svc.SetQuantity(r.Context(), r.PathValue("id"), r.PathValue("item_id"), *in.Quantity)
		if err != nil {
			return err
		}
		respond(w, c)
		return nil
	}
}

// HandleRemoveItem serves DELETE /api/v1/carts/{id}/items/{item_id}.
func HandleRemoveItem(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := svc.RemoveItem(r.Context(), r.PathValue("id"), r.PathValue("item_id"))
		if err != nil {
			return err
		}
		respond(w, c)
		return nil
	}
}

// HandleShippingMethods serves GET /api/v1/shipping-methods?cart_id=&country=:
// the methods for the cart's subtotal and the destination (default country
// when none is given).
func HandleShippingMethods(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		if q.Get("cart_id") == "" {
			return validationError("cart_id", "is required")
		}
		opts, err := svc.ShippingOptions(r.Context(), q.Get("cart_id"), q.Get("country"))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, map[string]any{"items": opts})
		return nil
	}
}

// HandleApplyCode serves POST /api/v1/carts/{id}/discounts with {"code"}:
// the cart priced with the code (200), or 422 naming "code" with the reason.
func HandleApplyCode(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Code string `json:"code"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		c, err := svc.ApplyCode(r.Context(), r.PathValue("id"), in.Code)
		if err != nil {
			return err
		}
		respond(w, c)
		return nil
	}
}

// HandleRemoveCode serves DELETE /api/v1/carts/{id}/discounts/{code}: the
// cart without the code.
func HandleRemoveCode(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := svc.RemoveCode(r.Context(), r.PathValue("id"), r.PathValue("code"))
		if err != nil {
			return err
		}
		respond(w, c)
		return nil
	}
}
