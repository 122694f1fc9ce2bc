package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

// OrderSync brings an order in line with a change the provider reported
// (a capture, a cancellation or a refund made outside Mercato). It runs in
// the webhook's transaction. The order module implements it.
type OrderSync interface {
	ProviderCaptured(ctx context.Context, tx *sqldb.Tx, orderID string) error
	ProviderCanceled(ctx context.Context, tx *sqldb.Tx, orderID string) error
	// ProviderRefunded returns fields for the payment.refunded event (the
	// customer's e-mail and the order number).
	ProviderRefunded(ctx context.Context, tx *sqldb.Tx, orderID string, amount int64) (map[string]any, error)
}

// SetOrderSync installs the order hook (call before serving).
func (s *Service) SetOrderSync(o OrderSync) { s.orders = o }

// HandleWebhook verifies and applies a provider notification, once: a
// redelivered event id is acknowledged and ignored. Events about payments
// Mercato does not know are acknowledged too (the provider would otherwise
// retry them forever). A bad signature is an Invalid error.
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, header http.Header) error {
	ev, err := s.provider.ParseWebhook(payload, header)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO payment_webhook_events (id, provider, type, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			ev.ID, s.provider.Name(), ev.Type, s.now())
		if err != nil {
			return fmt.Errorf("record webhook %s: %w", ev.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // delivered before
		}
		p, err := scan(tx.QueryRowContext(ctx, `SELECT `+cols+` FROM payment_payments WHERE provider = ? AND provider_ref = ?`, s.provider.Name(), ev.ProviderRef))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("webhook %s: %w", ev.ID, err)
		}
		switch ev.Type {
		case EventSucceeded:
			return s.webhookCaptured(ctx, tx, p)
		case EventCanceled:
			return s.webhookCanceled(ctx, tx, p)
		case EventRefunded:
			return s.webhookRefunded(ctx, tx, p, ev)
		}
		return nil // a type we do not act on
	})
}

func (s *Service) webhookCaptured(ctx context.Context, tx *sqldb.Tx, p Payment) error {
	res, err := tx.ExecContext(ctx, `UPDATE payment_payments SET status = 'captured', captured_amount = amount, updated_at = ? WHERE id = ? AND status = 'authorized'`, s.now(), p.ID)
	if err != nil {
		return fmt.Errorf("webhook capture: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already captured (or no longer capturable)
	}
	if err := outbox.Add(ctx, tx, "payment.captured", p.ID, map[string]any{"payment_id": p.ID, "order_id": p.OrderID, "amount": p.Amount}); err != nil {
		return err
	}
	if s.orders != nil && p.OrderID != "" {
		return s.orders.ProviderCaptured(ctx, tx, p.OrderID)
	}
	return nil
}

func (s *Service) webhookCanceled(ctx context.Context, tx *sqldb.Tx, p Payment) error {
	res, err := tx.ExecContext(ctx, `UPDATE payment_payments SET status = 'voided', updated_at = ? WHERE id = ? AND status = 'authorized'`, s.now(), p.ID)
	if err != nil {
		return fmt.Errorf("webhook cancel: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 || s.orders == nil || p.OrderID == "" {
		return nil
	}
	return s.orders.ProviderCanceled(ctx, tx, p.OrderID)
}

// webhookRefunded records a refund the provider made. A refund Mercato
// asked for itself is already recorded under its provider reference.
func (s *Service) webhookRefunded(ctx context.Context, tx *sqldb.Tx, p Payment, ev WebhookEvent) error {
	if ev.RefundRef != "" {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_refunds WHERE payment_id = ? AND provider_ref = ?`, p.ID, ev.RefundRef).Scan(&n); err != nil {
			return fmt.Errorf("webhook refund: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
	amount := min(ev.Amount, p.CapturedAmount-p.RefundedAmount)
	if amount <= 0 {
		return nil
	}
	status := StatusPartiallyRefunded
	if amount == p.CapturedAmount-p.RefundedAmount {
		status = StatusRefunded
	}
	if _, err := tx.ExecContext(ctx, `UPDATE payment_payments SET refunded_amount = refunded_amount + ?, status = ?, updated_at = ? WHERE id = ?`,
		amount, status, s.now(), p.ID); err != nil {
		return fmt.Errorf("webhook refund: %w", err)
	}
	refundID := ids.New()
	if _, err := tx.ExecContext(ctx, `INSERT INTO payment_refunds (id, payment_id, amount, provider_ref, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		refundID, p.ID, amount, ev.RefundRef, "refunded at the payment provider", s.now()); err != nil {
		return fmt.Errorf("webhook refund: %w", err)
	}
	if s.orders == nil || p.OrderID == "" {
		return nil // an unclaimed payment: no order, no customer message
	}
	notify, err := s.orders.ProviderRefunded(ctx, tx, p.OrderID, amount)
	if err != nil {
		return err
	}
	ev2 := map[string]any{"payment_id": p.ID, "order_id": p.OrderID, "refund_id": refundID, "amount": money.Money{Amount: amount, Currency: p.Amount.Currency}}
	for k, v := range notify {
		ev2[k] = v
	}
	return outbox.Add(ctx, tx, "payment.refunded", p.ID, ev2)
}

// HandleWebhookRequest serves POST /api/v1/payments/webhook: the payment
// provider's notifications, authenticated by their signature.
func HandleWebhookRequest(svc *Service) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readLimited(w, r)
		if err != nil {
			return err
		}
		if err := svc.HandleWebhook(r.Context(), body, r.Header); err != nil {
			return err
		}
		web.JSON(w, http.StatusOK, map[string]bool{"received": true})
		return nil
	}
}

func readLimited(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return nil, apperr.Field("body", "must be at most 64 KiB")
	}
	return body, nil
}
