package customer

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
)

// SessionCookie is the name of the browser session cookie.
const SessionCookie = "mercato_session"

// SetSessionCookie gives a browser the session secret token (from Login or
// Register): HttpOnly, SameSite=Lax, Path=/, Secure when the request came
// over TLS or through a proxy that says X-Forwarded-Proto: https. expires is
// when the session ends; the zero time means SessionTTL from now.
func SetSessionCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	if expires.IsZero() {
		expires = time.Now().Add(SessionTTL)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    token,
		Path:     "/",
		Expires:  expires.UTC(),
		MaxAge:   max(int(time.Until(expires).Seconds()), 1),
		HttpOnly: true,
		Secure:   r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https", // the app keeps the header only from trusted proxies (web.TrustForwardedProto)
		SameSite: http.SameSiteLaxMode,
	})
}

// ClearSessionCookie tells the browser to forget its session cookie (after
// Logout, or when the cookie's session is no longer valid).
func ClearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		Expires:  time.Unix(0, 0),
		MaxAge:   -1,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// SessionToken returns the secret of the request's session cookie, or "".
func SessionToken(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// DeviceCookie is the name of the known-device cookie: a secret a browser
// is given at a successful sign-in and keeps for KnownDeviceTTL (signing
// out keeps it). Sign-ins from a device the account knows are counted apart
// from everyone else's (see LoginFreeAttempts), so other people's wrong
// passwords cannot lock the owner out. Only its hash is stored.
const DeviceCookie = "mercato_device"

const devicePrefix = "mcd_"

// validDevice reports whether secret looks like a device secret (anything
// else is ignored without a query).
func validDevice(secret string) bool {
	return strings.HasPrefix(secret, devicePrefix) && len(secret) <= 100
}

// SetDeviceCookie gives a browser its known-device secret (Session.Device,
// after Login or Register) for KnownDeviceTTL: HttpOnly, SameSite=Lax,
// Path=/, Secure over HTTPS like the session cookie. An empty secret sets
// nothing.
func SetDeviceCookie(w http.ResponseWriter, r *http.Request, secret string) {
	if secret == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     DeviceCookie,
		Value:    secret,
		Path:     "/",
		Expires:  time.Now().Add(KnownDeviceTTL).UTC(),
		MaxAge:   int(KnownDeviceTTL.Seconds()),
		HttpOnly: true,
		Secure:   r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
		SameSite: http.SameSiteLaxMode,
	})
}

type deviceKey struct{}

// WithDevice returns a context that carries the known-device secret the
// client sent (its DeviceCookie), which Login looks up. Authenticate sets
// it for every request that has the cookie.
func WithDevice(ctx context.Context, secret string) context.Context {
	return context.WithValue(ctx, deviceKey{}, secret)
}

// DeviceFrom returns the known-device secret in ctx, or "".
func DeviceFrom(ctx context.Context) string {
	d, _ := ctx.Value(deviceKey{}).(string)
	return d
}

type clientIPKey struct{}

// WithClientIP returns a context that carries the client's address, which
// Login and Register count attempts by. Authenticate sets it for every
// request; other callers (tests, other front ends) may set it themselves.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIPFrom returns the client address in ctx, or "" when none is known.
func ClientIPFrom(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// ClientIP returns the address of the client that sent r: the connection's
// remote address, or, only when that address belongs to a trusted proxy
// (WithTrustedProxies), the right-most address of X-Forwarded-For that is
// not a trusted proxy. X-Forwarded-For is never believed otherwise: any
// client can send it.
func (s *Service) ClientIP(r *http.Request) string {
	ip, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
			return a.Unmap().String()
		}
		return r.RemoteAddr // a Unix socket or a test transport
	}
	addr := ip.Addr().Unmap()
	if !s.trusted(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: trust nothing left of it
		}
		addr = hop.Unmap()
		if !s.trusted(addr) {
			break
		}
	}
	return addr.String()
}

func (s *Service) trusted(a netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ipKey is the limiter key of an address: IPv4 addresses one by one, IPv6
// addresses by /64 (one subscriber usually holds a whole /64).
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

var errCrossOrigin = apperr.New(apperr.Forbidden, "cross-origin request refused: send it from this site, or authenticate with a bearer token")

// Authenticate resolves the request's credentials into an auth.Principal on
// the request context and records the client address (WithClientIP) and
// the known-device cookie (WithDevice).
//
//   - "Authorization: Bearer <token>": the token's account; a bad, expired or
//     revoked token is refused with 401. Such requests cannot be forged
//     cross-site, so no CSRF check applies.
//   - otherwise the session cookie: its account (Principal.ViaCookie); a
//     cookie whose session is gone is cleared and the request goes on
//     anonymously. Unsafe requests (POST, PUT, PATCH, DELETE) without a
//     bearer token, signed in by cookie or anonymous (sign-in itself), must
//     pass http.CrossOriginProtection: a cross-origin browser request is
//     refused with 403.
//   - no credentials: anonymous.
//
// Errors are written with writeErr (the web package's error writer).
func Authenticate(svc *Service, writeErr func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := WithClientIP(r.Context(), svc.ClientIP(r))
		if c, err := r.Cookie(DeviceCookie); err == nil && validDevice(c.Value) {
			ctx = WithDevice(ctx, c.Value)
		}
		r = r.WithContext(ctx)
		if h := r.Header.Get("Authorization"); h != "" {
			secret, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				writeErr(w, r, apperr.New(apperr.Unauthorized, "Authorization must be 'Bearer <token>'"))
				return
			}
			p, err := svc.ResolveToken(ctx, strings.TrimSpace(secret))
			if err != nil {
				writeErr(w, r, err)
				return
			}
			p.ViaCookie = false
			next.ServeHTTP(w, r.WithContext(auth.With(ctx, p)))
			return
		}
		if err := svc.csrf.Check(r); err != nil {
			writeErr(w, r, errCrossOrigin)
			return
		}
		secret := SessionToken(r)
		if secret == "" {
			next.ServeHTTP(w, r)
			return
		}
		p, err := svc.ResolveToken(ctx, secret)
		if apperr.Is(err, apperr.Unauthorized) {
			ClearSessionCookie(w)
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			writeErr(w, r, err)
			return
		}
		p.ViaCookie = true
		next.ServeHTTP(w, r.WithContext(auth.With(ctx, p)))
	})
}
