package ui

import (
	"net/http"
	"time"
)

// IsHTTPS reports whether the visitor reached the shop over HTTPS: the
// connection itself is TLS, or the reverse proxy in front of the shop says
// so with X-Forwarded-Proto: https (exactly that value, the first one).
//
// The header is believed from any peer, not only from the trusted proxies
// whose X-Forwarded-For names the client: it only turns on the Secure flag
// of cookies, and a client that claims HTTPS over plain HTTP only keeps its
// own cookies from coming back.
func IsHTTPS(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

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
