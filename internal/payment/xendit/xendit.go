// Package xendit is the Xendit payment provider: the invoice flow. Mercato
// creates an invoice (POST /v2/invoices), the shopper pays it on Xendit's
// page (cards, e-wallets, virtual accounts, retail outlets: whatever the
// merchant enabled there), and Xendit's callback (checked with the
// x-callback-token header) or the reconciler asking Xendit
// (GET /v2/invoices/{id}) completes the order. Refunds go through Xendit's
// refund API (POST /refunds).
//
// It speaks Xendit's published REST API with net/http: amounts are JSON
// numbers in the currency's major unit, requests authenticate with the
// secret key as the Basic auth user name. It is an adapter: the payment
// module declares the Provider interface and owns the rules.
package xendit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/payment"
)

// Name is the provider's name on payments and in routes.
const Name = "xendit"

// MethodInvoice is the payment method a shopper picks at checkout to pay
// on Xendit's invoice page.
const MethodInvoice = "pm_xendit_invoice"

// DefaultAPIBase is Xendit's API address.
const DefaultAPIBase = "https://api.xendit.co"

// CallbackTokenHeader carries the callback verification token Xendit sends
// with every callback (the one shown in Xendit's dashboard).
const CallbackTokenHeader = "x-callback-token"

// DefaultInvoiceDuration is how long an invoice can be paid when Config
// says nothing.
const DefaultInvoiceDuration = time.Hour

// Config is what the provider needs.
type Config struct {
	SecretKey     string // xnd_development_… or xnd_production_…
	CallbackToken string // Xendit's callback verification token: checks POST /api/v1/payments/xendit/callback
	// APIBase is the API's address (DefaultAPIBase when empty). It comes
	// only from the shop's configuration: nothing a client sends changes
	// where Mercato's requests go.
	APIBase string
	// InvoiceDuration is how long the shopper may pay an invoice; Xendit
	// expires it then (and calls back). Keep it no longer than the time an
	// order awaits its payment.
	InvoiceDuration time.Duration
	// ShopURL is the shop's public address: after paying (or failing to)
	// on Xendit's page the shopper is sent to ShopURL/orders/{order id},
	// unless the payment request carries its own ReturnURL.
	ShopURL string
	// HTTPClient, when set, makes the calls (its timeout bounds each
	// call). Redirects are never followed either way.
	HTTPClient *http.Client
}

// Provider implements payment.Provider with Xendit invoices.
type Provider struct {
	base          string // scheme://host[/path], no trailing slash
	secretKey     string
	callbackToken string
	duration      time.Duration
	shopURL       string
	hc            *http.Client
}

// New returns the Xendit provider. An APIBase that is not an absolute
// http(s) address without query or fragment is an error.
func New(cfg Config) (*Provider, error) {
	base := cfg.APIBase
	if base == "" {
		base = DefaultAPIBase
	}
	if err := CheckAPIBase(base); err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	// An API never redirects; following one would take the secret key
	// (or the request) somewhere the configuration did not name.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d := cfg.InvoiceDuration
	if d <= 0 {
		d = DefaultInvoiceDuration
	}
	return &Provider{base: strings.TrimRight(base, "/"), secretKey: cfg.SecretKey, callbackToken: cfg.CallbackToken,
		duration: d, shopURL: strings.TrimRight(cfg.ShopURL, "/"), hc: hc}, nil
}

// CheckAPIBase reports whether base can be the API's address: an absolute
// http or https URL with a host and no user, query or fragment.
func CheckAPIBase(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("xendit: API base %q: want an http(s) address such as %s", base, DefaultAPIBase)
	}
	return nil
}

// Name implements payment.Provider.
func (p *Provider) Name() string { return Name }

// Accepts implements payment.MethodAcceptor: Xendit's methods are
// pm_xendit_… (today only MethodInvoice).
func (p *Provider) Accepts(method string) bool { return strings.HasPrefix(method, "pm_xendit_") }

// Methods implements payment.MethodLister.
func (p *Provider) Methods() []payment.Method {
	return []payment.Method{{ID: MethodInvoice, Name: "Xendit: card, e-wallet or bank transfer"}}
}

// Currencies Xendit invoices take, and those it takes only in whole units
// (it truncates the decimals of an IDR amount, so Mercato never sends any).
var (
	invoiceCurrencies = map[string]bool{"IDR": true, "PHP": true, "THB": true, "VND": true, "MYR": true, "USD": true}
	wholeUnitsOnly    = map[string]bool{"IDR": true}
)

// Amount converts m (minor units) to Xendit's amount: a decimal number in
// the currency's major unit (IDR 150000.00, stored as 15000000 sen, is
// 150000). A currency Xendit invoices do not take, or an IDR amount with
// sen (Xendit would drop them and charge less), is an error.
func Amount(m money.Money) (json.Number, error) {
	if !invoiceCurrencies[m.Currency] {
		return "", fmt.Errorf("xendit invoices take IDR, PHP, THB, VND, MYR or USD, not %q", m.Currency)
	}
	if m.Amount <= 0 {
		return "", fmt.Errorf("xendit: amount %s must be positive", m)
	}
	if wholeUnitsOnly[m.Currency] {
		if unit := pow10(money.Exponent(m.Currency)); m.Amount%unit != 0 {
			return "", fmt.Errorf("xendit takes whole %s amounts only; %s has a fraction", m.Currency, m)
		}
		return json.Number(fmt.Sprint(m.Amount / pow10(money.Exponent(m.Currency)))), nil
	}
	return json.Number(m.Decimal()), nil
}

// Minor converts one of Xendit's amounts (a JSON number in major units) to
// minor units of currency; an amount with more decimals than the currency
// has, negative, or out of range is an error.
func Minor(n json.Number, currency string) (int64, error) {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok || r.Sign() < 0 {
		return 0, fmt.Errorf("xendit: amount %q is not a non-negative number", n)
	}
	r.Mul(r, new(big.Rat).SetInt64(pow10(money.Exponent(currency))))
	if !r.IsInt() || !r.Num().IsInt64() || r.Num().Int64() > money.MaxAmount {
		return 0, fmt.Errorf("xendit: amount %q is not a whole number of %s minor units", n, currency)
	}
	return r.Num().Int64(), nil
}

func pow10(n int) int64 {
	v := int64(1)
	for range n {
		v *= 10
	}
	return v
}

// invoice is Xendit's Invoice object (the fields Mercato reads).
type invoice struct {
	ID         string      `json:"id"`
	ExternalID string      `json:"external_id"`
	Status     string      `json:"status"` // PENDING, PAID, SETTLED, EXPIRED
	Amount     json.Number `json:"amount"`
	Currency   string      `json:"currency"`
	InvoiceURL string      `json:"invoice_url"`
}

// createInvoice is the body of POST /v2/invoices.
type createInvoice struct {
	ExternalID         string      `json:"external_id"`
	Amount             json.Number `json:"amount"`
	Currency           string      `json:"currency"`
	PayerEmail         string      `json:"payer_email,omitempty"`
	Description        string      `json:"description,omitempty"`
	InvoiceDuration    int64       `json:"invoice_duration"`
	SuccessRedirectURL string      `json:"success_redirect_url,omitempty"`
	FailureRedirectURL string      `json:"failure_redirect_url,omitempty"`
}

// ExternalID is the invoice's external_id for a payment: the order id (the
// payment's reference) and the attempt's idempotency key ("pay:" and the
// payment id), so each attempt has its own invoice and asking again finds it.
func ExternalID(req payment.AuthorizeRequest) string { return req.Reference + "/" + req.IdempotencyKey }

// Authorize implements payment.Provider: it creates the invoice and
// answers pending, with the invoice's page as the next action. Xendit's
// invoice API has no idempotency header, so Authorize first looks for the
// invoice of this attempt by its external_id and answers with it when it
// exists: asking again (payment.Service.Resolve) never makes a second
// invoice. An amount Xendit cannot take (see Amount) is declined.
func (p *Provider) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.Result, error) {
	if req.PaymentMethod != MethodInvoice {
		return payment.Result{Declined: true, DeclineCode: "invalid_payment_method", Message: "Unknown payment method."}, nil
	}
	amount, err := Amount(req.Amount)
	if err != nil {
		return payment.Result{Declined: true, DeclineCode: "amount_not_supported", Message: strings.TrimPrefix(err.Error(), "xendit: ")}, nil
	}
	if req.Reference == "" || req.IdempotencyKey == "" {
		return payment.Result{}, errors.New("xendit: an invoice needs the payment's reference and idempotency key")
	}
	ext := ExternalID(req)
	var found []invoice
	if err := p.do(ctx, http.MethodGet, "/v2/invoices?"+url.Values{"external_id": {ext}}.Encode(), nil, nil, &found); err != nil {
		return payment.Result{}, err
	}
	for _, inv := range found {
		if inv.ExternalID == ext {
			return result(inv)
		}
	}
	back := req.ReturnURL
	if back == "" && p.shopURL != "" {
		back = p.shopURL + "/orders/" + url.PathEscape(req.Reference)
	}
	body := createInvoice{ExternalID: ext, Amount: amount, Currency: req.Amount.Currency, PayerEmail: req.Email, Description: req.Description,
		InvoiceDuration: int64(p.duration / time.Second), SuccessRedirectURL: back, FailureRedirectURL: back}
	var inv invoice
	if err := p.do(ctx, http.MethodPost, "/v2/invoices", body, nil, &inv); err != nil {
		return payment.Result{}, err
	}
	return result(inv)
}

// result maps an invoice's status to a Result: PENDING waits for the
// shopper on the invoice's page, PAID and SETTLED took the money (invoices
// are captured when paid), EXPIRED was not paid in time.
func result(inv invoice) (payment.Result, error) {
	if !validID(inv.ID) {
		return payment.Result{}, fmt.Errorf("xendit: invoice id %q is not an id", inv.ID)
	}
	r := payment.Result{ProviderRef: inv.ID}
	switch inv.Status {
	case "PENDING":
		u, err := url.Parse(inv.InvoiceURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return payment.Result{}, fmt.Errorf("xendit: invoice %s has no invoice_url to send the shopper to (%q)", inv.ID, inv.InvoiceURL)
		}
		r.Pending = true
		r.NextAction = &payment.NextAction{Type: "redirect_to_url", RedirectURL: inv.InvoiceURL}
	case "PAID", "SETTLED":
		r.Captured = true
	case "EXPIRED":
		r.Declined, r.DeclineCode, r.Message = true, "expired", "The invoice expired before it was paid."
	default:
		return payment.Result{}, fmt.Errorf("xendit: invoice %s has status %q", inv.ID, inv.Status)
	}
	return r, nil
}

// validID reports whether s can be one of Xendit's ids in a request path
// (invoice ids are 24 hex digits; nothing else ever goes there).
func validID(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Lookup implements payment.Provider: the invoice as it is now.
func (p *Provider) Lookup(ctx context.Context, ref string) (payment.Result, error) {
	inv, err := p.get(ctx, ref)
	if err != nil {
		return payment.Result{}, err
	}
	return result(inv)
}

func (p *Provider) get(ctx context.Context, ref string) (invoice, error) {
	if !validID(ref) {
		return invoice{}, fmt.Errorf("xendit: %q is not an invoice id", ref)
	}
	var inv invoice
	err := p.do(ctx, http.MethodGet, "/v2/invoices/"+ref, nil, nil, &inv)
	return inv, err
}

// Capture implements payment.Provider: an invoice takes the money when it
// is paid, so there is nothing to capture; capturing one that is not paid
// is an error.
func (p *Provider) Capture(ctx context.Context, ref string, amount money.Money, idemKey string) error {
	inv, err := p.get(ctx, ref)
	if err != nil {
		return err
	}
	if inv.Status != "PAID" && inv.Status != "SETTLED" {
		return fmt.Errorf("xendit: invoice %s is %s; an invoice is captured when it is paid", ref, inv.Status)
	}
	return nil
}

// Void implements payment.Provider: the invoice is expired at once
// (POST /invoices/{id}/expire!), so it can no longer be paid. Voiding an
// expired invoice succeeds; one that was paid meanwhile is an error (the
// reconciler then finds it paid).
func (p *Provider) Void(ctx context.Context, ref, idemKey string) error {
	if !validID(ref) {
		return fmt.Errorf("xendit: %q is not an invoice id", ref)
	}
	var inv invoice
	err := p.do(ctx, http.MethodPost, "/invoices/"+ref+"/expire!", nil, nil, &inv)
	if err != nil {
		// Expired already (by Xendit, or a void that lost its answer)?
		if now, gerr := p.get(ctx, ref); gerr == nil && now.Status == "EXPIRED" {
			return nil
		}
		return err
	}
	if inv.Status != "EXPIRED" {
		return fmt.Errorf("xendit: invoice %s is %s after expiring it", ref, inv.Status)
	}
	return nil
}

// refundRequest is the body of POST /refunds.
type refundRequest struct {
	InvoiceID   string      `json:"invoice_id"`
	ReferenceID string      `json:"reference_id"`
	Amount      json.Number `json:"amount"`
	Currency    string      `json:"currency"`
	Reason      string      `json:"reason"`
}

// Refund implements payment.Provider: a refund of amount of the paid
// invoice, with idemKey as Xendit's Idempotency-key (and as the refund's
// reference_id), so sending it again never refunds twice. Xendit finishes
// refunds later; a refund it refuses at once (status FAILED) is an error.
func (p *Provider) Refund(ctx context.Context, ref string, amount money.Money, idemKey string) (string, error) {
	if !validID(ref) {
		return "", fmt.Errorf("xendit: %q is not an invoice id", ref)
	}
	n, err := Amount(amount)
	if err != nil {
		return "", fmt.Errorf("xendit: refund of invoice %s: %w", ref, err)
	}
	var out struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		FailureReason string `json:"failure_reason"`
	}
	h := http.Header{"Idempotency-key": {idemKey}}
	body := refundRequest{InvoiceID: ref, ReferenceID: idemKey, Amount: n, Currency: amount.Currency, Reason: "REQUESTED_BY_CUSTOMER"}
	if err := p.do(ctx, http.MethodPost, "/refunds", body, h, &out); err != nil {
		return "", err
	}
	if out.Status == "FAILED" {
		return "", fmt.Errorf("xendit: refund %s of invoice %s failed: %s", out.ID, ref, out.FailureReason)
	}
	if out.ID == "" {
		return "", fmt.Errorf("xendit: refund of invoice %s answered without an id", ref)
	}
	return out.ID, nil
}

// Error is an error answer of Xendit's API.
type Error struct {
	Method, Path string
	Status       int
	Code         string // Xendit's error_code, such as API_VALIDATION_ERROR
	Message      string
}

func (e *Error) Error() string {
	return fmt.Sprintf("xendit: %s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

// do sends one request to the configured API address and decodes a 2xx
// answer into out. path is Mercato's own (ids in it are checked by
// validID); a non-2xx answer is an *Error.
func (p *Provider) do(ctx context.Context, method, path string, body any, h http.Header, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("xendit: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return fmt.Errorf("xendit: %s %s: %w", method, path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.SetBasicAuth(p.secretKey, "")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := p.hc.Do(req)
	if err != nil {
		return fmt.Errorf("xendit: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("xendit: %s %s: read the answer: %w", method, path, err)
	}
	logPath, _, _ := strings.Cut(path, "?")
	if res.StatusCode < 200 || res.StatusCode > 299 {
		e := &Error{Method: method, Path: logPath, Status: res.StatusCode}
		var body struct {
			Code    string `json:"error_code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &body) == nil {
			e.Code, e.Message = body.Code, body.Message
		}
		return e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("xendit: %s %s: decode the answer: %w", method, logPath, err)
	}
	return nil
}

// ParseWebhook implements payment.Provider for Xendit's callbacks. The
// x-callback-token header must equal the callback verification token
// (compared in constant time); a missing or wrong one is Invalid naming
// the header, and so is any callback when the shop has no token. Invoice
// callbacks: PAID and SETTLED are payment.EventSucceeded, EXPIRED is
// payment.EventCanceled; the event id is the invoice id and its status, so
// a redelivery is applied once. Refund callbacks (refund.succeeded) are
// payment.EventRefunded (a refund made in Xendit's dashboard is recorded;
// Mercato's own are known by their id). Other callbacks are acknowledged
// and not acted on. A body that is not such a callback is Invalid naming
// "body".
func (p *Provider) ParseWebhook(payload []byte, header http.Header) (payment.WebhookEvent, error) {
	if p.callbackToken == "" {
		return payment.WebhookEvent{}, apperr.Field(CallbackTokenHeader, "Xendit callbacks are off: the shop has no callback verification token (MERCATO_XENDIT_CALLBACK_TOKEN)")
	}
	// Hashing first makes the comparison's time independent of the lengths too.
	got, want := sha256.Sum256([]byte(header.Get(CallbackTokenHeader))), sha256.Sum256([]byte(p.callbackToken))
	if !hmac.Equal(got[:], want[:]) {
		return payment.WebhookEvent{}, apperr.Field(CallbackTokenHeader, "does not match the shop's Xendit callback verification token")
	}
	if !utf8.Valid(payload) {
		return payment.WebhookEvent{}, apperr.Field("body", "must be valid UTF-8")
	}
	var body struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Event  string `json:"event"`
		Data   *struct {
			ID        string      `json:"id"`
			InvoiceID string      `json:"invoice_id"`
			Status    string      `json:"status"`
			Amount    json.Number `json:"amount"`
			Currency  string      `json:"currency"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &body); err != nil {
		return payment.WebhookEvent{}, apperr.Field("body", "must be a Xendit callback (JSON)")
	}
	if body.Event != "" { // the newer callbacks: {"event", "data": {…}}
		if body.Data == nil || body.Data.ID == "" {
			return payment.WebhookEvent{}, apperr.Field("body", "must carry data.id")
		}
		ev := payment.WebhookEvent{ID: body.Event + ":" + body.Data.ID, Type: body.Event, ProviderRef: "-"}
		if body.Event == "refund.succeeded" && body.Data.InvoiceID != "" {
			amount, err := Minor(body.Data.Amount, body.Data.Currency)
			if err != nil || !money.ValidCurrency(body.Data.Currency) {
				return payment.WebhookEvent{}, apperr.Field("body", "data.amount and data.currency must be a refund's amount")
			}
			ev.Type, ev.ProviderRef, ev.RefundRef, ev.Amount = payment.EventRefunded, body.Data.InvoiceID, body.Data.ID, amount
		}
		return ev, nil
	}
	if body.ID == "" || body.Status == "" {
		return payment.WebhookEvent{}, apperr.Field("body", "must be an invoice callback with id and status")
	}
	ev := payment.WebhookEvent{ID: body.ID + ":" + body.Status, ProviderRef: body.ID}
	switch body.Status {
	case "PAID", "SETTLED":
		ev.Type = payment.EventSucceeded
	case "EXPIRED":
		ev.Type, ev.DeclineCode, ev.Message = payment.EventCanceled, "expired", "The invoice expired before it was paid."
	default:
		ev.Type, ev.ProviderRef = "invoice."+strings.ToLower(body.Status), "-" // acknowledged, not acted on
	}
	return ev, nil
}
