package payment

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"context"
	"fmt"
	"github.com/mercato-shop/mercato/internal/apperr"
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
	// ParseWebhook verifies a notification's signature and decodes it. A
	// bad signature or payload is an Invalid error.
	ParseWebhook(payload []byte, header http.Header) (WebhookEvent, error)
	// Lookup asks for a payment's state now (for one the provider still
	// decides on: the answer of Authorize, as of today).
	Lookup(ctx context.Context, providerRef string) (Result, error)
}

// MethodAcceptor is a Provider that takes only some payment methods; the
// payment service sends a payment to the first provider that accepts its
// method, or else to the default one.
type MethodAcceptor interface {
	Accepts(method string) bool
}

// Webhook event types, named as Stripe names them.
const (
	EventSucceeded  = "payment_intent.succeeded"                 // the money was taken (an authorized or processing payment)
	EventAuthorized = "payment_intent.amount_capturable_updated" // a processing payment was authorized (to capture later)
	EventFailed     = "payment_intent.payment_failed"            // a processing payment failed (declined, 3-D Secure failed)
	EventCanceled   = "payment_intent.canceled"                  // an authorized or processing payment was cancelled (or expired)
	EventRefunded   = "charge.refunded"                          // money was given back (e.g. from the provider's dashboard)
)

// WebhookEvent is a verified provider notification.
type WebhookEvent struct {
	ID          string // the provider's event id: applied once
	Type        string
	ProviderRef string // the payment it concerns
	Amount      int64  // for refunds: the amount of this refund
	RefundRef   string // for refunds: the provider's refund id
	// DeclineCode and Message say why a payment failed (EventFailed).
	DeclineCode, Message string
}

// AuthorizeRequest asks a provider for money.
type AuthorizeRequest struct {
	Amount         money.Money
	PaymentMethod  string
	Capture        bool
	Reference      string
	IdempotencyKey string
	// ReturnURL is where the shopper comes back to after acting on the
	// provider's side (3-D Secure, a hosted payment page).
	ReturnURL string
	// Email and Description are shown by providers on their pages.
	Email, Description string
}

// Result is a provider's answer to Authorize.
type Result struct {
	ProviderRef string
	Captured    bool
	Declined    bool
	// Pending: the provider decides later (3-D Secure, a hosted page, a bank
	// transfer); a webhook tells the outcome. NextAction says what the
	// shopper must do meanwhile, if anything.
	Pending     bool
	NextAction  *NextAction
	DeclineCode string
	Message     string
}

// NextAction is what the shopper must do for a processing payment.
type NextAction struct {
	// Type is "use_stripe_sdk" (confirm with Stripe.js and ClientSecret) or
	// "redirect_to_url" (send the shopper to RedirectURL).
	Type         string `json:"type"`
	RedirectURL  string `json:"redirect_url,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
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
// its idempotency memory in the process, bounded like Stripe's: a key is
// remembered for a retention (24 hours by default) from its first use, and
// at most a cap of keys (100,000 by default) are kept, the oldest dropped
// first. A key forgotten either way is answered as a new payment.
type Sandbox struct {
	mu        sync.Mutex
	seen      map[string]seenResult
	order     []seenKey // keys of seen in the order they were first used, oldest first
	retention time.Duration
	maxKeys   int
	secret    []byte
	now       func() time.Time
	ledger    *sandboxLedger // nil: the books are seen (memory)
}

// seenResult is a remembered answer and when its key was first used.
type seenResult struct {
	r  Result
	at time.Time
}

type seenKey struct {
	key string
	at  time.Time
}

// Defaults of the sandbox's idempotency memory: Stripe keeps keys for 24
// hours; the cap bounds memory under a burst (about 100 bytes a key).
const (
	DefaultIdempotencyRetention = 24 * time.Hour
	DefaultIdempotencyKeys      = 100_000
)

// SandboxOption configures a Sandbox.
type SandboxOption func(*Sandbox)

// WithSandboxClock makes the sandbox read time from now (for tests): it
// dates idempotency keys and checks webhook timestamps.
func WithSandboxClock(now func() time.Time) SandboxOption {
	return func(s *Sandbox) { s.now = now }
}

// WithIdempotencyRetention sets how long a key is remembered after its
// first use (DefaultIdempotencyRetention by default; at least 1ns).
func WithIdempotencyRetention(d time.Duration) SandboxOption {
	return func(s *Sandbox) { s.retention = max(d, 1) }
}

// WithIdempotencyKeys caps how many keys are remembered at once
// (DefaultIdempotencyKeys by default; at least 1).
func WithIdempotencyKeys(n int) SandboxOption {
	return func(s *Sandbox) { s.maxKeys = max(n, 1) }
}

// WithWebhookSecret sets the secret that signs the sandbox's webhooks (see
// Sandbox.SignWebhook). Without one the sandbox accepts no webhook: a
// public or default secret would let anyone forge refunds and
// cancellations.
func WithWebhookSecret(secret string) SandboxOption {
	return func(s *Sandbox) { s.secret = []byte(secret) }
}

// SignatureHeader carries a webhook's signature: "t=<unix>,v1=<hex HMAC-SHA256 of t.payload>".
const SignatureHeader = "Mercato-Signature"

// webhookTolerance is how old a signed webhook may be (replay protection).
const webhookTolerance = 5 * time.Minute

// NewSandbox returns the sandbox provider.
func NewSandbox(opts ...SandboxOption) *Sandbox {
	s := &Sandbox{
		seen:      map[string]seenResult{},
		retention: DefaultIdempotencyRetention,
		maxKeys:   DefaultIdempotencyKeys,
		now:       time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// forget drops, oldest first, the keys older than the retention and those
// beyond the cap with room for one more. Called with s.mu held.
func (s *Sandbox) forget(now time.Time) {
	for len(s.order) > 0 {
		k := s.order[0]
		if len(s.order) < s.maxKeys && now.Sub(k.at) < s.retention {
			return
		}
		if e, ok := s.seen[k.key]; ok && e.at.Equal(k.at) {
			delete(s.seen, k.key)
		}
		s.order[0] = seenKey{} // let the key's string be collected
		s.order = s.order[1:]
	}
}

func (s *Sandbox) mac(t int64, payload []byte) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%d.", t)
	m.Write(payload)
	return hex.EncodeToString(m.Sum(nil))
}

// SignWebhook returns the signature header value for payload at time t, as
// the sandbox "provider" would send it.
func (s *Sandbox) SignWebhook(payload []byte, t time.Time) string {
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), s.mac(t.Unix(), payload))
}

// ParseWebhook implements Provider. The payload is
// {"id","type","data":{"payment_ref","amount","refund_ref"}}. A missing,
// malformed, wrong or stale signature is Invalid (naming the signature
// header); so is a signed body that is not valid UTF-8 or not such an event
// (naming "body").
func (s *Sandbox) ParseWebhook(payload []byte, header http.Header) (WebhookEvent, error) {
	bad := func(msg string) (WebhookEvent, error) { return WebhookEvent{}, apperr.Field(SignatureHeader, msg) }
	var (
		t   int64
		sig string
	)
	for _, part := range strings.Split(header.Get(SignatureHeader), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			t, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			sig = v
		}
	}
	if len(s.secret) == 0 {
		return bad("sandbox webhooks are off: the shop has no sandbox webhook secret (MERCATO_SANDBOX_WEBHOOK_SECRET)")
	}
	if t == 0 || sig == "" {
		return bad("missing or malformed signature (want t=<unix>,v1=<hex>)")
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(t, payload))) {
		return bad("signature does not match the payload")
	}
	if age := s.now().Sub(time.Unix(t, 0)); age > webhookTolerance || age < -webhookTolerance {
		return bad("signature timestamp is outside the 5 minute tolerance")
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD silently; a
	// provider never sends it, so a body that holds some is refused.
	if !utf8.Valid(payload) {
		return WebhookEvent{}, apperr.Field("body", "must be valid UTF-8")
	}
	var body struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			PaymentRef string `json:"payment_ref"`
			Amount     int64  `json:"amount"`
			RefundRef  string `json:"refund_ref"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &body); err != nil || body.ID == "" || body.Data.PaymentRef == "" || len(body.ID) > 100 {
		return WebhookEvent{}, apperr.Field("body", "must be a webhook event with id, type and data.payment_ref")
	}
	return WebhookEvent{ID: body.ID, Type: body.Type, ProviderRef: body.Data.PaymentRef, Amount: body.Data.Amount, RefundRef: body.Data.RefundRef}, nil
}

// Name implements Provider.
func (s *Sandbox) Name() string { return "sandbox" }

// Authorize implements Provider.
func (s *Sandbox) Authorize(ctx context.Context, req AuthorizeRequest) (Result, error) {
	now := s.now()
	if s.ledger != nil && req.IdempotencyKey != "" {
		return s.ledger.authorize(ctx, req, sandboxAnswer(req), now)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(now)
	if e, ok := s.seen[req.IdempotencyKey]; ok && req.IdempotencyKey != "" && now.Sub(e.at) < s.retention {
		return e.r, nil
	}
	r := sandboxAnswer(req)
	if req.IdempotencyKey != "" {
		s.seen[req.IdempotencyKey] = seenResult{r: r, at: now}
		s.order = append(s.order, seenKey{key: req.IdempotencyKey, at: now})
	}
	return r, nil
}

// sandboxAnswer is how the sandbox answers an authorization, by the test
// payment method.
func sandboxAnswer(req AuthorizeRequest) Result {
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
	return r
}

func sandboxRef(ref string) error {
	if !strings.HasPrefix(ref, "sb_pi_") {
		return fmt.Errorf("sandbox: unknown payment %q", ref)
	}
	return nil
}

// Capture implements Provider.
func (s *Sandbox) Capture(ctx context.Context, ref string, amount money.Money, idemKey string) error {
	if err := sandboxRef(ref); err != nil || s.ledger == nil {
		return err
	}
	return s.ledger.setStatus(ctx, ref, StatusCaptured, StatusAuthorized)
}

// Void implements Provider.
func (s *Sandbox) Void(ctx context.Context, ref, idemKey string) error {
	if err := sandboxRef(ref); err != nil || s.ledger == nil {
		return err
	}
	return s.ledger.setStatus(ctx, ref, StatusVoided, StatusAuthorized)
}

// Lookup implements Provider: the sandbox decides at once, so it answers
// what its books say (an unknown payment is an error).
func (s *Sandbox) Lookup(ctx context.Context, ref string) (Result, error) {
	if err := sandboxRef(ref); err != nil {
		return Result{}, err
	}
	if s.ledger == nil {
		return Result{}, fmt.Errorf("sandbox: no books kept in memory for %q", ref)
	}
	return s.ledger.lookup(ctx, ref)
}

// Refund implements Provider.
func (s *Sandbox) Refund(ctx context.Context, ref string, amount money.Money, idemKey string) (string, error) {
	if err := sandboxRef(ref); err != nil {
		return "", err
	}
	if s.ledger != nil {
		return s.ledger.refund(ctx, ref, amount, idemKey, s.now())
	}
	return "sb_re_" + strings.ReplaceAll(ids.New(), "-", ""), nil
}
