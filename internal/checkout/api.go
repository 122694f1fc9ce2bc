package checkout

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// HandleCheckout serves POST /api/v1/carts/{id}/checkout. The
// Idempotency-Key header is required; the answer is stored under it and a
// retry with the same body gets it again, byte for byte: 201 with the order
// ({"order": …}, and "payment" with its next action when the order awaits
// its payment), or the refusal as a problem (402 declined, 409 sold out or
// prices changed, 422 nothing to buy). Errors that are not stored are
// written by the web layer as every API error is.
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
		a, err := svc.checkout(r.Context(), r.PathValue("id"), r.Header.Get("Idempotency-Key"), body, in)
		if err != nil {
			return err
		}
		status, doc := render(a)
		ct := "application/json"
		if status >= 400 {
			ct = "application/problem+json"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		w.Write(doc)
		return nil
	}
}

// render is the HTTP answer of a checkout's stored answer. It depends on
// nothing but what the key stores, so that a replay is the first answer
// byte for byte: the problem has no instance (the first answer had none),
// and a placed order is its JSON as it was when placed.
func render(a answer) (int, []byte) {
	if a.refusal != nil {
		p := web.ProblemOf(a.refusal)
		b, _ := json.Marshal(p) // a Problem of strings and raw JSON always encodes
		return p.Status, b
	}
	b, _ := json.Marshal(struct {
		Order   json.RawMessage `json:"order"`
		Payment *PaymentAction  `json:"payment,omitempty"`
	}{a.doc, a.payment})
	return http.StatusCreated, b
}
