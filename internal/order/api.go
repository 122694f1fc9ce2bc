package order

import (
	"net/http"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

func respond(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	web.JSON(w, status, v)
}

// HandleGet serves GET /api/v1/orders/{id}: for its customer (bearer token
// or session), staff, or with ?access_token= (guests). Anyone else gets 404.
func HandleGet(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		o, err := svc.GetFor(r.Context(), r.PathValue("id"), r.URL.Query().Get("access_token"))
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, o)
		return nil
	}
}

func listQuery(r *http.Request) (ListQuery, error) {
	limit, err := web.QueryInt(r, "limit", 20, 1, 100)
	if err != nil {
		return ListQuery{}, err
	}
	q := r.URL.Query()
	lq := ListQuery{Limit: limit, Cursor: q.Get("cursor"), Status: q.Get("status"), Email: q.Get("email"), CustomerID: q.Get("customer_id")}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &lq.From}, {"to", &lq.To}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse("2006-01-02", v)
			if err != nil {
				return ListQuery{}, apperr.Field(f.name, "must be a date like 2026-11-21")
			}
			*f.dst = t
		}
	}
	if !lq.To.IsZero() {
		lq.To = lq.To.AddDate(0, 0, 1) // inclusive end day
	}
	return lq, nil
}

// HandleMine serves GET /api/v1/me/orders: the signed-in customer's orders.
func HandleMine(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := auth.RequireAccount(r.Context())
		if err != nil {
			return err
		}
		lq, err := listQuery(r)
		if err != nil {
			return err
		}
		lq.CustomerID, lq.Email = p.AccountID, ""
		page, err := svc.List(r.Context(), lq)
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, page)
		return nil
	}
}

// HandleAdminList serves GET /api/v1/admin/orders?status=&email=&customer_id=&from=&to=.
func HandleAdminList(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		lq, err := listQuery(r)
		if err != nil {
			return err
		}
		page, err := svc.List(r.Context(), lq)
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, page)
		return nil
	}
}

// HandleAdminGet serves GET /api/v1/admin/orders/{id}.
func HandleAdminGet(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		o, err := svc.GetForStaff(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, o)
		return nil
	}
}

// HandleFulfill serves POST /api/v1/admin/orders/{id}/fulfillments with
// {"items":[{"item_id","quantity"}],"tracking_number"}.
func HandleFulfill(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Items          []FulfillmentLine `json:"items"`
			TrackingNumber string            `json:"tracking_number"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		o, err := svc.Fulfill(r.Context(), r.PathValue("id"), in.Items, in.TrackingNumber, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		respond(w, http.StatusCreated, o)
		return nil
	}
}

// HandleShip serves POST /api/v1/admin/orders/{id}/fulfillments/{fid}/ship with {"tracking_number"}.
func HandleShip(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			TrackingNumber string `json:"tracking_number"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		o, err := svc.Ship(r.Context(), r.PathValue("id"), r.PathValue("fid"), in.TrackingNumber, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, o)
		return nil
	}
}

// HandleDeliver serves POST /api/v1/admin/orders/{id}/deliver.
func HandleDeliver(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		o, err := svc.Deliver(r.Context(), r.PathValue("id"), auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, o)
		return nil
	}
}

// HandleCancel serves POST /api/v1/admin/orders/{id}/cancel with an optional {"reason"}.
func HandleCancel(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
		}
		o, err := svc.Cancel(r.Context(), r.PathValue("id"), in.Reason, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		respond(w, http.StatusOK, o)
		return nil
	}
}

// HandleRefund serves POST /api/v1/admin/orders/{id}/refunds with {"amount","restock"}.
func HandleRefund(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in RefundInput
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		o, err := svc.Refund(r.Context(), r.PathValue("id"), in, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		respond(w, http.StatusCreated, o)
		return nil
	}
}
