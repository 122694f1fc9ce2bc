package checkout

import (
	"bytes"
	"io"
	"net/http"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// HandleCheckout serves POST /api/v1/carts/{id}/checkout. The
// Idempotency-Key header is required; the answer is stored under it and
// replayed for retries with the same body.
func HandleCheckout(svc *Service, allow func(r *http.Request) error) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if allow != nil {
			if err := allow(r); err != nil {
				return err
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, web.MaxBodyBytes))
		if err != nil {
			return apperr.Field("body", "must not be larger than 1048576 bytes")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in Input
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		resp, err := svc.Checkout(r.Context(), r.PathValue("id"), r.Header.Get("Idempotency-Key"), body, in)
		if err != nil {
			return err
		}
		ct := "application/json"
		if resp.Status >= 400 {
			ct = "application/problem+json"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(resp.Status)
		w.Write(resp.Body)
		return nil
	}
}
