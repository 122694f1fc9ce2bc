package inventory

import (
	"net/http"

	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

type levelResponse struct {
	SKU               string `json:"sku"`
	OnHand            int64  `json:"on_hand"`
	Reserved          int64  `json:"reserved"`
	Available         int64  `json:"available"`
	Backorder         bool   `json:"backorder"`
	LowStockThreshold int64  `json:"low_stock_threshold"`
}

func respond(l Level) levelResponse {
	return levelResponse{SKU: l.SKU, OnHand: l.OnHand, Reserved: l.Reserved, Available: l.Available, Backorder: l.Backorder, LowStockThreshold: l.LowStockThreshold}
}

// HandleGet serves GET /api/v1/admin/inventory/{sku}.
func HandleGet(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		l, err := svc.Get(r.Context(), r.PathValue("sku"))
		if err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, respond(l))
		return nil
	}
}

// HandleSet serves PUT /api/v1/admin/inventory/{sku} with {"on_hand": n}
// (and optionally "backorder", "low_stock_threshold", "reason").
func HandleSet(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in SetInput
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		l, err := svc.Set(r.Context(), r.PathValue("sku"), in, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, respond(l))
		return nil
	}
}

// HandleAdjust serves POST /api/v1/admin/inventory/{sku}/adjustments with {"delta", "reason"}.
func HandleAdjust(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Delta  int64  `json:"delta"`
			Reason string `json:"reason"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		l, err := svc.Adjust(r.Context(), r.PathValue("sku"), in.Delta, in.Reason, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, respond(l))
		return nil
	}
}

// HandleMovements serves GET /api/v1/admin/inventory/{sku}/movements?limit=.
func HandleMovements(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		limit, err := web.QueryInt(r, "limit", 100, 1, 500)
		if err != nil {
			return err
		}
		if _, err := svc.Get(r.Context(), r.PathValue("sku")); err != nil {
			return err
		}
		ms, err := svc.Movements(r.Context(), r.PathValue("sku"), limit)
		if err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, map[string]any{"items": ms})
		return nil
	}
}

// HandleLowStock serves GET /api/v1/admin/inventory/low-stock.
func HandleLowStock(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		limit, err := web.QueryInt(r, "limit", 50, 1, 500)
		if err != nil {
			return err
		}
		ls, err := svc.LowStock(r.Context(), limit)
		if err != nil {
			return err
		}
		out := make([]levelResponse, len(ls))
		for i, l := range ls {
			out[i] = respond(l)
		}
		web.JSON(w, http.StatusOK, map[string]any{"items": out})
		return nil
	}
}
