package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestAffiliatesPanel: staff approve an application, set a commission
// rate, record a payout and export the list from the panel.
func TestAffiliatesPanel(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db)
		ctx := context.Background()
		stock := int64(20)
		p, err := s.a.Catalog.CreateProduct(ctx, catalog.ProductInput{Title: "Panel kettle", Status: catalog.StatusActive,
			Variants: []catalog.VariantInput{{SKU: "PANEL-KETTLE", Price: money.Money{Amount: 5000, Currency: "EUR"}, Stock: &stock}}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		apply := func(email, name string) affiliate.Affiliate {
			a, _, err := s.a.Affiliates.Apply(ctx, auth.Principal{AccountID: ids.New(), Email: email, Name: name}, "I write about tea")
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		ann := apply("ann@example.com", "Ann")
		apply("=cmd@example.com", `@SUM(1+1)`)

		if rec := s.do(t, "", "GET", "/admin/affiliates", nil, ""); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/admin/login") {
			t.Fatalf("anonymous: %d", rec.Code)
		}
		page := s.do(t, s.cookie, "GET", "/admin/affiliates?status=pending", nil, "")
		if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), ann.Code) || !strings.Contains(page.Body.String(), "I write about tea") ||
			!strings.Contains(page.Body.String(), `href="/admin/affiliates.csv?status=pending"`) {
			t.Fatalf("list: %d\n%s", page.Code, page.Body)
		}

		// Approve, keeping the list's filter.
		rec := s.form(t, s.cookie, "/admin/affiliates/"+ann.ID, url.Values{"status": {"approved"}, "back": {"status=pending&q="}})
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/affiliates?status=pending" {
			t.Fatalf("approve: %d to %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
		// A rate that is no percentage: the list again with the reason.
		rec = s.form(t, s.cookie, "/admin/affiliates/"+ann.ID, url.Values{"set_rate": {"1"}, "commission_percent": {"lots"}})
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "commission_percent") {
			t.Fatalf("a bad rate: %d\n%s", rec.Code, rec.Body)
		}
		if rec = s.form(t, s.cookie, "/admin/affiliates/"+ann.ID, url.Values{"set_rate": {"1"}, "commission_percent": {"7.5"}}); rec.Code != http.StatusSeeOther {
			t.Fatalf("set the rate: %d %s", rec.Code, rec.Body)
		}
		list, err := s.a.Affiliates.List(ctx, affiliate.ListQuery{Status: affiliate.StatusApproved})
		if err != nil || len(list.Items) != 1 || list.Items[0].CommissionPercent != 7.5 {
			t.Fatalf("after the decisions: %+v %v", list.Items, err)
		}

		// A referred order past its return window: the payout.
		var c struct{ ID string }
		s.api(t, "POST", "/api/v1/carts", map[string]any{"referral_code": ann.Code}, nil, &c)
		s.api(t, "POST", "/api/v1/carts/"+c.ID+"/items", map[string]any{"variant_id": p.Variants[0].ID, "quantity": 2}, nil, nil)
		var ms struct{ Items []struct{ ID string } }
		s.api(t, "GET", "/api/v1/shipping-methods?cart_id="+c.ID+"&country=DE", nil, nil, &ms)
		s.api(t, "POST", "/api/v1/carts/"+c.ID+"/checkout", map[string]any{
			"email": "buyer@example.com", "payment_method": "pm_card_visa", "shipping_method_id": ms.Items[0].ID,
			"shipping_address": map[string]string{"name": "B", "line1": "Weg 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
		}, http.Header{"Idempotency-Key": {"k-" + c.ID}}, nil)
		for {
			n, err := s.a.Relay.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p, _ := outbox.Pending(ctx, s.a.DB); n == 0 || p == 0 {
				break
			}
		}
		if rec = s.form(t, s.cookie, "/admin/affiliates/"+ann.ID+"/payouts", url.Values{"reference": {"SEPA 7"}}); rec.Code != http.StatusConflict ||
			!strings.Contains(rec.Body.String(), "nothing to pay") {
			t.Fatalf("a payout before the return window: %d\n%s", rec.Code, rec.Body)
		}
		if _, err := s.a.Affiliates.ApproveDue(ctx, time.Now().Add(affiliate.DefaultReturnWindow+time.Hour)); err != nil {
			t.Fatal(err)
		}
		// 2 × 50.00, tax added on top (this shop's prices exclude it): 7.5 % of 100.00.
		if page := s.do(t, s.cookie, "GET", "/admin/affiliates?status=approved", nil, "").Body.String(); !strings.Contains(page, "Mark paid") || !strings.Contains(page, "€7.50") {
			t.Fatalf("approved commission not shown:\n%s", page)
		}
		rec = s.form(t, s.cookie, "/admin/affiliates/"+ann.ID+"/payouts", url.Values{"reference": {"SEPA 7"}, "back": {"status=approved"}})
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/affiliates?status=approved" {
			t.Fatalf("payout: %d %s", rec.Code, rec.Body)
		}
		flash := s.do(t, s.cookie+"; "+rec.Header().Get("Set-Cookie"), "GET", "/admin/affiliates?status=approved", nil, "")
		if !strings.Contains(flash.Body.String(), "Recorded a payout of €7.50 (1 commissions).") {
			t.Fatalf("no flash after the payout:\n%s", flash.Body)
		}

		// The export: formulas people typed are defused.
		csvRec := s.do(t, s.cookie, "GET", "/admin/affiliates.csv", nil, "")
		body := csvRec.Body.String()
		if csvRec.Code != http.StatusOK || csvRec.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.Contains(body, `'@SUM(1+1)`) || !strings.Contains(body, "'=cmd@example.com") || !strings.Contains(body, ann.Code+",approved,7.5,") {
			t.Fatalf("export: %d %q\n%s", csvRec.Code, csvRec.Header().Get("Content-Type"), body)
		}
	})
}
