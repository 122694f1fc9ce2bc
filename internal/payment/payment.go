// Package payment takes money through a Provider and records every attempt,
// capture, void and refund. It never decides whether an order exists; the
// checkout links a payment to its order in the order's transaction.
package payment

import (
	"context"
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
	StatusPending           = "pending"    // asked; the provider's answer is not known (yet)
	StatusProcessing        = "processing" // the provider decides later; a webhook tells
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
	// NextAction is what the shopper must do for a processing payment
	// (3-D Secure, a hosted payment page), if anything.
	NextAction *NextAction `json:"next_action,omitempty"`
	// Capture is what was asked of the provider: take the money (true) or
	// only authorize it.
	Capture bool `json:"-"`
	// ReturnURL, Email and Description are the rest of what the provider
	// was asked with (replayed as they were by Resolve).
	ReturnURL, Email, Description string `json:"-"`
}

// Service records payments and talks to the providers.
type Service struct {
	db        *sqldb.DB
	st        store
	provider  Provider            // the default: takes every method no other accepts
	providers map[string]Provider // every provider by name, the default included
	order     []Provider          // the others, in the order given
	now       func() time.Time
}

// NewService returns a payment service using provider by default and the
// others for the methods they accept (see MethodAcceptor).
func NewService(db *sqldb.DB, provider Provider, others ...Provider) *Service {
	s := &Service{db: db, st: store{db}, provider: provider, providers: map[string]Provider{provider.Name(): provider}, order: others,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
	for _, o := range others {
		s.providers[o.Name()] = o
	}
	return s
}

// providerFor returns the provider that takes method.
func (s *Service) providerFor(method string) Provider {
	for _, p := range s.order {
		if a, ok := p.(MethodAcceptor); ok && a.Accepts(method) {
			return p
		}
	}
	return s.provider
}

// providerOf returns the provider a payment was made with.
func (s *Service) providerOf(p Payment) (Provider, error) {
	if pr, ok := s.providers[p.Provider]; ok {
		return pr, nil
	}
	return nil, fmt.Errorf("payment %s was made with %q, which is not configured", p.ID, p.Provider)
}

// applyResult records a provider's answer on p.
func applyResult(p *Payment, res Result) {
	p.ProviderRef, p.DeclineCode, p.Message, p.NextAction = res.ProviderRef, res.DeclineCode, res.Message, res.NextAction
	switch {
	case res.Declined:
		p.Status = StatusDeclined
	case res.Pending:
		p.Status = StatusProcessing
	case res.Captured:
		p.Status, p.CapturedAmount = StatusCaptured, p.Amount.Amount
	default:
		p.Status = StatusAuthorized
	}
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
	return s.PayWith(ctx, PayRequest{Reference: reference, Amount: amount, Method: method, Capture: capture})
}

// PayRequest is what PayWith asks for.
type PayRequest struct {
	Reference string // the order id to be
	Amount    money.Money
	Method    string
	Capture   bool
	// ReturnURL, Email and Description are passed to the provider (see
	// AuthorizeRequest).
	ReturnURL, Email, Description string
}

// PayWith is Pay with everything a provider may use. A provider that
// decides later answers with a processing payment (and maybe its
// NextAction); its webhook tells the outcome.
func (s *Service) PayWith(ctx context.Context, in PayRequest) (Payment, error) {
	if !ValidMethod(in.Method) {
		return Payment{}, apperr.Field("payment_method", "must be a payment method id such as pm_card_visa")
	}
	now := s.now()
	prov := s.providerFor(in.Method)
	p := Payment{ID: ids.New(), Reference: in.Reference, Provider: prov.Name(), Method: in.Method, Amount: in.Amount, Status: StatusPending, Capture: in.Capture, CreatedAt: now,
		ReturnURL: in.ReturnURL, Email: in.Email, Description: in.Description}
	if err := s.st.insert(ctx, p); err != nil {
		return Payment{}, err
	}
	// The provider key is per attempt: a retry after a compensated failure
	// (voided or refunded) must pay anew, not get the refunded charge back.
	req := authorizeRequest(p)
	res, err := prov.Authorize(ctx, req)
	if err != nil {
		// Outcome unknown: keep the row as failed so the reconciler can look at it.
		s.st.markFailed(context.WithoutCancel(ctx), p.ID, truncate(err.Error(), 300), s.now())
		return Payment{}, fmt.Errorf("payment provider %s: %w", p.Provider, err)
	}
	applyResult(&p, res)
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.st.saveResult(ctx, tx, p, s.now()); err != nil {
			return err
		}
		if p.Status == StatusCaptured {
			return outbox.Write(ctx, tx, newPaymentCaptured(p, false))
		}
		return nil
	})
	if err != nil {
		// The provider has answered: keep what it said even without the
		// event, or a charge nobody ordered would stay "pending", out of the
		// reconciler's sight (it undoes authorized and captured payments
		// that no order claimed).
		if ferr := s.st.saveResult(context.WithoutCancel(ctx), s.db, p, s.now()); ferr != nil {
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

// authorizeRequest is what the provider is asked for p, with p's own
// idempotency key: asking again (Resolve) gets the first answer.
func authorizeRequest(p Payment) AuthorizeRequest {
	return AuthorizeRequest{Amount: p.Amount, PaymentMethod: p.Method, Capture: p.Capture, Reference: p.Reference, IdempotencyKey: "pay:" + p.ID,
		ReturnURL: p.ReturnURL, Email: p.Email, Description: p.Description}
}

// Unresolved reports whether the provider's answer to p is unknown: a crash
// or a provider failure came between the request and its recorded answer.
func (p Payment) Unresolved() bool { return p.Status == StatusPending || p.Status == StatusFailed }

// Succeeded reports whether p took or reserved the money, or the provider
// has it in hand (processing), and nothing has given it back yet: an order
// may use it.
func (p Payment) Succeeded() bool {
	return p.Status == StatusAuthorized || p.Status == StatusCaptured || p.Status == StatusProcessing
}

// Resolve learns the outcome of a payment whose answer was never recorded
// (pending: the process stopped during the provider call; failed: the call
// failed, so the money may or may not have moved). It asks the provider
// again with the same parameters and idempotency key, which answers as it
// did the first time without charging again, and records that answer
// (writing payment.captured for a capture). A resolved payment is returned
// as it is. It must run within the provider's idempotency window (24 hours
// at Stripe): after it, asking again would be a new charge, so an older
// unresolved payment is a Conflict for a person to look at.
func (s *Service) Resolve(ctx context.Context, paymentID string) (Payment, error) {
	p, err := s.Get(ctx, paymentID)
	if err != nil || !p.Unresolved() {
		return p, err
	}
	if s.now().Sub(p.CreatedAt) > ResolveWindow {
		return p, apperr.Conflictf("payment %s is %s since %s, beyond the provider's idempotency window; check it at %s", p.ID, p.Status, p.CreatedAt.Format(time.RFC3339), p.Provider)
	}
	prov, err := s.providerOf(p)
	if err != nil {
		return p, err
	}
	res, err := prov.Authorize(ctx, authorizeRequest(p))
	if err != nil {
		return p, fmt.Errorf("resolve payment %s at %s: %w", p.ID, p.Provider, err)
	}
	applyResult(&p, res)
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		ok, err := s.st.saveResolved(ctx, tx, p, s.now())
		if err != nil || !ok {
			return err // !ok: resolved meanwhile; read it below
		}
		if p.Status == StatusCaptured {
			return outbox.Write(ctx, tx, newPaymentCaptured(p, false))
		}
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("record resolved payment %s: %w", p.ID, err)
	}
	return s.Get(ctx, p.ID)
}

// ResolveWindow is how long after a payment its outcome may be asked for
// again with its idempotency key: inside the providers' window (Stripe
// keeps keys for 24 hours) with a margin.
const ResolveWindow = 23 * time.Hour

// Unresolved returns up to limit payments whose provider answer is unknown
// (pending or failed), created between the resolve window's start and
// before, oldest first: the reconciler resolves them.
func (s *Service) Unresolved(ctx context.Context, before time.Time, limit int) ([]Payment, error) {
	return s.st.list(ctx, "find unresolved payments",
		`WHERE status IN ('pending', 'failed') AND created_at < ? AND created_at > ? ORDER BY created_at LIMIT ?`, before, s.now().Add(-ResolveWindow), limit)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Get returns a payment; NotFound when unknown.
func (s *Service) Get(ctx context.Context, id string) (Payment, error) {
	return s.st.get(ctx, s.db, id)
}

// ForReference lists the payments made for a reference (an order id), oldest
// first; an empty list when there are none.
func (s *Service) ForReference(ctx context.Context, reference string) ([]Payment, error) {
	return s.st.list(ctx, "list payments", `WHERE reference = ? ORDER BY created_at, id`, reference)
}

// AttachOrder links a successful payment to its order inside the order's
// transaction. A payment that is not authorized or captured is an error.
func (s *Service) AttachOrder(ctx context.Context, tx *sqldb.Tx, paymentID, orderID string) error {
	ok, err := s.st.attachOrder(ctx, tx, paymentID, orderID, s.now())
	if err != nil {
		return fmt.Errorf("attach payment: %w", err)
	}
	if !ok {
		return fmt.Errorf("attach payment %s: not an authorized or captured payment", paymentID)
	}
	return nil
}

// Capture takes an authorized payment (authorize-then-capture-on-fulfilment)
// and writes payment.captured. Capturing a captured payment is a no-op; any
// other status is a Conflict; an unknown payment is NotFound.
func (s *Service) Capture(ctx context.Context, paymentID string) (Payment, error) {
	p, err := s.Get(ctx, paymentID)
	if err != nil || p.Status == StatusCaptured {
		return p, err
	}
	if p.Status != StatusAuthorized {
		return p, apperr.Conflictf("payment is %s; only an authorized payment can be captured", p.Status)
	}
	prov, err := s.providerOf(p)
	if err != nil {
		return p, err
	}
	if err := prov.Capture(ctx, p.ProviderRef, p.Amount, "capture:"+p.ID); err != nil {
		return p, fmt.Errorf("capture %s: %w", p.ID, err)
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		ok, err := s.st.markCaptured(ctx, tx, p.ID, s.now())
		if err != nil {
			return fmt.Errorf("record capture: %w", err)
		}
		if !ok {
			return nil // captured concurrently
		}
		return outbox.Write(ctx, tx, newPaymentCaptured(p, false))
	})
	if err != nil {
		return p, err
	}
	return s.Get(ctx, p.ID)
}

// Void cancels an authorized payment and writes payment.cancelled. Voiding
// a voided one is a no-op; any other status is a Conflict; an unknown
// payment is NotFound.
func (s *Service) Void(ctx context.Context, paymentID string) error {
	p, err := s.Get(ctx, paymentID)
	if err != nil || p.Status == StatusVoided {
		return err
	}
	if p.Status != StatusAuthorized && p.Status != StatusProcessing {
		return apperr.Conflictf("payment is %s; only an authorized or processing payment can be voided", p.Status)
	}
	prov, err := s.providerOf(p)
	if err != nil {
		return err
	}
	if err := prov.Void(ctx, p.ProviderRef, "void:"+p.ID); err != nil {
		return fmt.Errorf("void %s: %w", p.ID, err)
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		ok, err := s.st.markVoided(ctx, tx, p.ID, s.now())
		if err != nil {
			return fmt.Errorf("record void: %w", err)
		}
		if !ok {
			return nil // voided concurrently
		}
		return outbox.Write(ctx, tx, newPaymentCancelled(p, false))
	})
}

// Refund gives back amount of a captured payment (partially or fully) and
// writes payment.refunded; it returns the refund id. Refunding more than is
// left (or nothing) is Invalid on field "amount"; a payment that is not
// captured is a Conflict; an unknown one NotFound. The refund row and the
// event commit in one transaction, which may be the caller's (tx) so that
// an order's state and its refund agree; the provider is asked for the
// money only after that transaction commits.
func (s *Service) Refund(ctx context.Context, tx *sqldb.Tx, paymentID string, amount int64, reason string) (string, error) {
	p, err := s.st.get(ctx, s.db.Querier(tx), paymentID)
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
	err = s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		status := StatusPartiallyRefunded
		if amount == left {
			status = StatusRefunded
		}
		ok, err := s.st.addRefunded(ctx, tx, p.ID, amount, status, s.now())
		if err != nil {
			return fmt.Errorf("record refund: %w", err)
		}
		if !ok {
			return apperr.Conflictf("payment %s was refunded concurrently", p.ID)
		}
		if err := s.st.insertRefund(ctx, tx, refund{ID: refundID, PaymentID: p.ID, Amount: amount, Reason: reason, Status: "pending", CreatedAt: s.now()}); err != nil {
			return err
		}
		// The provider moves money only once this decision has committed.
		// A failure leaves the refund pending: the payment-refunds job sends
		// it again (SendPendingRefunds) and reports what still fails.
		tx.AfterCommit(func() { _ = s.sendRefund(context.WithoutCancel(ctx), refundID) })
		return outbox.Write(ctx, tx, newPaymentRefunded(p, refundID, amount, false))
	})
	if err != nil {
		return "", err
	}
	return refundID, nil
}

// Orphans returns successful payments older than age that no order claimed:
// what a crash between payment and order commit leaves. The checkout
// reconciler voids or refunds them.
func (s *Service) Orphans(ctx context.Context, age time.Duration) ([]Payment, error) {
	return s.st.list(ctx, "find orphan payments",
		`WHERE order_id IS NULL AND status IN ('authorized', 'captured', 'processing') AND created_at < ? ORDER BY created_at`, s.now().Add(-age))
}

// Cancel undoes a payment that no order claimed: void when authorized, full
// refund when captured (other statuses, and a payment an order claimed:
// nothing to do). It is the compensation for a checkout that took money
// but could not commit its order, and the reconciler's for a payment no
// retry adopted. The decision commits first, conditionally on the payment
// being still unclaimed, so that it cannot race with an order claiming the
// payment; the provider is asked after that (a refund is retried by
// SendPendingRefunds; an authorization the provider failed to void lapses
// there by itself). Its events (payment.cancelled, payment.refunded) name
// no order but the reference; no order.refunded follows, so the sales
// figures never count it. It reports whether it undid the payment.
func (s *Service) Cancel(ctx context.Context, paymentID, reason string) (bool, error) {
	p, err := s.Get(ctx, paymentID)
	if err != nil || p.OrderID != "" || !p.Succeeded() {
		return false, err
	}
	var (
		done     bool
		refundID string
		amount   = p.CapturedAmount - p.RefundedAmount
	)
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if p.Status == StatusAuthorized || p.Status == StatusProcessing {
			if done, err = s.st.voidUnclaimed(ctx, tx, p.ID, s.now()); err != nil || !done {
				return err
			}
			return outbox.Write(ctx, tx, newPaymentCancelled(p, false))
		}
		if done, err = s.st.refundUnclaimed(ctx, tx, p.ID, amount, s.now()); err != nil || !done {
			return err
		}
		refundID = ids.New()
		if err := s.st.insertRefund(ctx, tx, refund{ID: refundID, PaymentID: p.ID, Amount: amount, Reason: reason, Status: "pending", CreatedAt: s.now()}); err != nil {
			return err
		}
		return outbox.Write(ctx, tx, newPaymentRefunded(p, refundID, amount, false))
	})
	if err != nil {
		return false, fmt.Errorf("cancel payment %s: %w", p.ID, err)
	}
	if !done {
		return false, nil // claimed or undone meanwhile
	}
	bg := context.WithoutCancel(ctx)
	if refundID != "" {
		return true, s.sendRefund(bg, refundID)
	}
	prov, err := s.providerOf(p)
	if err != nil {
		return true, err
	}
	if err := prov.Void(bg, p.ProviderRef, "void:"+p.ID); err != nil {
		return true, fmt.Errorf("void %s at %s (recorded as voided; the authorization lapses there by itself): %w", p.ID, p.Provider, err)
	}
	return true, nil
}

// sendRefund asks the provider to pay out a pending refund and marks it
// succeeded. The refund id is the idempotency key, so sending again (after
// a crash, or from SendPendingRefunds) never refunds twice. A failure leaves
// the refund pending for SendPendingRefunds.
func (s *Service) sendRefund(ctx context.Context, refundID string) error {
	amount, providerRef, provider, ok, err := s.st.pendingRefund(ctx, refundID)
	if err != nil {
		return fmt.Errorf("send refund %s: %w", refundID, err)
	}
	if !ok {
		return nil // sent already
	}
	prov, err := s.providerOf(Payment{ID: refundID, Provider: provider})
	if err != nil {
		return err
	}
	ref, err := prov.Refund(ctx, providerRef, amount, "refund:"+refundID)
	if err != nil {
		return fmt.Errorf("send refund %s to %s: %w", refundID, provider, err)
	}
	if err := s.st.markRefundSent(ctx, refundID, ref); err != nil {
		return fmt.Errorf("record refund %s as sent: %w", refundID, err)
	}
	return nil
}

// SendPendingRefunds sends every refund still pending (the provider failed,
// or the process stopped between commit and send), up to 100 a run, and
// returns how many it tried. It runs periodically.
func (s *Service) SendPendingRefunds(ctx context.Context) (int, error) {
	pending, err := s.st.pendingRefunds(ctx, 100)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, id := range pending {
		errs = append(errs, s.sendRefund(ctx, id))
	}
	return len(pending), errors.Join(errs...)
}

// Processing returns up to limit payments still processing (the provider
// decides later) that nothing has changed or checked since before (Settle
// records each look-up), least recently first: the reconciler asks each
// provider about a payment once per period, not at every run.
func (s *Service) Processing(ctx context.Context, before time.Time, limit int) ([]Payment, error) {
	return s.st.list(ctx, "find processing payments", `WHERE status = 'processing' AND updated_at < ? ORDER BY updated_at LIMIT ?`, before, limit)
}

// Settle brings a processing payment in line with its provider: it asks
// for its state (Lookup) and records a capture, an authorization or a
// failure the webhook has not delivered (yet); a payment still undecided
// and expire set is cancelled at the provider and recorded as voided.
// Every change writes its event with AtProvider set (the order follows:
// paid, authorized, or cancelled). A payment in another state is returned
// as it is.
func (s *Service) Settle(ctx context.Context, paymentID string, expire bool) (Payment, error) {
	p, err := s.Get(ctx, paymentID)
	if err != nil || p.Status != StatusProcessing {
		return p, err
	}
	prov, err := s.providerOf(p)
	if err != nil {
		return p, err
	}
	res, err := prov.Lookup(ctx, p.ProviderRef)
	if err != nil {
		return p, fmt.Errorf("look up payment %s at %s: %w", p.ID, p.Provider, err)
	}
	if res.Pending {
		if !expire {
			if err := s.st.touchProcessing(ctx, p.ID, s.now()); err != nil {
				return p, fmt.Errorf("record the look-up of payment %s: %w", p.ID, err)
			}
			return p, nil
		}
		if err := prov.Void(ctx, p.ProviderRef, "void:"+p.ID); err != nil {
			return p, fmt.Errorf("cancel expired payment %s at %s: %w", p.ID, p.Provider, err)
		}
		res = Result{Declined: true, DeclineCode: "expired", Message: "The payment was not completed in time."}
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var (
			ok  bool
			err error
			ev  outbox.Message
		)
		switch {
		case res.Declined:
			ok, err = s.st.markDeclined(ctx, tx, p.ID, truncate(res.DeclineCode, 100), truncate(res.Message, 300), s.now())
			ev = newPaymentCancelled(p, true)
		case res.Captured:
			ok, err = s.st.markCaptured(ctx, tx, p.ID, s.now())
			ev = newPaymentCaptured(p, true)
		default:
			ok, err = s.st.markAuthorized(ctx, tx, p.ID, s.now())
			ev = newPaymentAuthorized(p, true)
		}
		if err != nil || !ok {
			return err // !ok: its webhook came first
		}
		return outbox.Write(ctx, tx, ev)
	})
	if err != nil {
		return p, fmt.Errorf("settle payment %s: %w", p.ID, err)
	}
	return s.Get(ctx, p.ID)
}
