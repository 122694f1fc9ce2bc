package ui

import (
	"net/http"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/web"
)

// IsHTTPS reports whether the visitor reached the shop over HTTPS: see
// web.IsHTTPS (TLS, or X-Forwarded-Proto: https from a trusted proxy; the
// app removes the header from everybody else with web.TrustForwardedProto).
func IsHTTPS(r *http.Request) bool { return web.IsHTTPS(r) }

// SetCookie sets a cookie the way every page cookie is set: HttpOnly,
// SameSite=Lax, and Secure when the request came over HTTPS (IsHTTPS).
// maxAge > 0 keeps it that long (Max-Age and Expires), maxAge < 0 deletes
// it, 0 makes it last until the browser closes.
func SetCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: IsHTTPS(r), SameSite: http.SameSiteLaxMode}
	if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
		c.Expires = time.Now().Add(maxAge).UTC()
	} else if maxAge < 0 {
		c.MaxAge = -1
		c.Expires = time.Unix(0, 0)
	}
	http.SetCookie(w, c)
}
