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
	"github.com/mercato-shop/mercato/internal/customer"
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
}

// Service renders and stores messages, and lists them for staff.
type Service struct {
	db    *sqldb.DB
	log   *slog.Logger
	r     *renderer
	staff string
}

// NewService parses the embedded templates; it fails only if they are broken.
func NewService(db *sqldb.DB, opt Options, log *slog.Logger) (*Service, error) {
	r, err := newRenderer(shop{Name: opt.ShopName, BaseURL: strings.TrimRight(opt.BaseURL, "/")})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return &Service{db: db, log: log, r: r, staff: opt.StaffEmail}, nil
}

// Subscriber is the part of a bus that notify needs.
type Subscriber interface {
	SubscribeBatch(consumer string, topics []string, handler outbox.BatchHandler)
}

// Subscribe registers the service's consumer for Topics on bus, taking the
// events of a relay round together (HandleBatch).
func (s *Service) Subscribe(bus Subscriber) { bus.SubscribeBatch(Consumer, Topics(), s.HandleBatch) }

// message is what one event turns into.
type message struct {
	template string
	to       string
	data     any
	alert    *inventory.StockLow
}

// Handle is HandleBatch for one event.
func (s *Service) Handle(ctx context.Context, e outbox.Event) error {
	return s.HandleBatch(ctx, []outbox.Event{e})
}

// HandleBatch is the bus handler: it renders each event's message and
// stores them (and, for stock.low, the alert) exactly once per event, all
// in one transaction. It returns an error only when a retry may succeed
// (the database; then none is stored); an event that cannot make a message
// is logged and dropped.
func (s *Service) HandleBatch(ctx context.Context, evs []outbox.Event) error {
	type ready struct {
		m message
		r rendered
	}
	made := make(map[string]ready, len(evs))
	keep := evs[:0:0]
	for _, e := range evs {
		m, err := s.message(e)
		var r rendered
		if err == nil {
			r, err = s.r.render(m.template, m.data)
		}
		if err != nil {
			// Decoding, validating and rendering are deterministic: a retry
			// would fail the same way and hold back every later event.
			s.log.ErrorContext(ctx, "notify: event dropped", "topic", e.Topic, "event", e.ID, "err", err)
			continue
		}
		made[e.ID] = ready{m, r}
		keep = append(keep, e)
	}
	if len(keep) == 0 {
		return nil
	}
	now := time.Now().UTC()
	_, err := outbox.OnceEach(ctx, s.db, Consumer, keep, func(tx *sqldb.Tx, e outbox.Event) error {
		m, r := made[e.ID].m, made[e.ID].r
		if a := m.alert; a != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO notify_low_stock_alerts (id, event_id, variant_id, sku, available, threshold, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
				ids.New(), e.ID, a.VariantID, a.SKU, a.Available, a.Threshold, now); err != nil {
				return fmt.Errorf("store low-stock alert of %s: %w", e.ID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_emails (id, event_id, template, to_addr, subject, text_body, html_body, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
			ids.New(), e.ID, m.template, m.to, r.Subject, r.Text, r.HTML, now); err != nil {
			return fmt.Errorf("store e-mail of %s: %w", e.ID, err)
		}
		return nil
	})
	if err != nil {
		if len(keep) == 1 {
			return fmt.Errorf("notify %s %s: %w", keep[0].Topic, keep[0].ID, err)
		}
		return fmt.Errorf("notify %d events: %w", len(keep), err)
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
	default:
		return m, fmt.Errorf("no message for topic %q", e.Topic)
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
		`SELECT id, to_addr, subject, template, event_id, created_at FROM notify_emails`,
		func(rows *sql.Rows) (EmailSummary, string, error) {
			var e EmailSummary
			err := rows.Scan(&e.ID, &e.To, &e.Subject, &e.Template, &e.EventID, &e.CreatedAt)
			e.CreatedAt = e.CreatedAt.UTC()
			return e, e.ID, err
		})
	return EmailPage{Items: items, NextCursor: next}, err
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

// GetEmail returns one e-mail with its bodies, or NotFound.
func (s *Service) GetEmail(ctx context.Context, id string) (Email, error) {
	if !ids.Valid(id) {
		return Email{}, apperr.NotFoundf("no e-mail %q", id)
	}
	var (
		e      Email
		sentAt sql.NullTime
	)
	err := s.db.Reader().QueryRowContext(ctx, `SELECT id, to_addr, subject, template, event_id, created_at, text_body, html_body, sent_at
		FROM notify_emails WHERE id = ?`, id).
		Scan(&e.ID, &e.To, &e.Subject, &e.Template, &e.EventID, &e.CreatedAt, &e.Text, &e.HTML, &sentAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Email{}, apperr.NotFoundf("no e-mail %q", id)
	}
	if err != nil {
		return Email{}, fmt.Errorf("get e-mail %s: %w", id, err)
	}
	e.CreatedAt = e.CreatedAt.UTC()
	if sentAt.Valid {
		t := sentAt.Time.UTC()
		e.SentAt = &t
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
