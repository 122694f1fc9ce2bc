package customer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Links mailed to account holders. Each is a random secret of 32 bytes
// (only its SHA-256 is stored) that works once, until it expires. The
// secret travels in an event (docs/EVENTS.md) to the notify module, which
// renders it into the e-mail; staff never see those e-mails' bodies.
const (
	PasswordResetTTL = time.Hour      // a password-reset link
	VerifyEmailTTL   = 48 * time.Hour // a link confirming the address (sign-up, resend)
	ChangeEmailTTL   = 24 * time.Hour // a link to the new address confirming a change

	// LinkMailsPerAddress bounds the mails with links: password resets per
	// e-mail address (whether or not an account has it), verification
	// and change mails per account, each per LinkMailWindow.
	LinkMailsPerAddress = 3
	// ResetRequestsPerIP bounds password-reset requests per client
	// address (IPv6 by /64) per LinkMailWindow.
	ResetRequestsPerIP = 20
	LinkMailWindow     = time.Hour
)

// linkMailRule is the limit of mails with links per address or account.
func linkMailRule() Rule { return Rule{Free: LinkMailsPerAddress, Forget: LinkMailWindow} }

// resetAnswerTime is the least time RequestPasswordReset takes once the
// limits let it through, so that the time of the answer does not tell
// whether an account has the address (BenchmarkPasswordResetRequest; only
// a database slower than this would show the difference again).
const resetAnswerTime = 100 * time.Millisecond

// wait returns at until, or when ctx ends (wall time: the service's clock
// may be a test's).
func wait(ctx context.Context, until time.Time) {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// The problems of a link's secret, all on field "token".
const (
	linkUnknown = "is not a valid link; ask for a new one"
	linkUsed    = "has already been used; ask for a new link if you still need one"
	linkExpired = "has expired; ask for a new link"
	linkMoved   = "was sent to an address this account no longer has; ask for a new link"
)

// newLink stores a link of purpose for the account, sent to email, valid
// for ttl, and returns its secret and expiry.
func (s *Service) newLink(ctx context.Context, tx *sqldb.Tx, accountID, email string, purpose linkPurpose, ttl time.Duration) (string, time.Time, error) {
	secret := ids.Secret(32)
	now := s.now()
	l := link{ID: ids.New(), AccountID: accountID, Purpose: purpose, Email: email, ExpiresAt: now.Add(ttl)}
	if err := s.store.addLink(ctx, tx, l, hashToken(secret), now); err != nil {
		return "", time.Time{}, err
	}
	return secret, l.ExpiresAt, nil
}

// openLink returns the link of purpose for secret if it may still be used:
// Invalid on "token" when it is missing, unknown, used or expired.
func (s *Service) openLink(ctx context.Context, purpose linkPurpose, secret string) (link, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return link{}, apperr.Field("token", "is required")
	}
	if len(secret) > 100 {
		return link{}, apperr.Field("token", linkUnknown)
	}
	// The primary: a link used a moment ago must read as used.
	l, ok, err := s.store.linkByHash(ctx, s.db, purpose, hashToken(secret))
	switch {
	case err != nil:
		return link{}, err
	case !ok:
		return link{}, apperr.Field("token", linkUnknown)
	case l.Used:
		return link{}, apperr.Field("token", linkUsed)
	case !s.now().Before(l.ExpiresAt):
		return link{}, apperr.Field("token", linkExpired)
	}
	return l, nil
}

// useLink marks l used inside tx, or says why it cannot be (another use
// won a race, or it expired meanwhile).
func (s *Service) useLink(ctx context.Context, tx *sqldb.Tx, l link, now time.Time) error {
	ok, err := s.store.useLink(ctx, tx, l.ID, now)
	if err != nil {
		return err
	}
	if !ok {
		if !now.Before(l.ExpiresAt) {
			return apperr.Field("token", linkExpired)
		}
		return apperr.Field("token", linkUsed)
	}
	return nil
}

// takeMail counts one mail with a link under key, or refuses it with
// TooManyRequest saying what.
func (s *Service) takeMail(ctx context.Context, key string, rule Rule, what string) error {
	wait, err := s.attempts.Take(ctx, key, rule, s.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		return ratelimit.Exceeded(what+"; try again in "+aboutDuration(wait), wait)
	}
	return nil
}

// RequestPasswordReset mails a password-reset link (valid PasswordResetTTL,
// once) to the account with this e-mail, customer or staff, through the
// customer.password_reset_requested event. It answers the same whether or
// not an account has the address, and does the same work either way except
// storing the link: nil, or the same errors, after resetAnswerTime at
// least. An address that is not an
// e-mail address is Invalid on "email"; more than ResetRequestsPerIP
// requests from the client address (ClientIPFrom) or LinkMailsPerAddress
// for the e-mail address per LinkMailWindow are TooManyRequest with a retry
// delay.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	email, err := address.NormalizeEmail("email", email)
	if err != nil {
		return err
	}
	if ip := ipKeyOf(ctx); ip != "" {
		if err := s.takeMail(ctx, "reset ip "+ip, Rule{Free: ResetRequestsPerIP, Forget: LinkMailWindow},
			"too many password reset requests from your network"); err != nil {
			return err
		}
	}
	if err := s.takeMail(ctx, "reset email "+email, linkMailRule(), "too many password reset requests for this e-mail address"); err != nil {
		return err
	}
	// Storing the link and its event takes a few milliseconds more than
	// finding no account: the answer waits until the same time either way.
	defer wait(ctx, time.Now().Add(resetAnswerTime))
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var a Account
		err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM customer_accounts WHERE email = ?`, email), &a)
		if errors.Is(err, sql.ErrNoRows) {
			_ = hashToken(ids.Secret(32)) // the work of making a link, without storing it
			return nil
		}
		if err != nil {
			return fmt.Errorf("request password reset: %w", err)
		}
		secret, exp, err := s.newLink(ctx, tx, a.ID, a.Email, purposeReset, PasswordResetTTL)
		if err != nil {
			return err
		}
		return outbox.Write(ctx, tx, PasswordResetRequested{AccountID: a.ID, Email: a.Email, Name: a.Name, Token: secret, ExpiresAt: exp})
	})
}

// ResetPassword sets the password of the account a password-reset link
// (its secret) was mailed to, and returns the account. It follows the
// password rules (Invalid on "password"; the link stays usable), uses the
// link up, retires the account's other reset and change-of-address links,
// signs out every session and API token of the account but the caller's
// own (when the caller is signed in to that account), and marks the
// address verified: the holder read the mail. A missing, unknown, used or
// expired link, or one sent to an address the account no longer has, is
// Invalid on "token".
func (s *Service) ResetPassword(ctx context.Context, secret, password string) (Account, error) {
	l, err := s.openLink(ctx, purposeReset, secret)
	if err != nil {
		return Account{}, err
	}
	a, err := s.account(ctx, s.db, l.AccountID)
	if err != nil {
		return Account{}, err
	}
	if a.Email != l.Email {
		return Account{}, apperr.Field("token", linkMoved)
	}
	if err := ValidatePassword("password", password, a.Email); err != nil {
		return Account{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Account{}, err
	}
	keep := ""
	if p, ok := auth.From(ctx); ok && p.AccountID == a.ID {
		keep = p.SessionID
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		now := s.now()
		if err := s.useLink(ctx, tx, l, now); err != nil {
			return err
		}
		// Conditional on the address the link went to, in this transaction.
		ok, err := sqldb.Changed(tx.ExecContext(ctx, `UPDATE customer_accounts SET password_hash = ?, email_verified_at = COALESCE(email_verified_at, ?), updated_at = ?
			WHERE id = ? AND email = ?`, hash, now, now, a.ID, l.Email))
		if err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
		if !ok {
			return apperr.Field("token", linkMoved)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE customer_tokens SET revoked_at = ? WHERE account_id = ? AND id <> ? AND revoked_at IS NULL`, now, a.ID, keep); err != nil {
			return fmt.Errorf("reset password: sign out: %w", err)
		}
		if err := s.store.retireLinks(ctx, tx, a.ID, now, purposeReset, purposeChange); err != nil {
			return err
		}
		a, err = s.account(ctx, tx, a.ID)
		return err
	})
	if err != nil {
		return Account{}, err
	}
	return a, nil
}

// sendVerification stores a verification link for the account's address
// and writes the event that mails it, in tx.
func (s *Service) sendVerification(ctx context.Context, tx *sqldb.Tx, a Account) error {
	secret, exp, err := s.newLink(ctx, tx, a.ID, a.Email, purposeVerify, VerifyEmailTTL)
	if err != nil {
		return err
	}
	return outbox.Write(ctx, tx, EmailVerificationRequested{AccountID: a.ID, Email: a.Email, Name: a.Name, Token: secret, ExpiresAt: exp})
}

// VerifyEmail marks the address a verification link (its secret) was
// mailed to as verified, uses the link up and retires the account's other
// verification links, and returns the account. A missing, unknown, used
// or expired link, or one sent to an address the account no longer has,
// is Invalid on "token".
func (s *Service) VerifyEmail(ctx context.Context, secret string) (Account, error) {
	l, err := s.openLink(ctx, purposeVerify, secret)
	if err != nil {
		return Account{}, err
	}
	var a Account
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		now := s.now()
		if err := s.useLink(ctx, tx, l, now); err != nil {
			return err
		}
		ok, err := sqldb.Changed(tx.ExecContext(ctx, `UPDATE customer_accounts SET email_verified_at = COALESCE(email_verified_at, ?), updated_at = ? WHERE id = ? AND email = ?`,
			now, now, l.AccountID, l.Email))
		if err != nil {
			return fmt.Errorf("verify e-mail: %w", err)
		}
		if !ok {
			return apperr.Field("token", linkMoved)
		}
		if err := s.store.retireLinks(ctx, tx, l.AccountID, now, purposeVerify); err != nil {
			return err
		}
		a, err = s.account(ctx, tx, l.AccountID)
		return err
	})
	if err != nil {
		return Account{}, err
	}
	return a, nil
}

// ResendVerification mails the signed-in account a new verification link
// (valid VerifyEmailTTL; earlier ones stay valid until they expire or one
// is used). Conflict when the address is already verified; more than
// LinkMailsPerAddress verification and change mails per LinkMailWindow are
// TooManyRequest with a retry delay.
func (s *Service) ResendVerification(ctx context.Context, p auth.Principal) error {
	a, err := s.account(ctx, s.db, p.AccountID)
	if err != nil {
		return err
	}
	if a.EmailVerified {
		return apperr.Conflictf("your e-mail address is already verified")
	}
	if err := s.takeMail(ctx, "links account "+a.ID, linkMailRule(), "too many e-mails with links for this account"); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		a, err := s.account(ctx, tx, p.AccountID)
		if err != nil {
			return err
		}
		return s.sendVerification(ctx, tx, a)
	})
}

// RequestEmailChange mails a link to newEmail that changes the signed-in
// account's address to it (valid ChangeEmailTTL, once); nothing changes
// until the link is followed. The current password is required (Invalid on
// "current_password" when missing or wrong; wrong ones are limited per
// session as for UpdateProfile). A new address that is not an e-mail
// address or is already the account's is Invalid on "email"; one another
// account has is a Conflict on "email" (checked again when the link is
// followed). More than LinkMailsPerAddress verification and change mails
// per LinkMailWindow are TooManyRequest with a retry delay.
func (s *Service) RequestEmailChange(ctx context.Context, p auth.Principal, newEmail, currentPassword string) error {
	var v apperr.Validator
	norm, err := address.NormalizeEmail("email", newEmail)
	addFields(&v, err)
	v.Check(err != nil || norm != strings.ToLower(p.Email), "email", "is already your e-mail address")
	switch {
	case currentPassword == "":
		v.Add("current_password", "is required to change the e-mail address")
	case len(currentPassword) > 1024:
		v.Add("current_password", "is too long")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.reauthenticate(ctx, p, currentPassword); err != nil {
		return err
	}
	var taken int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM customer_accounts WHERE email = ?`, norm).Scan(&taken); err != nil {
		return fmt.Errorf("request e-mail change: %w", err)
	}
	if taken > 0 {
		return errEmailTaken
	}
	if err := s.takeMail(ctx, "links account "+p.AccountID, linkMailRule(), "too many e-mails with links for this account"); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		a, err := s.account(ctx, tx, p.AccountID)
		if err != nil {
			return err
		}
		secret, exp, err := s.newLink(ctx, tx, a.ID, norm, purposeChange, ChangeEmailTTL)
		if err != nil {
			return err
		}
		return outbox.Write(ctx, tx, EmailChangeRequested{AccountID: a.ID, Email: a.Email, NewEmail: norm, Name: a.Name, Token: secret, ExpiresAt: exp})
	})
}

// ConfirmEmailChange changes the account's address to the one a change
// link (its secret) was mailed to, marks it verified, retires every other
// link of the account (they went to the old address, or to addresses it
// did not choose in the end), writes customer.email_changed (a notice to
// the old address), and returns the account. A missing, unknown, used or
// expired link is Invalid on "token"; an address another account took
// meanwhile is a Conflict on "email" (the link stays unused).
func (s *Service) ConfirmEmailChange(ctx context.Context, secret string) (Account, error) {
	l, err := s.openLink(ctx, purposeChange, secret)
	if err != nil {
		return Account{}, err
	}
	var a Account
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		now := s.now()
		if err := s.useLink(ctx, tx, l, now); err != nil {
			return err
		}
		old, err := s.account(ctx, tx, l.AccountID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE customer_accounts SET email = ?, email_verified_at = ?, updated_at = ? WHERE id = ?`, l.Email, now, now, l.AccountID)
		if sqldb.IsUniqueViolation(err) {
			return errEmailTaken
		}
		if err != nil {
			return fmt.Errorf("change e-mail: %w", err)
		}
		if err := s.store.retireLinks(ctx, tx, l.AccountID, now, purposeReset, purposeVerify, purposeChange); err != nil {
			return err
		}
		if err := outbox.Write(ctx, tx, EmailChanged{AccountID: old.ID, OldEmail: old.Email, NewEmail: l.Email, Name: old.Name}); err != nil {
			return fmt.Errorf("change e-mail: %w", err)
		}
		a, err = s.account(ctx, tx, l.AccountID)
		return err
	})
	if err != nil {
		return Account{}, err
	}
	return a, nil
}

// PurgeExpiredLinks deletes the mailed links that have expired (used or
// not; a periodic job runs it on every instance, and it is safe beside
// itself) and returns how many went. An expired link is refused before it
// is purged; after, it is unknown.
func (s *Service) PurgeExpiredLinks(ctx context.Context) (int64, error) {
	return s.store.purgeLinks(ctx, s.now())
}
