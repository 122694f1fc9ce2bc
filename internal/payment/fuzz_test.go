package payment_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// FuzzSignedWebhook: a correctly signed webhook body of any shape is applied
// or refused as Invalid (a 400), never an internal error (a 500). The seeds
// run in every `go test`; `go test -fuzz FuzzSignedWebhook ./internal/payment`
// explores further (on SQLite; the checks it exercises run before any SQL
// that PostgreSQL would refuse).
func FuzzSignedWebhook(f *testing.F) {
	for _, seed := range []string{
		`{"id":"evt_1","type":"charge.refunded","data":{"payment_ref":"sb_pi_1","amount":100,"refund_ref":"re_1"}}`,
		`{"id":"evt_\u0000","type":"payment_intent.succeeded","data":{"payment_ref":"sb_pi_1"}}`,
		`{"id":"evt_2","type":"\u0000","data":{"payment_ref":"x"}}`,
		"{\"id\":\"evt_3\",\"type\":\"x\",\"data\":{\"payment_ref\":\"\xff\"}}",
		`{"id":"evt_4","data":{"payment_ref":"p","amount":-1}}`, `{"id":""}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	db := sqldbtest.SQLite(f, migrations...)
	sb := payment.NewSandbox(payment.WithWebhookSecret("whsec_test"))
	svc := payment.NewService(db, sb)
	f.Fuzz(func(t *testing.T, body []byte) {
		h := http.Header{}
		h.Set(payment.SignatureHeader, sb.SignWebhook(body, time.Now()))
		if err := svc.HandleWebhook(context.Background(), body, h); err != nil && !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("signed webhook %q: %v, want applied or Invalid", body, err)
		}
	})
}
