// Package notify turns domain events into messages: e-mails to customers
// (welcome, order confirmation, shipping, cancellation, refund; the account
// mails with links: password reset, address verification and change) and to
// staff (low stock), plus a list of low-stock alerts for the admin panel.
//
// It subscribes to the bus, renders each message with text/template and
// html/template (embedded templates), and stores it in its own table, one
// per event, exactly once (outbox.Once). Deliver sends the stored e-mails
// through a Sender (SMTP, internal/platform/mail) when one is configured;
// without one they stay queued (delivery.go has the guarantees).
//
// Abandoned-cart reminders carry an unsubscribe link; an address that
// used it gets no further reminder (recipients.go).
package notify

import (
	"context"
	"embed"
	"time"

	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/mail"
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
	TemplateAbandonedCart   = "abandoned_cart"   // cart.abandoned
)

// Topics returns the event topics notify consumes.
func Topics() []string {
	return append([]string{customer.TopicRegistered, order.TopicOrderPlaced, order.TopicOrderShipped, order.TopicOrderCancelled, order.TopicOrderRefunded, inventory.TopicStockLow, cart.TopicAbandoned},
		append(accountTopics(), giftCardTopics()...)...)
}

// Delivery states of an e-mail.
const (
	StatusQueued    = "queued"    // waiting for its (next) attempt, or for an SMTP server to be configured
	StatusSending   = "sending"   // claimed by a worker that is sending it now
	StatusSent      = "sent"      // the SMTP server accepted it
	StatusFailed    = "failed"    // refused for good, or every attempt failed: LastError says why
	StatusCancelled = "cancelled" // no longer wanted (recipient unsubscribed, cart checked out)
)

// EmailSummary is an e-mail in a list.
type EmailSummary struct {
	ID        string    `json:"id"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Template  string    `json:"template"`
	EventID   string    `json:"event_id"`
	CreatedAt time.Time `json:"created_at"`
	Status    string    `json:"status"`     // StatusQueued, ...
	Attempts  int       `json:"attempts"`   // sending attempts since it was (re)queued
	LastError string    `json:"last_error"` // why the last failed attempt failed (the server's reply), or why it was not sent; "" if none failed
}

// Email is a rendered e-mail with both bodies.
type Email struct {
	EmailSummary
	Text          string     `json:"text"`
	HTML          string     `json:"html"`
	SentAt        *time.Time `json:"sent_at"`         // nil until the SMTP server accepted it
	NextAttemptAt *time.Time `json:"next_attempt_at"` // when a queued e-mail is tried next; nil otherwise
}

// EmailPage is one page of e-mails, newest first; NextCursor is nil on the
// last page. Delivery is "smtp" when e-mails are sent, "off" when no SMTP
// server is configured (then they stay queued).
type EmailPage struct {
	Items      []EmailSummary `json:"items"`
	NextCursor *string        `json:"next_cursor"`
	Delivery   string         `json:"delivery"`
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

// Sender delivers one message (internal/platform/mail over SMTP). Send
// returns nil once the server accepted the message. An error whose
// Permanent method reports true means the server refused this message for
// good; any other error may pass on a later attempt.
type Sender interface {
	Send(ctx context.Context, m mail.Message) error
}

// Carts tells whether the cart of a reminder is still open.
type Carts interface {
	// Active reports whether cart id is still open (not checked out).
	Active(ctx context.Context, id string) (bool, error)
}
