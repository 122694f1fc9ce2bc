package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Reminders (abandoned carts) carry an unsubscribe link,
// BaseURL/unsubscribe/{token}, one token per address (notify_recipients).
// Once an address has used it, no further reminder is written for it, and
// the ones still queued are cancelled. Order and account e-mails are not
// affected: they are part of the service the customer asked for.

// reminderData is what the abandoned_cart templates receive.
type reminderData struct {
	cart.Abandoned
	RestoreURL     string
	UnsubscribeURL string
}

// recipient returns the unsubscribe token of addr, making one on first use,
// and whether addr has unsubscribed.
func (s *Service) recipient(ctx context.Context, tx *sqldb.Tx, addr string, now time.Time) (string, bool, error) {
	addr = strings.ToLower(addr)
	if _, err := tx.ExecContext(ctx, `INSERT INTO notify_recipients (email, token, created_at) VALUES (?, ?, ?) ON CONFLICT (email) DO NOTHING`,
		addr, "un_"+ids.Secret(24), now); err != nil {
		return "", false, fmt.Errorf("store recipient: %w", err)
	}
	var (
		token string
		unsub sql.NullTime
	)
	if err := tx.QueryRowContext(ctx, `SELECT token, unsubscribed_at FROM notify_recipients WHERE email = ?`, addr).Scan(&token, &unsub); err != nil {
		return "", false, fmt.Errorf("read recipient: %w", err)
	}
	return token, unsub.Valid, nil
}

// unsubscribed reports whether addr has unsubscribed from reminders.
func (s *Service) unsubscribed(ctx context.Context, addr string) (bool, error) {
	var unsub sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT unsubscribed_at FROM notify_recipients WHERE email = ?`, strings.ToLower(addr)).Scan(&unsub)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read recipient: %w", err)
	}
	return unsub.Valid, nil
}

// Subscription is an address as its unsubscribe link shows it.
type Subscription struct {
	Email        string
	Unsubscribed bool
}

func errNoSubscription() error {
	return apperr.NotFoundf("this unsubscribe link is not valid")
}

// Subscription returns the address of an unsubscribe token; NotFound for a
// token this shop did not make.
func (s *Service) Subscription(ctx context.Context, token string) (Subscription, error) {
	if !strings.HasPrefix(token, "un_") || !ids.Plausible(token) {
		return Subscription{}, errNoSubscription()
	}
	var (
		sub   Subscription
		unsub sql.NullTime
	)
	err := s.db.QueryRowContext(ctx, `SELECT email, unsubscribed_at FROM notify_recipients WHERE token = ?`, token).Scan(&sub.Email, &unsub)
	if errors.Is(err, sql.ErrNoRows) {
		return Subscription{}, errNoSubscription()
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("read recipient: %w", err)
	}
	sub.Unsubscribed = unsub.Valid
	return sub, nil
}

// Unsubscribe stops reminders to the address of token (NotFound for an
// unknown token) and cancels those still queued for it. Using the link
// again changes nothing.
func (s *Service) Unsubscribe(ctx context.Context, token string) (Subscription, error) {
	sub, err := s.Subscription(ctx, token)
	if err != nil {
		return Subscription{}, err
	}
	now := s.now()
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE notify_recipients SET unsubscribed_at = ? WHERE token = ? AND unsubscribed_at IS NULL`, now, token); err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notify_emails SET status = ?, last_error = ?, next_attempt_at = NULL
			WHERE template = ? AND LOWER(to_addr) = ? AND status = ?`,
			StatusCancelled, "not sent: the recipient unsubscribed from reminders", TemplateAbandonedCart, sub.Email, StatusQueued); err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
		return nil
	})
	if err != nil {
		return Subscription{}, err
	}
	sub.Unsubscribed = true
	return sub, nil
}
