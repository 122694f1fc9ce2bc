package checkout

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
)

// Refusal is a checkout that ran and was refused: the payment was declined,
// stock ran out, prices changed, the cart was already checked out, it has
// nothing or something unbuyable in it. The refusal is stored under the
// Idempotency-Key, and every retry with the key gets it again, unchanged.
//
// It wraps an *apperr.Error (errors.As and apperr.CodeOf see through it)
// whose Detail, when there is one, is in its stored JSON form
// (json.RawMessage), on the first answer and on replays alike.
type Refusal struct{ err *apperr.Error }

func (r *Refusal) Error() string { return r.err.Error() }

// Unwrap returns the *apperr.Error.
func (r *Refusal) Unwrap() error { return r.err }

// PricesChanged reports whether the checkout was refused because prices
// changed since the items were added (the cart now shows the new prices:
// the next checkout buys at them).
func (r *Refusal) PricesChanged() bool {
	var d struct {
		PriceChanged bool `json:"price_changed"`
	}
	return r.err.Code == apperr.Conflict && r.decodeDetail(&d) && d.PriceChanged
}

// SoldOut reports whether the checkout was refused because some items are
// no longer in stock in the quantity wanted.
func (r *Refusal) SoldOut() bool {
	var d struct {
		Shortages json.RawMessage `json:"shortages"`
	}
	return r.err.Code == apperr.Conflict && r.decodeDetail(&d) && len(d.Shortages) > 0 && string(d.Shortages) != "null"
}

func (r *Refusal) decodeDetail(v any) bool {
	raw, ok := r.err.Detail.(json.RawMessage)
	return ok && json.Unmarshal(raw, v) == nil
}

// answer is how a checkout ended, as its key stores it: the order placed,
// or a refusal.
type answer struct {
	order order.Order
	// doc is the order's JSON as stored under the key: a replay over HTTP
	// answers these bytes, whatever the order looks like by then.
	doc     json.RawMessage
	payment *PaymentAction // for an order awaiting its payment
	refusal *Refusal
}

// PaymentAction is, for an order awaiting its payment, the payment and
// what the shopper must do to complete it (3-D Secure with Stripe.js, a
// provider's page); the provider's webhook then makes the order paid.
type PaymentAction struct {
	ID         string              `json:"id"`
	Provider   string              `json:"provider"`
	Status     string              `json:"status"`
	NextAction *payment.NextAction `json:"next_action,omitempty"`
}

// record is the stored (domain) form of an answer.
type record struct {
	Order   json.RawMessage `json:"order,omitempty"`
	Payment *PaymentAction  `json:"payment,omitempty"`
	Refusal *refusalRecord  `json:"refusal,omitempty"`
}

type refusalRecord struct {
	Code    apperr.Code         `json:"code"`
	Message string              `json:"message"`
	Fields  []apperr.FieldError `json:"fields,omitempty"`
	Detail  json.RawMessage     `json:"detail,omitempty"`
}

// placedRecord is the record of a placed order.
func placedRecord(o order.Order) (record, error) {
	doc, err := json.Marshal(o)
	if err != nil {
		return record{}, fmt.Errorf("encode order: %w", err)
	}
	return record{Order: doc}, nil
}

// refusedRecord is the record of a refusal; err carries an *apperr.Error.
func refusedRecord(err error) (record, error) {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return record{}, fmt.Errorf("store refusal: %w", err)
	}
	r := &refusalRecord{Code: e.Code, Message: e.Message, Fields: e.Fields}
	if e.Detail != nil {
		d, err := json.Marshal(e.Detail)
		if err != nil {
			return record{}, fmt.Errorf("encode refusal detail: %w", err)
		}
		r.Detail = d
	}
	return record{Refusal: r}, nil
}

// answer turns a record back into the answer it stores.
func (r record) answer() (answer, error) {
	if f := r.Refusal; f != nil {
		e := &apperr.Error{Code: f.Code, Message: f.Message, Fields: f.Fields}
		if len(f.Detail) > 0 {
			e.Detail = f.Detail
		}
		return answer{refusal: &Refusal{err: e}}, nil
	}
	var o order.Order
	if err := json.Unmarshal(r.Order, &o); err != nil {
		return answer{}, fmt.Errorf("decode stored order: %w", err)
	}
	return answer{order: o, doc: r.Order, payment: r.Payment}, nil
}

func (r record) encode() (string, error) {
	b, err := json.Marshal(r)
	return string(b), err
}

func decodeRecord(s string) (record, error) {
	var r record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return record{}, fmt.Errorf("decode stored checkout outcome: %w", err)
	}
	if r.Order == nil && r.Refusal == nil {
		return record{}, fmt.Errorf("decode stored checkout outcome: neither an order nor a refusal")
	}
	return r, nil
}

// legacyRecord reads an answer stored, before migration 002, as the HTTP
// answer itself: {"order": …} for a placed order, a problem document
// (type https://mercato.dev/problems/<code>) for a refusal. Such records
// are purged a day after they were made; this can go with them.
func legacyRecord(status int, body string) (record, error) {
	if status < 400 {
		var d struct {
			Order json.RawMessage `json:"order"`
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil || len(d.Order) == 0 {
			return record{}, fmt.Errorf("decode stored checkout answer: %v", err)
		}
		return record{Order: d.Order}, nil
	}
	var p struct {
		Type   string              `json:"type"`
		Detail string              `json:"detail"`
		Errors []apperr.FieldError `json:"errors"`
		Extra  json.RawMessage     `json:"extra"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return record{}, fmt.Errorf("decode stored checkout answer: %w", err)
	}
	code, ok := strings.CutPrefix(p.Type, "https://mercato.dev/problems/")
	if !ok {
		return record{}, fmt.Errorf("decode stored checkout answer: problem type %q", p.Type)
	}
	return record{Refusal: &refusalRecord{Code: apperr.Code(strings.ReplaceAll(code, "-", "_")), Message: p.Detail, Fields: p.Errors, Detail: p.Extra}}, nil
}
