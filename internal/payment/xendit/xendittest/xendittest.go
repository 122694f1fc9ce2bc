// Package xendittest is a stand-in for Xendit's API in tests. Xendit ships
// no mock server (Stripe has stripe-mock), so this one follows Xendit's
// published API reference for the calls Mercato makes, and checks them as
// strictly as it can: the method and path, Basic auth with the secret key
// as user name and an empty password, a JSON body holding only the
// documented fields with the documented types, the currencies invoices
// take, whole IDR amounts, refund reasons, and the Idempotency-key header
// of refunds. It keeps invoices and refunds in memory and answers with
// Xendit's objects and error shapes ({"error_code", "message"}). A request
// Xendit would refuse is answered as Xendit answers it and reported to the
// test as an error: Mercato must never send one.
//
// Where the reference is silent (what expiring a paid invoice answers), the
// server answers an error, and Mercato's adapter does not depend on its code.
package xendittest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is an in-memory Xendit API.
type Server struct {
	URL string // the API base (give it as Config.APIBase)

	t         testing.TB
	secretKey string
	srv       *httptest.Server

	mu       sync.Mutex
	invoices map[string]*Invoice
	order    []string // invoice ids, oldest first
	refunds  map[string]*Refund
	byKey    map[string]string // refund Idempotency-key -> refund id
	created  int               // invoices created
	failNext int               // answer the next n requests with 503
}

// Invoice is an invoice as the server keeps it (Xendit's Invoice object).
type Invoice struct {
	ID                 string          `json:"id"`
	ExternalID         string          `json:"external_id"`
	UserID             string          `json:"user_id"`
	Status             string          `json:"status"`
	MerchantName       string          `json:"merchant_name"`
	Amount             json.Number     `json:"amount"`
	Currency           string          `json:"currency"`
	PayerEmail         string          `json:"payer_email,omitempty"`
	Description        string          `json:"description,omitempty"`
	InvoiceURL         string          `json:"invoice_url"`
	ExpiryDate         string          `json:"expiry_date"`
	SuccessRedirectURL string          `json:"success_redirect_url,omitempty"`
	FailureRedirectURL string          `json:"failure_redirect_url,omitempty"`
	Created            string          `json:"created"`
	Updated            string          `json:"updated"`
	PaidAmount         json.Number     `json:"paid_amount,omitempty"`
	PaidAt             string          `json:"paid_at,omitempty"`
	PaymentMethod      string          `json:"payment_method,omitempty"`
	PaymentChannel     string          `json:"payment_channel,omitempty"`
	Duration           int64           `json:"-"` // invoice_duration asked for, in seconds
	Raw                json.RawMessage `json:"-"` // the create request's body as sent
}

// Refund is a refund as the server keeps it (Xendit's Refund object).
type Refund struct {
	ID          string      `json:"id"`
	InvoiceID   string      `json:"invoice_id"`
	ReferenceID string      `json:"reference_id"`
	Amount      json.Number `json:"amount"`
	Currency    string      `json:"currency"`
	Reason      string      `json:"reason"`
	Status      string      `json:"status"`
	Created     string      `json:"created"`
	Updated     string      `json:"updated"`
	Key         string      `json:"-"` // the Idempotency-key it was made with
}

// Currencies invoices take.
var currencies = map[string]bool{"IDR": true, "PHP": true, "THB": true, "VND": true, "MYR": true, "USD": true}

// NewServer starts the server for the test's life; secretKey is the one
// requests must authenticate with.
func NewServer(t testing.TB, secretKey string) *Server {
	s := &Server{t: t, secretKey: secretKey, invoices: map[string]*Invoice{}, refunds: map[string]*Refund{}, byKey: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/invoices", s.createInvoice)
	mux.HandleFunc("GET /v2/invoices", s.listInvoices)
	mux.HandleFunc("GET /v2/invoices/{id}", s.getInvoice)
	mux.HandleFunc("POST /invoices/{id}/{action}", s.expireInvoice)
	mux.HandleFunc("POST /refunds", s.createRefund)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.refuse(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		fail := s.failNext > 0
		if fail {
			s.failNext--
		}
		s.mu.Unlock()
		if fail {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error_code": "SERVER_ERROR", "message": "temporarily unavailable"})
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || user != s.secretKey || pass != "" {
			// A wrong key is the shop's configuration, not a malformed
			// request: answered, not reported.
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error_code": "INVALID_API_KEY", "message": "API key is invalid"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	return s
}

// refuse answers an error as Xendit does and reports it: Mercato sent a
// request Xendit would refuse.
func (s *Server) refuse(w http.ResponseWriter, status int, code, msg string) {
	s.t.Errorf("xendittest: Xendit would answer %d %s: %s", status, code, msg)
	writeJSON(w, status, map[string]string{"error_code": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// decodeStrict decodes a JSON body with only the documented fields and
// returns it as sent.
func decodeStrict(r *http.Request, v any) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	return data, nil
}

// positive checks an amount: a positive JSON number; for IDR a whole one
// (Xendit truncates IDR decimals: sending some would charge less).
func positive(n json.Number, currency string) error {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok || r.Sign() <= 0 {
		return fmt.Errorf("amount %q must be a positive number", n)
	}
	if currency == "IDR" && !r.IsInt() {
		return fmt.Errorf("IDR amount %s has decimals (Xendit would truncate them)", n)
	}
	return nil
}

// createInvoice: POST /v2/invoices.
func (s *Server) createInvoice(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ExternalID         string      `json:"external_id"`
		Amount             json.Number `json:"amount"`
		Currency           string      `json:"currency"`
		PayerEmail         string      `json:"payer_email"`
		Description        string      `json:"description"`
		InvoiceDuration    json.Number `json:"invoice_duration"`
		SuccessRedirectURL string      `json:"success_redirect_url"`
		FailureRedirectURL string      `json:"failure_redirect_url"`
	}
	raw, err := decodeStrict(r, &body)
	if err != nil {
		s.refuse(w, http.StatusBadRequest, "API_VALIDATION_ERROR", err.Error())
		return
	}
	if body.ExternalID == "" || len(body.ExternalID) > 1000 {
		s.refuse(w, http.StatusBadRequest, "API_VALIDATION_ERROR", "external_id is required (1 to 1000 characters)")
		return
	}
	if body.Currency == "" {
		body.Currency = "IDR" // the account's default currency
	}
	if !currencies[body.Currency] {
		s.refuse(w, http.StatusBadRequest, "UNSUPPORTED_CURRENCY", "currency "+body.Currency+" is not supported for invoices")
		return
	}
	if err := positive(body.Amount, body.Currency); err != nil {
		s.refuse(w, http.StatusBadRequest, "API_VALIDATION_ERROR", err.Error())
		return
	}
	duration := int64(86400)
	if body.InvoiceDuration != "" {
		d, err := body.InvoiceDuration.Int64()
		if err != nil || d < 1 || d > 31536000 {
			s.refuse(w, http.StatusBadRequest, "API_VALIDATION_ERROR", "invoice_duration must be whole seconds from 1 to 31536000")
			return
		}
		duration = d
	}
	for _, u := range []string{body.SuccessRedirectURL, body.FailureRedirectURL} {
		if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			s.refuse(w, http.StatusBadRequest, "API_VALIDATION_ERROR", "redirect URLs must be http(s) URLs")
			return
		}
	}
	now := time.Now()
	inv := &Invoice{ID: newID(12), ExternalID: body.ExternalID, UserID: "5f0f0f0f0f0f0f0f0f0f0f0f", Status: "PENDING", MerchantName: "Mercato test",
		Amount: body.Amount, Currency: body.Currency, PayerEmail: body.PayerEmail, Description: body.Description,
		ExpiryDate: stamp(now.Add(time.Duration(duration) * time.Second)), SuccessRedirectURL: body.SuccessRedirectURL, FailureRedirectURL: body.FailureRedirectURL,
		Created: stamp(now), Updated: stamp(now), Duration: duration, Raw: json.RawMessage(raw)}
	inv.InvoiceURL = "https://checkout-staging.xendit.co/web/" + inv.ID
	s.mu.Lock()
	s.invoices[inv.ID] = inv
	s.order = append(s.order, inv.ID)
	s.created++
	out := *inv
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// listInvoices: GET /v2/invoices?external_id=…, newest first.
func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request) {
	ext := r.URL.Query().Get("external_id")
	s.mu.Lock()
	out := []Invoice{}
	for i := len(s.order) - 1; i >= 0; i-- {
		if inv := s.invoices[s.order[i]]; ext == "" || inv.ExternalID == ext {
			out = append(out, *inv)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) notFound(w http.ResponseWriter, id string) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error_code": "INVOICE_NOT_FOUND_ERROR", "message": "Could not find invoice by id " + id})
}

// getInvoice: GET /v2/invoices/{id}.
func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	inv, ok := s.invoices[r.PathValue("id")]
	var out Invoice
	if ok {
		out = *inv
	}
	s.mu.Unlock()
	if !ok {
		s.notFound(w, r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// expireInvoice: POST /invoices/{id}/expire!. A pending invoice expires; an
// expired one is answered as it is; a paid one cannot expire.
func (s *Server) expireInvoice(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("action") != "expire!" {
		s.refuse(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint: "+r.URL.Path)
		return
	}
	s.mu.Lock()
	inv, ok := s.invoices[r.PathValue("id")]
	var out Invoice
	status := http.StatusOK
	if ok {
		switch inv.Status {
		case "PENDING":
			inv.Status, inv.Updated = "EXPIRED", stamp(time.Now())
		case "PAID", "SETTLED":
			status = http.StatusBadRequest
		}
		out = *inv
	}
	s.mu.Unlock()
	switch {
	case !ok:
		s.notFound(w, r.PathValue("id"))
	case status != http.StatusOK:
		writeJSON(w, status, map[string]string{"error_code": "INVOICE_ALREADY_PAID_ERROR", "message": "a paid invoice cannot be expired"})
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// createRefund: POST /refunds of a paid invoice.
func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PaymentRequestID string         `json:"payment_request_id"`
		InvoiceID        string         `json:"invoice_id"`
		ReferenceID      string         `json:"reference_id"`
		Amount           json.Number    `json:"amount"`
		Currency         string         `json:"currency"`
		Reason           string         `json:"reason"`
		Metadata         map[string]any `json:"metadata"`
	}
	key := r.Header.Get("Idempotency-key")
	if key == "" {
		s.refuse(w, http.StatusBadRequest, "API_VALIDATION_ERROR", "Mercato sends every refund with an Idempotency-key header")
		return
	}
	if _, err := decodeStrict(r, &body); err != nil {
		s.refuse(w, http.StatusBadRequest, "API_VALIDATION_ERROR", err.Error())
		return
	}
	switch body.Reason {
	case "FRAUDULENT", "DUPLICATE", "REQUESTED_BY_CUSTOMER", "CANCELLATION", "OTHERS":
	default:
		s.refuse(w, http.StatusBadRequest, "API_VALIDATION_ERROR", "reason must be one of FRAUDULENT, DUPLICATE, REQUESTED_BY_CUSTOMER, CANCELLATION, OTHERS")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byKey[key]; ok { // the first answer again
		writeJSON(w, http.StatusOK, *s.refunds[id])
		return
	}
	inv, ok := s.invoices[body.InvoiceID]
	if !ok {
		s.t.Errorf("xendittest: refund of unknown invoice %q", body.InvoiceID)
		writeJSON(w, http.StatusNotFound, map[string]string{"error_code": "DATA_NOT_FOUND", "message": "invoice not found"})
		return
	}
	if inv.Status != "PAID" && inv.Status != "SETTLED" {
		s.t.Errorf("xendittest: refund of invoice %s, which is %s", inv.ID, inv.Status)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error_code": "INELIGIBLE_TRANSACTION", "message": "the invoice is not paid"})
		return
	}
	if body.Currency != "" && body.Currency != inv.Currency {
		s.t.Errorf("xendittest: refund in %s of an invoice in %s", body.Currency, inv.Currency)
	}
	if err := positive(body.Amount, inv.Currency); err != nil {
		s.t.Errorf("xendittest: refund: %v", err)
	}
	left := new(big.Rat)
	left.SetString(string(inv.Amount))
	for _, rf := range s.refunds {
		if rf.InvoiceID == inv.ID {
			a, _ := new(big.Rat).SetString(string(rf.Amount))
			left.Sub(left, a)
		}
	}
	if a, ok := new(big.Rat).SetString(string(body.Amount)); !ok || a.Cmp(left) > 0 {
		s.t.Errorf("xendittest: refund of %s, more than the %s left of invoice %s", body.Amount, left.FloatString(2), inv.ID)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error_code": "REFUND_AMOUNT_EXCEEDED", "message": "refund amount exceeds the amount left"})
		return
	}
	now := stamp(time.Now())
	rf := &Refund{ID: "rfd-" + newID(16), InvoiceID: inv.ID, ReferenceID: body.ReferenceID, Amount: body.Amount, Currency: inv.Currency,
		Reason: body.Reason, Status: "PENDING", Created: now, Updated: now, Key: key}
	s.refunds[rf.ID] = rf
	s.byKey[key] = rf.ID
	writeJSON(w, http.StatusOK, *rf)
}

// Pay marks an invoice paid, as the shopper paying on Xendit's page does,
// and returns it. An unknown or unpayable invoice fails the test.
func (s *Server) Pay(id string) Invoice {
	return s.set(id, func(inv *Invoice) {
		if inv.Status != "PENDING" {
			s.t.Fatalf("xendittest: paying invoice %s, which is %s", id, inv.Status)
		}
		now := stamp(time.Now())
		inv.Status, inv.PaidAmount, inv.PaidAt, inv.Updated = "PAID", inv.Amount, now, now
		inv.PaymentMethod, inv.PaymentChannel = "EWALLET", "OVO"
	})
}

// Expire lets an invoice run out of time, as Xendit does at its expiry date.
func (s *Server) Expire(id string) Invoice {
	return s.set(id, func(inv *Invoice) {
		if inv.Status != "PENDING" {
			s.t.Fatalf("xendittest: expiring invoice %s, which is %s", id, inv.Status)
		}
		inv.Status, inv.Updated = "EXPIRED", stamp(time.Now())
	})
}

func (s *Server) set(id string, f func(*Invoice)) Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invoices[id]
	if !ok {
		s.t.Fatalf("xendittest: no invoice %q", id)
	}
	f(inv)
	return *inv
}

// Invoice returns an invoice as the server has it (false when unknown).
func (s *Server) Invoice(id string) (Invoice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invoices[id]
	if !ok {
		return Invoice{}, false
	}
	return *inv, true
}

// Created returns how many invoices were created.
func (s *Server) Created() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Refunds returns the refunds made, in no particular order.
func (s *Server) Refunds() []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Refund
	for _, r := range s.refunds {
		out = append(out, *r)
	}
	return out
}

// FailNext makes the next n requests fail with 503 (before they change
// anything), as an outage would.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// Callback is the body Xendit posts to the invoice callback URL for inv
// (its id, external_id, status, amounts and payment details).
func Callback(inv Invoice) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": inv.ID, "external_id": inv.ExternalID, "user_id": inv.UserID, "is_high": false, "status": inv.Status,
		"merchant_name": inv.MerchantName, "amount": inv.Amount, "paid_amount": inv.PaidAmount, "currency": inv.Currency,
		"payer_email": inv.PayerEmail, "description": inv.Description, "created": inv.Created, "updated": inv.Updated,
		"paid_at": inv.PaidAt, "payment_method": inv.PaymentMethod, "payment_channel": inv.PaymentChannel,
		"success_redirect_url": inv.SuccessRedirectURL, "failure_redirect_url": inv.FailureRedirectURL,
	})
	return b
}

// RefundCallback is the body Xendit posts for a refund's final status
// (event refund.succeeded or refund.failed).
func RefundCallback(event string, rf Refund) []byte {
	status := "SUCCEEDED"
	if event == "refund.failed" {
		status = "FAILED"
	}
	b, _ := json.Marshal(map[string]any{
		"event": event, "business_id": "5f0f0f0f0f0f0f0f0f0f0f0f", "created": stamp(time.Now()),
		"data": map[string]any{"id": rf.ID, "invoice_id": rf.InvoiceID, "reference_id": rf.ReferenceID, "amount": rf.Amount,
			"currency": rf.Currency, "reason": rf.Reason, "status": status, "created": rf.Created, "updated": stamp(time.Now())},
	})
	return b
}

// CallbackHeader is the header Xendit sends callbacks with.
func CallbackHeader(token string) http.Header {
	h := http.Header{}
	h.Set("x-callback-token", token)
	h.Set("Content-Type", "application/json")
	return h
}
