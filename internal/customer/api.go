package customer

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// LoginHook runs after a sign-in or registration whose body named a guest
// cart ("cart_id"), so that the cart module can merge that cart into the
// customer's. For a sign-in it runs after the password is checked and before
// the session is opened: an error fails the sign-in and leaves no session.
// For a registration it runs after the account has committed: an error is
// returned to the client, and the account stays. It should return nil when
// there is nothing to merge (an unknown, expired or already merged cart).
type LoginHook func(ctx context.Context, customerID, guestCartID string) error

// authResponse answers a sign-in or registration.
type authResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Customer  Account   `json:"customer"`
}

func checkCartID(v *apperr.Validator, cartID string) {
	v.Check(len(cartID) <= 100, "cart_id", "must be at most 100 characters")
}

// writeSession answers a sign-in or registration: the session and
// known-device cookies for browsers, and the session's secret as a bearer
// token for API clients.
func writeSession(w http.ResponseWriter, r *http.Request, status int, a Account, sess Session) {
	SetSessionCookie(w, r, sess.Token, sess.ExpiresAt)
	SetDeviceCookie(w, r, sess.Device)
	w.Header().Set("Cache-Control", "no-store")
	web.JSON(w, status, authResponse{Token: sess.Token, ExpiresAt: sess.ExpiresAt, Customer: a})
}

// HandleRegister serves POST /api/v1/auth/register with {"email",
// "password", "name", "cart_id"?}: it creates a customer account, signs it
// in (201, session cookie and bearer token) and then calls onLogin (nil:
// none) when a cart_id was given.
func HandleRegister(svc *Service, onLogin LoginHook) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (err error) {
		defer func() { ratelimit.SetRetryAfter(w.Header(), err) }()
		var in struct {
			Email    string `json:"email"`
			Password string `json:"password"`
			Name     string `json:"name"`
			CartID   string `json:"cart_id"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		var v apperr.Validator
		checkCartID(&v, in.CartID)
		if err := v.Err(); err != nil {
			return err
		}
		a, sess, err := svc.Register(r.Context(), in.Email, in.Password, in.Name)
		if err != nil {
			return err
		}
		if onLogin != nil && in.CartID != "" {
			if err := onLogin(r.Context(), a.ID, in.CartID); err != nil {
				return fmt.Errorf("register: merge guest cart: %w", err)
			}
		}
		w.Header().Set("Location", "/api/v1/me")
		writeSession(w, r, http.StatusCreated, a, sess)
		return nil
	}
}

// HandleLogin serves POST /api/v1/auth/login with {"email", "password",
// "cart_id"?}: it signs in (Service.Login's rules and limits; a 429 carries
// Retry-After), calls onLogin (nil: none) when a cart_id was given, and
// answers with the session and known-device cookies and the session's
// secret as a bearer token.
func HandleLogin(svc *Service, onLogin LoginHook) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (err error) {
		defer func() { ratelimit.SetRetryAfter(w.Header(), err) }()
		var in struct {
			Email    string `json:"email"`
			Password string `json:"password"`
			CartID   string `json:"cart_id"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		var v apperr.Validator
		v.Check(in.Email != "", "email", "is required")
		v.Check(len(in.Email) <= 254, "email", "is too long")
		v.Check(in.Password != "", "password", "is required")
		v.Check(len(in.Password) <= 1024, "password", "is too long")
		checkCartID(&v, in.CartID)
		if err := v.Err(); err != nil {
			return err
		}
		var before func(Account) error
		if onLogin != nil && in.CartID != "" {
			before = func(a Account) error {
				if err := onLogin(r.Context(), a.ID, in.CartID); err != nil {
					return fmt.Errorf("login: merge guest cart: %w", err)
				}
				return nil
			}
		}
		a, sess, err := svc.login(r.Context(), in.Email, in.Password, before)
		if err != nil {
			return err
		}
		writeSession(w, r, http.StatusOK, a, sess)
		return nil
	}
}

// HandleLogout serves POST /api/v1/auth/logout: it revokes the session or
// token that authenticated the request, and the session cookie's session
// when it is another one of the same account, and clears the cookie (204,
// also when nobody was signed in).
func HandleLogout(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		if err := svc.Logout(ctx); err != nil {
			return err
		}
		if p, ok := auth.From(ctx); ok && !p.ViaCookie {
			if secret := SessionToken(r); secret != "" {
				if cp, err := svc.ResolveToken(ctx, secret); err == nil && cp.AccountID == p.AccountID {
					if err := svc.RevokeToken(ctx, cp.SessionID); err != nil {
						return err
					}
				}
			}
		}
		ClearSessionCookie(w)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// HandleGetMe serves GET /api/v1/me: the signed-in account.
func HandleGetMe(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := auth.RequireAccount(r.Context())
		if err != nil {
			return err
		}
		a, err := svc.Account(r.Context(), p.AccountID)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, a)
		return nil
	}
}

// HandleUpdateMe serves PATCH /api/v1/me with {"name"?, "password"?,
// "current_password"?} (see Service.UpdateProfile).
func HandleUpdateMe(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (err error) {
		defer func() { ratelimit.SetRetryAfter(w.Header(), err) }()
		p, err := auth.RequireAccount(r.Context())
		if err != nil {
			return err
		}
		var patch ProfilePatch
		if err := web.Decode(w, r, &patch); err != nil {
			return err
		}
		a, err := svc.UpdateProfile(r.Context(), p, patch)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, a)
		return nil
	}
}

// HandleListAddresses serves GET /api/v1/me/addresses.
func HandleListAddresses(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := auth.RequireAccount(r.Context())
		if err != nil {
			return err
		}
		addrs, err := svc.Addresses(r.Context(), p.AccountID)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, map[string]any{"items": addrs})
		return nil
	}
}

// HandleCreateAddress serves POST /api/v1/me/addresses.
func HandleCreateAddress(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := auth.RequireAccount(r.Context())
		if err != nil {
			return err
		}
		var in AddressInput
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		a, err := svc.AddAddress(r.Context(), p.AccountID, in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/me/addresses/"+a.ID)
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusCreated, a)
		return nil
	}
}

// HandleUpdateAddress serves PATCH /api/v1/me/addresses/{id}: 404 for an
// address of another account.
func HandleUpdateAddress(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := auth.RequireAccount(r.Context())
		if err != nil {
			return err
		}
		var patch AddressPatch
		if err := web.Decode(w, r, &patch); err != nil {
			return err
		}
		a, err := svc.UpdateAddress(r.Context(), p.AccountID, r.PathValue("id"), patch)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, a)
		return nil
	}
}

// HandleDeleteAddress serves DELETE /api/v1/me/addresses/{id} (204): 404
// for an address of another account.
func HandleDeleteAddress(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := auth.RequireAccount(r.Context())
		if err != nil {
			return err
		}
		if err := svc.DeleteAddress(r.Context(), p.AccountID, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// HandleAdminListCustomers serves GET /api/v1/admin/customers?q=&limit=&cursor= (staff).
func HandleAdminListCustomers(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireStaff(r.Context()); err != nil {
			return err
		}
		limit, err := web.QueryInt(r, "limit", 20, 1, 100)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		page, err := svc.Customers(r.Context(), CustomerQuery{Q: q.Get("q"), Limit: limit, Cursor: q.Get("cursor")})
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, page)
		return nil
	}
}

// HandleAdminGetCustomer serves GET /api/v1/admin/customers/{id} (staff):
// the account and its addresses.
func HandleAdminGetCustomer(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireStaff(r.Context()); err != nil {
			return err
		}
		c, err := svc.Customer(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, c)
		return nil
	}
}

// HandleListStaff serves GET /api/v1/admin/staff (admin role only).
func HandleListStaff(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireAdmin(r.Context()); err != nil {
			return err
		}
		staff, err := svc.StaffMembers(r.Context())
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, map[string]any{"items": staff})
		return nil
	}
}

// HandleCreateStaff serves POST /api/v1/admin/staff with {"email",
// "password", "name", "role"} (admin role only).
func HandleCreateStaff(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireAdmin(r.Context()); err != nil {
			return err
		}
		var in struct {
			Email    string    `json:"email"`
			Password string    `json:"password"`
			Name     string    `json:"name"`
			Role     auth.Role `json:"role"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		a, err := svc.CreateStaff(r.Context(), in.Email, in.Password, in.Name, in.Role)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusCreated, a)
		return nil
	}
}

// HandleUpdateStaff serves PATCH /api/v1/admin/staff/{id} with {"role"}
// (admin role only).
func HandleUpdateStaff(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := auth.RequireAdmin(r.Context()); err != nil {
			return err
		}
		var in struct {
			Role auth.Role `json:"role"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if in.Role == "" {
			return apperr.Field("role", "is required")
		}
		a, err := svc.SetStaffRole(r.Context(), r.PathValue("id"), in.Role)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, http.StatusOK, a)
		return nil
	}
}

// HandlePasswordReset serves POST /api/v1/auth/password-reset with
// {"email"}: 202 with no body whether or not an account has the address
// (Service.RequestPasswordReset; a 429 carries Retry-After).
func HandlePasswordReset(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (err error) {
		defer func() { ratelimit.SetRetryAfter(w.Header(), err) }()
		var in struct {
			Email string `json:"email"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if err := svc.RequestPasswordReset(r.Context(), in.Email); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
}

// HandlePasswordResetConfirm serves POST /api/v1/auth/password-reset/confirm
// with {"token", "password"}: 204 once the password is set
// (Service.ResetPassword).
func HandlePasswordResetConfirm(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Token    string `json:"token"`
			Password string `json:"password"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if _, err := svc.ResetPassword(r.Context(), in.Token, in.Password); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// HandleVerifyEmail serves POST /api/v1/auth/verify-email with {"token"}:
// 204 once the address is verified (Service.VerifyEmail).
func HandleVerifyEmail(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Token string `json:"token"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if _, err := svc.VerifyEmail(r.Context(), in.Token); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// HandleResendVerification serves POST /api/v1/me/email-verification: 202
// once a new verification link is on its way (Service.ResendVerification).
func HandleResendVerification(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (err error) {
		defer func() { ratelimit.SetRetryAfter(w.Header(), err) }()
		p, err := auth.RequireAccount(r.Context())
		if err != nil {
			return err
		}
		if err := svc.ResendVerification(r.Context(), p); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
}

// HandleRequestEmailChange serves POST /api/v1/me/email-change with
// {"email", "current_password"}: 202 once the confirmation link to the new
// address is on its way (Service.RequestEmailChange).
func HandleRequestEmailChange(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (err error) {
		defer func() { ratelimit.SetRetryAfter(w.Header(), err) }()
		p, err := auth.RequireAccount(r.Context())
		if err != nil {
			return err
		}
		var in struct {
			Email           string `json:"email"`
			CurrentPassword string `json:"current_password"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if err := svc.RequestEmailChange(r.Context(), p, in.Email, in.CurrentPassword); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
}

// HandleConfirmEmailChange serves POST /api/v1/auth/email-change/confirm
// with {"token"}: 204 once the address has changed
// (Service.ConfirmEmailChange).
func HandleConfirmEmailChange(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Token string `json:"token"`
		}
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if _, err := svc.ConfirmEmailChange(r.Context(), in.Token); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
