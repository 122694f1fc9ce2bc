// Package payment takes money through a Provider and records every attempt,
// capture, void and refund. It never decides whether an order exists; the
// checkout links a payment to its order in the order's transaction.
package payment

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the payment tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("payment", migrationFS, "migrations") }

// Status of a payment.
const (
	StatusPending           = "pending"
	StatusAuthorized        = "authorized"
	StatusCaptured          = "captured"
	StatusDeclined          = "declined"
	StatusVoided            = "voided"
	StatusRefunded          = "refunded"
	StatusPartiallyRefunded = "partially_refunded"
	StatusFailed            = "failed"
)

// Payment is one attempt to take money.
type Payment struct {
	ID             string      `json:"id"`
	Reference      string      `json:"reference"`
	OrderID        string      `json:"order_id,omitempty"`
	Provider       string      `json:"provider"`
	ProviderRef    string      `json:"provider_ref"`
	Method         string      `json:"method"`
	Amount         money.Money `json:"amount"`
	Status         string      `json:"status"`
	CapturedAmount int64       `json:"captured_amount"`
	RefundedAmount int64       `json:"refunded_amount"`
	DeclineCode    string      `json:"decline_code,omitempty"`
	Message        string      `json:"message,omitempty"`
	CreatedAt      time.Time   `json:"created_at"`
}

// Service records payments and talks to the provider.
type Service struct {
	db       *sqldb.DB
	provider Provider
	orders   OrderSync
	now      func() time.Time
}

// NewService returns a payment service using provider.
func NewService(db *sqldb.DB, provider Provider) *Service {
	return &Service{db: db, provider: provider, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

const cols = `id, reference, COALESCE(order_id, ''), provider, provider_ref, method, amount, currency, status, captured_amount, refunded_amount, decline_code, message, created_at`

func scan(row interface{ Scan(...any) error }) (Payment, error) {
	var p Payment
	err := row.Scan(&p.ID, &p.Reference, &p.OrderID, &p.Provider, &p.ProviderRef, &p.Method, &p.Amount.Amount, &p.Amount.Currency,
		&p.Status, &p.CapturedAmount, &p.RefundedAmount, &p.DeclineCode, &p.Message, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}

// ValidMethod checks the form of a payment method id: "pm_" and then
// letters, digits and underscores, at most 100 in all (the providers' ids
// look like that; anything else must not reach a provider or the database).
func ValidMethod(m string) bool {
	if len(m) < 4 || len(m) > 100 || !strings.HasPrefix(m, "pm_") {
		return false
	}
	for _, c := range m {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Pay asks the provider for amount and records the attempt. A decline is a
// PaymentFailed error (after the declined attempt is recorded). With capture
// false the money is only authorized. reference ties the payment to the
// order-to-be; the provider's idempotency key is derived from it, so paying
// twice for one reference never charges twice.
func (s *Service) Pay(ctx context.Context, reference string, amount money.Money, method string, capture bool) (Payment, error) {
	if !ValidMethod(method) {
		return Payment{}, apperr.Field("payment_method", "must be a payment method id such as pm_card_visa")
	}
	now := s.now()
	p := Payment{ID: ids.New(), Reference: reference, Provider: s.provider.Name(), Method: method, Amount: amount, Status: StatusPending, CreatedAt: now}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO payment_payments (id, reference, provider, method, amount, currency, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, reference, p.Provider, method, amount.Amount, amount.Currency, p.Status, now, now); err != nil {
		return Payment{}, fmt.Errorf("record payment: %w", err)
	}
	// The provider key is per attempt: a retry after a compensated failure
	// (voided or refunded) must pay anew, not get the refunded charge back.
	res, err := s.provider.Authorize(ctx, AuthorizeRequest{Amount: amount, PaymentMethod: method, Capture: capture, Reference: reference, IdempotencyKey: "pay:" + p.ID})
	if err != nil {
		// Outcome unknown: keep the row as failed so the reconciler can look at it.
		s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE payment_payments SET status = ?, message = ?, updated_at = ? WHERE id = ?`, StatusFailed, truncate(err.Error(), 300), s.now(), p.ID)
		return Payment{}, fmt.Errorf("payment provider %s: %w", p.Provider, err)
	}
	p.ProviderRef, p.DeclineCode, p.Message = res.ProviderRef, res.DeclineCode, res.Message
	switch {
	case res.Declined:
		p.Status = StatusDeclined
	case res.Captured:
		p.Status, p.CapturedAmount = StatusCaptured, amount.Amount
	default:
		p.Status = StatusAuthorized
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE payment_payments SET status = ?, provider_ref = ?, captured_amount = ?, decline_code = ?, message = ?, updated_at = ? WHERE id = ?`,
			p.Status, p.ProviderRef, p.CapturedAmount, p.DeclineCode, p.Message, s.now(), p.ID); err != nil {
			return fmt.Errorf("record payment result: %w", err)
		}
		if p.Status == StatusCaptured {
			return outbox.Add(ctx, tx, "payment.captured", p.ID, map[string]any{"payment_id": p.ID, "order_id": reference, "amount": amount})
		}
		return nil
	})
	if err != nil {
		// The provider has answered: keep what it said even without the
		// event, or a charge nobody ordered would stay "pending", out of the
		// reconciler's sight (it undoes authorized and captured payments
		// that no order claimed).
		if _, ferr := s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE payment_payments SET status = ?, provider_ref = ?, captured_amount = ?, decline_code = ?, message = ?, updated_at = ? WHERE id = ?`,
			p.Status, p.ProviderRef, p.CapturedAmount, p.DeclineCode, p.Message, s.now(), p.ID); ferr != nil {
			return p, fmt.Errorf("payment %s is %s at %s as %s but could not be recorded: %w", p.ID, p.Status, p.Provider, p.ProviderRef, errors.Join(err, ferr))
		}
		return p, err
	}
	if res.Declined {
		return p, &apperr.Error{Code: apperr.PaymentFailed, Message: "payment declined: " + res.Message, Detail: map[string]string{"decline_code": res.DeclineCode},
			Fields: []apperr.FieldError{{Field: "payment_method", Message: res.Message}}}
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Get returns a payment; NotFound when unknown.
func (s *Service) Get(ctx context.Context, id string) (Payment, error) {
	p, err := scan(s.db.QueryRowContext(ctx, `SELECT `+cols+` FROM payment_payments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, apperr.NotFoundf("payment not found")
	}
	if err != nil {
		return p, fmt.Errorf("get payment: %w", err)
	}
	return p, nil
}

// ForReference lists the payments made for a reference (an order id), oldest first.
func (s *Service) ForReference(ctx context.Context, reference string) ([]Payment, error) {
	return s.list(ctx, "list payments", `WHERE reference = ? ORDER BY created_at, id`, reference)
}

// list returns the payments a WHERE ... ORDER BY clause selects.
func (s *Service) list(ctx context.Context, what, where string, args ...any) ([]Payment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+cols+` FROM payment_payments `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		p, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// AttachOrder links a successful payment to its order inside the order's
// transaction.
func (s *Service) AttachOrder(ctx context.Context, tx *sqldb.Tx, paymentID, orderID string) error {
	res, err := tx.ExecContext(ctx, `UPDATE payment_payments SET order_id = ?, updated_at = ? WHERE id = ? AND status IN ('authorized', 'captured')`, orderID, s.now(), paymentID)
	if err != nil {
		return fmt.Errorf("attach payment: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("attach payment %s: not an authorized or captured payment", paymentID)
	}
	return nil
}

// Capture takes an authorized payment (authorize-then-capture-on-fulfilment).
// Capturing a captured payment is a no-op.
func (s *Service) Capture(ctx context.Context, paymentID string) (Payment, error) {
	p, err := s.Get(ctx, paymentID)
	if err != nil || p.Status == StatusCaptured {
		return p, err
	}
	if p.Status != StatusAuthorized {
		return p, apperr.Conflictf("payment is %s; only an authorized payment can be captured", p.Status)
	}
	if err := s.provider.Capture(ctx, p.ProviderRef, p.Amount, "capture:"+p.ID); err != nil {
		return p, fmt.Errorf("capture %s: %w", p.ID, err)
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE payment_payments SET status = 'captured', captured_amount = amount, updated_at = ? WHERE id = ? AND status = 'authorized'`, s.now(), p.ID)
		if err != nil {
			return fmt.Errorf("record capture: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // captured concurrently
		}
		return outbox.Add(ctx, tx, "payment.captured", p.ID, map[string]any{"payment_id": p.ID, "order_id": p.OrderID, "amount": p.Amount})
	})
	if err != nil {
		return p, err
	}
	return s.Get(ctx, p.ID)
}

// Void cancels an authorized payment. Voiding a voided one is a no-op.
func (s *Service) Void(ctx context.Context, paymentID string) error {
	p, err := s.Get(ctx, paymentID)
	if err != nil || p.Status == StatusVoided {
		return err
	}
	if p.Status != StatusAuthorized {
		return apperr.Conflictf("payment is %s; only an authorized payment can be voided", p.Status)
	}
	if err := s.provider.Void(ctx, p.ProviderRef, "void:"+p.ID); err != nil {
		return fmt.Errorf("void %s: %w", p.ID, err)
	}
	_, err = s.db.ExecContext(ctx, `UPDATE payment_payments SET status = 'voided', updated_at = ? WHERE id = ? AND status = 'authorized'`, s.now(), p.ID)
	return err
}

// Refund gives back amount of a captured payment (partially or fully) and
// writes payment.refunded. Refunding more than is left is Invalid on field
// "amount". The refund row and the event commit in one transaction, which
// may be the caller's (tx) so that an order's state and its refund agree.
func (s *Service) Refund(ctx context.Context, tx *sqldb.Tx, paymentID string, amount int64, reason string, notify map[string]any) (string, error) {
	return s.refund(ctx, tx, paymentID, amount, reason, notify, true)
}

// refund is Refund; without announce it writes no event (the compensation
// of a payment that never got an order: there is no order to tell the
// customer about or to count a refund against in the sales figures).
func (s *Service) refund(ctx context.Context, tx *sqldb.Tx, paymentID string, amount int64, reason string, notify map[string]any, announce bool) (string, error) {
	var q sqldb.Querier = s.db
	if tx != nil {
		q = tx
	}
	p, err := s.getIn(ctx, q, paymentID)
	if err != nil {
		return "", err
	}
	if p.Status != StatusCaptured && p.Status != StatusPartiallyRefunded {
		return "", apperr.Conflictf("payment is %s; only a captured payment can be refunded", p.Status)
	}
	left := p.CapturedAmount - p.RefundedAmount
	if amount <= 0 || amount > left {
		return "", apperr.Field("amount", fmt.Sprintf("must be between 1 and %d (what is left to refund)", left))
	}
	refundID := ids.New()
	write := func(tx *sqldb.Tx) error {
		status := StatusPartiallyRefunded
		if amount == left {
			status = StatusRefunded
		}
		res, err := tx.ExecContext(ctx, `UPDATE payment_payments SET refunded_amount = refunded_amount + ?, status = ?, updated_at = ?
			WHERE id = ? AND captured_amount - refunded_amount >= ?`, amount, status, s.now(), p.ID, amount)
		if err != nil {
			return fmt.Errorf("record refund: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.Conflictf("payment %s was refunded concurrently", p.ID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO payment_refunds (id, payment_id, amount, provider_ref, reason, status, created_at) VALUES (?, ?, ?, '', ?, 'pending', ?)`,
			refundID, p.ID, amount, reason, s.now()); err != nil {
			return fmt.Errorf("record refund: %w", err)
		}
		// The provider moves money only once this decision has committed.
		tx.AfterCommit(func() { s.sendRefund(context.WithoutCancel(ctx), refundID) })
		if !announce {
			return nil
		}
		ev := map[string]any{"payment_id": p.ID, "order_id": p.OrderID, "refund_id": refundID, "amount": money.Money{Amount: amount, Currency: p.Amount.Currency}}
		for k, v := range notify {
			ev[k] = v
		}
		return outbox.Add(ctx, tx, "payment.refunded", p.ID, ev)
	}
	if tx != nil {
		return refundID, write(tx)
	}
	return refundID, s.db.InTx(ctx, write)
}

func (s *Service) getIn(ctx context.Context, q sqldb.Querier, id string) (Payment, error) {
	p, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM payment_payments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, apperr.NotFoundf("payment not found")
	}
	return p, err
}

// Orphans returns successful payments older than age that no order claimed:
// what a crash between payment and order commit leaves. The checkout
// reconciler voids or refunds them.
func (s *Service) Orphans(ctx context.Context, age time.Duration) ([]Payment, error) {
	return s.list(ctx, "find orphan payments",
		`WHERE order_id IS NULL AND status IN ('authorized', 'captured') AND created_at < ? ORDER BY created_at`, s.now().Add(-age))
}

// Cancel undoes an unclaimed payment: void when authorized, full refund when
// captured. It is the compensation for a checkout that took money but could
// not commit its order; its refund writes no payment.refunded event (there
// is no order, and the sale was never counted).
func (s *Service) Cancel(ctx context.Context, paymentID, reason string) error {
	p, err := s.Get(ctx, paymentID)
	if err != nil {
		return err
	}
	switch p.Status {
	case StatusAuthorized:
		return s.Void(ctx, p.ID)
	case StatusCaptured:
		_, err := s.refund(ctx, nil, p.ID, p.CapturedAmount-p.RefundedAmount, reason, nil, false)
		return err
	}
	return nil
}

// sendRefund asks the provider to pay out a pending refund and marks it
// succeeded. The refund id is the idempotency key, so sending again (after
// a crash, or from SendPendingRefunds) never refunds twice. A failure leaves
// the refund pending for SendPendingRefunds.
func (s *Service) sendRefund(ctx context.Context, refundID string) error {
	var (
		amount            int64
		providerRef, curr string
	)
	err := s.db.QueryRowContext(ctx, `SELECT r.amount, p.provider_ref, p.currency FROM payment_refunds r JOIN payment_payments p ON p.id = r.payment_id
		WHERE r.id = ? AND r.status = 'pending'`, refundID).Scan(&amount, &providerRef, &curr)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // sent already
	}
	if err != nil {
		return fmt.Errorf("send refund %s: %w", refundID, err)
	}
	ref, err := s.provider.Refund(ctx, providerRef, money.Money{Amount: amount, Currency: curr}, "refund:"+refundID)
	if err != nil {
		return fmt.Errorf("send refund %s to %s: %w", refundID, s.provider.Name(), err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE payment_refunds SET status = 'succeeded', provider_ref = ? WHERE id = ? AND status = 'pending'`, ref, refundID); err != nil {
		return fmt.Errorf("record refund %s as sent: %w", refundID, err)
	}
	return nil
}

// SendPendingRefunds sends every refund still pending (the provider failed,
// or the process stopped between commit and send). It runs periodically.
func (s *Service) SendPendingRefunds(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM payment_refunds WHERE status = 'pending' ORDER BY created_at LIMIT 100`)
	if err != nil {
		return 0, fmt.Errorf("pending refunds: %w", err)
	}
	var pending []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("pending refunds: %w", err)
		}
		pending = append(pending, id)
	}
	rows.Close()
	var errs []error
	for _, id := range pending {
		errs = append(errs, s.sendRefund(ctx, id))
	}
	return len(pending), errors.Join(errs...)
}
