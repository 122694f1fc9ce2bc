package analytics

import (
	"net/http"

	"github.com/mercato-shop/mercato/internal/platform/web"
)

// HandleSales serves GET /api/v1/admin/analytics/sales?days=30&currency=EUR
// (a staff route): the last days up to today (UTC), oldest first, every day
// present.
func HandleSales(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		days, err := web.QueryInt(r, "days", 30, 1, MaxDays)
		if err != nil {
			return err
		}
		sales, err := svc.Sales(r.Context(), SalesQuery{Days: days, Currency: r.URL.Query().Get("currency")})
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, sales)
		return nil
	}
}
