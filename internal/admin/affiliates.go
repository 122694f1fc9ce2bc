package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
)

// Affiliates is what the admin panel needs of the affiliate programme.
type Affiliates interface {
	List(ctx context.Context, q affiliate.ListQuery) (affiliate.Page, error)
	Update(ctx context.Context, id string, p affiliate.Patch) (affiliate.Affiliate, error)
	Payout(ctx context.Context, id string, in affiliate.PayoutInput, actor string) (affiliate.Payout, error)
	ExportCSV(ctx context.Context, q affiliate.ListQuery) ([]byte, error)
	DefaultPercent() float64
}

type affiliatesView struct {
	view
	Affiliates     []affiliate.Affiliate
	Status, Q      string
	Statuses       []string
	Next           string
	Back           string // the list's filter, kept across the forms
	CSV            string // the export of the same filter
	DefaultPercent string
}

// affiliateFilter is the list's filter from a query (or a form's "back").
func affiliateFilter(v url.Values) (status, q string) {
	return v.Get("status"), strings.TrimSpace(v.Get("q"))
}

func filterQuery(status, q string) url.Values {
	out := url.Values{}
	if status != "" {
		out.Set("status", status)
	}
	if q != "" {
		out.Set("q", q)
	}
	return out
}

func percentString(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// errNoAffiliates answers the programme's pages when it is not wired.
var errNoAffiliates = apperr.NotFoundf("the affiliate programme is not enabled")

func (a *Admin) affiliatesView(w http.ResponseWriter, r *http.Request, p auth.Principal, filter url.Values, cursor string) (affiliatesView, error) {
	if a.svc.Affiliates == nil {
		return affiliatesView{}, errNoAffiliates
	}
	status, q := affiliateFilter(filter)
	v := affiliatesView{view: a.newView(r, w, p, "Affiliates", "affiliates"), Status: status, Q: q, Statuses: affiliate.Statuses,
		DefaultPercent: percentString(a.svc.Affiliates.DefaultPercent())}
	page, err := a.svc.Affiliates.List(r.Context(), affiliate.ListQuery{Status: status, Q: q, Cursor: cursor, Limit: 25})
	if err != nil {
		return v, err
	}
	v.Affiliates = page.Items
	fq := filterQuery(status, q)
	v.Back, v.CSV = fq.Encode(), "/admin/affiliates.csv"
	if len(fq) > 0 {
		v.CSV += "?" + fq.Encode()
	}
	if page.NextCursor != nil {
		nq := filterQuery(status, q)
		nq.Set("cursor", *page.NextCursor)
		v.Next = "/admin/affiliates?" + nq.Encode()
	}
	return v, nil
}

// Affiliates serves GET /admin/affiliates?status=&q=&cursor=: applications
// and affiliates with their figures, the decisions, commission rates and
// payouts, and the CSV export of the list.
func (a *Admin) Affiliates() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		q := r.URL.Query()
		v, err := a.affiliatesView(w, r, p, q, q.Get("cursor"))
		if err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "affiliates", v)
	})
}

// AffiliatesCSV serves GET /admin/affiliates.csv?status=&q=: every
// affiliate of the filter, as a CSV download.
func (a *Admin) AffiliatesCSV() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		if a.svc.Affiliates == nil {
			return errNoAffiliates
		}
		status, q := affiliateFilter(r.URL.Query())
		body, err := a.svc.Affiliates.ExportCSV(r.Context(), affiliate.ListQuery{Status: status, Q: q})
		if err != nil {
			return err
		}
		affiliate.WriteCSV(w, body)
		return nil
	})
}

// affiliateForm runs a form action of the list and returns to the list (with
// its filter, from the form's "back") saying what it did; a refused form
// shows the list again with the reason.
func (a *Admin) affiliateForm(act func(r *http.Request, p auth.Principal) (string, error)) http.Handler {
	return a.post(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		if a.svc.Affiliates == nil {
			return errNoAffiliates
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return apperr.New(apperr.Invalid, "the form could not be read")
		}
		back, _ := url.ParseQuery(r.PostForm.Get("back"))
		flash, err := act(r, p)
		if err == nil {
			target := "/admin/affiliates"
			if fq := filterQuery(affiliateFilter(back)); len(fq) > 0 {
				target += "?" + fq.Encode()
			}
			return a.redirect(w, r, target, flash)
		}
		_, msg, ok := formError(err, nil)
		if !ok || apperr.Is(err, apperr.NotFound) {
			return err
		}
		v, verr := a.affiliatesView(w, r, p, back, "")
		if verr != nil {
			return verr
		}
		v.Error = msg
		return a.render(w, formStatus(err), "affiliates", v)
	})
}

// UpdateAffiliate serves POST /admin/affiliates/{id}: a decision (status
// approved or rejected), or, with set_rate, the commission rate
// (commission_percent; empty for the shop's default).
func (a *Admin) UpdateAffiliate() http.Handler {
	return a.affiliateForm(func(r *http.Request, p auth.Principal) (string, error) {
		f := r.PostForm
		var patch affiliate.Patch
		if st := f.Get("status"); st != "" {
			patch.Status = &st
		}
		if f.Get("set_rate") != "" {
			patch.SetRate = true
			if raw := strings.TrimSpace(f.Get("commission_percent")); raw != "" {
				rate, err := affiliate.ParsePercent(raw)
				if err != nil {
					return "", err
				}
				patch.Rate = &rate
			}
		}
		if patch.Status == nil && !patch.SetRate {
			return "", apperr.Field("status", "choose approve or reject")
		}
		af, err := a.svc.Affiliates.Update(r.Context(), r.PathValue("id"), patch)
		if err != nil {
			return "", err
		}
		if patch.Status != nil {
			return af.Email + " is " + *patch.Status + ".", nil
		}
		return af.Email + " now earns " + percentString(af.CommissionPercent) + " %.", nil
	})
}

// PayAffiliate serves POST /admin/affiliates/{id}/payouts (reference):
// records the payout of everything approved.
func (a *Admin) PayAffiliate() http.Handler {
	return a.affiliateForm(func(r *http.Request, p auth.Principal) (string, error) {
		po, err := a.svc.Affiliates.Payout(r.Context(), r.PathValue("id"), affiliate.PayoutInput{Reference: r.PostForm.Get("reference")}, p.Email)
		if err != nil {
			return "", err
		}
		return "Recorded a payout of " + po.Amount.Format() + " (" + strconv.FormatInt(po.Commissions, 10) + " commissions).", nil
	})
}
