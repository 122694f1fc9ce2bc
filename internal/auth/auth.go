// Package auth carries who is making a request. The customer module
// authenticates (passwords, sessions, tokens) and puts a Principal in the
// request context; every other module only reads it through this package.
package auth

import (
	"context"
	"net/http"

	"github.com/mercato-shop/mercato/internal/apperr"
)

// Role is an account's role.
type Role string

const (
	RoleCustomer Role = "customer"
	RoleStaff    Role = "staff"
	RoleAdmin    Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleCustomer || r == RoleStaff || r == RoleAdmin }

// IsStaff reports whether r may use the admin panel and admin API.
func (r Role) IsStaff() bool { return r == RoleStaff || r == RoleAdmin }

// Principal is an authenticated account.
type Principal struct {
	AccountID string
	Email     string
	Name      string
	Role      Role
	SessionID string // the token or session that authenticated the request
	ViaCookie bool   // authenticated by a browser session cookie (CSRF applies)
}

type ctxKey struct{}

// With returns a context carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal of the request, if any.
func From(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok && p.AccountID != ""
}

// ErrUnauthenticated and ErrForbidden are the errors the helpers return.
var (
	ErrUnauthenticated = apperr.New(apperr.Unauthorized, "authentication required")
	ErrForbidden       = apperr.New(apperr.Forbidden, "staff access required")
)

// RequireStaff returns the principal when it is staff, or an Unauthorized
// (anonymous) or Forbidden (customer) error.
func RequireStaff(ctx context.Context) (Principal, error) {
	p, ok := From(ctx)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	if !p.Role.IsStaff() {
		return Principal{}, ErrForbidden
	}
	return p, nil
}

// RequireAdmin is RequireStaff for the admin role only.
func RequireAdmin(ctx context.Context) (Principal, error) {
	p, err := RequireStaff(ctx)
	if err != nil {
		return p, err
	}
	if p.Role != RoleAdmin {
		return Principal{}, apperr.New(apperr.Forbidden, "admin role required")
	}
	return p, nil
}

// RequireAccount returns the principal of any signed-in account.
func RequireAccount(ctx context.Context) (Principal, error) {
	p, ok := From(ctx)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

// StaffOnly wraps a handler so that it runs only for staff; errors are
// written with writeErr (the web package's error writer).
func StaffOnly(writeErr func(http.ResponseWriter, *http.Request, error), h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := RequireStaff(r.Context()); err != nil {
			writeErr(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Actor names who is acting, for ledgers and timelines: the signed-in
// account's e-mail, or "system" when nobody is.
func Actor(ctx context.Context) string {
	if p, ok := From(ctx); ok {
		return p.Email
	}
	return "system"
}
