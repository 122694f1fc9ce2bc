package ui

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// ErrorPages answers a UI's failed requests with the UI's own "error" page.
// The status is the one the JSON API gives the same error (web.ProblemOf),
// so a page and its API answer agree.
type ErrorPages struct {
	Pages *Renderer    // must have an "error" page
	Log   *slog.Logger // internal errors are logged here
	// View builds the error page's data for p (p.Status is the answer's
	// status; p.Detail and p.Errors are safe to show: an internal error's
	// detail is generic) and the heading sent as plain text should the page
	// fail to render.
	View func(w http.ResponseWriter, r *http.Request, p web.Problem) (data any, heading string)
}

// Render answers err with the error page, with the status its apperr code
// maps to (500 for an error that is no *apperr.Error). Internal errors (5xx)
// are logged here, once, and never shown. The page is Cache-Control:
// no-store. If it cannot be rendered, the heading is written as plain text
// with the same status (and the rendering error logged).
func (e ErrorPages) Render(w http.ResponseWriter, r *http.Request, err error) {
	p := web.ProblemOf(err)
	if p.Status >= 500 {
		e.Log.ErrorContext(r.Context(), "page failed", "method", r.Method, "path", web.LogPath(r), "err", err)
	}
	data, heading := e.View(w, r, p)
	w.Header().Set("Cache-Control", "no-store")
	if rerr := e.Pages.Render(w, p.Status, "error", data); rerr != nil {
		e.Log.ErrorContext(r.Context(), "error page failed", "path", web.LogPath(r), "err", rerr)
		http.Error(w, heading, p.Status)
	}
}

// Handle adapts a page handler: an error it returns is answered with
// Render. A handler that has written its answer returns nil.
func (e ErrorPages) Handle(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			e.Render(w, r, err)
		}
	})
}

// FormErrors is what a refused form shows when it is displayed again.
type FormErrors struct {
	Code    apperr.Code
	Message string            // the error's own message, safe to show
	Fields  map[string]string // form field -> its first message; never nil
	// Unplaced are the field errors that name no field of the form (rename
	// returned ""), with their original names, for a form-level message.
	Unplaced []apperr.FieldError
}

// FormErrorsOf splits err into messages per form field. rename maps an
// error's field name to the form's (nil keeps the names). ok is false when
// err is not the visitor's to correct: not an *apperr.Error (anywhere in
// its chain), or an internal one; the page then shows an apology or the
// error page instead of the form.
func FormErrorsOf(err error, rename func(field string) string) (f FormErrors, ok bool) {
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code == apperr.Internal {
		return FormErrors{}, false
	}
	f = FormErrors{Code: e.Code, Message: e.Message, Fields: map[string]string{}}
	for _, fe := range e.Fields {
		name := fe.Field
		if rename != nil {
			name = rename(name)
		}
		if name == "" {
			f.Unplaced = append(f.Unplaced, fe)
			continue
		}
		if _, dup := f.Fields[name]; !dup {
			f.Fields[name] = fe.Message
		}
	}
	return f, true
}
