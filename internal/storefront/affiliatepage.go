package storefront

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/ui"
)

// Affiliates is the affiliate programme: the account's programme page and
// the referral of the carts the storefront makes.
type Affiliates interface {
	Mine(ctx context.Context, accountID string) (affiliate.Dashboard, error)
	Apply(ctx context.Context, p auth.Principal, note string) (affiliate.Affiliate, bool, error)
	ReferCart(ctx context.Context, cartID, code string) error
	DefaultPercent() float64
}

// VisitorCart returns the id of the cart in the visitor's cart cookie, ""
// when there is none (for the affiliate middleware: a link followed refers
// the cart the visitor is filling).
func (s *Storefront) VisitorCart(r *http.Request) string {
	if id := cookie(r, cartCookie); len(id) <= 64 {
		return id
	}
	return ""
}

// referNewCart records who referred a cart the storefront just made (the
// visitor's referral cookie, if any). A failure only loses the referral:
// it is logged, and the shopper carries on.
func (s *Storefront) referNewCart(ctx context.Context, cartID string) {
	if s.svc.Affiliates == nil {
		return
	}
	if err := s.svc.Affiliates.ReferCart(ctx, cartID, ""); err != nil {
		s.log.WarnContext(ctx, "storefront: cart referral not recorded", "err", err)
	}
}

type bucketRow struct {
	Label, Class, Amount string
	Count                int64
}

type commissionRow struct {
	Placed, Status, StatusClass, Net, Percent, Amount, Reversed string
}

type affiliateView struct {
	view
	Flash      *ui.Flash
	AccountNav []link
	Applied    bool
	Status     string // pending, approved, rejected
	StatusText string
	Code       string
	Link       string
	Percent    string
	Clicks     int64
	Orders     int64
	Payable    string
	Buckets    []bucketRow
	Recent     []commissionRow
	Note       field
	FormError  string
}

var affiliateStatusLabels = map[string]string{
	affiliate.StatusPending: "Under review", affiliate.StatusApproved: "Approved", affiliate.StatusRejected: "Not accepted",
	affiliate.CommissionPaid: "Paid", affiliate.CommissionReversed: "Reversed",
}

func percentText(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + " %" }

// renderAffiliate shows the programme page: the application form for an
// account that has not applied, else its status, code, link and figures.
func (s *Storefront) renderAffiliate(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, note, msg string, errs map[string]string) error {
	if s.svc.Affiliates == nil {
		return errNoPage
	}
	v := affiliateView{}
	acc, err := s.accountPage(r, p, "affiliate", "Affiliate programme")
	if err != nil {
		return err
	}
	v.view, v.AccountNav = acc.view, acc.AccountNav
	if r.Method == http.MethodGet {
		v.Flash = s.flash.Take(w, r)
	}
	d, err := s.svc.Affiliates.Mine(r.Context(), p.AccountID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		v.Percent = percentText(s.svc.Affiliates.DefaultPercent())
		v.Note = field{ID: "aff-note", Name: "note", Label: "How will you tell people about us?", Value: note, Error: errs["note"], Max: affiliate.MaxNote}
		v.FormError = msg
		return s.pages.Render(w, status, "affiliate", v)
	case err != nil:
		return err
	}
	v.Applied, v.Status, v.StatusText = true, d.Status, affiliateStatusLabels[d.Status]
	v.Code, v.Link, v.Percent = d.Code, d.Link, percentText(d.CommissionPercent)
	v.Clicks, v.Orders, v.Payable = d.Clicks, d.Orders, d.Payable.Format()
	c := d.Commissions
	for _, b := range []struct {
		label, class string
		b            affiliate.Bucket
	}{
		{"Pending", "pending", c.Pending}, {"Approved", "approved", c.Approved}, {"Paid", "paid", c.Paid}, {"Reversed", "reversed", c.Reversed},
	} {
		v.Buckets = append(v.Buckets, bucketRow{Label: b.label, Class: b.class, Amount: b.b.Amount.Format(), Count: b.b.Count})
	}
	for _, cm := range d.Recent {
		label := map[string]string{affiliate.CommissionPending: "Pending", affiliate.CommissionApproved: "Approved",
			affiliate.CommissionPaid: "Paid", affiliate.CommissionReversed: "Reversed"}[cm.Status]
		row := commissionRow{Placed: cm.PlacedAt.Format("2 Jan 2006"), Status: label, StatusClass: cm.Status, Net: cm.Net.Format(),
			Percent: percentText(cm.Percent), Amount: cm.Amount.Format()}
		if cm.Reversed.Amount > 0 {
			row.Reversed = cm.Reversed.Format()
		}
		v.Recent = append(v.Recent, row)
	}
	return s.pages.Render(w, status, "affiliate", v)
}

// AffiliatePage serves GET /account/affiliate: the application form, or
// the affiliate's code, share link, clicks, orders and commissions by
// state.
func (s *Storefront) AffiliatePage() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		return s.renderAffiliate(w, r, p, http.StatusOK, "", "", nil)
	})
}

// ApplyAffiliate serves POST /account/affiliate (note): the account
// applies; applying again changes nothing.
func (s *Storefront) ApplyAffiliate() http.Handler {
	return s.buying(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.requireCustomer(w, r)
		if !ok {
			return nil
		}
		if s.svc.Affiliates == nil {
			return errNoPage
		}
		note := strings.TrimSpace(r.PostFormValue("note"))
		_, created, err := s.svc.Affiliates.Apply(r.Context(), p, note)
		if err != nil {
			if !userError(err) {
				return err
			}
			msg, errs := problemMessage(err)
			return s.renderAffiliate(w, r, p, web.StatusOf(err), note, msg, errs)
		}
		if created {
			s.flash.Set(w, r, ui.Flash{Text: "Thank you for applying. We will look at your application soon."})
		}
		http.Redirect(w, r, "/account/affiliate", http.StatusSeeOther)
		return nil
	})
}
