package ui

import "net/http"

// NewCSRF returns the guard a UI puts in front of its form handlers (with
// its Handler method): http.CrossOriginProtection, which refuses a request
// with an unsafe method (POST and the like) that the browser marks as
// cross-site or same-site but not same-origin (Sec-Fetch-Site), or, without
// that header, whose Origin is not the request's host. Same-origin requests
// and requests with neither header (not from a browser) pass. deny answers
// a refused request; nil keeps Go's plain-text 403 Forbidden.
func NewCSRF(deny http.Handler) *http.CrossOriginProtection {
	p := http.NewCrossOriginProtection()
	if deny != nil {
		p.SetDenyHandler(deny)
	}
	return p
}
