package payment_test

import (
	"context"
	"slices"
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

// redirectProvider is a provider of its own methods, paid on its page
// (like Xendit's invoices); it lists them without a kind.
type redirectProvider struct{ payment.Provider }

func (redirectProvider) Name() string               { return "hosted" }
func (redirectProvider) Accepts(method string) bool { return method == "pm_hosted_invoice" }
func (redirectProvider) Methods() []payment.Method {
	return []payment.Method{{ID: "pm_hosted_invoice", Name: "Invoice"}}
}
func (redirectProvider) PublishableKey() string { return "" }

// cardProvider is a default provider whose cards are entered in its own
// browser fields (like Stripe).
type cardProvider struct{ payment.Provider }

func (cardProvider) Name() string { return "cards" }
func (cardProvider) Methods() []payment.Method {
	return []payment.Method{{ID: "card", Name: "Card", Kind: payment.KindCardElement}}
}
func (cardProvider) PublishableKey() string { return "pk_test_cards" }

// TestMethodsOfEveryProvider: the methods of every provider that takes new
// payments, each with its provider, the default provider's first; a
// provider kept for its earlier payments only (accepting no method of its
// own) offers none; an unset kind is "redirect"; publishable keys by
// provider.
func TestMethodsOfEveryProvider(t *testing.T) {
	sb := payment.NewSandbox()
	svc := payment.NewService(nil, cardProvider{}, redirectProvider{}, sb)
	var got []string
	for _, m := range svc.Methods() {
		got = append(got, m.Provider+"/"+m.ID+"/"+m.Kind)
	}
	want := []string{"cards/card/card_element", "hosted/pm_hosted_invoice/redirect"}
	if !slices.Equal(got, want) {
		t.Fatalf("Methods = %q, want %q", got, want)
	}
	if k := svc.PublishableKeys(); len(k) != 1 || k["cards"] != "pk_test_cards" {
		t.Fatalf("PublishableKeys = %v, want only the card provider's", k)
	}
	if svc.PublishableKey("cards") != "pk_test_cards" || svc.PublishableKey("sandbox") != "" || svc.PublishableKey("nope") != "" {
		t.Fatal("PublishableKey by name")
	}

	// The sandbox as the default, beside a provider of its own methods.
	svc = payment.NewService(nil, sb, redirectProvider{})
	ms := svc.Methods()
	if len(ms) != 6 || ms[0].Provider != "sandbox" || ms[0].Kind != payment.KindTest || !ms[0].TestMode || ms[5].Provider != "hosted" || ms[5].TestMode {
		t.Fatalf("Methods = %+v, want the sandbox's five test cards, then the invoice", ms)
	}
	if k := svc.PublishableKeys(); len(k) != 0 {
		t.Fatalf("PublishableKeys = %v, want none", k)
	}
}
