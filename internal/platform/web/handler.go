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
func Handle(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			Error(w, r, log, err)
		}
	})
}

// CheckText wraps a routed handler (API or HTML) and refuses, with a 400
// problem naming the path wildcard, query parameter or form field, text
// that is not valid UTF-8 or holds a NUL character. Such bytes must not
// reach SQL: PostgreSQL rejects them, which would be a 500. The route table
// wraps every route with it, so no handler has to remember.
func CheckText(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkText(r); err != nil {
			Error(w, r, log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func badText(s string) bool { return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 }

const badTextMessage = "must be valid UTF-8 without NUL characters"

func checkText(r *http.Request) error {
	if badText(r.URL.Path) {
		for _, seg := range strings.Split(r.Pattern, "/") {
			if name, ok := strings.CutPrefix(seg, "{"); ok {
				name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
				if badText(r.PathValue(name)) {
					return apperr.Field(name, badTextMessage)
				}
			}
		}
		return apperr.Field("path", badTextMessage)
	}
	if err := checkValues(r.URL.RawQuery != "", func() map[string][]string { return r.URL.Query() }); err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); r.Method == http.MethodPost && strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err != nil {
			return apperr.Field("body", "malformed form")
		}
		return checkValues(true, func() map[string][]string { return r.PostForm })
	}
	return nil
}

func checkValues(present bool, values func() map[string][]string) error {
	if !present {
		return nil
	}
	for k, vs := range values() {
		if badText(k) {
			return apperr.Field("query", "parameter names "+badTextMessage)
		}
		for _, v := range vs {
			if badText(v) {
				return apperr.Field(k, badTextMessage)
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
