package notify

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/mercato-shop/mercato/internal/platform/web"
)

// The handlers below are staff routes: internal/app checks the caller's role
// before they run. E-mails hold customers' addresses, so no answer may be
// stored by a cache.

func pageQuery(r *http.Request) (PageQuery, error) {
	limit, err := web.QueryInt(r, "limit", 20, 1, 100)
	if err != nil {
		return PageQuery{}, err
	}
	return PageQuery{Limit: limit, Cursor: r.URL.Query().Get("cursor")}, nil
}

func private(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

// HandleListEmails serves GET /api/v1/admin/emails?limit=&cursor=.
func HandleListEmails(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := pageQuery(r)
		if err != nil {
			return err
		}
		page, err := svc.ListEmails(r.Context(), q)
		if err != nil {
			return err
		}
		private(w)
		web.JSON(w, http.StatusOK, page)
		return nil
	}
}

// HandleGetEmail serves GET /api/v1/admin/emails/{id}: the e-mail with its
// text and HTML bodies.
func HandleGetEmail(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		e, err := svc.GetEmail(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		private(w)
		web.JSON(w, http.StatusOK, e)
		return nil
	}
}

// HandleResendEmail serves POST /api/v1/admin/emails/{id}/resend: the
// e-mail is queued again (202, with the e-mail as it is now); 409 while a
// worker is sending it, 404 for an unknown id.
func HandleResendEmail(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		e, err := svc.Resend(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		private(w)
		web.JSON(w, http.StatusAccepted, e)
		return nil
	}
}

// HandleEmailHTML serves GET /api/v1/admin/emails/{id}/html: the HTML body
// as a page, for previewing in the admin panel. It is the one route whose
// answer may be framed (by this site only), under a policy that lets
// nothing but the e-mail's stylesheet apply.
func HandleEmailHTML(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		e, err := svc.GetEmail(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		h := w.Header()
		private(w)
		h.Set("Content-Security-Policy", svc.PreviewCSP())
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(e.HTML)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			io.Copy(w, strings.NewReader(e.HTML))
		}
		return nil
	}
}

// HandleListLowStockAlerts serves GET /api/v1/admin/alerts/low-stock?limit=&cursor=.
func HandleListLowStockAlerts(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := pageQuery(r)
		if err != nil {
			return err
		}
		page, err := svc.ListLowStockAlerts(r.Context(), q)
		if err != nil {
			return err
		}
		private(w)
		web.JSON(w, http.StatusOK, page)
		return nil
	}
}
