package payment_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// fixedEventProvider is the sandbox whose webhooks all verify as ev.
type fixedEventProvider struct {
	*payment.Sandbox
	ev payment.WebhookEvent
}

func (p fixedEventProvider) ParseWebhook([]byte, http.Header) (payment.WebhookEvent, error) {
	return p.ev, nil
}

// TestWebhookEventTextIsCheckedBeforeSQL: whatever the provider, a verified
// event whose id, type or references hold a NUL byte or invalid UTF-8 is
// Invalid, naming the field, and nothing is recorded (PostgreSQL refused
// such text with an internal error).
func TestWebhookEventTextIsCheckedBeforeSQL(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ok := payment.WebhookEvent{ID: "evt_1", Type: payment.EventRefunded, ProviderRef: "sb_pi_x", Amount: 1, RefundRef: "re_1"}
		for _, tt := range []struct {
			field string
			edit  func(*payment.WebhookEvent)
		}{
			{"id", func(e *payment.WebhookEvent) { e.ID = "evt\x00" }},
			{"id", func(e *payment.WebhookEvent) { e.ID = "evt\xff" }},
			{"type", func(e *payment.WebhookEvent) { e.Type = "charge.refunded\x00" }},
			{"data.payment_ref", func(e *payment.WebhookEvent) { e.ProviderRef = "sb_pi_\xc3" }},
			{"data.refund_ref", func(e *payment.WebhookEvent) { e.RefundRef = "re_\x00" }},
			{"type", func(e *payment.WebhookEvent) { e.Type = strings.Repeat("t", 256) }},
			{"data.payment_ref", func(e *payment.WebhookEvent) { e.ProviderRef = strings.Repeat("p", 10000) }},
			{"data.refund_ref", func(e *payment.WebhookEvent) { e.RefundRef = strings.Repeat("r", 256) }},
		} {
			ev := ok
			tt.edit(&ev)
			svc := payment.NewService(db, fixedEventProvider{payment.NewSandbox(payment.WithWebhookSecret("whsec_test")), ev})
			err := svc.HandleWebhook(context.Background(), nil, http.Header{})
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
				t.Errorf("%+v: %v, want Invalid naming %s", ev, err, tt.field)
			}
		}
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM payment_webhook_events`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("refused webhooks recorded %d events (%v)", n, err)
		}
		// The same event with clean text is applied (acknowledged: unknown payment).
		if err := payment.NewService(db, fixedEventProvider{payment.NewSandbox(payment.WithWebhookSecret("whsec_test")), ok}).HandleWebhook(context.Background(), nil, http.Header{}); err != nil {
			t.Fatal(err)
		}
	})
}
