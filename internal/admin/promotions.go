package admin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/promotion"
)

// Promotions is what the admin panel needs of the promotion module.
type Promotions interface {
	List(ctx context.Context) ([]promotion.Promotion, error)
	Report(ctx context.Context, id string) (promotion.Report, error)
	Create(ctx context.Context, in promotion.Input) (promotion.Promotion, error)
	Update(ctx context.Context, id string, patch promotion.Patch) (promotion.Promotion, error)
	Delete(ctx context.Context, id string) error
}

// promoRow is a promotion in the list, described for people.
type promoRow struct {
	promotion.Promotion
	What, Conditions, Window, Uses string
}

type promotionsView struct {
	view
	Rows []promoRow
}

// describe says what a promotion gives, when, and to whom.
func (a *Admin) describe(p promotion.Promotion) promoRow {
	m := func(n int64) string { return money.Money{Amount: n, Currency: a.opts.Currency}.Format() }
	r := promoRow{Promotion: p}
	switch p.Kind {
	case promotion.Percentage:
		r.What = fmt.Sprintf("%d%% off", p.Value)
	case promotion.Fixed:
		r.What = m(p.Value) + " off"
	case promotion.FreeShipping:
		r.What = "Free shipping"
	case promotion.BuyXGetY:
		off := fmt.Sprintf("%d%% off", p.Value)
		if p.Value == 100 {
			off = "free"
		}
		r.What = fmt.Sprintf("Buy %d, get %d %s", p.BuyQuantity, p.GetQuantity, off)
	}
	var cond []string
	if n := len(p.ProductIDs); n > 0 {
		cond = append(cond, fmt.Sprintf("%d product(s)", n))
	}
	if n := len(p.CategoryIDs); n > 0 {
		cond = append(cond, fmt.Sprintf("%d categor(ies)", n))
	}
	if p.MinSubtotal > 0 {
		cond = append(cond, "from "+m(p.MinSubtotal))
	}
	if p.FirstOrder {
		cond = append(cond, "first order")
	}
	if p.Exclusive {
		cond = append(cond, "exclusive")
	}
	r.Conditions = strings.Join(cond, ", ")
	switch {
	case p.StartsAt != nil && p.EndsAt != nil:
		r.Window = p.StartsAt.Format("2 Jan 2006") + " – " + p.EndsAt.Format("2 Jan 2006")
	case p.StartsAt != nil:
		r.Window = "from " + p.StartsAt.Format("2 Jan 2006")
	case p.EndsAt != nil:
		r.Window = "until " + p.EndsAt.Format("2 Jan 2006")
	}
	r.Uses = fmt.Sprint(p.Used)
	if p.UsageLimit != nil {
		r.Uses += fmt.Sprintf(" of %d", *p.UsageLimit)
	}
	return r
}

// Promotions serves GET /admin/promotions: every promotion with what it
// gives, its conditions and its uses.
func (a *Admin) Promotions() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		ps, err := a.svc.Promotions.List(r.Context())
		if err != nil {
			return err
		}
		v := promotionsView{view: a.newView(r, w, p, "Promotions", "promotions")}
		for _, pr := range ps {
			v.Rows = append(v.Rows, a.describe(pr))
		}
		return a.render(w, http.StatusOK, "promotions", v)
	})
}

// promotionForm is the promotion form's values as typed.
type promotionForm struct {
	ID, Name, Code, Type, Value, BuyQuantity, GetQuantity, MinSubtotal, ProductIDs string
	StartsAt, EndsAt, UsageLimit, UsageLimitPerCustomer                            string
	CategoryIDs                                                                    []string
	FirstOrder, Exclusive, Active                                                  bool
}

// HasCategory reports whether the form has category id checked.
func (f promotionForm) HasCategory(id string) bool { return slices.Contains(f.CategoryIDs, id) }

type promotionView struct {
	view
	Form       promotionForm
	Errors     fieldErrors
	Categories []catalog.Category
	Types      []promotion.Kind
	Report     *promotion.Report // an existing promotion's usage
	Row        promoRow
	Currency   string
}

// promotionFormOf fills the form from a stored promotion.
func (a *Admin) promotionFormOf(p promotion.Promotion) promotionForm {
	f := promotionForm{ID: p.ID, Name: p.Name, Code: p.Code, Type: string(p.Kind), CategoryIDs: p.CategoryIDs,
		ProductIDs: strings.Join(p.ProductIDs, ", "), FirstOrder: p.FirstOrder, Exclusive: p.Exclusive, Active: p.Active}
	switch p.Kind {
	case promotion.Fixed:
		f.Value = money.Money{Amount: p.Value, Currency: a.opts.Currency}.Decimal()
	case promotion.FreeShipping:
	default:
		f.Value = fmt.Sprint(p.Value)
	}
	if p.Kind == promotion.BuyXGetY {
		f.BuyQuantity, f.GetQuantity = fmt.Sprint(p.BuyQuantity), fmt.Sprint(p.GetQuantity)
	}
	if p.MinSubtotal > 0 {
		f.MinSubtotal = money.Money{Amount: p.MinSubtotal, Currency: a.opts.Currency}.Decimal()
	}
	if p.StartsAt != nil {
		f.StartsAt = p.StartsAt.UTC().Format(formTime)
	}
	if p.EndsAt != nil {
		f.EndsAt = p.EndsAt.UTC().Format(formTime)
	}
	if p.UsageLimit != nil {
		f.UsageLimit = fmt.Sprint(*p.UsageLimit)
	}
	if p.UsageLimitPerCustomer != nil {
		f.UsageLimitPerCustomer = fmt.Sprint(*p.UsageLimitPerCustomer)
	}
	return f
}

// formTime is how a datetime-local input sends a time (taken as UTC).
const formTime = "2006-01-02T15:04"

func (a *Admin) promotionView(w http.ResponseWriter, r *http.Request, p auth.Principal, title string, f promotionForm) (promotionView, error) {
	cats, err := a.svc.Catalog.Categories(r.Context())
	return promotionView{view: a.newView(r, w, p, title, "promotions"), Form: f, Errors: fieldErrors{}, Categories: cats,
		Types: promotion.Kinds, Currency: a.opts.Currency}, err
}

// NewPromotion serves GET /admin/promotions/new: the empty form.
func (a *Admin) NewPromotion() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		v, err := a.promotionView(w, r, p, "New promotion", promotionForm{Type: string(promotion.Percentage), Active: true})
		if err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "promotion", v)
	})
}

// EditPromotion serves GET /admin/promotions/{id}: the form with the
// promotion's values, and its usage report.
func (a *Admin) EditPromotion() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		rep, err := a.svc.Promotions.Report(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		v, err := a.promotionView(w, r, p, rep.Name, a.promotionFormOf(rep.Promotion))
		if err != nil {
			return err
		}
		v.Report, v.Row = &rep, a.describe(rep.Promotion)
		return a.render(w, http.StatusOK, "promotion", v)
	})
}

// readPromotionForm reads the posted form into its typed values and the
// promotion input; fields that cannot be read are Invalid, each named.
func (a *Admin) readPromotionForm(r *http.Request) (promotionForm, promotion.Input, error) {
	pf := r.PostForm
	f := promotionForm{Name: pf.Get("name"), Code: strings.TrimSpace(pf.Get("code")), Type: pf.Get("type"), Value: strings.TrimSpace(pf.Get("value")),
		BuyQuantity: strings.TrimSpace(pf.Get("buy_quantity")), GetQuantity: strings.TrimSpace(pf.Get("get_quantity")),
		MinSubtotal: strings.TrimSpace(pf.Get("min_subtotal")), ProductIDs: pf.Get("product_ids"), CategoryIDs: pf["category_ids"],
		StartsAt: strings.TrimSpace(pf.Get("starts_at")), EndsAt: strings.TrimSpace(pf.Get("ends_at")),
		UsageLimit: strings.TrimSpace(pf.Get("usage_limit")), UsageLimitPerCustomer: strings.TrimSpace(pf.Get("usage_limit_per_customer")),
		FirstOrder: pf.Get("first_order") != "", Exclusive: pf.Get("exclusive") != "", Active: pf.Get("active") != ""}
	in := promotion.Input{Name: f.Name, Kind: promotion.Kind(f.Type), FirstOrder: f.FirstOrder, Exclusive: f.Exclusive, Active: &f.Active,
		CategoryIDs: f.CategoryIDs, ProductIDs: strings.FieldsFunc(f.ProductIDs, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' })}
	if f.Code != "" {
		in.Code = &f.Code
	}
	var errs []apperr.FieldError
	note := func(err error) {
		if e, ok := err.(*apperr.Error); ok {
			errs = append(errs, e.Fields...)
		}
	}
	var err error
	switch {
	case f.Value == "":
	case in.Kind == promotion.Fixed:
		in.Value, err = parseAmount("value", f.Value, a.digits)
	default:
		in.Value, err = parseCount("value", f.Value, 0, 100)
	}
	note(err)
	if in.Kind == promotion.BuyXGetY {
		in.BuyQuantity, err = parseCount("buy_quantity", f.BuyQuantity, 1, promotion.MaxQuantity)
		note(err)
		in.GetQuantity, err = parseCount("get_quantity", f.GetQuantity, 1, promotion.MaxQuantity)
		note(err)
	}
	if f.MinSubtotal != "" {
		in.MinSubtotal, err = parseAmount("min_subtotal", f.MinSubtotal, a.digits)
		note(err)
	}
	for _, t := range []struct {
		field, value string
		dst          **string
	}{{"starts_at", f.StartsAt, &in.StartsAt}, {"ends_at", f.EndsAt, &in.EndsAt}} {
		if t.value == "" {
			continue
		}
		at, err := time.ParseInLocation(formTime, t.value, time.UTC)
		if err != nil {
			errs = append(errs, apperr.FieldError{Field: t.field, Message: "must be a date and time such as 2026-06-01T09:00"})
			continue
		}
		s := at.Format(time.RFC3339)
		*t.dst = &s
	}
	for _, l := range []struct {
		field, value string
		dst          **int64
	}{{"usage_limit", f.UsageLimit, &in.UsageLimit}, {"usage_limit_per_customer", f.UsageLimitPerCustomer, &in.UsageLimitPerCustomer}} {
		if l.value == "" {
			continue
		}
		n, err := parseCount(l.field, l.value, 1, 1_000_000_000)
		if err != nil {
			note(err)
			continue
		}
		*l.dst = &n
	}
	if len(errs) > 0 {
		return f, in, &apperr.Error{Code: apperr.Invalid, Message: "invalid input", Fields: errs}
	}
	return f, in, nil
}

// patchOf is the PATCH that sets every field of the form (empty optional
// fields clear what the promotion had).
func patchOf(in promotion.Input) promotion.Patch {
	set := func(v int64) promotion.Optional[int64] { return promotion.Optional[int64]{Set: true, Value: v} }
	opt := func(p *int64) promotion.Optional[int64] {
		if p == nil {
			return promotion.Optional[int64]{Set: true, Null: true}
		}
		return set(*p)
	}
	optStr := func(p *string) promotion.Optional[string] {
		if p == nil {
			return promotion.Optional[string]{Set: true, Null: true}
		}
		return promotion.Optional[string]{Set: true, Value: *p}
	}
	return promotion.Patch{
		Name: promotion.Optional[string]{Set: true, Value: in.Name}, Code: optStr(in.Code),
		Kind: promotion.Optional[promotion.Kind]{Set: true, Value: in.Kind}, Value: set(in.Value),
		BuyQuantity: set(in.BuyQuantity), GetQuantity: set(in.GetQuantity), MinSubtotal: set(in.MinSubtotal),
		ProductIDs:  promotion.Optional[[]string]{Set: true, Value: in.ProductIDs},
		CategoryIDs: promotion.Optional[[]string]{Set: true, Value: in.CategoryIDs},
		FirstOrder:  promotion.Optional[bool]{Set: true, Value: in.FirstOrder}, Exclusive: promotion.Optional[bool]{Set: true, Value: in.Exclusive},
		Active:   promotion.Optional[bool]{Set: true, Value: *in.Active},
		StartsAt: optStr(in.StartsAt), EndsAt: optStr(in.EndsAt), UsageLimit: opt(in.UsageLimit), UsageLimitPerCustomer: opt(in.UsageLimitPerCustomer),
	}
}

// savePromotion handles the form of a new (id "") or existing promotion.
func (a *Admin) savePromotion(id string) func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return apperr.New(apperr.Invalid, "the form could not be read")
		}
		f, in, err := a.readPromotionForm(r)
		var saved promotion.Promotion
		if err == nil {
			if id == "" {
				saved, err = a.svc.Promotions.Create(r.Context(), in)
			} else {
				saved, err = a.svc.Promotions.Update(r.Context(), id, patchOf(in))
			}
		}
		if err == nil {
			verb := "Created"
			if id != "" {
				verb = "Saved"
			}
			return a.redirect(w, r, "/admin/promotions/"+saved.ID, verb+" "+saved.Name+".")
		}
		fe, msg, ok := formError(err, func(field string) string {
			if i := strings.IndexByte(field, '['); i > 0 {
				return field[:i] // product_ids[2] -> product_ids
			}
			if field == "type" {
				return "type"
			}
			return field
		})
		if !ok || apperr.Is(err, apperr.NotFound) {
			return err
		}
		title := "New promotion"
		f.ID = id
		v, verr := a.promotionView(w, r, p, title, f)
		if verr != nil {
			return verr
		}
		if id != "" {
			rep, rerr := a.svc.Promotions.Report(r.Context(), id)
			if rerr != nil {
				return rerr
			}
			v.Title, v.Report, v.Row = rep.Name, &rep, a.describe(rep.Promotion)
		}
		v.Error, v.Errors = msg, fe
		return a.render(w, formStatus(err), "promotion", v)
	}
}

// CreatePromotion serves POST /admin/promotions: the new promotion form.
func (a *Admin) CreatePromotion() http.Handler { return a.post(staffOnly, a.savePromotion("")) }

// UpdatePromotion serves POST /admin/promotions/{id}: the edit form.
func (a *Admin) UpdatePromotion() http.Handler {
	return a.post(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		return a.savePromotion(r.PathValue("id"))(w, r, p)
	})
}

// DeletePromotion serves POST /admin/promotions/{id}/delete.
func (a *Admin) DeletePromotion() http.Handler {
	return a.post(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		rep, err := a.svc.Promotions.Report(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := a.svc.Promotions.Delete(r.Context(), rep.ID); err != nil {
			return err
		}
		return a.redirect(w, r, "/admin/promotions", "Deleted "+rep.Name+".")
	})
}
