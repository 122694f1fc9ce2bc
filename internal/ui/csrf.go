package ui

import "net/http"

// NewCSRF returns the guard a UI puts in front of its form handlers (with
// its Handler method): http.CrossOriginProtection. A request with an unsafe
// method (POST, PUT, PATCH, DELETE) is refused when the browser says it
// comes from another origin (Sec-Fetch-Site other than same-origin or
// none) or, without that header, when its Origin is not the request's
// host. Same-origin requests, safe methods and requests with neither
// header (not from a browser) pass. deny answers a refused request; nil
// keeps Go's plain-text 403 Forbidden.
func NewCSRF(deny http.Handler) *http.CrossOriginProtection {
	p := http.NewCrossOriginProtection()
	if deny != nil {
		p.SetDenyHandler(deny)
	}
	return p
}
