package payment

import (
	"context"
	"io"
	"net/http"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// HandleWebhookRequest serves POST /api/v1/payments/webhook: the payment
// provider's notifications, authenticated by their signature. A body over
// 64 KiB or a bad signature is 400; an applied (or already applied, or
// unknown-payment) notification is 200 {"received": true}.
func HandleWebhookRequest(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readLimited(w, r)
		if err != nil {
			return err
		}
		if err := svc.HandleWebhook(r.Context(), body, r.Header); err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, map[string]bool{"received": true})
		return nil
	}
}

// HandleProviderWebhook serves POST /api/v1/payments/{provider}/webhook:
// the named provider's notifications (POST /api/v1/payments/stripe/webhook
// for Stripe), verified with that provider's signature. A provider that is
// not configured is 404; otherwise as HandleWebhookRequest.
func HandleProviderWebhook(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readLimited(w, r)
		if err != nil {
			return err
		}
		if err := svc.HandleWebhookFrom(r.Context(), r.PathValue("provider"), body, r.Header); err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, map[string]bool{"received": true})
		return nil
	}
}

// HandleWebhookOf serves a provider's notifications at a route of its own
// (POST /api/v1/payments/xendit/callback for Xendit, whose callbacks carry
// the x-callback-token header): as HandleProviderWebhook, for provider.
func HandleWebhookOf(svc *Service, provider string) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readLimited(w, r)
		if err != nil {
			return err
		}
		if err := svc.HandleWebhookFrom(r.Context(), provider, body, r.Header); err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, map[string]bool{"received": true})
		return nil
	}
}

func readLimited(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return nil, apperr.Field("body", "must be at most 64 KiB")
	}
	return body, nil
}

// Carts tells whether the caller may use a cart (the cart module's
// Access: NotFound for a cart the caller may not use, whether or not it
// exists).
type Carts interface {
	Access(ctx context.Context, id string) error
}

// MethodsAnswer is the answer of GET /api/v1/payment-methods.
type MethodsAnswer struct {
	Items []Method `json:"items"`
	// PublishableKeys are the public keys the providers' browser scripts
	// need, by provider name: {"stripe": "pk_…"} for Stripe.js when Stripe
	// is configured with one.
	PublishableKeys map[string]string `json:"publishable_keys"`
}

// HandleMethods serves GET /api/v1/payment-methods?cart_id=: the payment
// methods the configured providers offer for the cart, to whoever may use
// the cart (as for its shipping methods). A missing cart_id is 400 naming
// it; a cart the caller may not use is 404.
func HandleMethods(svc *Service, carts Carts) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.URL.Query().Get("cart_id")
		if id == "" {
			return apperr.Field("cart_id", "is required")
		}
		if err := carts.Access(r.Context(), id); err != nil {
			return err
		}
		ms := svc.Methods()
		if ms == nil {
			ms = []Method{}
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, MethodsAnswer{Items: ms, PublishableKeys: svc.PublishableKeys()})
		return nil
	}
}
