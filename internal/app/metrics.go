package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// handleMetrics serves the Prometheus registry. With MERCATO_METRICS_TOKEN
// set, only to requests with "Authorization: Bearer <token>" (compared in
// constant time); others get 401. Unset, anyone may read it: restrict it at
// the proxy or firewall. The route reads the Authorization header itself
// (see ownsAuthorization), so the token is never taken for an account's.
func (a *App) handleMetrics() http.Handler {
	serve := promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{})
	if a.Config.MetricsToken == "" {
		return serve
	}
	// Hashing first makes the comparison independent of the lengths too.
	want := sha256.Sum256([]byte("Bearer " + a.Config.MetricsToken))
	return web.Handle(a.Log, func(w http.ResponseWriter, r *http.Request) error {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return apperr.New(apperr.Unauthorized, "metrics need Authorization: Bearer <the metrics token>")
		}
		serve.ServeHTTP(w, r)
		return nil
	})
}

// ownsAuthorization reports whether a route reads the Authorization header
// itself rather than through customer.Authenticate (which would refuse a
// bearer token that is not an account's).
func ownsAuthorization(pattern string) bool { return pattern == "GET /metrics" }

// outboxLag reports how far the outbox relay is behind, measured at each
// scrape with outbox.MeasureLag: two index lookups whatever the backlog
// (no count of the pending events), committed events of every instance,
// whether or not this instance's relay runs.
type outboxLag struct {
	db           *sqldb.DB
	pending, age *prometheus.Desc
}

func newOutboxLag(db *sqldb.DB) *outboxLag {
	return &outboxLag{
		db: db,
		pending: prometheus.NewDesc("mercato_outbox_pending",
			"Domain events committed but not yet published to the consumers: those numbered from the oldest unpublished to the newest "+
				"(exact while the relay keeps up; counts numbers of rolled-back transactions and events published ahead of the oldest).", nil, nil),
		age: prometheus.NewDesc("mercato_outbox_oldest_pending_age_seconds",
			"Age of the oldest domain event not yet published, 0 when none waits.", nil, nil),
	}
}

func (c *outboxLag) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.age
}

// Collect reports NaN for both when the database does not answer.
func (c *outboxLag) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pending, age := math.NaN(), math.NaN()
	if lag, err := outbox.MeasureLag(ctx, c.db); err == nil {
		pending, age = float64(lag.Pending), 0
		if !lag.Oldest.IsZero() {
			age = max(0, time.Since(lag.Oldest).Seconds())
		}
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, pending)
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
}
