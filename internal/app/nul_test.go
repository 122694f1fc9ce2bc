package app

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// TestNULAndInvalidUTF8NeverReachSQL: PostgreSQL refuses NUL and invalid
// UTF-8 in text, which used to surface as 500s on routes that pass a path
// segment, query value or body field to SQL. Every route now answers 400.
func TestNULAndInvalidUTF8NeverReachSQL(t *testing.T) {
	sqldbtest.ForEach(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		api := newTestAPI(t, db)
		tests := []struct {
			method, target, ctype, body string
			bearer                      string
		}{
			{"GET", "/api/v1/products/%00", "", "", ""},
			{"GET", "/api/v1/products?q=%00", "", "", ""},
			{"GET", "/api/v1/products?q=%ff", "", "", ""},
			{"GET", "/api/v1/admin/products/%00", "", "", api.staff},
			{"GET", "/api/v1/admin/inventory/%00", "", "", api.staff},
			{"GET", "/api/v1/admin/customers/%00", "", "", api.staff},
			{"POST", "/api/v1/admin/products", "application/json", `{"title":"a\u0000b","status":"active","variants":[{"sku":"NUL-1","price":{"amount":1,"currency":"EUR"}}]}`, api.staff},
			{"POST", "/api/v1/admin/categories", "application/json", `{"name":"x\u0000"}`, api.staff},
			{"GET", "/p/%00", "", "", ""},
			{"GET", "/c/%ff", "", "", ""},
			{"GET", "/search?q=%00", "", "", ""},
			{"POST", "/cart/items", "application/x-www-form-urlencoded", "variant_id=%00&quantity=1", ""},
		}
		for _, tt := range tests {
			r := httptest.NewRequest(tt.method, tt.target, bytes.NewBufferString(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			if tt.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+tt.bearer)
			}
			rec := httptest.NewRecorder()
			api.h.ServeHTTP(rec, r)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s %s %s: %d %s, want 400", tt.method, tt.target, tt.body, rec.Code, rec.Body)
			}
		}
		if n, _ := api.app.Catalog.CountProducts(t.Context()); n != 0 {
			t.Fatalf("a refused request created %d products", n)
		}
	})
}
