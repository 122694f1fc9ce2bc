package payment_test

import (
	"context"
	"testing"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/payment"
)

// TestSandboxMethods: every listed test card does what the list says.
func TestSandboxMethods(t *testing.T) {
	sb := payment.NewSandbox(payment.WithWebhookSecret("whsec_test"))
	svc := payment.NewService(nil, sb)
	methods := svc.Methods()
	if len(methods) != 5 || methods[0].ID != "pm_card_visa" {
		t.Fatalf("Methods = %+v, want the sandbox's five test cards, Visa first", methods)
	}
	for _, m := range methods {
		t.Run(m.ID, func(t *testing.T) {
			if !payment.ValidMethod(m.ID) || m.Name == "" || m.Outcome == "" {
				t.Fatalf("method %+v", m)
			}
			r, err := sb.Authorize(context.Background(), payment.AuthorizeRequest{Amount: money.Money{Amount: 100, Currency: "EUR"},
				PaymentMethod: m.ID, Capture: true, Reference: "ref-" + m.ID, IdempotencyKey: "key-" + m.ID})
			if err != nil || r.Declined != m.Declines {
				t.Fatalf("Authorize = %+v, %v; listed as declining: %v", r, err, m.Declines)
			}
		})
	}
}

type quietProvider struct{ payment.Provider }

func (quietProvider) Name() string { return "quiet" }

func TestMethodsOfAProviderThatListsNone(t *testing.T) {
	if m := payment.NewService(nil, quietProvider{}).Methods(); len(m) != 0 {
		t.Fatalf("Methods = %+v, want none", m)
	}
}
