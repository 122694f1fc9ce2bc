package app

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

func fromAddr(addr string) reqOpt { return func(r *http.Request) { r.RemoteAddr = addr } }

// TestGiftCardAPI: staff issue a card (its code shown once), the holder
// checks its balance and puts it on a cart, staff read its ledger, adjust
// and disable it; every answer as documented.
func TestGiftCardAPI(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		a := newShopAPI(t, db, shopConfig(t))
		staff := bearer(a.staff)

		a.do("POST", "/api/v1/admin/gift-cards", map[string]any{"amount": 0}, staff).wantProblem(http.StatusBadRequest, "amount")
		a.do("POST", "/api/v1/admin/gift-cards", map[string]any{"amount": 100, "expires_at": "2001-01-01T00:00:00Z"}, staff).wantProblem(http.StatusBadRequest, "expires_at")
		a.do("POST", "/api/v1/admin/gift-cards", map[string]any{"amount": 100, "code": "MINE-MINE-MINE-MINE"}, staff).wantProblem(http.StatusBadRequest, "code")
		if n := a.rows(`SELECT COUNT(*) FROM giftcard_cards`); n != 0 {
			t.Fatalf("refused requests made %d cards", n)
		}

		var card giftcard.NewCard
		res := a.do("POST", "/api/v1/admin/gift-cards", map[string]any{"amount": 5000, "recipient_email": "ada@example.com", "note": "prize"}, staff).
			wantStatus(http.StatusCreated)
		res.decode(&card)
		if !regexp.MustCompile(`^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$`).MatchString(card.Code) || card.Balance != eur(5000) ||
			res.Header.Get("Location") != "/api/v1/admin/gift-cards/"+card.ID {
			t.Fatalf("issued %+v (Location %q)", card, res.Header.Get("Location"))
		}
		drainOutbox(t, a.app)
		if got := a.emails("gift_card"); len(got) != 1 || !strings.HasPrefix(got[0], "ada@example.com ") {
			t.Fatalf("gift card mails: %v", got)
		}

		// The holder: balance in any spelling of the code.
		var bal giftcard.Balance
		a.do("GET", "/api/v1/gift-cards/"+strings.ToLower(strings.ReplaceAll(card.Code, "-", "")), nil).wantStatus(http.StatusOK).decode(&bal)
		if bal.Balance != eur(5000) || bal.ExpiresAt != nil {
			t.Fatalf("balance %+v", bal)
		}
		a.do("GET", "/api/v1/gift-cards/AAAA-BBBB-CCCC-DDDD", nil).wantProblem(http.StatusNotFound, "")

		// On a cart.
		variant := a.product("MUG-1", 3000, 10)
		c := a.cartWith(nil, variant, 1)
		a.do("POST", "/api/v1/carts/"+c.ID+"/gift-cards", map[string]any{}).wantProblem(http.StatusBadRequest, "code")
		p := a.do("POST", "/api/v1/carts/"+c.ID+"/gift-cards", map[string]any{"code": "AAAA-BBBB-CCCC-DDDD"}).wantProblem(http.StatusUnprocessableEntity, "code")
		if !strings.Contains(p.Errors[0].Message, "not a valid gift card") {
			t.Errorf("unknown code: %+v", p)
		}
		a.do("POST", "/api/v1/carts/cart_nosuchcart/gift-cards", map[string]any{"code": card.Code}).wantProblem(http.StatusNotFound, "")
		var got cart.Cart
		a.do("POST", "/api/v1/carts/"+c.ID+"/gift-cards", map[string]any{"code": card.Code}).wantStatus(http.StatusOK).decode(&got)
		if got.ID != c.ID {
			t.Fatalf("answered cart %s", got.ID)
		}
		uses, err := a.app.GiftCards.Applied(context.Background(), c.ID, "EUR", got.Totals.Total)
		if err != nil || len(uses) != 1 || uses[0].Amount != got.Totals.Total || uses[0].CodeLast4 != card.Last4 {
			t.Fatalf("uses %+v %v (cart total %v)", uses, err, got.Totals.Total)
		}
		// Someone else's cart: as if it did not exist.
		mine := a.cartWith([]reqOpt{bearer(a.customer)}, variant, 1)
		a.do("POST", "/api/v1/carts/"+mine.ID+"/gift-cards", map[string]any{"code": card.Code}).wantProblem(http.StatusNotFound, "")
		a.do("DELETE", "/api/v1/carts/"+c.ID+"/gift-cards/"+strings.ToLower(card.Last4), nil).wantStatus(http.StatusOK)
		a.do("DELETE", "/api/v1/carts/"+c.ID+"/gift-cards/"+card.Last4, nil).wantProblem(http.StatusNotFound, "")

		// Staff: list, ledger, adjust, disable.
		var page giftcard.Page
		a.do("GET", "/api/v1/admin/gift-cards?status=active&code="+card.Last4, nil, staff).wantStatus(http.StatusOK).decode(&page)
		if len(page.Items) != 1 || page.Items[0].ID != card.ID {
			t.Fatalf("list: %+v", page)
		}
		a.do("GET", "/api/v1/admin/gift-cards?status=lost", nil, staff).wantProblem(http.StatusBadRequest, "status")
		a.do("POST", "/api/v1/admin/gift-cards/"+card.ID+"/adjustments", map[string]any{"amount": -6000, "reason": "x"}, staff).
			wantProblem(http.StatusConflict, "amount")
		a.do("POST", "/api/v1/admin/gift-cards/"+card.ID+"/adjustments", map[string]any{"amount": -1000, "reason": "goodwill taken back"}, staff).
			wantStatus(http.StatusOK)
		var d giftcard.CardDetail
		a.do("GET", "/api/v1/admin/gift-cards/"+card.ID, nil, staff).wantStatus(http.StatusOK).decode(&d)
		if d.Balance != eur(4000) || len(d.Ledger) != 2 || d.Ledger[1].Kind != giftcard.KindAdjustment || d.Ledger[1].Actor != staffEmail {
			t.Fatalf("detail %+v", d)
		}
		a.do("GET", "/api/v1/admin/gift-cards/nope", nil, staff).wantProblem(http.StatusNotFound, "")
		a.do("POST", "/api/v1/admin/gift-cards/"+card.ID+"/disable", nil, staff).wantStatus(http.StatusOK)
		a.do("POST", "/api/v1/admin/gift-cards/"+card.ID+"/disable", map[string]any{"reason": "again"}, staff).wantProblem(http.StatusConflict, "")
		a.do("GET", "/api/v1/gift-cards/"+card.Code, nil).wantProblem(http.StatusNotFound, "")
		if p := a.do("POST", "/api/v1/carts/"+c.ID+"/gift-cards", map[string]any{"code": card.Code}).wantProblem(http.StatusUnprocessableEntity, "code"); !strings.Contains(p.Errors[0].Message, "not a valid gift card") {
			t.Errorf("disabled card: %+v", p)
		}
	})
}

// TestGiftCardLookupLimit: the balance check and applying codes share a
// limit per client address; another address has its own.
func TestGiftCardLookupLimit(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		a := newShopAPI(t, db, shopConfig(t))
		c := a.cartWith(nil, a.product("MUG-1", 3000, 10), 1)
		from := fromAddr("198.51.100.20:5555")
		for i := range giftcard.LookupsPerAddress {
			if i%2 == 0 {
				a.do("GET", "/api/v1/gift-cards/AAAA-BBBB-CCCC-DDDD", nil, from).wantStatus(http.StatusNotFound)
			} else {
				a.do("POST", "/api/v1/carts/"+c.ID+"/gift-cards", map[string]any{"code": "AAAA-BBBB-CCCC-DDDD"}, from).wantStatus(http.StatusUnprocessableEntity)
			}
		}
		res := a.do("GET", "/api/v1/gift-cards/AAAA-BBBB-CCCC-DDDD", nil, from)
		res.wantProblem(http.StatusTooManyRequests, "")
		if res.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		a.do("POST", "/api/v1/carts/"+c.ID+"/gift-cards", map[string]any{"code": "AAAA-BBBB-CCCC-DDDD"}, from).wantProblem(http.StatusTooManyRequests, "")
		a.do("GET", "/api/v1/gift-cards/AAAA-BBBB-CCCC-DDDD", nil, fromAddr("198.51.100.21:5555")).wantStatus(http.StatusNotFound)
	})
}

// TestGiftCardSoldInCheckout: a gift card product bought through the real
// checkout issues one card per unit once paid, mails each code to the
// buyer, and a cancellation disables them.
func TestGiftCardSoldInCheckout(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		a := newShopAPI(t, db, shopConfig(t))
		gift := a.product("GIFTCARD-50", 5000, 100)
		o := a.placeOrder(nil, gift, 2, a.product("MUG-1", 3000, 10), 1)
		drainOutbox(t, a.app)
		drainOutbox(t, a.app) // the cards' own events, for notify
		if got := a.emails("gift_card"); len(got) != 2 || !strings.HasPrefix(got[0], "buyer@example.com ") {
			t.Fatalf("gift card mails: %v", got)
		}
		var bodies []string
		rows, err := db.QueryContext(context.Background(), `SELECT text_body FROM notify_emails WHERE template = 'gift_card'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b string
			rows.Scan(&b)
			bodies = append(bodies, b)
		}
		rows.Close()
		codeRE := regexp.MustCompile(`[A-Z2-9]{4}(-[A-Z2-9]{4}){3}`)
		for _, b := range bodies {
			code := codeRE.FindString(b)
			var bal giftcard.Balance
			a.do("GET", "/api/v1/gift-cards/"+code, nil).wantStatus(http.StatusOK).decode(&bal)
			if bal.Balance != (money.Money{Amount: 5000, Currency: "EUR"}) {
				t.Fatalf("card %s: %+v", code, bal)
			}
		}
		var page giftcard.Page
		a.do("GET", "/api/v1/admin/gift-cards", nil, bearer(a.staff)).wantStatus(http.StatusOK).decode(&page)
		if len(page.Items) != 2 || page.Items[0].OrderID != o.ID {
			t.Fatalf("cards: %+v", page)
		}

		a.do("POST", "/api/v1/admin/orders/"+o.ID+"/cancel", map[string]any{"reason": "changed mind"}, bearer(a.staff)).wantStatus(http.StatusOK)
		drainOutbox(t, a.app)
		a.do("GET", "/api/v1/admin/gift-cards?status=disabled", nil, bearer(a.staff)).wantStatus(http.StatusOK).decode(&page)
		if len(page.Items) != 2 {
			t.Fatalf("cards disabled after the cancellation: %+v", page)
		}
		for _, b := range bodies {
			a.do("GET", "/api/v1/gift-cards/"+codeRE.FindString(b), nil).wantStatus(http.StatusNotFound)
		}
	})
}
