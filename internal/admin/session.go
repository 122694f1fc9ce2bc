package admin

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/ui"
)

// maxForm bounds a form body that carries no file.
const maxForm = 64 << 10

type loginView struct {
	view
	Email string
	Next  string
}

// safeNext keeps a post-sign-in destination inside the admin panel.
func safeNext(s string) string {
	if s = ui.LocalPath(s, "/admin"); s == "/admin" || strings.HasPrefix(s, "/admin/") || strings.HasPrefix(s, "/admin?") {
		return s
	}
	return "/admin"
}

// LoginPage serves GET /admin/login.
func (a *Admin) LoginPage() http.Handler {
	return a.handle(anyone, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		next := safeNext(r.URL.Query().Get("next"))
		if p.Role.IsStaff() {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return nil
		}
		v := loginView{view: a.newView(r, w, auth.Principal{}, "Sign in", ""), Next: next}
		if p.AccountID != "" {
			v.Error = "You are signed in as " + p.Email + ", which is not a staff account. Sign in with a staff account to use the admin panel."
		}
		return a.render(w, http.StatusOK, "login", v)
	})
}

// Login serves POST /admin/login: a staff or admin account gets the session
// cookie; a customer account is refused (and the session just opened for it
// is revoked at once).
func (a *Admin) Login() http.Handler {
	return a.post(anyone, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return apperr.New(apperr.Invalid, "the form could not be read")
		}
		v := loginView{view: a.newView(r, w, auth.Principal{}, "Sign in", ""), Email: r.PostForm.Get("email"), Next: safeNext(r.PostForm.Get("next"))}
		acc, sess, err := a.svc.Accounts.Login(r.Context(), v.Email, r.PostForm.Get("password"))
		status := http.StatusOK
		switch {
		case apperr.Is(err, apperr.Unauthorized):
			v.Error, status = "The e-mail or password is wrong.", http.StatusUnauthorized
		case apperr.Is(err, apperr.TooManyRequest):
			// The service's message says how long to wait; it is the same
			// whether the account exists or not.
			var e *apperr.Error
			errors.As(err, &e)
			ratelimit.SetRetryAfter(w.Header(), err)
			v.Error, status = strings.ToUpper(e.Message[:1])+e.Message[1:]+".", http.StatusTooManyRequests
		case err != nil:
			return err
		case !acc.Role.IsStaff():
			if p, rerr := a.svc.Accounts.ResolveToken(r.Context(), sess.Token); rerr == nil {
				if err := a.svc.Accounts.RevokeToken(r.Context(), p.SessionID); err != nil {
					return err
				}
			}
			v.Error, status = "This is a customer account. The admin panel is for staff accounts only.", http.StatusForbidden
		default:
			customer.SetSessionCookie(w, r, sess.Token, time.Time{})
			customer.SetDeviceCookie(w, r, sess.Device)
			return a.redirect(w, r, v.Next, "")
		}
		return a.render(w, status, "login", v)
	})
}

// Logout serves POST /admin/logout.
func (a *Admin) Logout() http.Handler {
	return a.post(anyone, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
		if err := a.svc.Accounts.Logout(r.Context()); err != nil {
			return err
		}
		customer.ClearSessionCookie(w)
		return a.redirect(w, r, "/admin/login", "You have signed out.")
	})
}
