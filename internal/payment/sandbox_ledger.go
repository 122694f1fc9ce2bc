package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// WithSandboxLedger keeps the sandbox's books in db (the tables
// payment_sandbox_charges and payment_sandbox_refunds) instead of the
// process's memory, as a real provider keeps them on its side: an
// idempotency key is answered the same way after a restart, so replaying a
// payment whose answer a crash lost never charges twice, and the charges and
// refunds can be counted afterwards. Each call commits on its own, outside
// the shop's transactions, like a call to a provider. The shop runs the
// sandbox this way; unit tests may use the memory.
func WithSandboxLedger(db *sqldb.DB) SandboxOption {
	return func(s *Sandbox) { s.ledger = &sandboxLedger{db: db} }
}

// sandboxLedger is the sandbox provider's side of the books in SQL.
type sandboxLedger struct{ db *sqldb.DB }

// authorize records the answer r for the key unless the key has one, and
// returns the answer recorded under the key (the first one).
func (l *sandboxLedger) authorize(ctx context.Context, req AuthorizeRequest, r Result, now time.Time) (Result, error) {
	status := StatusAuthorized
	switch {
	case r.Declined:
		status = StatusDeclined
	case r.Captured:
		status = StatusCaptured
	}
	if _, err := l.db.ExecContext(ctx, `INSERT INTO payment_sandbox_charges (idem_key, provider_ref, reference, method, amount, currency, status, decline_code, message, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING`,
		req.IdempotencyKey, r.ProviderRef, req.Reference, req.PaymentMethod, req.Amount.Amount, req.Amount.Currency, status, r.DeclineCode, r.Message, now); err != nil {
		return Result{}, fmt.Errorf("sandbox: record charge: %w", err)
	}
	var (
		got   Result
		first string
	)
	// The first answer's status: authorized, captured or declined when it
	// was given (a later capture, void or refund does not change it).
	if err := l.db.QueryRowContext(ctx, `SELECT provider_ref, status, decline_code, message FROM payment_sandbox_charges WHERE idem_key = ?`, req.IdempotencyKey).
		Scan(&got.ProviderRef, &first, &got.DeclineCode, &got.Message); err != nil {
		return Result{}, fmt.Errorf("sandbox: read charge: %w", err)
	}
	switch first {
	case StatusDeclined:
		got.Declined = true
	case StatusCaptured, StatusRefunded:
		got.Captured = true
	case StatusVoided:
		// voided after an authorization: the replay says what was answered
	}
	return got, nil
}

// lookup returns the current state of a charge.
func (l *sandboxLedger) lookup(ctx context.Context, ref string) (Result, error) {
	var (
		r      = Result{ProviderRef: ref}
		status string
	)
	err := l.db.QueryRowContext(ctx, `SELECT status, decline_code, message FROM payment_sandbox_charges WHERE provider_ref = ?`, ref).Scan(&status, &r.DeclineCode, &r.Message)
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: look up %q: %w", ref, err)
	}
	r.Declined = status == StatusDeclined || status == StatusVoided
	r.Captured = status == StatusCaptured || status == StatusRefunded
	return r, nil
}

// setStatus moves a charge from one of from to status; an unknown charge is
// an error, a charge in another state is left as it is.
func (l *sandboxLedger) setStatus(ctx context.Context, ref, status string, from ...string) error {
	var n int
	if err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_sandbox_charges WHERE provider_ref = ?`, ref).Scan(&n); err != nil {
		return fmt.Errorf("sandbox: find charge: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sandbox: unknown payment %q", ref)
	}
	_, err := l.db.ExecContext(ctx, `UPDATE payment_sandbox_charges SET status = ? WHERE provider_ref = ? AND status IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(from)), ", ")+`)`,
		append([]any{status, ref}, anySlice(from)...)...)
	if err != nil {
		return fmt.Errorf("sandbox: update charge: %w", err)
	}
	return nil
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// refund pays back amount of a captured charge once per key and returns
// the refund's reference (the first one's, on a replay). Refunding more
// than was captured and not yet refunded is an error.
func (l *sandboxLedger) refund(ctx context.Context, ref string, amount money.Money, key string, now time.Time) (string, error) {
	var refundRef string
	err := l.db.InTx(ctx, func(tx *sqldb.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT refund_ref FROM payment_sandbox_refunds WHERE idem_key = ?`, key).Scan(&refundRef)
		if err == nil {
			return nil // a replay
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		ok, err := sqldb.Changed(tx.ExecContext(ctx, `UPDATE payment_sandbox_charges SET refunded_amount = refunded_amount + ?,
			status = CASE WHEN refunded_amount + ? = amount THEN 'refunded' ELSE status END
			WHERE provider_ref = ? AND status IN ('captured') AND amount - refunded_amount >= ?`, amount.Amount, amount.Amount, ref, amount.Amount))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("sandbox: payment %q has no captured %s left to refund", ref, amount.Format())
		}
		refundRef = "sb_re_" + strings.ReplaceAll(ids.New(), "-", "")
		_, err = tx.ExecContext(ctx, `INSERT INTO payment_sandbox_refunds (idem_key, provider_ref, refund_ref, amount, created_at) VALUES (?, ?, ?, ?, ?)`,
			key, ref, refundRef, amount.Amount, now)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("sandbox: refund: %w", err)
	}
	return refundRef, nil
}
