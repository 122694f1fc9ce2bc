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
// each account (customer_login_sources). It is private to the service.
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
