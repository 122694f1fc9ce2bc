package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
)

// HandlerFunc is an HTTP handler that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to http.Handler, writing a returned error with Error.
// Requests whose path or query is not valid UTF-8 once unescaped are
// refused before h runs: such bytes must not reach SQL (PostgreSQL rejects
// them, which would be a 500).
func Handle(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkUTF8(r)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			Error(w, r, log, err)
		}
	})
}

// checkUTF8 returns an Invalid error naming the path wildcard or query
// parameter that is not valid UTF-8.
func checkUTF8(r *http.Request) error {
	if !utf8.ValidString(r.URL.Path) {
		for _, seg := range strings.Split(r.Pattern, "/") {
			if name, ok := strings.CutPrefix(seg, "{"); ok {
				name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
				if !utf8.ValidString(r.PathValue(name)) {
					return apperr.Field(name, "must be valid UTF-8")
				}
			}
		}
		return apperr.Field("path", "must be valid UTF-8")
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	for k, vs := range r.URL.Query() {
		if !utf8.ValidString(k) {
			return apperr.Field("query", "parameter names must be valid UTF-8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return apperr.Field(k, "must be valid UTF-8")
			}
		}
	}
	return nil
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
