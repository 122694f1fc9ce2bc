package customer

import (
	"net/http"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Customer  Account   `json:"customer"`
}

// HandleLogin serves POST /api/v1/auth/login with {"email","password"}.
func HandleLogin(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		var v apperr.Validator
		v.Check(in.Email != "", "email", "is required")
		v.Check(in.Password != "", "password", "is required")
		v.Check(len(in.Password) <= 1024, "password", "is too long")
		if err := v.Err(); err != nil {
			return err
		}
		a, err := svc.Authenticate(r.Context(), in.Email, in.Password)
		if err != nil {
			return err
		}
		token, exp, err := svc.IssueToken(r.Context(), a.ID, "api")
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, loginResponse{Token: token, ExpiresAt: exp, Customer: a})
		return nil
	}
}

// Authenticate resolves an "Authorization: Bearer" token into an
// auth.Principal on the request context. A request without credentials goes
// on anonymously; a request with bad credentials is refused with 401.
func Authenticate(svc *Service, writeErr func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			writeErr(w, r, apperr.New(apperr.Unauthorized, "Authorization must be 'Bearer <token>'"))
			return
		}
		p, err := svc.ResolveToken(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			writeErr(w, r, err)
			return
		}
		p.ViaCookie = false
		next.ServeHTTP(w, r.WithContext(auth.With(r.Context(), p)))
	})
}
