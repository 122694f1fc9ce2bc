package customer

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store holds the SQL of the sign-in limits: the attempt counters
// (customer_login_limits, the default Attempts) and the known sources of
// each account (customer_login_sources); and of the links mailed to account
// holders (customer_account_tokens). It is private to the service.
type store struct{ db *sqldb.DB }

// limitKey is the stored form of a counter's key: its SHA-256, so the table
// holds no e-mail or address.
func limitKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Take implements Attempts with one conditional UPSERT: the row of key is
// created, restarted (when forgotten), or counted one more, only when the
// rule lets the attempt through at now. The statement is atomic on SQLite
// (one writer) and on PostgreSQL (the conflicting row is locked and the
// condition re-checked on its latest version), so parallel attempts on any
// number of instances never pass more than the rule allows.
func (st store) Take(ctx context.Context, key string, rule Rule, now time.Time) (time.Duration, error) {
	k := limitKey(key)
	end := now.Add(rule.Forget)
	var cond strings.Builder
	args := []any{k, now, end, now} // VALUES, then the restart test of "attempts"
	// expires_at: a sliding count is forgotten Forget after its latest
	// attempt; a fixed window Forget after its first.
	expires := "excluded.expires_at"
	if !rule.Sliding {
		expires = "CASE WHEN customer_login_limits.expires_at <= ? THEN excluded.expires_at ELSE customer_login_limits.expires_at END"
		args = append(args, now)
	}
	// The attempt passes when the count is forgotten, within the free
	// attempts, or (with delays) late enough after the previous attempt.
	cond.WriteString("customer_login_limits.expires_at <= ? OR customer_login_limits.attempts < ?")
	args = append(args, now, rule.Free)
	for i, d := range rule.Delays {
		if i < len(rule.Delays)-1 {
			cond.WriteString(" OR (customer_login_limits.attempts = ? AND customer_login_limits.last_at <= ?)")
		} else {
			cond.WriteString(" OR (customer_login_limits.attempts >= ? AND customer_login_limits.last_at <= ?)")
		}
		args = append(args, rule.Free+i, now.Add(-d))
	}
	q := `INSERT INTO customer_login_limits (limit_key, attempts, last_at, expires_at) VALUES (?, 1, ?, ?)
		ON CONFLICT (limit_key) DO UPDATE SET
			attempts = CASE WHEN customer_login_limits.expires_at <= ? THEN 1 ELSE customer_login_limits.attempts + 1 END,
			last_at = excluded.last_at,
			expires_at = ` + expires + `
		WHERE ` + cond.String()
	ok, err := sqldb.Changed(st.db.ExecContext(ctx, q, args...))
	if err != nil {
		return 0, fmt.Errorf("count sign-in attempt: %w", err)
	}
	if ok {
		return 0, nil
	}
	var (
		attempts     int
		last, expiry time.Time
	)
	err = st.db.QueryRowContext(ctx, `SELECT attempts, last_at, expires_at FROM customer_login_limits WHERE limit_key = ?`, k).
		Scan(&attempts, &last, &expiry)
	if errors.Is(err, sql.ErrNoRows) { // reset or purged meanwhile: try again shortly
		return time.Second, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read sign-in attempts: %w", err)
	}
	return max(rule.wait(attempts, last, expiry, now), time.Second), nil
}

// Reset implements Attempts: it deletes the row of key.
func (st store) Reset(ctx context.Context, key string) error {
	if _, err := st.db.ExecContext(ctx, `DELETE FROM customer_login_limits WHERE limit_key = ?`, limitKey(key)); err != nil {
		return fmt.Errorf("reset sign-in attempts: %w", err)
	}
	return nil
}

// knownSources returns which of sources (see customer_login_sources) the
// account with this e-mail has signed in from and still remembers at now.
// An unknown e-mail has none; the query is the same either way.
func (st store) knownSources(ctx context.Context, email string, sources []string, now time.Time) (map[string]bool, error) {
	if len(sources) == 0 {
		return nil, nil
	}
	args := []any{email, now}
	for _, s := range sources {
		args = append(args, s)
	}
	found, err := sqldb.All(ctx, st.db, "read known sign-in sources", func(r sqldb.Scanner) (s string, err error) { return s, r.Scan(&s) },
		`SELECT s.source FROM customer_login_sources s JOIN customer_accounts a ON a.id = s.account_id
		WHERE a.email = ? AND s.expires_at > ? AND s.source IN (?`+strings.Repeat(", ?", len(sources)-1)+`)`, args...)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, s := range found {
		known[s] = true
	}
	return known, nil
}

// rememberSource records (or renews) a source the account signed in from,
// until expires.
func (st store) rememberSource(ctx context.Context, q sqldb.Querier, accountID, source string, now, expires time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO customer_login_sources (account_id, source, created_at, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, source) DO UPDATE SET expires_at = excluded.expires_at`, accountID, source, now, expires)
	if err != nil {
		return fmt.Errorf("remember sign-in source: %w", err)
	}
	return nil
}

// purge deletes the counters and known sources that are forgotten at now,
// and returns how many rows went.
func (st store) purge(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	for _, q := range []string{
		`DELETE FROM customer_login_limits WHERE expires_at <= ?`,
		`DELETE FROM customer_login_sources WHERE expires_at <= ?`,
	} {
		res, err := st.db.ExecContext(ctx, q, now)
		if err != nil {
			return n, fmt.Errorf("purge sign-in limits: %w", err)
		}
		c, err := res.RowsAffected()
		if err != nil {
			return n, fmt.Errorf("purge sign-in limits: %w", err)
		}
		n += c
	}
	return n, nil
}

// linkPurpose is what a mailed link does (customer_account_tokens.purpose).
type linkPurpose string

const (
	purposeReset  linkPurpose = "password_reset"
	purposeVerify linkPurpose = "verify_email"
	purposeChange linkPurpose = "change_email"
)

// link is a stored mailed link (its secret is not stored).
type link struct {
	ID        string
	AccountID string
	Purpose   linkPurpose
	Email     string // where it was sent
	ExpiresAt time.Time
	Used      bool
}

// addLink stores a link under the hash of its secret.
func (st store) addLink(ctx context.Context, q sqldb.Querier, l link, hash string, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO customer_account_tokens (id, account_id, purpose, token_hash, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.AccountID, l.Purpose, hash, l.Email, now, l.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store %s link: %w", l.Purpose, err)
	}
	return nil
}

// linkByHash returns the link of purpose whose secret has this hash, and
// whether there is one.
func (st store) linkByHash(ctx context.Context, q sqldb.Querier, purpose linkPurpose, hash string) (link, bool, error) {
	var (
		l    link
		used sql.NullTime
	)
	err := q.QueryRowContext(ctx, `SELECT id, account_id, purpose, email, expires_at, used_at FROM customer_account_tokens WHERE token_hash = ? AND purpose = ?`,
		hash, purpose).Scan(&l.ID, &l.AccountID, &l.Purpose, &l.Email, &l.ExpiresAt, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return link{}, false, nil
	}
	if err != nil {
		return link{}, false, fmt.Errorf("read %s link: %w", purpose, err)
	}
	l.Used = used.Valid
	return l, true, nil
}

// useLink marks the link used at now, only when it is still unused and
// unexpired, and reports whether it did. The update is conditional, so of
// two uses at once (any number of instances) exactly one wins.
func (st store) useLink(ctx context.Context, q sqldb.Querier, id string, now time.Time) (bool, error) {
	ok, err := sqldb.Changed(q.ExecContext(ctx, `UPDATE customer_account_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?`, now, id, now))
	if err != nil {
		return false, fmt.Errorf("use link: %w", err)
	}
	return ok, nil
}

// retireLinks marks every unused link of the account with one of these
// purposes used at now (they no longer apply).
func (st store) retireLinks(ctx context.Context, q sqldb.Querier, accountID string, now time.Time, purposes ...linkPurpose) error {
	args := []any{now, accountID}
	for _, p := range purposes {
		args = append(args, p)
	}
	_, err := q.ExecContext(ctx, `UPDATE customer_account_tokens SET used_at = ? WHERE account_id = ? AND used_at IS NULL AND purpose IN (?`+
		strings.Repeat(", ?", len(purposes)-1)+`)`, args...)
	if err != nil {
		return fmt.Errorf("retire links: %w", err)
	}
	return nil
}

// purgeLinks deletes the links expired at now and returns how many went.
func (st store) purgeLinks(ctx context.Context, now time.Time) (int64, error) {
	res, err := st.db.ExecContext(ctx, `DELETE FROM customer_account_tokens WHERE expires_at <= ?`, now)
	if err != nil {
		return 0, fmt.Errorf("purge links: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge links: %w", err)
	}
	return n, nil
}
