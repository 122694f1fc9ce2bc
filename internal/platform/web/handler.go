package web

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/mercato-shop/mercato/internal/apperr"
)

// HandlerFunc is an HTTP handler that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to http.Handler, writing a returned error with Error.
func Handle(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			Error(w, r, log, err)
		}
	})
}

// QueryInt reads an optional integer query parameter, refusing non-numbers
// and values outside [lo, hi] with an Invalid error naming the parameter.
func QueryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, apperr.Field(name, "must be an integer between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
	}
	return n, nil
}
