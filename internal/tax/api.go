package tax

import (
	"net/http"

	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// RateList is the answer of GET /api/v1/admin/tax/rates.
type RateList struct {
	PricesIncludeTax bool   `json:"prices_include_tax"`
	DefaultCountry   string `json:"default_country"`
	Items            []Rate `json:"items"`
}

// HandleListRates serves GET /api/v1/admin/tax/rates (staff).
func HandleListRates(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireStaff(r.Context()); err != nil {
			return err
		}
		rates, err := svc.Rates(r.Context())
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, RateList{PricesIncludeTax: svc.inclusive, DefaultCountry: svc.country, Items: rates})
		return nil
	}
}

// HandleSetRate serves PUT /api/v1/admin/tax/rates/{country} with
// {"rate_bp": n} (staff); {country} is an ISO code or "*".
func HandleSetRate(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireStaff(r.Context()); err != nil {
			return err
		}
		var in struct {
			RateBP *int64 `json:"rate_bp"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		rate, err := svc.setRate(r.Context(), r.PathValue("country"), in.RateBP)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, rate)
		return nil
	}
}
