// Package stripe is the Stripe payment provider: PaymentIntents (automatic
// or manual capture, 3-D Secure through Stripe.js), refunds and signed
// webhooks, through stripe-go. Every call carries an idempotency key
// derived from Mercato's own ids, so a retry never moves money twice.
//
// It is an adapter: the payment module declares the Provider interface and
// owns the rules; this package only speaks Stripe's API.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/payment"
)

// Name is the provider's name on payments and in routes.
const Name = "stripe"

// Config is what the provider needs.
type Config struct {
	SecretKey string // sk_live_… or sk_test_…
	// PublishableKey (pk_…) is what Stripe.js uses in the shopper's browser
	// (card entry, 3-D Secure); it is public.
	PublishableKey string
	WebhookSecret  string // whsec_…: verifies POST /api/v1/payments/stripe/webhook
	// APIBase points the client elsewhere than https://api.stripe.com
	// (stripe-mock in tests: http://127.0.0.1:12111).
	APIBase string
	// HTTPClient, when set, makes the calls (its timeout bounds each call).
	HTTPClient *http.Client
}

// Provider implements payment.Provider with Stripe.
type Provider struct {
	sc             *stripego.Client
	webhookSecret  string
	publishableKey string
	testMode       bool
}

// New returns the Stripe provider.
func New(cfg Config) *Provider {
	bc := &stripego.BackendConfig{MaxNetworkRetries: stripego.Int64(2)}
	if cfg.APIBase != "" {
		bc.URL = stripego.String(strings.TrimRight(cfg.APIBase, "/"))
	}
	if cfg.HTTPClient != nil {
		bc.HTTPClient = cfg.HTTPClient
	} else {
		bc.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	b := stripego.GetBackendWithConfig(stripego.APIBackend, bc)
	return &Provider{
		sc:             stripego.NewClient(cfg.SecretKey, stripego.WithBackends(&stripego.Backends{API: b, Connect: b, Uploads: b})),
		webhookSecret:  cfg.WebhookSecret,
		publishableKey: cfg.PublishableKey,
		testMode:       strings.HasPrefix(cfg.SecretKey, "sk_test_") || strings.HasPrefix(cfg.SecretKey, "rk_test_"),
	}
}

// Name implements payment.Provider.
func (p *Provider) Name() string { return Name }

// Accepts implements payment.MethodAcceptor: Stripe payment method ids
// (pm_…, made by Stripe Elements in the shopper's browser, or Stripe's
// test methods such as pm_card_visa).
func (p *Provider) Accepts(method string) bool { return strings.HasPrefix(method, "pm_") }

// Methods implements payment.MethodLister: cards, entered in Stripe
// Elements (the card number never reaches Mercato); in test mode with test
// keys.
func (p *Provider) Methods() []payment.Method {
	return []payment.Method{{ID: "card", Name: "Card (Stripe)", Kind: payment.KindCardElement, TestMode: p.testMode}}
}

// PublishableKey implements payment.PublishableKeyer: the key for Stripe.js
// ("" when none is configured).
func (p *Provider) PublishableKey() string { return p.publishableKey }

// Authorize implements payment.Provider: one PaymentIntent, confirmed at
// once with the payment method, captured automatically or (capture false)
// manually. A card decline is a declined Result; an answer that needs the
// shopper (3-D Secure) or Stripe's time is a pending Result.
func (p *Provider) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.Result, error) {
	params := &stripego.PaymentIntentCreateParams{
		Amount:             stripego.Int64(req.Amount.Amount),
		Currency:           stripego.String(strings.ToLower(req.Amount.Currency)),
		PaymentMethod:      stripego.String(req.PaymentMethod),
		PaymentMethodTypes: stripego.StringSlice([]string{"card"}),
		Confirm:            stripego.Bool(true),
		CaptureMethod:      stripego.String(captureMethod(req.Capture)),
	}
	if req.ReturnURL != "" {
		params.ReturnURL = stripego.String(req.ReturnURL)
	}
	if req.Email != "" {
		params.ReceiptEmail = stripego.String(req.Email)
	}
	if req.Description != "" {
		params.Description = stripego.String(req.Description)
	}
	params.AddMetadata("mercato_reference", req.Reference)
	params.SetIdempotencyKey(req.IdempotencyKey)
	pi, err := p.sc.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		var se *stripego.Error
		if errors.As(err, &se) && se.Type == stripego.ErrorTypeCard {
			r := payment.Result{Declined: true, DeclineCode: string(se.DeclineCode), Message: se.Msg}
			if r.DeclineCode == "" {
				r.DeclineCode = string(se.Code)
			}
			if se.PaymentIntent != nil {
				r.ProviderRef = se.PaymentIntent.ID
			}
			return r, nil
		}
		if errors.As(err, &se) && se.Type == stripego.ErrorTypeInvalidRequest && se.Param == "payment_method" {
			return payment.Result{Declined: true, DeclineCode: "invalid_payment_method", Message: "Unknown payment method."}, nil
		}
		return payment.Result{}, fmt.Errorf("stripe: create payment intent: %w", err)
	}
	return result(pi), nil
}

func captureMethod(capture bool) string {
	if capture {
		return string(stripego.PaymentIntentCaptureMethodAutomatic)
	}
	return string(stripego.PaymentIntentCaptureMethodManual)
}

// result maps a PaymentIntent's status to a Result.
func result(pi *stripego.PaymentIntent) payment.Result {
	r := payment.Result{ProviderRef: pi.ID}
	switch pi.Status {
	case stripego.PaymentIntentStatusSucceeded:
		r.Captured = true
	case stripego.PaymentIntentStatusRequiresCapture:
		// authorized
	case stripego.PaymentIntentStatusCanceled:
		r.Declined, r.DeclineCode, r.Message = true, "canceled", "The payment was cancelled."
	case stripego.PaymentIntentStatusRequiresPaymentMethod:
		if e := pi.LastPaymentError; e != nil && (e.Code != "" || e.DeclineCode != "" || e.Msg != "") {
			r.Declined, r.DeclineCode, r.Message = true, string(e.DeclineCode), e.Msg
			if r.DeclineCode == "" {
				r.DeclineCode = string(e.Code)
			}
			return r
		}
		r.Pending = true // not attempted yet: Stripe.js confirms it in the browser
		r.NextAction = &payment.NextAction{Type: "use_stripe_sdk", ClientSecret: pi.ClientSecret}
	default: // requires_action, requires_confirmation, processing
		r.Pending = true
		r.NextAction = &payment.NextAction{Type: "use_stripe_sdk", ClientSecret: pi.ClientSecret}
		if na := pi.NextAction; na != nil && na.RedirectToURL != nil && na.RedirectToURL.URL != "" {
			r.NextAction = &payment.NextAction{Type: "redirect_to_url", RedirectURL: na.RedirectToURL.URL, ClientSecret: pi.ClientSecret}
		}
		if pi.Status == stripego.PaymentIntentStatusProcessing {
			r.NextAction = nil // Stripe's time, not the shopper's
		}
	}
	return r
}

// Lookup implements payment.Provider: the PaymentIntent as it is now.
func (p *Provider) Lookup(ctx context.Context, ref string) (payment.Result, error) {
	pi, err := p.sc.V1PaymentIntents.Retrieve(ctx, ref, nil)
	if err != nil {
		return payment.Result{}, fmt.Errorf("stripe: retrieve %s: %w", ref, err)
	}
	return result(pi), nil
}

// Capture implements payment.Provider.
func (p *Provider) Capture(ctx context.Context, ref string, amount money.Money, idemKey string) error {
	params := &stripego.PaymentIntentCaptureParams{AmountToCapture: stripego.Int64(amount.Amount)}
	params.SetIdempotencyKey(idemKey)
	if _, err := p.sc.V1PaymentIntents.Capture(ctx, ref, params); err != nil {
		return fmt.Errorf("stripe: capture %s: %w", ref, err)
	}
	return nil
}

// Void implements payment.Provider: the PaymentIntent is cancelled.
func (p *Provider) Void(ctx context.Context, ref, idemKey string) error {
	params := &stripego.PaymentIntentCancelParams{}
	params.SetIdempotencyKey(idemKey)
	if _, err := p.sc.V1PaymentIntents.Cancel(ctx, ref, params); err != nil {
		return fmt.Errorf("stripe: cancel %s: %w", ref, err)
	}
	return nil
}

// Refund implements payment.Provider: a refund of amount of the
// PaymentIntent's charge.
func (p *Provider) Refund(ctx context.Context, ref string, amount money.Money, idemKey string) (string, error) {
	params := &stripego.RefundCreateParams{PaymentIntent: stripego.String(ref), Amount: stripego.Int64(amount.Amount)}
	params.SetIdempotencyKey(idemKey)
	r, err := p.sc.V1Refunds.Create(ctx, params)
	if err != nil {
		return "", fmt.Errorf("stripe: refund %s: %w", ref, err)
	}
	return r.ID, nil
}

// SignatureHeader carries Stripe's webhook signature.
const SignatureHeader = "Stripe-Signature"

// ParseWebhook implements payment.Provider: the event is verified with the
// webhook signing secret (and its 5 minute tolerance) and decoded. A bad or
// missing signature is Invalid naming the Stripe-Signature header; a
// verified event of a kind Mercato does not act on is returned with its
// type (and acknowledged).
func (p *Provider) ParseWebhook(payload []byte, header http.Header) (payment.WebhookEvent, error) {
	if p.webhookSecret == "" {
		return payment.WebhookEvent{}, apperr.Field(SignatureHeader, "Stripe webhooks are off: the shop has no webhook signing secret (MERCATO_STRIPE_WEBHOOK_SECRET)")
	}
	ev, err := webhook.ConstructEventWithOptions(payload, header.Get(SignatureHeader), p.webhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		return payment.WebhookEvent{}, apperr.Field(SignatureHeader, "signature does not verify: "+err.Error())
	}
	out := payment.WebhookEvent{ID: ev.ID, Type: string(ev.Type)}
	switch ev.Type {
	case "payment_intent.succeeded", "payment_intent.amount_capturable_updated", "payment_intent.payment_failed", "payment_intent.canceled":
		var pi stripego.PaymentIntent
		if err := pi.UnmarshalJSON(ev.Data.Raw); err != nil || pi.ID == "" {
			return payment.WebhookEvent{}, apperr.Field("body", "must carry a PaymentIntent")
		}
		out.ProviderRef = pi.ID
		if e := pi.LastPaymentError; e != nil {
			out.DeclineCode, out.Message = string(e.DeclineCode), e.Msg
			if out.DeclineCode == "" {
				out.DeclineCode = string(e.Code)
			}
		}
	case "charge.refunded":
		var ch stripego.Charge
		if err := ch.UnmarshalJSON(ev.Data.Raw); err != nil || ch.PaymentIntent == nil || ch.PaymentIntent.ID == "" {
			return payment.WebhookEvent{}, apperr.Field("body", "must carry a Charge of a PaymentIntent")
		}
		out.ProviderRef = ch.PaymentIntent.ID
		// The newest refund is the one this event announces.
		if ch.Refunds != nil && len(ch.Refunds.Data) > 0 {
			r := ch.Refunds.Data[0]
			out.RefundRef, out.Amount = r.ID, r.Amount
		} else {
			out.Amount = ch.AmountRefunded
		}
	default:
		out.ProviderRef = "-" // acknowledged, not acted on
	}
	return out, nil
}
