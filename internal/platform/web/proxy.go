package web

import (
	"net/http"
	"net/netip"
)

// TrustForwardedProto removes X-Forwarded-Proto from every request whose
// connection does not come from one of the trusted proxies, before next
// sees it. Any client can send the header; only a reverse proxy that
// terminated TLS may say the request came over HTTPS (for Secure cookies
// and HSTS, see IsHTTPS). With no trusted proxies the header is always
// removed.
func TrustForwardedProto(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Forwarded-Proto") != "" && !fromTrusted(r.RemoteAddr, trusted) {
			r = r.Clone(r.Context())
			r.Header.Del("X-Forwarded-Proto")
		}
		next.ServeHTTP(w, r)
	})
}

// IsHTTPS reports whether r came over HTTPS: TLS on this connection, or a
// trusted proxy's X-Forwarded-Proto: https (TrustForwardedProto removes the
// header from everybody else).
func IsHTTPS(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func fromTrusted(remoteAddr string, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(remoteAddr); err == nil {
		addr = a
	} else {
		return false
	}
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
