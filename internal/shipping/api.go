package shipping

import (
	"net/http"

	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// ZoneList is the answer of GET /api/v1/admin/shipping/zones.
type ZoneList struct {
	DefaultCountry string `json:"default_country"`
	Currency       string `json:"currency"`
	Items          []Zone `json:"items"`
}

// HandleListZones serves GET /api/v1/admin/shipping/zones (staff).
func HandleListZones(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireStaff(r.Context()); err != nil {
			return err
		}
		zs, err := svc.Zones(r.Context())
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, ZoneList{DefaultCountry: svc.country, Currency: svc.currency, Items: zs})
		return nil
	}
}

// HandleCreateZone serves POST /api/v1/admin/shipping/zones (staff) with a ZoneInput.
func HandleCreateZone(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireStaff(r.Context()); err != nil {
			return err
		}
		var in ZoneInput
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		z, err := svc.CreateZone(r.Context(), in)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", "/api/v1/admin/shipping/zones/"+z.ID)
		web.JSON(w, http.StatusCreated, z)
		return nil
	}
}

// HandleReplaceZone serves PUT /api/v1/admin/shipping/zones/{id} (staff) with a ZoneInput.
func HandleReplaceZone(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireStaff(r.Context()); err != nil {
			return err
		}
		var in ZoneInput
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		z, err := svc.ReplaceZone(r.Context(), r.PathValue("id"), in)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, z)
		return nil
	}
}

// HandleDeleteZone serves DELETE /api/v1/admin/shipping/zones/{id} (staff).
func HandleDeleteZone(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireStaff(r.Context()); err != nil {
			return err
		}
		if err := svc.DeleteZone(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
