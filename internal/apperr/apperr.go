// Package apperr defines the one error type Mercato's domain code returns.
//
// Domain packages return *Error (or wrap one) to say what kind of failure
// happened; the HTTP layer (internal/platform/web) turns it into a response in
// one place. Anything that is not an *Error is internal: it is logged and the
// client sees a 500 without details.
package apperr

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error. The set is small on purpose.
type Code string

const (
	Invalid        Code = "invalid"        // the client sent something wrong (400/422)
	NotFound       Code = "not_found"      // 404
	Conflict       Code = "conflict"       // state does not allow it (409)
	Unauthorized   Code = "unauthorized"   // no or bad credentials (401)
	Forbidden      Code = "forbidden"      // authenticated but not allowed (403)
	PaymentFailed  Code = "payment_failed" // payment declined (402)
	TooManyRequest Code = "too_many"       // rate limited (429)
	Unprocessable  Code = "unprocessable"  // well-formed but semantically wrong (422)
	Internal       Code = "internal"       // a bug or an outage (500)
)

// FieldError names one field of the input and why it was refused.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a domain error with a public message.
type Error struct {
	Code    Code
	Message string       // safe to show to the client
	Fields  []FieldError // for Invalid / Unprocessable
	Detail  any          // optional machine-readable extra, e.g. the SKUs out of stock
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// New returns an error of the given code with a formatted public message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf is shorthand for New(NotFound, ...).
func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }

// Conflictf is shorthand for New(Conflict, ...).
func Conflictf(format string, args ...any) *Error { return New(Conflict, format, args...) }

// Field returns an Invalid error for a single field.
func Field(field, message string) *Error {
	return &Error{Code: Invalid, Message: "invalid input", Fields: []FieldError{{field, message}}}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// Validator collects field errors; Err returns nil when there are none.
type Validator struct{ fields []FieldError }

// Add records a field error.
func (v *Validator) Add(field, message string) {
	v.fields = append(v.fields, FieldError{field, message})
}

// Check records a field error when ok is false.
func (v *Validator) Check(ok bool, field, message string) {
	if !ok {
		v.Add(field, message)
	}
}

// Err returns the collected errors as one Invalid *Error, or nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Message: "invalid input", Fields: v.fields}
}
