// Package analytics keeps sales counters for the admin dashboard: orders,
// gross revenue, refunds and cancellations per day (UTC) and currency.
//
// It is an event consumer only: order.placed, order.refunded and
// order.cancelled each increment one day's counters with a single upsert,
// exactly once per event (outbox.Once), so the counts are right on SQLite
// and PostgreSQL however many relays deliver side by side.
package analytics

import (
	"embed"
	"time"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the analytics tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("analytics", migrationFS, "migrations") }

// Consumer is the name analytics subscribes and records processed events under.
const Consumer = "analytics"

// Topics returns the event topics analytics consumes.
func Topics() []string {
	return []string{order.TopicOrderPlaced, order.TopicOrderRefunded, order.TopicOrderCancelled}
}

// MaxDays bounds a sales report.
const MaxDays = 366

// Day is one day's sales in one currency.
type Day struct {
	Date          string      `json:"date"` // YYYY-MM-DD, UTC
	Orders        int64       `json:"orders"`
	Revenue       money.Money `json:"revenue"` // gross: the totals of the orders placed
	Refunds       money.Money `json:"refunds"` // the amount refunded
	Cancellations int64       `json:"cancellations"`
}

// Sales is a run of consecutive days, oldest first, with every day present
// (zero when nothing happened).
type Sales struct {
	Currency string `json:"currency"`
	Days     []Day  `json:"days"`
}

// SalesQuery selects a report.
type SalesQuery struct {
	Days     int       // 1..MaxDays; 0 means 30
	Currency string    // empty means the shop's currency
	Until    time.Time // the last day; zero means today (UTC)
}

const dateLayout = "2006-01-02"

func dayOf(t time.Time) string { return t.UTC().Format(dateLayout) }
