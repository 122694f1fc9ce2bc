package admin_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestGiftCardPages: staff issue a card from the form and see its code
// once; a form sent twice issues one card; the card's page shows the
// ledger and adjusts and disables it; no page shows the code again.
func TestGiftCardPages(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db)
		ctx := context.Background()
		rec := s.do(t, s.cookie, "GET", "/admin/gift-cards/new", nil, "")
		key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
		if rec.Code != 200 || key == nil {
			t.Fatalf("form: %d\n%s", rec.Code, rec.Body)
		}
		until := time.Now().UTC().AddDate(1, 0, 0)
		form := url.Values{"key": {key[1]}, "amount": {"12.5x"}, "recipient_email": {"friend@example.com"}, "expires": {until.Format("2006-01-02")}, "note": {"raffle"}}
		rec = s.form(t, s.cookie, "/admin/gift-cards", form)
		if page := rec.Body.String(); rec.Code != 422 || !strings.Contains(page, "must be an amount") || !strings.Contains(page, `value="friend@example.com"`) {
			t.Fatalf("bad amount: %d\n%s", rec.Code, page)
		}
		form.Set("amount", "12.50")
		rec = s.form(t, s.cookie, "/admin/gift-cards", form)
		code := regexp.MustCompile(`id="gift-code">([A-Z2-9-]{19})<`).FindStringSubmatch(rec.Body.String())
		if rec.Code != 201 || code == nil || !strings.Contains(rec.Body.String(), "not shown again") {
			t.Fatalf("issue: %d\n%s", rec.Code, rec.Body)
		}
		b, err := s.a.GiftCards.Balance(ctx, "192.0.2.9", code[1])
		if err != nil || b.Balance.Amount != 1250 || b.ExpiresAt == nil || b.ExpiresAt.Format("2006-01-02") != until.AddDate(0, 0, 1).Format("2006-01-02") {
			t.Fatalf("balance of the issued code: %+v %v", b, err)
		}
		// The same form again (a reload): no second card.
		if rec = s.form(t, s.cookie, "/admin/gift-cards", form); rec.Code != 409 || strings.Contains(rec.Body.String(), code[1]) {
			t.Fatalf("form sent twice: %d\n%s", rec.Code, rec.Body)
		}
		page, err := s.a.GiftCards.List(ctx, giftcard.ListQuery{})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("cards: %+v %v", page, err)
		}
		card := page.Items[0]

		rec = s.do(t, s.cookie, "GET", "/admin/gift-cards?status=active", nil, "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "…"+card.Last4) || strings.Contains(rec.Body.String(), code[1]) {
			t.Fatalf("list: %d\n%s", rec.Code, rec.Body)
		}
		rec = s.form(t, s.cookie, "/admin/gift-cards/"+card.ID+"/adjust", url.Values{"amount": {"-20.00"}, "reason": {"typo"}})
		if rec.Code != 409 || !strings.Contains(rec.Body.String(), `value="typo"`) {
			t.Fatalf("adjust below zero: %d\n%s", rec.Code, rec.Body)
		}
		rec = s.form(t, s.cookie, "/admin/gift-cards/"+card.ID+"/adjust", url.Values{"amount": {"-2.50"}, "reason": {"goodwill taken back"}})
		if rec.Code != 303 {
			t.Fatalf("adjust: %d\n%s", rec.Code, rec.Body)
		}
		rec = s.form(t, s.cookie, "/admin/gift-cards/"+card.ID+"/disable", url.Values{"reason": {"reported lost"}})
		if rec.Code != 303 {
			t.Fatalf("disable: %d\n%s", rec.Code, rec.Body)
		}
		rec = s.do(t, s.cookie, "GET", "/admin/gift-cards/"+card.ID, nil, "")
		p := rec.Body.String()
		for _, want := range []string{"€10.00", "Issue", "Adjustment", "goodwill taken back", "reported lost", "pill-disabled"} {
			if !strings.Contains(p, want) {
				t.Errorf("card page lacks %q", want)
			}
		}
		if rec.Code != 200 || strings.Contains(p, code[1]) || strings.Contains(p, "Disable gift card") {
			t.Fatalf("card page: %d\n%s", rec.Code, p)
		}
		if rec = s.do(t, s.cookie, "GET", "/admin/gift-cards/nope", nil, ""); rec.Code != 404 {
			t.Errorf("unknown card: %d", rec.Code)
		}
	})
}
