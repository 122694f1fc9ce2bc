package payment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store is the payment module's SQL: payments, refunds and the webhook
// events already applied. The same statements run on SQLite and PostgreSQL.
type store struct{ db *sqldb.DB }

const cols = `id, reference, COALESCE(order_id, ''), provider, provider_ref, method, amount, currency, status, captured_amount, refunded_amount, decline_code, message, created_at, capture, next_action, return_url, payer_email, description`

func scan(row sqldb.Scanner) (Payment, error) {
	var (
		p    Payment
		next string
	)
	err := row.Scan(&p.ID, &p.Reference, &p.OrderID, &p.Provider, &p.ProviderRef, &p.Method, &p.Amount.Amount, &p.Amount.Currency,
		&p.Status, &p.CapturedAmount, &p.RefundedAmount, &p.DeclineCode, &p.Message, &p.CreatedAt, &p.Capture, &next, &p.ReturnURL, &p.Email, &p.Description)
	p.CreatedAt = p.CreatedAt.UTC()
	if err == nil && next != "" && p.Status == StatusProcessing {
		p.NextAction = new(NextAction)
		if jerr := json.Unmarshal([]byte(next), p.NextAction); jerr != nil {
			return p, fmt.Errorf("payment %s: next action: %w", p.ID, jerr)
		}
	}
	return p, err
}

// nextAction is the stored form of a payment's next action.
func nextAction(p Payment) string {
	if p.NextAction == nil {
		return ""
	}
	b, _ := json.Marshal(p.NextAction)
	return string(b)
}

// insert records a new payment attempt (status pending).
func (s store) insert(ctx context.Context, p Payment) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO payment_payments (id, reference, provider, method, amount, currency, status, capture, return_url, payer_email, description, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.Reference, p.Provider, p.Method, p.Amount.Amount, p.Amount.Currency, p.Status, p.Capture,
		p.ReturnURL, p.Email, p.Description, p.CreatedAt, p.CreatedAt); err != nil {
		return fmt.Errorf("record payment: %w", err)
	}
	return nil
}

// markFailed records that the provider's answer is unknown.
func (s store) markFailed(ctx context.Context, id, message string, at time.Time) {
	s.db.ExecContext(ctx, `UPDATE payment_payments SET status = ?, message = ?, updated_at = ? WHERE id = ?`, StatusFailed, message, at, id)
}

// saveResult records the provider's answer to an authorization.
func (s store) saveResult(ctx context.Context, q sqldb.Querier, p Payment, at time.Time) error {
	if _, err := q.ExecContext(ctx, `UPDATE payment_payments SET status = ?, provider_ref = ?, captured_amount = ?, decline_code = ?, message = ?, next_action = ?, updated_at = ? WHERE id = ?`,
		p.Status, p.ProviderRef, p.CapturedAmount, p.DeclineCode, p.Message, nextAction(p), at, p.ID); err != nil {
		return fmt.Errorf("record payment result: %w", err)
	}
	return nil
}

// saveResolved records the provider's answer to a replayed authorization
// of a payment whose answer was unknown; false when the payment was
// resolved meanwhile.
func (s store) saveResolved(ctx context.Context, tx *sqldb.Tx, p Payment, at time.Time) (bool, error) {
	return sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_payments SET status = ?, provider_ref = ?, captured_amount = ?, decline_code = ?, message = ?, next_action = ?, updated_at = ?
		WHERE id = ? AND status IN ('pending', 'failed')`, p.Status, p.ProviderRef, p.CapturedAmount, p.DeclineCode, p.Message, nextAction(p), at, p.ID))
}

// voidUnclaimed moves an authorized payment that no order claimed to
// voided; false when it is claimed or not authorized any more.
func (s store) voidUnclaimed(ctx context.Context, tx *sqldb.Tx, id string, at time.Time) (bool, error) {
	return sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_payments SET status = 'voided', updated_at = ? WHERE id = ? AND status IN ('authorized', 'processing') AND order_id IS NULL`, at, id))
}

// refundUnclaimed marks a captured payment that no order claimed as fully
// refunded; false when it is claimed or not captured any more.
func (s store) refundUnclaimed(ctx context.Context, tx *sqldb.Tx, id string, amount int64, at time.Time) (bool, error) {
	return sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_payments SET refunded_amount = refunded_amount + ?, status = 'refunded', updated_at = ?
		WHERE id = ? AND status = 'captured' AND order_id IS NULL AND captured_amount - refunded_amount = ?`, amount, at, id, amount))
}

// get returns a payment; NotFound when unknown.
func (s store) get(ctx context.Context, q sqldb.Querier, id string) (Payment, error) {
	p, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM payment_payments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, apperr.NotFoundf("payment not found")
	}
	if err != nil {
		return p, fmt.Errorf("get payment: %w", err)
	}
	return p, nil
}

// byProviderRef returns the payment a provider knows as ref; NotFound when
// Mercato has none.
func (s store) byProviderRef(ctx context.Context, tx *sqldb.Tx, provider, ref string) (Payment, error) {
	p, err := scan(tx.QueryRowContext(ctx, `SELECT `+cols+` FROM payment_payments WHERE provider = ? AND provider_ref = ?`, provider, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return p, apperr.NotFoundf("payment not found")
	}
	if err != nil {
		return p, fmt.Errorf("get payment by provider reference: %w", err)
	}
	return p, nil
}

// list returns the payments a WHERE ... ORDER BY clause selects.
func (s store) list(ctx context.Context, what, where string, args ...any) ([]Payment, error) {
	return sqldb.All(ctx, s.db, what, scan, `SELECT `+cols+` FROM payment_payments `+where, args...)
}

// attachOrder links an authorized or captured payment to its order; false
// when the payment is in no such state (or unknown).
func (s store) attachOrder(ctx context.Context, tx *sqldb.Tx, paymentID, orderID string, at time.Time) (bool, error) {
	return sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_payments SET order_id = ?, updated_at = ? WHERE id = ? AND status IN ('authorized', 'captured', 'processing') AND order_id IS NULL`, orderID, at, paymentID))
}

// markCaptured moves an authorized or processing payment to captured (its
// whole amount); false when it was in neither state any more.
func (s store) markCaptured(ctx context.Context, tx *sqldb.Tx, id string, at time.Time) (bool, error) {
	return sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_payments SET status = 'captured', captured_amount = amount, next_action = '', updated_at = ? WHERE id = ? AND status IN ('authorized', 'processing')`, at, id))
}

// touchProcessing records that a processing payment was looked up at at
// (Processing lists the least recently changed or looked-up first).
func (s store) touchProcessing(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE payment_payments SET updated_at = ? WHERE id = ? AND status = 'processing'`, at, id)
	return err
}

// markAuthorized moves a processing payment to authorized; false when it
// was not processing any more.
func (s store) markAuthorized(ctx context.Context, tx *sqldb.Tx, id string, at time.Time) (bool, error) {
	return sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_payments SET status = 'authorized', next_action = '', updated_at = ? WHERE id = ? AND status = 'processing'`, at, id))
}

// markDeclined moves a processing payment to declined with the
// provider's reason; false when it was not processing any more.
func (s store) markDeclined(ctx context.Context, tx *sqldb.Tx, id, code, message string, at time.Time) (bool, error) {
	return sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_payments SET status = 'declined', decline_code = ?, message = ?, next_action = '', updated_at = ? WHERE id = ? AND status = 'processing'`,
		code, message, at, id))
}

// markVoided moves an authorized or processing payment to voided; false
// when it was in neither state any more.
func (s store) markVoided(ctx context.Context, tx *sqldb.Tx, id string, at time.Time) (bool, error) {
	return sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_payments SET status = 'voided', next_action = '', updated_at = ? WHERE id = ? AND status IN ('authorized', 'processing')`, at, id))
}

// addRefunded adds amount to a payment's refunded amount and sets status,
// unless less than amount is left to refund (then false).
func (s store) addRefunded(ctx context.Context, tx *sqldb.Tx, id string, amount int64, status string, at time.Time) (bool, error) {
	return sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_payments SET refunded_amount = refunded_amount + ?, status = ?, updated_at = ?
		WHERE id = ? AND captured_amount - refunded_amount >= ?`, amount, status, at, id, amount))
}

// refund is a row of payment_refunds.
type refund struct {
	ID, PaymentID, ProviderRef, Reason, Status string
	Amount                                     int64
	CreatedAt                                  time.Time
}

// insertRefund records a refund (pending: to be sent; succeeded: made).
func (s store) insertRefund(ctx context.Context, tx *sqldb.Tx, r refund) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO payment_refunds (id, payment_id, amount, provider_ref, reason, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.PaymentID, r.Amount, r.ProviderRef, r.Reason, r.Status, r.CreatedAt); err != nil {
		return fmt.Errorf("record refund: %w", err)
	}
	return nil
}

// hasProviderRefund reports whether a refund of the payment is recorded
// under the provider's refund reference.
func (s store) hasProviderRefund(ctx context.Context, tx *sqldb.Tx, paymentID, providerRef string) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_refunds WHERE payment_id = ? AND provider_ref = ?`, paymentID, providerRef).Scan(&n); err != nil {
		return false, fmt.Errorf("find refund: %w", err)
	}
	return n > 0, nil
}

// pendingRefund returns what the provider needs to send a pending refund;
// false when the refund is not pending (sent already, or unknown).
func (s store) pendingRefund(ctx context.Context, refundID string) (amount money.Money, providerRef, provider string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT r.amount, p.provider_ref, p.currency, p.provider FROM payment_refunds r JOIN payment_payments p ON p.id = r.payment_id
		WHERE r.id = ? AND r.status = 'pending'`, refundID).Scan(&amount.Amount, &providerRef, &amount.Currency, &provider)
	if errors.Is(err, sql.ErrNoRows) {
		return amount, "", "", false, nil
	}
	return amount, providerRef, provider, err == nil, err
}

// markRefundSent records the provider's reference of a sent refund.
func (s store) markRefundSent(ctx context.Context, refundID, providerRef string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE payment_refunds SET status = 'succeeded', provider_ref = ? WHERE id = ? AND status = 'pending'`, providerRef, refundID)
	return err
}

// pendingRefunds returns up to limit ids of refunds still to send, oldest first.
func (s store) pendingRefunds(ctx context.Context, limit int) ([]string, error) {
	return sqldb.All(ctx, s.db, "pending refunds", func(row sqldb.Scanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT id FROM payment_refunds WHERE status = 'pending' ORDER BY created_at LIMIT ?`, limit)
}

// recordWebhook remembers a provider event; false when it was recorded
// before (a redelivery).
func (s store) recordWebhook(ctx context.Context, tx *sqldb.Tx, id, provider, typ string, at time.Time) (bool, error) {
	ok, err := sqldb.Changed(tx.ExecContext(ctx, `INSERT INTO payment_webhook_events (id, provider, type, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id, provider, typ, at))
	if err != nil {
		return false, fmt.Errorf("record webhook %s: %w", id, err)
	}
	return ok, nil
}
