package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/app"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestPromotionPages: staff create a promotion with the form, are shown
// their mistakes next to the fields, edit it, see its usage and delete it.
func TestPromotionPages(t *testing.T) {
	sqldbtest.ForEach(t, app.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newShop(t, db)
		ctx := context.Background()
		cat, err := s.a.Catalog.CreateCategory(ctx, catalog.CategoryInput{Name: "Mugs"})
		if err != nil {
			t.Fatal(err)
		}
		if rec := s.do(t, s.cookie, "GET", "/admin/promotions", nil, ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "No promotions yet") {
			t.Fatalf("empty list: %d", rec.Code)
		}
		if rec := s.do(t, s.cookie, "GET", "/admin/promotions/new", nil, ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `name="category_ids" value="`+cat.ID+`"`) {
			t.Fatalf("new form: %d", rec.Code)
		}

		// Mistakes come back next to their fields, with the input kept.
		bad := url.Values{"name": {"Mug week"}, "code": {"mug week"}, "type": {"fixed"}, "value": {"five"}, "starts_at": {"soon"}, "usage_limit": {"0"}}
		rec := s.form(t, s.cookie, "/admin/promotions", bad)
		body := rec.Body.String()
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(body, `value="Mug week"`) || strings.Count(body, `class="ferr"`) < 3 {
			t.Fatalf("refused form: %d\n%s", rec.Code, body)
		}
		if ps, _ := s.a.Promotions.List(ctx); len(ps) != 0 {
			t.Fatalf("a refused form created %d promotions", len(ps))
		}
		rec = s.form(t, s.cookie, "/admin/promotions", url.Values{"name": {"Mug week"}, "code": {"mug week"}, "type": {"fixed"}, "value": {"5.00"}})
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "may hold only letters") {
			t.Fatalf("a bad code: %d\n%s", rec.Code, rec.Body.String())
		}

		rec = s.form(t, s.cookie, "/admin/promotions", url.Values{"name": {"Mug week"}, "code": {"mugs5"}, "type": {"fixed"}, "value": {"5.00"},
			"min_subtotal": {"20"}, "category_ids": {cat.ID}, "starts_at": {"2026-01-01T09:00"}, "usage_limit": {"100"}, "active": {"on"}})
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/admin/promotions/") {
			t.Fatalf("create: %d %s", rec.Code, rec.Body.String())
		}
		page := rec.Header().Get("Location")
		ps, _ := s.a.Promotions.List(ctx)
		if len(ps) != 1 || ps[0].Code != "MUGS5" || ps[0].Value != 500 || ps[0].MinSubtotal != 2000 || len(ps[0].CategoryIDs) != 1 ||
			ps[0].StartsAt == nil || ps[0].StartsAt.Hour() != 9 || *ps[0].UsageLimit != 100 || !ps[0].Active {
			t.Fatalf("created %+v", ps)
		}
		rec = s.do(t, s.cookie, "GET", page, nil, "")
		body = rec.Body.String()
		for _, want := range []string{`value="MUGS5"`, `value="5.00"`, `value="2026-01-01T09:00"`, "Uses left", "€5.00 off"} {
			if !strings.Contains(body, want) {
				t.Fatalf("edit page lacks %q:\n%s", want, body)
			}
		}

		// Edit: the form sets every field; empty optional fields clear.
		rec = s.form(t, s.cookie, page, url.Values{"name": {"Mug fortnight"}, "code": {""}, "type": {"percentage"}, "value": {"15"}, "exclusive": {"on"}})
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("update: %d %s", rec.Code, rec.Body.String())
		}
		ps, _ = s.a.Promotions.List(ctx)
		if p := ps[0]; p.Name != "Mug fortnight" || p.Code != "" || p.Value != 15 || p.StartsAt != nil || p.UsageLimit != nil || p.Active || !p.Exclusive ||
			len(p.CategoryIDs) != 0 || p.MinSubtotal != 0 {
			t.Fatalf("updated %+v", p)
		}
		if rec := s.do(t, s.cookie, "GET", "/admin/promotions", nil, ""); !strings.Contains(rec.Body.String(), "Mug fortnight") || !strings.Contains(rec.Body.String(), "automatic") {
			t.Fatalf("list:\n%s", rec.Body.String())
		}

		// Delete.
		rec = s.form(t, s.cookie, page+"/delete", url.Values{})
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/promotions" {
			t.Fatalf("delete: %d", rec.Code)
		}
		if rec := s.do(t, s.cookie, "GET", page, nil, ""); rec.Code != http.StatusNotFound {
			t.Fatalf("deleted promotion's page: %d", rec.Code)
		}
		// Anonymous visitors are sent to sign in.
		if rec := s.do(t, "", "GET", "/admin/promotions", nil, ""); rec.Code != http.StatusSeeOther {
			t.Fatalf("anonymous: %d", rec.Code)
		}
	})
}
