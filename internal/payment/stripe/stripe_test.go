package stripe

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/payment"
)

func TestResultOfEachPaymentIntentStatus(t *testing.T) {
	for _, tt := range []struct {
		pi   stripego.PaymentIntent
		want payment.Result
	}{
		{stripego.PaymentIntent{ID: "pi_1", Status: stripego.PaymentIntentStatusSucceeded}, payment.Result{ProviderRef: "pi_1", Captured: true}},
		{stripego.PaymentIntent{ID: "pi_2", Status: stripego.PaymentIntentStatusRequiresCapture}, payment.Result{ProviderRef: "pi_2"}},
		{stripego.PaymentIntent{ID: "pi_3", Status: stripego.PaymentIntentStatusRequiresAction, ClientSecret: "cs"},
			payment.Result{ProviderRef: "pi_3", Pending: true, NextAction: &payment.NextAction{Type: "use_stripe_sdk", ClientSecret: "cs"}}},
		{stripego.PaymentIntent{ID: "pi_4", Status: stripego.PaymentIntentStatusRequiresAction, ClientSecret: "cs",
			NextAction: &stripego.PaymentIntentNextAction{RedirectToURL: &stripego.PaymentIntentNextActionRedirectToURL{URL: "https://hooks.stripe.com/3ds"}}},
			payment.Result{ProviderRef: "pi_4", Pending: true, NextAction: &payment.NextAction{Type: "redirect_to_url", RedirectURL: "https://hooks.stripe.com/3ds", ClientSecret: "cs"}}},
		{stripego.PaymentIntent{ID: "pi_5", Status: stripego.PaymentIntentStatusProcessing}, payment.Result{ProviderRef: "pi_5", Pending: true}},
		{stripego.PaymentIntent{ID: "pi_6", Status: stripego.PaymentIntentStatusRequiresPaymentMethod,
			LastPaymentError: &stripego.Error{Code: "card_declined", DeclineCode: "insufficient_funds", Msg: "no funds"}},
			payment.Result{ProviderRef: "pi_6", Declined: true, DeclineCode: "insufficient_funds", Message: "no funds"}},
		{stripego.PaymentIntent{ID: "pi_7", Status: stripego.PaymentIntentStatusCanceled}, payment.Result{ProviderRef: "pi_7", Declined: true, DeclineCode: "canceled", Message: "The payment was cancelled."}},
	} {
		got := result(&tt.pi)
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(tt.want)
		if string(gj) != string(wj) {
			t.Errorf("%s %s: %s, want %s", tt.pi.ID, tt.pi.Status, gj, wj)
		}
	}
}

func TestParseWebhookVerifiesTheSignature(t *testing.T) {
	p := New(Config{SecretKey: "sk_test_x", WebhookSecret: "whsec_right"})
	payload := []byte(`{"id":"evt_1","object":"event","type":"payment_intent.succeeded","api_version":"2020-08-27","data":{"object":{"id":"pi_9","object":"payment_intent","status":"succeeded"}}}`)
	sign := func(secret string, at time.Time) http.Header {
		h := http.Header{}
		h.Set(SignatureHeader, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header)
		return h
	}
	ev, err := p.ParseWebhook(payload, sign("whsec_right", time.Now()))
	if err != nil || ev.ID != "evt_1" || ev.Type != payment.EventSucceeded || ev.ProviderRef != "pi_9" {
		t.Fatalf("ParseWebhook = %+v, %v", ev, err)
	}
	for name, h := range map[string]http.Header{
		"wrong secret": sign("whsec_wrong", time.Now()),
		"too old":      sign("whsec_right", time.Now().Add(-time.Hour)),
		"no header":    {},
	} {
		if _, err := p.ParseWebhook(payload, h); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
	if _, err := New(Config{SecretKey: "sk_test_x"}).ParseWebhook(payload, sign("", time.Now())); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("without a webhook secret: %v, want Invalid", err)
	}
}

// TestMethodsSayTestMode: Stripe offers cards entered in Stripe Elements,
// in test mode with test keys, and hands Stripe.js its publishable key.
func TestMethodsSayTestMode(t *testing.T) {
	for key, test := range map[string]bool{"sk_test_123": true, "rk_test_123": true, "sk_live_123": false, "rk_live_123": false} {
		p := New(Config{SecretKey: key, PublishableKey: "pk_x"})
		ms := p.Methods()
		if len(ms) != 1 || ms[0].Kind != payment.KindCardElement || ms[0].TestMode != test || p.PublishableKey() != "pk_x" {
			t.Errorf("%s: Methods %+v, key %q; want one card element, test mode %v", key, ms, p.PublishableKey(), test)
		}
	}
}
