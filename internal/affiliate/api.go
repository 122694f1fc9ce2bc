package affiliate

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

// HandleApply serves POST /api/v1/me/affiliate with an optional {"note"}:
// 201 with the new application (status pending, its code), or 200 with the
// account's record when it applied before.
func HandleApply(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Note string `json:"note"`
		}
		if r.ContentLength != 0 {
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
		}
		p, _ := auth.From(r.Context())
		a, created, err := svc.Apply(r.Context(), p, in.Note)
		if err != nil {
			return err
		}
		noStore(w)
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		web.JSON(w, status, a)
		return nil
	}
}

// HandleMine serves GET /api/v1/me/affiliate: the signed-in account's
// affiliate dashboard (404 when it never applied).
func HandleMine(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.From(r.Context())
		d, err := svc.Mine(r.Context(), p.AccountID)
		if err != nil {
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusOK, d)
		return nil
	}
}

func listQuery(r *http.Request, limit int) ListQuery {
	q := r.URL.Query()
	return ListQuery{Status: q.Get("status"), Q: q.Get("q"), Limit: limit, Cursor: q.Get("cursor")}
}

// HandleAdminList serves GET /api/v1/admin/affiliates?status=&q=&limit=&cursor=
// (staff): affiliates with their figures, newest first.
func HandleAdminList(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		limit, err := web.QueryInt(r, "limit", 20, 1, 100)
		if err != nil {
			return err
		}
		page, err := svc.List(r.Context(), listQuery(r, limit))
		if err != nil {
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusOK, page)
		return nil
	}
}

// HandleExport serves GET /api/v1/admin/affiliates/export.csv?status=&q=
// (staff): the same affiliates as the list, all of them, as CSV.
func HandleExport(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := svc.ExportCSV(r.Context(), listQuery(r, 0))
		if err != nil {
			return err
		}
		WriteCSV(w, body)
		return nil
	}
}

// WriteCSV answers with an export made by ExportCSV, as a download.
func WriteCSV(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="affiliates-`+time.Now().UTC().Format("2006-01-02")+`.csv"`)
	h.Set("X-Content-Type-Options", "nosniff")
	noStore(w)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// HandleAdminUpdate serves PATCH /api/v1/admin/affiliates/{id} (staff) with
// {"status": "approved"|"rejected", "commission_percent": 12.5 or null (the
// default)}; absent fields stay.
func HandleAdminUpdate(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Status  *string         `json:"status"`
			Percent json.RawMessage `json:"commission_percent"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		p := Patch{Status: in.Status}
		if len(in.Percent) > 0 {
			p.SetRate = true
			if !bytes.Equal(in.Percent, []byte("null")) {
				r, err := ParsePercent(string(in.Percent))
				if err != nil {
					return err
				}
				p.Rate = &r
			}
		}
		a, err := svc.Update(r.Context(), r.PathValue("id"), p)
		if err != nil {
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusOK, a)
		return nil
	}
}

// ParsePercent reads a commission percentage (a JSON number or a form's
// text: "12.5"); anything but a number from 0 to 100 with at most two
// decimals is Invalid on "commission_percent".
func ParsePercent(s string) (Rate, error) {
	bad := apperr.Field("commission_percent", "must be a number between 0 and 100 with at most two decimals")
	var f float64
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &f); err != nil {
		return 0, bad
	}
	r, ok := RateFromPercent(f)
	if !ok {
		return 0, bad
	}
	return r, nil
}

// HandlePayout serves POST /api/v1/admin/affiliates/{id}/payouts (staff)
// with an optional {"reference"}: 201 with the payout of everything
// approved; 409 when there is nothing to pay.
func HandlePayout(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Reference string `json:"reference"`
		}
		if r.ContentLength != 0 {
			if err := web.Decode(w, r, &in); err != nil {
				return err
			}
		}
		staff, _ := auth.From(r.Context())
		p, err := svc.Payout(r.Context(), r.PathValue("id"), PayoutInput{Reference: in.Reference}, staff.Email)
		if err != nil {
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusCreated, p)
		return nil
	}
}

// HandlePayouts serves GET /api/v1/admin/affiliates/{id}/payouts (staff):
// the affiliate's latest payouts, newest first.
func HandlePayouts(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ps, err := svc.Payouts(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		noStore(w)
		web.JSON(w, http.StatusOK, map[string]any{"items": ps})
		return nil
	}
}

// TrackOptions are what Track needs from the rest of the shop.
type TrackOptions struct {
	ClientIP func(*http.Request) string // the client's address (behind trusted proxies, the forwarded one)
	CartOf   func(*http.Request) string // the visitor's storefront cart id; "" when there is none
	Log      *slog.Logger
}

// tracked reports whether path is a storefront page where ?ref= counts:
// not the API, the admin panel, static files or the operations endpoints.
func tracked(path string) bool {
	for _, p := range []string{"/api/", "/admin", "/static/", "/media/", "/healthz", "/readyz", "/metrics", "/sitemap.xml", "/robots.txt"} {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	return true
}

// robot reports whether a User-Agent says it is a crawler: its visits set
// nothing and count nothing.
func robot(ua string) bool {
	ua = strings.ToLower(ua)
	for _, w := range []string{"bot", "crawl", "spider", "slurp", "preview", "facebookexternalhit"} {
		if strings.Contains(ua, w) {
			return true
		}
	}
	return false
}

// Track is the middleware that follows referrals. A GET of a storefront
// page with ?ref=CODE of an approved affiliate counts a click (once per
// client address and hour; not for robots), sets the referral cookie for
// the window (last click wins) and refers the visitor's cart, if it has
// one, to that affiliate. Every request carrying the cookie gets its
// referral in the context (WithReferral), for carts made during it
// (Service.ReferCart). An unknown code changes nothing; a database error
// is logged and the page is served all the same.
func Track(svc *Service, opts TrackOptions, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.URL.RawQuery, "ref=") && tracked(r.URL.Path) {
			if code := r.URL.Query().Get("ref"); code != "" && !robot(r.UserAgent()) {
				cartID := ""
				if opts.CartOf != nil {
					cartID = opts.CartOf(r)
				}
				ref, ok, err := svc.Click(ctx, code, opts.ClientIP(r), cartID)
				if err != nil && opts.Log != nil {
					opts.Log.WarnContext(ctx, "affiliate: click not recorded", "err", err)
				}
				if ok {
					http.SetCookie(w, &http.Cookie{Name: CookieName, Value: FormatCookie(ref.Code, ref.ClickedAt), Path: "/",
						MaxAge: int(svc.Window().Seconds()), Expires: ref.ClickedAt.Add(svc.Window()),
						HttpOnly: true, Secure: web.IsHTTPS(r), SameSite: http.SameSiteLaxMode})
					w.Header().Set("Cache-Control", "no-store")
					next.ServeHTTP(w, r.WithContext(WithReferral(ctx, ref)))
					return
				}
			}
		}
		if c, err := r.Cookie(CookieName); err == nil {
			if code, at, ok := ParseCookie(c.Value); ok {
				r = r.WithContext(WithReferral(ctx, Referral{Code: code, ClickedAt: at}))
			}
		}
		next.ServeHTTP(w, r)
	})
}
