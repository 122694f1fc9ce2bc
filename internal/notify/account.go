package notify

import (
	"fmt"
	"net/url"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
)

// The account mails: links that act for their recipient (a password reset,
// the verification of an address, a change of address) and the notice of
// a changed address.
const (
	TemplatePasswordReset = "password_reset" // customer.password_reset_requested
	TemplateVerifyEmail   = "verify_email"   // customer.email_verification_requested
	TemplateEmailChange   = "email_change"   // customer.email_change_requested, to the new address
	TemplateEmailChanged  = "email_changed"  // customer.email_changed, to the old address
)

// Where the storefront serves the pages the links open; each takes the
// link's secret as ?token=.
const (
	passwordResetPath = "/account/password-reset/confirm"
	verifyEmailPath   = "/account/verify-email"
	emailChangePath   = "/account/email-change/confirm"
)

// accountTemplates are the templates of the account mails.
func accountTemplates() []string {
	return []string{TemplatePasswordReset, TemplateVerifyEmail, TemplateEmailChange, TemplateEmailChanged}
}

// accountTopics are the customer events that make account mails.
func accountTopics() []string {
	return []string{customer.TopicPasswordResetRequested, customer.TopicEmailVerificationRequested,
		customer.TopicEmailChangeRequested, customer.TopicEmailChanged}
}

// secretTemplate reports whether an e-mail of this template holds a link
// that acts for its recipient, or a gift card's code: staff must not read
// it (a staff member could otherwise reset an admin's password, take over
// a customer's account, or spend a customer's gift card), so GetEmail
// masks its bodies. The stored e-mail is whole.
func secretTemplate(name string) bool {
	return name == TemplatePasswordReset || name == TemplateVerifyEmail || name == TemplateEmailChange || name == TemplateGiftCard
}

// Masked bodies of a secret e-mail, as staff see it.
const (
	maskedText = "This e-mail holds a link that acts for its recipient; its text is not shown to staff.\n"
	maskedHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not shown</title></head>
<body><p>This e-mail holds a link that acts for its recipient; its text is not shown to staff.</p></body></html>
`
)

// maskSecret replaces the bodies of a secret e-mail (secretTemplate).
func maskSecret(e *Email) {
	if secretTemplate(e.Template) {
		e.Text, e.HTML = maskedText, maskedHTML
	}
}

// linkMail is what an account mail's template shows.
type linkMail struct {
	Name     string
	Email    string // the account's address (before a change)
	NewEmail string // the new address (a change)
	Link     string // the page that uses the link's secret
	Expires  string // when the link stops working, in words
}

// validSecret reports whether s looks like a link's secret (URL-safe
// base64), so that it goes into a URL as it is.
func validSecret(s string) bool {
	if len(s) < 16 || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

// accountMessage decodes and checks the payload of an account event.
func (s *Service) accountMessage(e outbox.Event) (message, error) {
	var v apperr.Validator
	link := func(path, secret string) string {
		v.Check(validSecret(secret), "token", "must be a link secret")
		return s.r.shop.BaseURL + path + "?" + url.Values{"token": {secret}}.Encode()
	}
	expires := func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") }
	var m message
	switch e.Topic {
	case customer.TopicPasswordResetRequested:
		var p customer.PasswordResetRequested
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		m = message{template: TemplatePasswordReset, to: p.Email,
			data: linkMail{Name: p.Name, Email: p.Email, Link: link(passwordResetPath, p.Token), Expires: expires(p.ExpiresAt)}}
	case customer.TopicEmailVerificationRequested:
		var p customer.EmailVerificationRequested
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		m = message{template: TemplateVerifyEmail, to: p.Email,
			data: linkMail{Name: p.Name, Email: p.Email, Link: link(verifyEmailPath, p.Token), Expires: expires(p.ExpiresAt)}}
	case customer.TopicEmailChangeRequested:
		var p customer.EmailChangeRequested
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		m = message{template: TemplateEmailChange, to: p.NewEmail,
			data: linkMail{Name: p.Name, Email: p.Email, NewEmail: p.NewEmail, Link: link(emailChangePath, p.Token), Expires: expires(p.ExpiresAt)}}
	case customer.TopicEmailChanged:
		var p customer.EmailChanged
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		m = message{template: TemplateEmailChanged, to: p.OldEmail, data: linkMail{Name: p.Name, Email: p.OldEmail, NewEmail: p.NewEmail}}
	default:
		return m, fmt.Errorf("no message for topic %q", e.Topic)
	}
	v.Check(validAddress(m.to), "email", "must be an e-mail address")
	if err := v.Err(); err != nil {
		return m, fmt.Errorf("payload: %w", err)
	}
	return m, nil
}
