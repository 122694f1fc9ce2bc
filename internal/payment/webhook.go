package payment

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// HandleWebhook verifies and applies a provider notification, once: a
// redelivered event id is acknowledged and ignored. Events about payments
// Mercato does not know are acknowledged too (the provider would otherwise
// retry them forever). A bad signature is an Invalid error, and so is a
// correctly signed event whose id, type, payment or refund reference holds a
// NUL byte or invalid UTF-8 (refused before any SQL: PostgreSQL cannot store
// them). A change the
// provider made on its side (a capture, a cancellation, a refund) is recorded
// on the payment and announced with AtProvider set (payment.captured,
// payment.cancelled, payment.refunded), in the same transaction; the order
// module follows from those events.
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, header http.Header) error {
	return s.HandleWebhookFrom(ctx, s.provider.Name(), payload, header)
}

// HandleWebhookFrom is HandleWebhook for the named provider's notifications
// (each provider has its own route and signature). An unknown provider is
// NotFound.
func (s *Service) HandleWebhookFrom(ctx context.Context, provider string, payload []byte, header http.Header) error {
	prov, ok := s.providers[provider]
	if !ok {
		return apperr.NotFoundf("payment provider %q is not configured", provider)
	}
	ev, err := prov.ParseWebhook(payload, header)
	if err != nil {
		return err
	}
	if err := ev.validate(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		first, err := s.st.recordWebhook(ctx, tx, ev.ID, prov.Name(), ev.Type, s.now())
		if err != nil || !first {
			return err // an error, or delivered before
		}
		p, err := s.st.byProviderRef(ctx, tx, prov.Name(), ev.ProviderRef)
		if apperr.Is(err, apperr.NotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("webhook %s: %w", ev.ID, err)
		}
		switch ev.Type {
		case EventSucceeded:
			return s.webhookCaptured(ctx, tx, p)
		case EventAuthorized:
			return s.webhookAuthorized(ctx, tx, p)
		case EventFailed:
			return s.webhookFailed(ctx, tx, p, ev)
		case EventCanceled:
			return s.webhookCanceled(ctx, tx, p)
		case EventRefunded:
			return s.webhookRefunded(ctx, tx, p, ev)
		}
		return nil // a type we do not act on
	})
}

// maxWebhookText is the longest id, type or reference a notification may
// carry (providers' ids are tens of characters).
const maxWebhookText = 255

// validate refuses text no database column can hold: a NUL byte or invalid
// UTF-8 (PostgreSQL rejects both), and text longer than any provider's ids
// (it would be stored as is). The error names the payload's field.
func (ev WebhookEvent) validate() error {
	var v apperr.Validator
	for _, f := range []struct{ name, val string }{
		{"id", ev.ID}, {"type", ev.Type}, {"data.payment_ref", ev.ProviderRef}, {"data.refund_ref", ev.RefundRef},
	} {
		if !utf8.ValidString(f.val) || strings.ContainsRune(f.val, 0) {
			v.Add(f.name, "must be valid UTF-8 without NUL bytes")
		} else if len(f.val) > maxWebhookText {
			v.Add(f.name, fmt.Sprintf("must be at most %d bytes", maxWebhookText))
		}
	}
	return v.Err()
}

func (s *Service) webhookCaptured(ctx context.Context, tx *sqldb.Tx, p Payment) error {
	ok, err := s.st.markCaptured(ctx, tx, p.ID, s.now())
	if err != nil {
		return fmt.Errorf("webhook capture: %w", err)
	}
	if !ok {
		return nil // already captured (or no longer capturable)
	}
	return outbox.Write(ctx, tx, newPaymentCaptured(p, true))
}

func (s *Service) webhookAuthorized(ctx context.Context, tx *sqldb.Tx, p Payment) error {
	ok, err := s.st.markAuthorized(ctx, tx, p.ID, s.now())
	if err != nil || !ok {
		return err // !ok: not processing any more
	}
	return outbox.Write(ctx, tx, newPaymentAuthorized(p, true))
}

// webhookFailed ends a processing payment the provider declined. (A
// failed attempt on a payment that is not processing changes nothing.)
func (s *Service) webhookFailed(ctx context.Context, tx *sqldb.Tx, p Payment, ev WebhookEvent) error {
	ok, err := s.st.markDeclined(ctx, tx, p.ID, truncate(ev.DeclineCode, 100), truncate(ev.Message, 300), s.now())
	if err != nil || !ok {
		return err
	}
	return outbox.Write(ctx, tx, newPaymentCancelled(p, true))
}

func (s *Service) webhookCanceled(ctx context.Context, tx *sqldb.Tx, p Payment) error {
	ok, err := s.st.markVoided(ctx, tx, p.ID, s.now())
	if err != nil {
		return fmt.Errorf("webhook cancel: %w", err)
	}
	if !ok {
		return nil // not authorized any more
	}
	return outbox.Write(ctx, tx, newPaymentCancelled(p, true))
}

// webhookRefunded records a refund the provider made. A refund Mercato
// asked for itself is already recorded under its provider reference.
func (s *Service) webhookRefunded(ctx context.Context, tx *sqldb.Tx, p Payment, ev WebhookEvent) error {
	if ev.RefundRef != "" {
		known, err := s.st.hasProviderRefund(ctx, tx, p.ID, ev.RefundRef)
		if err != nil || known {
			return err
		}
	}
	left := p.CapturedAmount - p.RefundedAmount
	amount := min(ev.Amount, left)
	if amount <= 0 {
		return nil
	}
	status := StatusPartiallyRefunded
	if amount == left {
		status = StatusRefunded
	}
	ok, err := s.st.addRefunded(ctx, tx, p.ID, amount, status, s.now())
	if err != nil {
		return fmt.Errorf("webhook refund: %w", err)
	}
	if !ok {
		return apperr.Conflictf("payment %s was refunded concurrently", p.ID)
	}
	refundID := ids.New()
	if err := s.st.insertRefund(ctx, tx, refund{ID: refundID, PaymentID: p.ID, Amount: amount, ProviderRef: ev.RefundRef,
		Reason: "refunded at the payment provider", Status: "succeeded", CreatedAt: s.now()}); err != nil {
		return err
	}
	return outbox.Write(ctx, tx, newPaymentRefunded(p, refundID, amount, true))
}
