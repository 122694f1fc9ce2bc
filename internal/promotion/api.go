package promotion

import (
	"net/http"

	"github.com/mercato-shop/mercato/internal/platform/web"
)

func respond(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	web.JSON(w, status, v)
}

// List is the answer of GET /api/v1/admin/promotions.
type List struct {
	Items []Promotion `json:"items"`
}

// HandleList serves GET /api/v1/admin/promotions (staff): every promotion,
// newest first.
func HandleList(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ps, err := svc.List(r.Context())
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, List{Items: ps})
		return nil
	}
}

// HandleCreate serves POST /api/v1/admin/promotions (staff) with an Input:
// 201 with the promotion and its usage.
func HandleCreate(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in Input
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		p, err := svc.Create(r.Context(), in)
		if err != nil {
			return err
		}
		rep, err := svc.Report(r.Context(), p.ID)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/admin/promotions/"+p.ID)
		respond(w, http.StatusCreated, rep)
		return nil
	}
}

// HandleGet serves GET /api/v1/admin/promotions/{id} (staff): the
// promotion with its usage report.
func HandleGet(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rep, err := svc.Report(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, rep)
		return nil
	}
}

// HandleUpdate serves PATCH /api/v1/admin/promotions/{id} (staff) with a
// Patch: the promotion with its usage report.
func HandleUpdate(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in Patch
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		p, err := svc.Update(r.Context(), r.PathValue("id"), in)
		if err != nil {
			return err
		}
		rep, err := svc.Report(r.Context(), p.ID)
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, rep)
		return nil
	}
}

// HandleDelete serves DELETE /api/v1/admin/promotions/{id} (staff): 204.
func HandleDelete(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := svc.Delete(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
