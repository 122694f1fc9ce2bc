package payment

import (
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
