package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
)

// GiftCards is what the admin panel needs of the gift card module.
type GiftCards interface {
	List(ctx context.Context, q giftcard.ListQuery) (giftcard.Page, error)
	Get(ctx context.Context, id string) (giftcard.CardDetail, error)
	Issue(ctx context.Context, in giftcard.IssueInput, actor string) (giftcard.NewCard, error)
	Disable(ctx context.Context, id, reason, actor string) (giftcard.Card, error)
	Adjust(ctx context.Context, id string, delta int64, reason, actor string) (giftcard.Card, error)
}

type giftCardsView struct {
	view
	Cards    []giftcard.Card
	Statuses []string
	Status   string
	Code     string
	Next     string
}

// GiftCards serves GET /admin/gift-cards?status=&code=&cursor=: the cards,
// newest first.
func (a *Admin) GiftCards() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		q := r.URL.Query()
		v := giftCardsView{view: a.newView(r, w, p, "Gift cards", "gift-cards"), Status: q.Get("status"), Code: strings.TrimSpace(q.Get("code")),
			Statuses: []string{giftcard.StatusActive, giftcard.StatusDisabled, giftcard.StatusExpired, giftcard.StatusSpent}}
		page, err := a.svc.GiftCards.List(r.Context(), giftcard.ListQuery{Status: v.Status, Code: v.Code, Cursor: q.Get("cursor"), Limit: 50})
		if err != nil {
			return err
		}
		v.Cards = page.Items
		if page.NextCursor != nil {
			v.Next = "/admin/gift-cards?" + url.Values{"status": {v.Status}, "code": {v.Code}, "cursor": {*page.NextCursor}}.Encode()
		}
		return a.render(w, http.StatusOK, "giftcards", v)
	})
}

type giftCardFormView struct {
	view
	Currency string
	Example  string
	Errors   fieldErrors
	Input    map[string]string
	Issued   *giftcard.NewCard // the card just issued: its code is shown this once
}

func (a *Admin) giftCardForm(w http.ResponseWriter, r *http.Request, p auth.Principal) giftCardFormView {
	return giftCardFormView{view: a.newView(r, w, p, "Issue a gift card", "gift-cards"), Currency: a.opts.Currency, Example: example(a.digits),
		Errors: fieldErrors{}, Input: map[string]string{"key": ids.Secret(16)}}
}

// NewGiftCard serves GET /admin/gift-cards/new: the form to issue a card.
func (a *Admin) NewGiftCard() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		return a.render(w, http.StatusOK, "giftcard_new", a.giftCardForm(w, r, p))
	})
}

// IssueGiftCard serves POST /admin/gift-cards: amount (in the shop
// currency, as typed), recipient_email, expires (a date: the card works
// through that day, UTC), note, and the form's key (a form sent twice
// issues one card). The answer is a page with the code, shown this once:
// it is not redirected, so the code never travels in a URL or a cookie.
func (a *Admin) IssueGiftCard() http.Handler {
	return a.post(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return apperr.New(apperr.Invalid, "the form could not be read")
		}
		f := r.PostForm
		var v apperr.Validator
		in := giftcard.IssueInput{RecipientEmail: strings.TrimSpace(f.Get("recipient_email")), Note: f.Get("note"), Key: f.Get("key")}
		amount, err := parseAmount("amount", f.Get("amount"), a.digits)
		if err != nil {
			v.Add("amount", fieldMessage(err))
		}
		in.Amount = amount
		if s := strings.TrimSpace(f.Get("expires")); s != "" {
			d, err := time.Parse("2006-01-02", s)
			if err != nil {
				v.Add("expires", "must be a date such as 2027-12-31")
			} else {
				end := d.AddDate(0, 0, 1)
				in.ExpiresAt = &end
			}
		}
		if err := v.Err(); err != nil {
			return a.refusedGiftCard(w, r, p, err)
		}
		c, err := a.svc.GiftCards.Issue(r.Context(), in, p.Email)
		if err != nil {
			return a.refusedGiftCard(w, r, p, err)
		}
		fv := a.giftCardForm(w, r, p)
		fv.Title, fv.Issued = "Gift card issued", &c
		return a.render(w, http.StatusCreated, "giftcard_new", fv)
	})
}

// refusedGiftCard shows the issue form again with err's messages.
func (a *Admin) refusedGiftCard(w http.ResponseWriter, r *http.Request, p auth.Principal, err error) error {
	fe, msg, ok := formError(err, func(field string) string {
		if field == "expires_at" {
			return "expires"
		}
		return field
	})
	if !ok {
		return err
	}
	v := a.giftCardForm(w, r, p)
	v.Error, v.Errors = msg, fe
	keep := []string{"amount", "recipient_email", "expires", "note", "key"}
	if apperr.Is(err, apperr.Conflict) { // the key issued a card already: a new form
		keep = nil
	}
	for _, k := range keep {
		if s := r.PostForm.Get(k); s != "" {
			v.Input[k] = s
		}
	}
	return a.render(w, formStatus(err), "giftcard_new", v)
}

type giftCardView struct {
	view
	Card   giftcard.CardDetail
	Ledger []ledgerRow
	Errors fieldErrors
	Input  map[string]string
}

// ledgerRow is a ledger entry with its amounts as money.
type ledgerRow struct {
	giftcard.Entry
	Change, Held, After money.Money
}

// GiftCard serves GET /admin/gift-cards/{id}: the card, its ledger, and the
// forms to adjust or disable it.
func (a *Admin) GiftCard() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		v, err := a.giftCardView(w, r, p)
		if err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "giftcard", v)
	})
}

func (a *Admin) giftCardView(w http.ResponseWriter, r *http.Request, p auth.Principal) (giftCardView, error) {
	d, err := a.svc.GiftCards.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return giftCardView{}, err
	}
	v := giftCardView{view: a.newView(r, w, p, "Gift card …"+d.Last4, "gift-cards"), Card: d, Errors: fieldErrors{}, Input: map[string]string{}}
	cur := d.Balance.Currency
	for _, e := range d.Ledger {
		v.Ledger = append(v.Ledger, ledgerRow{Entry: e, Change: money.Money{Amount: e.Amount, Currency: cur},
			Held: money.Money{Amount: e.HeldChange, Currency: cur}, After: money.Money{Amount: e.BalanceAfter, Currency: cur}})
	}
	return v, nil
}

func (a *Admin) giftCardAction(form string, act func(r *http.Request, id, actor string) (string, error)) http.Handler {
	return a.pageAction("id", form, "/admin/gift-cards/", act, func(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, f formAgain) error {
		v, err := a.giftCardView(w, r, p)
		if err != nil {
			return err
		}
		v.Error = f.apply(v.Errors, v.Input)
		return a.render(w, status, "giftcard", v)
	})
}

// DisableGiftCard serves POST /admin/gift-cards/{id}/disable: reason.
func (a *Admin) DisableGiftCard() http.Handler {
	return a.giftCardAction("disable", func(r *http.Request, id, actor string) (string, error) {
		c, err := a.svc.GiftCards.Disable(r.Context(), id, r.PostForm.Get("reason"), actor)
		return fmt.Sprintf("Gift card …%s is disabled.", c.Last4), err
	})
}

// AdjustGiftCard serves POST /admin/gift-cards/{id}/adjust: amount (+/-, in
// the shop currency as typed), reason.
func (a *Admin) AdjustGiftCard() http.Handler {
	return a.giftCardAction("adjust", func(r *http.Request, id, actor string) (string, error) {
		s := strings.TrimSpace(r.PostForm.Get("amount"))
		neg := strings.HasPrefix(s, "-") || strings.HasPrefix(s, "−")
		s = strings.TrimLeft(s, "+-−")
		n, err := parseAmount("amount", s, a.digits)
		if err != nil {
			return "", err
		}
		if neg {
			n = -n
		}
		c, err := a.svc.GiftCards.Adjust(r.Context(), id, n, r.PostForm.Get("reason"), actor)
		return fmt.Sprintf("Changed the balance of …%s by %s: %s now.", c.Last4, money.Money{Amount: n, Currency: a.opts.Currency}.Format(), c.Balance.Format()), err
	})
}
