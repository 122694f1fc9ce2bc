package notify

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Options configure the service.
type Options struct {
	ShopName   string // shown in every message
	BaseURL    string // the shop's public address, for links
	StaffEmail string // where staff alerts go
	// Sender delivers the e-mails (Deliver); nil when no SMTP server is
	// configured: then they stay queued.
	Sender Sender
	// Carts, when set, is asked before a reminder goes out whether its
	// cart is still open: none is sent after checkout.
	Carts Carts
	Now   func() time.Time // the clock; nil means time.Now
}

// Service renders and stores messages, lists them for staff, and delivers
// them (delivery.go).
type Service struct {
	db     *sqldb.DB
	log    *slog.Logger
	r      *renderer
	staff  string
	base   string // the shop's address without a trailing slash
	sender Sender
	carts  Carts
	clock  func() time.Time
}

// NewService parses the embedded templates; it fails only if they are broken.
func NewService(db *sqldb.DB, opt Options, log *slog.Logger) (*Service, error) {
	base := strings.TrimRight(opt.BaseURL, "/")
	r, err := newRenderer(shop{Name: opt.ShopName, BaseURL: base})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	clock := opt.Now
	if clock == nil {
		clock = time.Now
	}
	return &Service{db: db, log: log, r: r, staff: opt.StaffEmail, base: base, sender: opt.Sender, carts: opt.Carts, clock: clock}, nil
}

// now is the clock in UTC, to the microsecond (what both engines store).
func (s *Service) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// Subscriber is the part of a bus that notify needs.
type Subscriber interface {
	Subscribe(consumer string, topics []string, handler outbox.Handler)
}

// Subscribe registers the service's consumer for Topics on bus.
func (s *Service) Subscribe(bus Subscriber) { bus.Subscribe(Consumer, Topics(), s.Handle) }

// message is what one event turns into.
type message struct {
	template string
	to       string
	data     any
	alert    *inventory.StockLow
	reminder *cart.Abandoned // rendered in the transaction, with the recipient's unsubscribe link
}

// Handle is the bus handler: it renders the event's message and stores it
// (and, for stock.low, the alert) exactly once per event. It returns an
// error only when a retry may succeed (the database); an event that cannot
// make a message is logged and dropped.
func (s *Service) Handle(ctx context.Context, e outbox.Event) error {
	m, err := s.message(e)
	if errors.Is(err, errNothingToSend) {
		return nil
	}
	var r rendered
	if err == nil && m.reminder == nil {
		r, err = s.r.render(m.template, m.data)
	}
	if err != nil {
		// Decoding, validating and rendering are deterministic: a retry
		// would fail the same way and hold back every later event.
		s.log.ErrorContext(ctx, "notify: event dropped", "topic", e.Topic, "event", e.ID, "err", err)
		return nil
	}
	now := s.now()
	_, err = outbox.Once(ctx, s.db, Consumer, e, func(tx *sqldb.Tx) error {
		var cartID, unsubscribe string
		if c := m.reminder; c != nil {
			token, unsubscribed, err := s.recipient(ctx, tx, c.Email, now)
			if err != nil {
				return err
			}
			if unsubscribed {
				s.log.InfoContext(ctx, "notify: no reminder, the address unsubscribed", "event", e.ID, "cart", c.CartID)
				return nil
			}
			unsubscribe = s.base + "/unsubscribe/" + token
			data := reminderData{Abandoned: *c, RestoreURL: s.base + "/cart/restore/" + c.RestoreToken, UnsubscribeURL: unsubscribe}
			if r, err = s.r.render(m.template, data); err != nil {
				s.log.ErrorContext(ctx, "notify: event dropped", "topic", e.Topic, "event", e.ID, "err", err)
				return nil
			}
			cartID = c.CartID
		}
		if a := m.alert; a != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO notify_low_stock_alerts (id, event_id, variant_id, sku, available, threshold, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
				ids.New(), e.ID, a.VariantID, a.SKU, a.Available, a.Threshold, now); err != nil {
				return fmt.Errorf("store low-stock alert: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_emails (id, event_id, template, to_addr, subject, text_body, html_body, created_at,
			status, next_attempt_at, queued_at, cart_id, unsubscribe_url)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
			ids.New(), e.ID, m.template, m.to, r.Subject, r.Text, r.HTML, now, StatusQueued, now, now, cartID, unsubscribe); err != nil {
			return fmt.Errorf("store e-mail: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify %s %s: %w", e.Topic, e.ID, err)
	}
	return nil
}

// message decodes and checks an event's payload.
func (s *Service) message(e outbox.Event) (message, error) {
	var v apperr.Validator
	checkAddr := func(addr string) {
		v.Check(validAddress(addr), "email", "must be an e-mail address")
	}
	checkMoney := func(field string, m money.Money) {
		v.Check(m.Validate() == nil, field, "must be an amount in a valid currency")
	}
	var m message
	switch e.Topic {
	case customer.TopicRegistered:
		var p customer.Registered
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		checkAddr(p.Email)
		m = message{template: TemplateWelcome, to: p.Email, data: p}
	case order.TopicOrderPlaced:
		var p order.OrderPlaced
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		checkAddr(p.Email)
		v.Check(p.Number != "", "number", "is required")
		for i, it := range p.Items {
			checkMoney(fmt.Sprintf("items[%d].unit_price", i), it.UnitPrice)
			checkMoney(fmt.Sprintf("items[%d].line_total", i), it.LineTotal)
		}
		t := p.Totals
		for f, m := range map[string]money.Money{"subtotal": t.Subtotal, "discount": t.Discount, "shipping": t.Shipping, "tax": t.Tax, "total": t.Total} {
			checkMoney("totals."+f, m)
		}
		m = message{template: TemplateOrderPlaced, to: p.Email, data: p}
	case order.TopicOrderShipped:
		var p order.OrderShipped
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		checkAddr(p.Email)
		v.Check(p.Number != "", "number", "is required")
		m = message{template: TemplateOrderShipped, to: p.Email, data: p}
	case order.TopicOrderCancelled:
		var p order.OrderCancelled
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		checkAddr(p.Email)
		v.Check(p.Number != "", "number", "is required")
		m = message{template: TemplateOrderCancelled, to: p.Email, data: p}
	case order.TopicOrderRefunded:
		var p order.OrderRefunded
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		checkAddr(p.Email)
		v.Check(p.Number != "", "number", "is required")
		checkMoney("amount", p.Amount)
		m = message{template: TemplatePaymentRefunded, to: p.Email, data: p}
	case inventory.TopicStockLow:
		var p inventory.StockLow
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		v.Check(p.SKU != "", "sku", "is required")
		v.Check(validAddress(s.staff), "staff e-mail", "must be an e-mail address")
		m = message{template: TemplateStockLow, to: s.staff, data: p, alert: &p}
	case cart.TopicAbandoned:
		var p cart.Abandoned
		if err := e.Decode(&p); err != nil {
			return m, err
		}
		checkAddr(p.Email)
		v.Check(p.CartID != "", "cart_id", "is required")
		v.Check(len(p.Items) > 0, "items", "must not be empty")
		v.Check(ids.Plausible(p.RestoreToken), "restore_token", "must be a token")
		m = message{template: TemplateAbandonedCart, to: p.Email, data: p, reminder: &p}
	case giftcard.TopicIssued:
		return s.giftCardMessage(e)
	default:
		return s.accountMessage(e)
	}
	if err := v.Err(); err != nil {
		return m, fmt.Errorf("payload: %w", err)
	}
	return m, nil
}

// validAddress reports whether s is a bare address (no display name, no
// line breaks) fit for a To header.
func validAddress(s string) bool {
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "\r\n<> ") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// ListEmails returns a page of e-mails, newest first. A cursor that this
// list did not make is Invalid.
func (s *Service) ListEmails(ctx context.Context, q PageQuery) (EmailPage, error) {
	items, next, err := newestFirst(ctx, s, q, "e-mails",
		`SELECT id, to_addr, subject, template, event_id, created_at, status, attempts, last_error FROM notify_emails`,
		func(rows *sql.Rows) (EmailSummary, string, error) {
			var e EmailSummary
			err := rows.Scan(&e.ID, &e.To, &e.Subject, &e.Template, &e.EventID, &e.CreatedAt, &e.Status, &e.Attempts, &e.LastError)
			e.CreatedAt = e.CreatedAt.UTC()
			return e, e.ID, err
		})
	return EmailPage{Items: items, NextCursor: next, Delivery: s.delivery()}, err
}

// newestFirst runs a keyset-paged query over a table whose ids grow with
// time (UUIDv7): rows after the cursor, newest first, and the next cursor.
func newestFirst[T any](ctx context.Context, s *Service, q PageQuery, what, query string, scan func(*sql.Rows) (T, string, error)) ([]T, *string, error) {
	limit, after, err := pageArgs(q)
	if err != nil {
		return nil, nil, err
	}
	args := []any{}
	if after != "" {
		query += ` WHERE id < ?`
		args = append(args, after)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.db.Reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	items, lastIDs := []T{}, []string{}
	for rows.Next() {
		item, id, err := scan(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("list %s: %w", what, err)
		}
		items, lastIDs = append(items, item), append(lastIDs, id)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", what, err)
	}
	if len(items) <= limit {
		return items, nil, nil
	}
	next := makeCursor(lastIDs[limit-1])
	return items[:limit], &next, nil
}

// GetEmail returns one e-mail with its bodies, as staff may see it (the
// bodies of mails with links that act for their recipient are masked), or
// NotFound.
func (s *Service) GetEmail(ctx context.Context, id string) (Email, error) {
	if !ids.Valid(id) {
		return Email{}, apperr.NotFoundf("no e-mail %q", id)
	}
	return s.getEmail(ctx, s.db.Reader(), id)
}

func (s *Service) getEmail(ctx context.Context, q sqldb.Querier, id string) (Email, error) {
	var (
		e             Email
		sentAt, nextA sql.NullTime
	)
	err := q.QueryRowContext(ctx, `SELECT id, to_addr, subject, template, event_id, created_at, text_body, html_body, sent_at,
		status, attempts, last_error, next_attempt_at
		FROM notify_emails WHERE id = ?`, id).
		Scan(&e.ID, &e.To, &e.Subject, &e.Template, &e.EventID, &e.CreatedAt, &e.Text, &e.HTML, &sentAt,
			&e.Status, &e.Attempts, &e.LastError, &nextA)
	if errors.Is(err, sql.ErrNoRows) {
		return Email{}, apperr.NotFoundf("no e-mail %q", id)
	}
	if err != nil {
		return Email{}, fmt.Errorf("get e-mail %s: %w", id, err)
	}
	e.CreatedAt = e.CreatedAt.UTC()
	maskSecret(&e)
	if sentAt.Valid {
		t := sentAt.Time.UTC()
		e.SentAt = &t
	}
	if nextA.Valid && e.Status == StatusQueued {
		t := nextA.Time.UTC()
		e.NextAttemptAt = &t
	}
	return e, nil
}

// PreviewCSP is the Content-Security-Policy for serving an e-mail's HTML
// body to a browser: only the e-mail's own stylesheet applies, nothing runs.
func (s *Service) PreviewCSP() string { return s.r.previewCSP() }

// ListLowStockAlerts returns a page of low-stock alerts, newest first.
func (s *Service) ListLowStockAlerts(ctx context.Context, q PageQuery) (AlertPage, error) {
	items, next, err := newestFirst(ctx, s, q, "low-stock alerts",
		`SELECT id, variant_id, sku, available, threshold, created_at FROM notify_low_stock_alerts`,
		func(rows *sql.Rows) (LowStockAlert, string, error) {
			var a LowStockAlert
			err := rows.Scan(&a.ID, &a.VariantID, &a.SKU, &a.Available, &a.Threshold, &a.CreatedAt)
			a.CreatedAt = a.CreatedAt.UTC()
			return a, a.ID, err
		})
	return AlertPage{Items: items, NextCursor: next}, err
}

// pageArgs validates a PageQuery and returns the limit and the id to list
// after.
func pageArgs(q PageQuery) (int, string, error) {
	limit := q.Limit
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > 100 {
		return 0, "", apperr.Field("limit", "must be between 1 and 100")
	}
	if q.Cursor == "" {
		return limit, "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil || !ids.Valid(string(b)) {
		return 0, "", apperr.Field("cursor", "is not a cursor returned by this list")
	}
	return limit, string(b), nil
}

// makeCursor encodes the id of a page's last item; ids are UUIDv7, so they
// order the list by creation.
func makeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }
