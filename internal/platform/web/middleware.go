package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts requests and their latency by route pattern.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mercato_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mercato_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Route wraps the handler registered for pattern so that its requests are
// counted and timed under that pattern (never under raw paths, which are
// unbounded label values).
func (m *Metrics) Route(pattern string, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	method, _, _ := strings.Cut(pattern, " ")
	latency := m.latency.WithLabelValues(pattern, method)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ri, ok := r.Context().Value(routeKey{}).(*routeInfo); ok {
			ri.pattern = pattern
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		m.requests.WithLabelValues(pattern, r.Method, strconv.Itoa(status)).Inc()
		latency.Observe(time.Since(start).Seconds())
	})
}

// Observe wraps the whole handler tree: it recovers panics (500 problem,
// logged with the stack), sets security headers and logs each request at
// debug level.
func Observe(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), routeKey{}, &routeInfo{}))
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Content-Security-Policy", defaultPolicy)
		if IsHTTPS(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		defer func() {
			if rec := recover(); rec != nil {
				if rec == http.ErrAbortHandler {
					panic(rec)
				}
				log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", LogPath(r), "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
				if sw.status == 0 {
					Error(sw, r, nil, fmt.Errorf("panic: %v", rec))
				}
			}
			log.DebugContext(r.Context(), "http", "method", r.Method, "path", LogPath(r), "status", sw.status, "bytes", sw.bytes, "dur", time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// Routed records, before anything else runs, the pattern of the route mux
// will give r to, so that a request refused before it is routed (a bad
// token, a cross-origin form) or answered by a catch-all is logged by
// pattern too, never by its path. It goes inside Observe and outside
// whatever may answer before mux does.
func Routed(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ri, ok := r.Context().Value(routeKey{}).(*routeInfo); ok && ri.pattern == "" {
			_, ri.pattern = mux.Handler(r)
		}
		next.ServeHTTP(w, r)
	})
}

// Sources are third-party origins that one answer may use beyond the
// site's own: a page that loads a payment provider's script (Stripe.js),
// which shows the provider's frames and talks to its API.
type Sources struct {
	Script, Frame, Connect []string
}

// defaultPolicy is the Content-Security-Policy of every answer: the
// site's own files only, no inline code, no framing by others. It is
// contentSecurityPolicy(Sources{}).
const defaultPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// contentSecurityPolicy is defaultPolicy widened to the sources.
func contentSecurityPolicy(s Sources) string {
	own := func(origins []string) string { return strings.Join(append([]string{"'self'"}, origins...), " ") }
	p := "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src " + own(s.Script)
	if len(s.Frame) > 0 {
		p += "; frame-src " + own(s.Frame)
	}
	if len(s.Connect) > 0 {
		p += "; connect-src " + own(s.Connect)
	}
	return p + "; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
}

// AllowSources widens the Content-Security-Policy that Observe set on an
// answer not yet written to the sources (and to nothing else).
func AllowSources(w http.ResponseWriter, s Sources) {
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy(s))
}

// routeInfo is where Metrics.Route records the pattern of the route that
// serves a request, for the logs that Observe and Error write.
type routeInfo struct{ pattern string }

type routeKey struct{}

// LogPath is what logs name a request by: its route's pattern
// ("POST /api/v1/carts/{id}/items") once a route took it (or Routed looked
// it up), else the path. A path can carry a credential (a guest cart's id
// is its bearer secret), so logs never show the path of a routed request;
// the app puts Routed in front of everything that may answer, so none
// goes unrouted.
func LogPath(r *http.Request) string {
	if ri, ok := r.Context().Value(routeKey{}).(*routeInfo); ok && ri.pattern != "" {
		return ri.pattern
	}
	return r.URL.Path
}
