// Package notify turns domain events into messages: e-mails to customers
// (welcome, order confirmation, shipping, cancellation, refund; the account
// mails with links: password reset, address verification and change) and to
// staff (low stock), plus a list of low-stock alerts for the admin panel.
//
// It is an event consumer only: it subscribes to the bus, renders each
// message with text/template and html/template (embedded templates), and
// stores it in its own table, one per event, exactly once (outbox.Once).
// Nothing sends the stored e-mails yet; a Sender (SMTP) will, later.
package notify

import (
	"context"
	"embed"
	"time"

	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the notify module's tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("notify", migrationFS, "migrations") }

// Consumer is the name notify subscribes and records processed events under.
const Consumer = "notify"

// Templates, one per kind of message; an e-mail records which one made it.
const (
	TemplateWelcome         = "welcome"          // customer.registered
	TemplateOrderPlaced     = "order_placed"     // order.placed
	TemplateOrderShipped    = "order_shipped"    // order.shipped
	TemplateOrderCancelled  = "order_cancelled"  // order.cancelled
	TemplatePaymentRefunded = "payment_refunded" // order.refunded (the name is older than the event)
	TemplateStockLow        = "stock_low"        // stock.low, to staff
)

// Topics returns the event topics notify consumes.
func Topics() []string {
	return append([]string{customer.TopicRegistered, order.TopicOrderPlaced, order.TopicOrderShipped, order.TopicOrderCancelled, order.TopicOrderRefunded, inventory.TopicStockLow},
		append(accountTopics(), giftCardTopics()...)...)
}

// EmailSummary is an e-mail in a list.
type EmailSummary struct {
	ID        string    `json:"id"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Template  string    `json:"template"`
	EventID   string    `json:"event_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Email is a rendered e-mail with both bodies.
type Email struct {
	EmailSummary
	Text   string     `json:"text"`
	HTML   string     `json:"html"`
	SentAt *time.Time `json:"sent_at"` // nil until a Sender delivered it
}

// EmailPage is one page of e-mails, newest first; NextCursor is nil on the
// last page.
type EmailPage struct {
	Items      []EmailSummary `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}

// LowStockAlert records one stock.low event.
type LowStockAlert struct {
	ID        string    `json:"id"`
	VariantID string    `json:"variant_id"`
	SKU       string    `json:"sku"`
	Available int64     `json:"available"`
	Threshold int64     `json:"threshold"`
	CreatedAt time.Time `json:"created_at"`
}

// AlertPage is one page of low-stock alerts, newest first.
type AlertPage struct {
	Items      []LowStockAlert `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

// PageQuery selects a page of a list.
type PageQuery struct {
	Limit  int    // 1..100; 0 means 20
	Cursor string // the previous page's NextCursor
}

// Sender delivers a stored e-mail (SMTP, an API). Nothing uses it yet: the
// delivery worker that reads unsent e-mails and marks them sent comes with
// the first real sender.
type Sender interface {
	Send(ctx context.Context, e Email) error
}
