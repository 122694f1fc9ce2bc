package payment

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
)

// Provider is a payment service provider (the sandbox, Stripe, ...). Every
// call carries an idempotency key: calling again with the same key must not
// move money twice.
type Provider interface {
	Name() string
	// Authorize reserves (capture=false) or takes (capture=true) amount with
	// the payment method. A decline is a Result with Declined set, not an error;
	// an error means the outcome is unknown or the provider failed.
	Authorize(ctx context.Context, req AuthorizeRequest) (Result, error)
	Capture(ctx context.Context, providerRef string, amount money.Money, idemKey string) error
	Void(ctx context.Context, providerRef, idemKey string) error
	Refund(ctx context.Context, providerRef string, amount money.Money, idemKey string) (refundRef string, err error)
}

// AuthorizeRequest asks a provider for money.
type AuthorizeRequest struct {
	Amount         money.Money
	PaymentMethod  string
	Capture        bool
	Reference      string
	IdempotencyKey string
}

// Result is a provider's answer to Authorize.
type Result struct {
	ProviderRef string
	Captured    bool
	Declined    bool
	DeclineCode string
	Message     string
}

// Sandbox is the built-in test provider. It behaves like Stripe's test mode
// for the test payment methods people know:
//
//	pm_card_visa, pm_card_mastercard, pm_card_amex  succeed
//	pm_card_chargeDeclined                          declined: generic_decline
//	pm_card_insufficientFunds                       declined: insufficient_funds
//	pm_card_expired                                 declined: expired_card
//
// Any other method is declined as invalid. It moves no real money and keeps
// its idempotency memory in the process.
type Sandbox struct {
	mu   sync.Mutex
	seen map[string]Result
}

// NewSandbox returns the sandbox provider.
func NewSandbox() *Sandbox { return &Sandbox{seen: map[string]Result{}} }

// SandboxMethods lists the sandbox's test payment methods and what they do
// (for the checkout page).
var SandboxMethods = []struct{ ID, Outcome string }{
	{"pm_card_visa", "succeeds"},
	{"pm_card_mastercard", "succeeds"},
	{"pm_card_chargeDeclined", "is declined (generic decline)"},
	{"pm_card_insufficientFunds", "is declined (insufficient funds)"},
	{"pm_card_expired", "is declined (expired card)"},
}

// Name implements Provider.
func (s *Sandbox) Name() string { return "sandbox" }

// Authorize implements Provider.
func (s *Sandbox) Authorize(ctx context.Context, req AuthorizeRequest) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.seen[req.IdempotencyKey]; ok && req.IdempotencyKey != "" {
		return r, nil
	}
	var r Result
	switch req.PaymentMethod {
	case "pm_card_visa", "pm_card_mastercard", "pm_card_amex":
		r = Result{ProviderRef: "sb_pi_" + strings.ReplaceAll(ids.New(), "-", ""), Captured: req.Capture}
	case "pm_card_chargeDeclined":
		r = Result{Declined: true, DeclineCode: "generic_decline", Message: "Your card was declined."}
	case "pm_card_insufficientFunds":
		r = Result{Declined: true, DeclineCode: "insufficient_funds", Message: "Your card has insufficient funds."}
	case "pm_card_expired":
		r = Result{Declined: true, DeclineCode: "expired_card", Message: "Your card has expired."}
	default:
		r = Result{Declined: true, DeclineCode: "invalid_payment_method", Message: "Unknown payment method."}
	}
	if req.IdempotencyKey != "" {
		s.seen[req.IdempotencyKey] = r
	}
	return r, nil
}

func sandboxRef(ref string) error {
	if !strings.HasPrefix(ref, "sb_pi_") {
		return fmt.Errorf("sandbox: unknown payment %q", ref)
	}
	return nil
}

// Capture implements Provider.
func (s *Sandbox) Capture(ctx context.Context, ref string, amount money.Money, idemKey string) error {
	return sandboxRef(ref)
}

// Void implements Provider.
func (s *Sandbox) Void(ctx context.Context, ref, idemKey string) error { return sandboxRef(ref) }

// Refund implements Provider.
func (s *Sandbox) Refund(ctx context.Context, ref string, amount money.Money, idemKey string) (string, error) {
	if err := sandboxRef(ref); err != nil {
		return "", err
	}
	return "sb_re_" + strings.ReplaceAll(ids.New(), "-", ""), nil
}
