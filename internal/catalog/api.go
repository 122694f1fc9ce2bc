package catalog

import (
	"net/http"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// catalogMaxAge is how long clients and proxies may cache public catalog reads.
const catalogMaxAge = 30

// listQueryFromRequest reads limit, cursor, category, q, sort, status and
// attr.KEY=VALUE parameters.
func listQueryFromRequest(r *http.Request) (ListQuery, error) {
	limit, err := web.QueryInt(r, "limit", 20, 1, 100)
	if err != nil {
		return ListQuery{}, err
	}
	q := r.URL.Query()
	lq := ListQuery{Limit: limit, Cursor: q.Get("cursor"), Category: q.Get("category"), Q: q.Get("q"), Sort: Sort(q.Get("sort")),
		Featured: q.Get("featured") == "true"}
	for k, vs := range q {
		if key, ok := strings.CutPrefix(k, "attr."); ok && len(vs) > 0 && vs[0] != "" {
			if lq.Attrs == nil {
				lq.Attrs = map[string]string{}
			}
			lq.Attrs[key] = vs[0]
		}
	}
	return lq, nil
}

// HandleListProducts serves GET /api/v1/products: active products only.
func HandleListProducts(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		lq, err := listQueryFromRequest(r)
		if err != nil {
			return err
		}
		page, err := svc.ListProducts(r.Context(), lq)
		if err != nil {
			return err
		}
		return web.CachedJSON(w, r, page, catalogMaxAge)
	}
}

// HandleGetProduct serves GET /api/v1/products/{id}: by id or slug, active only.
func HandleGetProduct(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := svc.GetProduct(r.Context(), r.PathValue("id"), true)
		if err != nil {
			return err
		}
		return web.CachedJSON(w, r, p, catalogMaxAge)
	}
}

// HandleListCategories serves GET /api/v1/categories.
func HandleListCategories(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		cats, err := svc.Categories(r.Context())
		if err != nil {
			return err
		}
		return web.CachedJSON(w, r, map[string]any{"items": cats}, catalogMaxAge)
	}
}

// HandleAdminListProducts serves GET /api/v1/admin/products: every status
// unless ?status= narrows it.
func HandleAdminListProducts(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		lq, err := listQueryFromRequest(r)
		if err != nil {
			return err
		}
		lq.Statuses = []Status{StatusDraft, StatusActive, StatusArchived}
		if st := r.URL.Query().Get("status"); st != "" {
			lq.Statuses = []Status{Status(st)}
		}
		page, err := svc.ListProducts(r.Context(), lq)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, page)
		return nil
	}
}

// HandleAdminGetProduct serves GET /api/v1/admin/products/{id} (any status).
func HandleAdminGetProduct(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := svc.GetProduct(r.Context(), r.PathValue("id"), false)
		if err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, p)
		return nil
	}
}

// HandleCreateProduct serves POST /api/v1/admin/products.
func HandleCreateProduct(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in ProductInput
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		p, err := svc.CreateProduct(r.Context(), in, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/admin/products/"+p.ID)
		web.JSON(w, http.StatusCreated, p)
		return nil
	}
}

// HandleUpdateProduct serves PATCH /api/v1/admin/products/{id}.
func HandleUpdateProduct(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var patch ProductPatch
		if err := web.Decode(w, r, &patch); err != nil {
			return err
		}
		p, err := svc.UpdateProduct(r.Context(), r.PathValue("id"), patch, auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, p)
		return nil
	}
}

// HandleArchiveProduct serves DELETE /api/v1/admin/products/{id}: it archives.
func HandleArchiveProduct(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := svc.ArchiveProduct(r.Context(), r.PathValue("id"), auth.Actor(r.Context()))
		if err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, p)
		return nil
	}
}

// HandleCreateCategory serves POST /api/v1/admin/categories.
func HandleCreateCategory(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in CategoryInput
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if in.ParentID != nil && *in.ParentID == "" {
			return apperr.Field("parent_id", "must be a category id or null")
		}
		c, err := svc.CreateCategory(r.Context(), in)
		if err != nil {
			return err
		}
		web.JSON(w, http.StatusCreated, c)
		return nil
	}
}
