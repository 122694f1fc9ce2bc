package storefront

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/ui"
)

// The pages of the links mailed to account holders (password reset,
// verification of the address, change of address) and the forms that ask
// for them. A link opens a page with a form (GET uses nothing up: mail
// scanners fetch links); the form's POST uses the link.

// linkView is a small page with one form: the pages of mailed links.
type linkView struct {
	view
	Flash   *ui.Flash
	Heading string
	Intro   string
	Error   string // what went wrong, above the form
	Action  string // the form's target; "" shows no form
	Token   string // the link's secret, sent back with the form
	Fields  []field
	Button  string
	After   []link // links below the form
}

func (s *Storefront) renderLink(w http.ResponseWriter, r *http.Request, status int, title string, v linkView) error {
	cats, err := s.cat.Categories(r.Context())
	if err != nil {
		return err
	}
	v.view = s.newView(r, title, "", "", cats, "")
	v.NoIndex = true
	// The page's address holds a link's secret: send it to no one.
	w.Header().Set("Referrer-Policy", "no-referrer")
	return s.pages.Render(w, status, "link", v)
}

// linkProblem returns what is wrong with the link of a refused form (the
// service names the field "token"), as a sentence about "this link".
func linkProblem(err error) (string, bool) {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return "", false
	}
	for _, f := range e.Fields {
		if f.Field == "token" {
			if f.Message == "is required" {
				return "This page needs the link from your e-mail: open the link again, or ask for a new one.", true
			}
			return "This link " + strings.TrimSuffix(f.Message, ".") + ".", true
		}
	}
	return "", false
}

// formError shows a refused form's problem: the link's, the fields', or
// the whole form's (a 429 also sets Retry-After). Internal errors are
// returned for the error page.
func formError(w http.ResponseWriter, err error, v *linkView) error {
	if !userError(err) {
		return err
	}
	ratelimit.SetRetryAfter(w.Header(), err)
	if msg, ok := linkProblem(err); ok {
		v.Error, v.Action, v.Fields = msg, "", nil
		return nil
	}
	msg, errs := problemMessage(err)
	v.Error = msg
	for i := range v.Fields {
		v.Fields[i].Error = errs[v.Fields[i].Name]
	}
	return nil
}

func emailField(value string) field {
	return field{ID: "acc-email", Name: "email", Label: "E-mail", Type: "email", Value: value, Autocomplete: "email", Required: true, Max: 254}
}

func newPasswordField() field {
	return field{ID: "acc-password", Name: "password", Label: "New password", Type: "password", Autocomplete: "new-password", Required: true, Max: 128,
		Hint: "At least 8 characters."}
}

func resetRequestView(email string) linkView {
	return linkView{Heading: "Forgot your password?", Intro: "Enter the e-mail address of your account. We will send you a link to choose a new password.",
		Action: "/account/password-reset", Fields: []field{emailField(email)}, Button: "Send me a link",
		After: []link{{Name: "Back to sign in", URL: "/account/login"}}}
}

// PasswordResetPage serves GET /account/password-reset: the form that asks
// for a reset link (for staff accounts too: the admin sign-in links here).
func (s *Storefront) PasswordResetPage() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		v := resetRequestView("")
		v.Flash = s.flash.Take(w, r)
		return s.renderLink(w, r, http.StatusOK, "Reset your password", v)
	})
}

// RequestPasswordReset serves POST /account/password-reset (email). The
// answer is the same whether or not an account has the address.
func (s *Storefront) RequestPasswordReset() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		email := strings.TrimSpace(r.PostFormValue("email"))
		if err := s.svc.Customers.RequestPasswordReset(r.Context(), email); err != nil {
			v := resetRequestView(email)
			if err := formError(w, err, &v); err != nil {
				return err
			}
			return s.renderLink(w, r, web.StatusOf(err), "Reset your password", v)
		}
		s.flash.Set(w, r, ui.Flash{Text: "If " + email + " belongs to an account here, we have sent it a link to choose a new password. It works for one hour."})
		http.Redirect(w, r, "/account/password-reset", http.StatusSeeOther)
		return nil
	})
}

func newPasswordView(token string) linkView {
	return linkView{Heading: "Choose a new password", Intro: "Setting a new password signs you out on every other device.",
		Action: "/account/password-reset/confirm", Token: token, Fields: []field{newPasswordField()}, Button: "Save the new password",
		After: []link{{Name: "Ask for a new link", URL: "/account/password-reset"}}}
}

// NewPasswordPage serves GET /account/password-reset/confirm?token=, the
// page a reset link opens.
func (s *Storefront) NewPasswordPage() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		return s.renderLink(w, r, http.StatusOK, "Choose a new password", newPasswordView(r.URL.Query().Get("token")))
	})
}

// ResetPassword serves POST /account/password-reset/confirm (token,
// password): it sets the password and sends the visitor to sign in with it
// (staff to the admin panel after).
func (s *Storefront) ResetPassword() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		token := r.PostFormValue("token")
		a, err := s.svc.Customers.ResetPassword(r.Context(), token, r.PostFormValue("password"))
		if err != nil {
			v := newPasswordView(token)
			if err := formError(w, err, &v); err != nil {
				return err
			}
			return s.renderLink(w, r, web.StatusOf(err), "Choose a new password", v)
		}
		s.flash.Set(w, r, ui.Flash{Text: "Your password has been changed. Sign in with the new one."})
		to := "/account/login"
		if a.Role.IsStaff() {
			to += "?" + url.Values{"next": {"/admin"}}.Encode()
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	})
}

// VerifyEmailPage serves GET /account/verify-email?token=, the page the
// verification link opens.
func (s *Storefront) VerifyEmailPage() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		return s.renderLink(w, r, http.StatusOK, "Confirm your e-mail address", linkView{Heading: "Confirm your e-mail address",
			Intro: "One click and your address is confirmed.", Action: "/account/verify-email", Token: r.URL.Query().Get("token"), Button: "Confirm my address"})
	})
}

// afterLink sends the visitor on after a link did its work: to the
// account, or to sign in.
func (s *Storefront) afterLink(w http.ResponseWriter, r *http.Request, text string) {
	s.flash.Set(w, r, ui.Flash{Text: text})
	to := "/account"
	if _, ok := customerOf(r); !ok {
		to = "/account/login"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// VerifyEmail serves POST /account/verify-email (token).
func (s *Storefront) VerifyEmail() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		a, err := s.svc.Customers.VerifyEmail(r.Context(), r.PostFormValue("token"))
		if err != nil {
			v := linkView{Heading: "Confirm your e-mail address", After: []link{{Name: "Your account", URL: "/account"}}}
			if err := formError(w, err, &v); err != nil {
				return err
			}
			return s.renderLink(w, r, web.StatusOf(err), "Confirm your e-mail address", v)
		}
		s.afterLink(w, r, "Thank you: "+a.Email+" is confirmed.")
		return nil
	})
}

// ResendVerification serves POST /account/verify-email/resend: a new
// verification link for the signed-in account.
func (s *Storefront) ResendVerification() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		f := ui.Flash{Text: "We have sent a new link to " + p.Email + "."}
		if err := s.svc.Customers.ResendVerification(r.Context(), p); err != nil {
			if !userError(err) {
				return err
			}
			msg, _ := problemMessage(err)
			f = ui.Flash{Text: msg, Error: !apperr.Is(err, apperr.Conflict)}
		}
		s.flash.Set(w, r, f)
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return nil
	})
}

func emailChangeView(p auth.Principal, email string) linkView {
	return linkView{Heading: "Change your e-mail address",
		Intro:  "Your address is " + p.Email + ". We will send a link to the new address; the change happens when you open it.",
		Action: "/account/email",
		Fields: []field{
			{ID: "acc-new-email", Name: "email", Label: "New e-mail address", Type: "email", Value: email, Autocomplete: "email", Required: true, Max: 254},
			{ID: "acc-current-password", Name: "current_password", Label: "Your password", Type: "password", Autocomplete: "current-password", Required: true, Max: 128},
		},
		Button: "Send the link", After: []link{{Name: "Back to your account", URL: "/account"}}}
}

// EmailChangePage serves GET /account/email: the form that asks to change
// the signed-in account's address.
func (s *Storefront) EmailChangePage() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		return s.renderLink(w, r, http.StatusOK, "Change your e-mail address", emailChangeView(p, ""))
	})
}

// RequestEmailChange serves POST /account/email (email, current_password).
func (s *Storefront) RequestEmailChange() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		email := strings.TrimSpace(r.PostFormValue("email"))
		if err := s.svc.Customers.RequestEmailChange(r.Context(), p, email, r.PostFormValue("current_password")); err != nil {
			v := emailChangeView(p, email)
			if err := formError(w, err, &v); err != nil {
				return err
			}
			return s.renderLink(w, r, web.StatusOf(err), "Change your e-mail address", v)
		}
		s.flash.Set(w, r, ui.Flash{Text: "We have sent a link to " + strings.ToLower(email) + ". Your address changes when you open it."})
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return nil
	})
}

// EmailChangeConfirmPage serves GET /account/email-change/confirm?token=,
// the page the link to the new address opens.
func (s *Storefront) EmailChangeConfirmPage() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		return s.renderLink(w, r, http.StatusOK, "Confirm your new e-mail address", linkView{Heading: "Confirm your new e-mail address",
			Intro: "Your account's address changes to this one when you confirm.", Action: "/account/email-change/confirm",
			Token: r.URL.Query().Get("token"), Button: "Change my address"})
	})
}

// ConfirmEmailChange serves POST /account/email-change/confirm (token).
func (s *Storefront) ConfirmEmailChange() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		a, err := s.svc.Customers.ConfirmEmailChange(r.Context(), r.PostFormValue("token"))
		if err != nil {
			v := linkView{Heading: "Confirm your new e-mail address", After: []link{{Name: "Your account", URL: "/account"}}}
			if err := formError(w, err, &v); err != nil {
				return err
			}
			if apperr.Is(err, apperr.Conflict) {
				v.Error = "Another account has this address now, so yours stays as it was."
			}
			return s.renderLink(w, r, web.StatusOf(err), "Confirm your new e-mail address", v)
		}
		s.afterLink(w, r, "Your e-mail address is now "+a.Email+".")
		return nil
	})
}
