// Package web holds Mercato's HTTP plumbing shared by every module: the one
// place where errors become responses, strict JSON decoding, conditional GETs,
// and the middleware stack (logging, metrics, recovery, security headers).
package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Instance string              `json:"instance,omitempty"`
	Errors   []apperr.FieldError `json:"errors,omitempty"`
	Extra    any                 `json:"extra,omitempty"`
}

var statusOf = map[apperr.Code]int{
	apperr.Invalid:        http.StatusBadRequest,
	apperr.NotFound:       http.StatusNotFound,
	apperr.Conflict:       http.StatusConflict,
	apperr.Unauthorized:   http.StatusUnauthorized,
	apperr.Forbidden:      http.StatusForbidden,
	apperr.PaymentFailed:  http.StatusPaymentRequired,
	apperr.TooManyRequest: http.StatusTooManyRequests,
	apperr.Unprocessable:  http.StatusUnprocessableEntity,
	apperr.Internal:       http.StatusInternalServerError,
}

// StatusOf returns the HTTP status for an error.
func StatusOf(err error) int { return statusOf[apperr.CodeOf(err)] }

// ProblemOf builds the problem document for err. Internal errors get a
// generic detail: their text may hold secrets or SQL.
func ProblemOf(err error) Problem {
	status := StatusOf(err)
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status}
	var e *apperr.Error
	if errors.As(err, &e) && e.Code != apperr.Internal {
		p.Type = "https://mercato.dev/problems/" + strings.ReplaceAll(string(e.Code), "_", "-")
		p.Detail = e.Message
		p.Errors = e.Fields
		p.Extra = e.Detail
	} else {
		p.Detail = "an internal error occurred; it has been logged"
	}
	return p
}

// StatusClientClosedRequest (nginx's 499) answers a request whose client
// disconnected before the answer was ready.
const StatusClientClosedRequest = 499

// Error writes err as application/problem+json. It is the only place API
// errors become HTTP answers; internal errors are logged here, once.
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := ProblemOf(err)
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away mid-request: not a server fault, and nobody
		// reads the answer. 499 keeps it apart from 5xx in the metrics.
		p = Problem{Type: "about:blank", Title: "Client Closed Request", Status: StatusClientClosedRequest, Detail: "the client closed the request"}
	case p.Status >= 500 && log != nil:
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", LogPath(r), "err", err)
	}
	p.Instance = r.URL.Path
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mercato"`)
	}
	if ra, ok := p.Extra.(interface{ RetryAfterSeconds() int }); ok && p.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(ra.RetryAfterSeconds()))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}
