package admin

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/notify"
)

type emailsView struct {
	view
	Emails     []notify.EmailSummary
	Next       string
	Delivering bool // an SMTP server is configured
}

// Emails serves GET /admin/emails?cursor=: the outbox, newest first.
func (a *Admin) Emails() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		page, err := a.svc.Emails.ListEmails(r.Context(), notify.PageQuery{Limit: 50, Cursor: r.URL.Query().Get("cursor")})
		if err != nil {
			return err
		}
		v := emailsView{view: a.newView(r, w, p, "E-mails", "emails"), Emails: page.Items, Delivering: a.svc.Emails.Delivering()}
		if page.NextCursor != nil {
			v.Next = "/admin/emails?" + url.Values{"cursor": {*page.NextCursor}}.Encode()
		}
		return a.render(w, http.StatusOK, "emails", v)
	})
}

type emailView struct {
	view
	Email      notify.Email
	Delivering bool
}

// Email serves GET /admin/emails/{id}: the headers, the HTML body as it will
// look (a sandboxed frame of /admin/emails/{id}/html) and the text body.
func (a *Admin) Email() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		e, err := a.svc.Emails.GetEmail(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "email", emailView{view: a.newView(r, w, p, e.Subject, "emails"), Email: e, Delivering: a.svc.Emails.Delivering()})
	})
}

// Resend serves POST /admin/emails/{id}/resend: the e-mail is queued
// again (a refusal, such as an e-mail being sent right now, is the error
// page with its status).
func (a *Admin) Resend() http.Handler {
	return a.post(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		e, err := a.svc.Emails.Resend(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		msg := "Queued the e-mail again; it goes out within seconds."
		if !a.svc.Emails.Delivering() {
			msg = "Queued the e-mail again. It is not sent: no SMTP server is configured (MERCATO_SMTP_URL)."
		}
		return a.redirect(w, r, "/admin/emails/"+e.ID, msg)
	})
}

// EmailHTML serves GET /admin/emails/{id}/html: the e-mail's HTML body as a
// page, for the frame on the e-mail's page. It is the one admin page that
// may be framed (by this site only), under the e-mail preview's own policy
// that lets nothing but the e-mail's stylesheet apply. (The admin API's
// GET /api/v1/admin/emails/{id}/html serves the same to bearer tokens; the
// panel's session cookie does not open the admin API.)
func (a *Admin) EmailHTML() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
		e, err := a.svc.Emails.GetEmail(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Security-Policy", a.svc.Emails.PreviewCSP())
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(e.HTML)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			io.Copy(w, strings.NewReader(e.HTML))
		}
		return nil
	})
}
