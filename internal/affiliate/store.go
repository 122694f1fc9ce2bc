package affiliate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store is every SQL statement of the module (the same on SQLite and
// PostgreSQL).
type store struct{ db *sqldb.DB }

var errAffiliateNotFound = apperr.NotFoundf("affiliate not found")

const affiliateColumns = `id, account_id, email, name, code, status, rate_bp, note, clicks, created_at, decided_at`

func scanAffiliate(row sqldb.Scanner) (Affiliate, error) {
	var (
		a       Affiliate
		rate    sql.NullInt64
		decided sql.NullTime
	)
	if err := row.Scan(&a.ID, &a.AccountID, &a.Email, &a.Name, &a.Code, &a.Status, &rate, &a.Note, &a.Clicks, &a.CreatedAt, &decided); err != nil {
		return a, err
	}
	if rate.Valid {
		r := Rate(rate.Int64)
		a.rate = &r
	}
	if decided.Valid {
		t := decided.Time.UTC()
		a.DecidedAt = &t
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

func rateArg(r *Rate) any {
	if r == nil {
		return nil
	}
	return int64(*r)
}

func (s store) insert(ctx context.Context, q sqldb.Querier, a Affiliate, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO affiliate_affiliates (id, account_id, email, name, code, status, rate_bp, note, clicks, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`, a.ID, a.AccountID, a.Email, a.Name, a.Code, a.Status, rateArg(a.rate), a.Note, now, now)
	return err
}

// one reads the affiliate matching where (one condition on a unique
// column); NotFound when there is none.
func (s store) one(ctx context.Context, q sqldb.Querier, where string, arg any) (Affiliate, error) {
	a, err := scanAffiliate(q.QueryRowContext(ctx, `SELECT `+affiliateColumns+` FROM affiliate_affiliates WHERE `+where+` = ?`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return a, errAffiliateNotFound
	}
	if err != nil {
		return a, fmt.Errorf("read affiliate: %w", err)
	}
	return a, nil
}

// update re-reads an affiliate in tx (its row locked on PostgreSQL; SQLite
// has one writer), applies fn and writes back its status, rate and
// decision time. NotFound when there is no such affiliate.
func (s store) update(ctx context.Context, tx *sqldb.Tx, id string, now time.Time, fn func(*Affiliate) error) (Affiliate, error) {
	if !ids.Plausible(id) {
		return Affiliate{}, errAffiliateNotFound
	}
	if tx.Dialect() == sqldb.Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT id FROM affiliate_affiliates WHERE id = ? FOR UPDATE`, id); err != nil {
			return Affiliate{}, fmt.Errorf("lock affiliate: %w", err)
		}
	}
	a, err := s.one(ctx, tx, "id", id)
	if err != nil {
		return a, err
	}
	if err := fn(&a); err != nil {
		return a, err
	}
	var decided any
	if a.DecidedAt != nil {
		decided = *a.DecidedAt
	}
	if _, err := tx.ExecContext(ctx, `UPDATE affiliate_affiliates SET status = ?, rate_bp = ?, decided_at = ?, updated_at = ? WHERE id = ?`,
		a.Status, rateArg(a.rate), decided, now, a.ID); err != nil {
		return a, fmt.Errorf("update affiliate: %w", err)
	}
	return a, nil
}

// addRateChange records that an affiliate's rate became r at at (nil: the
// default).
func (s store) addRateChange(ctx context.Context, tx *sqldb.Tx, affiliateID string, r *Rate, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO affiliate_rate_changes (affiliate_id, changed_at, rate_bp) VALUES (?, ?, ?)
		ON CONFLICT (affiliate_id, changed_at) DO UPDATE SET rate_bp = excluded.rate_bp`, affiliateID, at, rateArg(r)); err != nil {
		return fmt.Errorf("record rate change: %w", err)
	}
	return nil
}

// rateAt returns an affiliate's own rate at a time: found is false when it
// was never changed before then (every affiliate starts at the default);
// a nil rate is the default too.
func (s store) rateAt(ctx context.Context, q sqldb.Querier, affiliateID string, at time.Time) (*Rate, bool, error) {
	var r sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT rate_bp FROM affiliate_rate_changes WHERE affiliate_id = ? AND changed_at <= ? ORDER BY changed_at DESC LIMIT 1`,
		affiliateID, at).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read rate: %w", err)
	}
	if !r.Valid {
		return nil, true, nil
	}
	rate := Rate(r.Int64)
	return &rate, true, nil
}

// setEmail records an account's new address.
func (s store) setEmail(ctx context.Context, q sqldb.Querier, accountID, email string, now time.Time) error {
	if _, err := q.ExecContext(ctx, `UPDATE affiliate_affiliates SET email = ?, updated_at = ? WHERE account_id = ?`, email, now, accountID); err != nil {
		return fmt.Errorf("update affiliate e-mail: %w", err)
	}
	return nil
}

// listFilter selects affiliates (validated by the service).
type listFilter struct {
	status string
	words  []string
	after  string // id
	limit  int
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// list returns up to f.limit affiliates, newest first.
func (s store) list(ctx context.Context, f listFilter) ([]Affiliate, error) {
	where := []string{"1 = 1"}
	var args []any
	if f.status != "" {
		where = append(where, "status = ?")
		args = append(args, f.status)
	}
	for _, w := range f.words {
		pat := "%" + likeEscape(strings.ToLower(w)) + "%"
		where = append(where, `(LOWER(email) LIKE ? ESCAPE '\' OR LOWER(name) LIKE ? ESCAPE '\' OR LOWER(code) LIKE ? ESCAPE '\')`)
		args = append(args, pat, pat, pat)
	}
	if f.after != "" {
		where = append(where, "id < ?")
		args = append(args, f.after)
	}
	args = append(args, f.limit)
	return sqldb.All(ctx, s.db.Reader(), "list affiliates", scanAffiliate,
		`SELECT `+affiliateColumns+` FROM affiliate_affiliates WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
}

// figures are one affiliate's ledger totals in one currency.
type figures struct {
	orders      int64
	commissions Commissions // amounts without currency
	clawback    int64       // taken back from paid commissions, not yet deducted
}

// figuresOf sums the ledger of the affiliates in currency.
func (s store) figuresOf(ctx context.Context, q sqldb.Querier, affiliateIDs []string, currency string) (map[string]*figures, error) {
	out := make(map[string]*figures, len(affiliateIDs))
	if len(affiliateIDs) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(affiliateIDs)+1)
	for _, id := range affiliateIDs {
		out[id] = &figures{}
		args = append(args, id)
	}
	args = append(args, currency)
	in := sqldb.Placeholders(len(affiliateIDs))
	rows, err := q.QueryContext(ctx, `SELECT affiliate_id, status, COUNT(*), COALESCE(SUM(amount - reversed), 0), COALESCE(SUM(paid_amount), 0),
			COALESCE(SUM(reversed), 0), COALESCE(SUM(CASE WHEN reversed > 0 THEN 1 ELSE 0 END), 0)
		FROM affiliate_commissions WHERE affiliate_id IN (`+in+`) AND currency = ? GROUP BY affiliate_id, status`, args...)
	if err != nil {
		return nil, fmt.Errorf("sum commissions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, status                         string
			n, left, paid, reversed, nReversed int64
		)
		if err := rows.Scan(&id, &status, &n, &left, &paid, &reversed, &nReversed); err != nil {
			return nil, fmt.Errorf("sum commissions: %w", err)
		}
		f := out[id]
		if f == nil {
			continue
		}
		f.orders += n
		c := &f.commissions
		switch status {
		case CommissionPending:
			c.Pending.Count += n
			c.Pending.Amount.Amount += left
		case CommissionApproved:
			c.Approved.Count += n
			c.Approved.Amount.Amount += left
		case CommissionPaid:
			c.Paid.Count += n
			c.Paid.Amount.Amount += paid
		}
		c.Reversed.Count += nReversed
		c.Reversed.Amount.Amount += reversed
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sum commissions: %w", err)
	}
	rows, err = q.QueryContext(ctx, `SELECT affiliate_id, COALESCE(SUM(amount), 0) FROM affiliate_clawbacks
		WHERE affiliate_id IN (`+in+`) AND currency = ? AND payout_id IS NULL GROUP BY affiliate_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sum clawbacks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id     string
			amount int64
		)
		if err := rows.Scan(&id, &amount); err != nil {
			return nil, fmt.Errorf("sum clawbacks: %w", err)
		}
		if f := out[id]; f != nil {
			f.clawback = amount
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sum clawbacks: %w", err)
	}
	return out, nil
}

// ---- clicks and referrals ----

// countClick counts a click on affiliateID from client in hour, unless
// that client's click on that code was counted in that hour already. It
// reports whether it counted.
func (s store) countClick(ctx context.Context, tx *sqldb.Tx, affiliateID, client string, hour int64) (bool, error) {
	ok, err := sqldb.Changed(tx.ExecContext(ctx, `INSERT INTO affiliate_click_marks (affiliate_id, client, hour) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		affiliateID, client, hour))
	if err != nil || !ok {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE affiliate_affiliates SET clicks = clicks + 1 WHERE id = ?`, affiliateID); err != nil {
		return false, fmt.Errorf("count click: %w", err)
	}
	return true, nil
}

// refer records that affiliateID referred cartID with a click at clicked;
// a later click replaces an earlier one, never the other way round.
func (s store) refer(ctx context.Context, q sqldb.Querier, cartID, affiliateID string, clicked, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO affiliate_referrals (cart_id, affiliate_id, clicked_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (cart_id) DO UPDATE SET affiliate_id = excluded.affiliate_id, clicked_at = excluded.clicked_at, updated_at = excluded.updated_at
		WHERE affiliate_referrals.clicked_at <= excluded.clicked_at`, cartID, affiliateID, clicked, now)
	if err != nil {
		return fmt.Errorf("record referral: %w", err)
	}
	return nil
}

// referralOf returns the referral of a cart; ok is false when there is none.
func (s store) referralOf(ctx context.Context, q sqldb.Querier, cartID string) (Referral, bool, error) {
	var r Referral
	err := q.QueryRowContext(ctx, `SELECT affiliate_id, clicked_at FROM affiliate_referrals WHERE cart_id = ?`, cartID).Scan(&r.AffiliateID, &r.ClickedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read referral: %w", err)
	}
	r.ClickedAt = r.ClickedAt.UTC()
	return r, true, nil
}

// purge deletes click marks of hours before hour and referrals clicked
// before clickedBefore.
func (s store) purge(ctx context.Context, hour int64, clickedBefore time.Time) (int64, error) {
	var total int64
	for _, st := range []struct {
		q   string
		arg any
	}{
		{`DELETE FROM affiliate_click_marks WHERE hour < ?`, hour},
		{`DELETE FROM affiliate_referrals WHERE clicked_at < ?`, clickedBefore},
	} {
		res, err := s.db.ExecContext(ctx, st.q, st.arg)
		if err != nil {
			return total, fmt.Errorf("purge: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// ---- the ledger ----

// commissionRow is a ledger row.
type commissionRow struct {
	id, affiliateID, orderID, orderNumber, currency, status string
	orderTotal, net, amount, reversed, paidAmount           int64
	rate                                                    Rate
	approveAfter, placedAt                                  time.Time
}

const commissionColumns = `id, affiliate_id, order_id, order_number, currency, order_total, net, rate_bp, amount, reversed, status, approve_after, paid_amount, placed_at`

func scanCommission(row sqldb.Scanner) (commissionRow, error) {
	var c commissionRow
	err := row.Scan(&c.id, &c.affiliateID, &c.orderID, &c.orderNumber, &c.currency, &c.orderTotal, &c.net, &c.rate, &c.amount, &c.reversed,
		&c.status, &c.approveAfter, &c.paidAmount, &c.placedAt)
	c.approveAfter, c.placedAt = c.approveAfter.UTC(), c.placedAt.UTC()
	return c, err
}

// addCommission records an order's commission; a second one for the same
// order is ignored (ok false).
func (s store) addCommission(ctx context.Context, tx *sqldb.Tx, c commissionRow, now time.Time) (bool, error) {
	ok, err := sqldb.Changed(tx.ExecContext(ctx, `INSERT INTO affiliate_commissions (id, affiliate_id, order_id, order_number, currency, order_total, net,
			rate_bp, amount, reversed, status, approve_after, paid_amount, placed_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 0, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING`,
		c.id, c.affiliateID, c.orderID, c.orderNumber, c.currency, c.orderTotal, c.net, int64(c.rate), c.amount, c.status, c.approveAfter, c.placedAt, now, now))
	if err != nil {
		return false, fmt.Errorf("record commission: %w", err)
	}
	return ok, nil
}

// commissionOf reads an order's commission in tx, its row locked on
// PostgreSQL; ok is false when the order earned none.
func (s store) commissionOf(ctx context.Context, tx *sqldb.Tx, orderID string) (commissionRow, bool, error) {
	lock := ""
	if tx.Dialect() == sqldb.Postgres {
		lock = " FOR UPDATE"
	}
	c, err := scanCommission(tx.QueryRowContext(ctx, `SELECT `+commissionColumns+` FROM affiliate_commissions WHERE order_id = ?`+lock, orderID))
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read commission: %w", err)
	}
	return c, true, nil
}

// setReversed records a commission's reversed total and status.
func (s store) setReversed(ctx context.Context, tx *sqldb.Tx, c commissionRow, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE affiliate_commissions SET reversed = ?, status = ?, updated_at = ? WHERE id = ?`,
		c.reversed, c.status, now, c.id); err != nil {
		return fmt.Errorf("reverse commission: %w", err)
	}
	return nil
}

// addClawback records what a refund took back from a paid commission.
func (s store) addClawback(ctx context.Context, tx *sqldb.Tx, c commissionRow, amount int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO affiliate_clawbacks (id, affiliate_id, commission_id, currency, amount, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ids.New(), c.affiliateID, c.id, c.currency, amount, now); err != nil {
		return fmt.Errorf("record clawback: %w", err)
	}
	return nil
}

// approveDue approves the pending commissions whose return window has
// passed at now. It is one conditional statement: instances running it at
// once approve each commission once.
func (s store) approveDue(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE affiliate_commissions SET status = ?, updated_at = ? WHERE status = ? AND approve_after <= ?`,
		CommissionApproved, now, CommissionPending, now)
	if err != nil {
		return 0, fmt.Errorf("approve commissions: %w", err)
	}
	return res.RowsAffected()
}

// recent returns an affiliate's latest commissions, newest first.
func (s store) recent(ctx context.Context, affiliateID string, limit int) ([]commissionRow, error) {
	return sqldb.All(ctx, s.db.Reader(), "list commissions", scanCommission,
		`SELECT `+commissionColumns+` FROM affiliate_commissions WHERE affiliate_id = ? ORDER BY placed_at DESC, id DESC LIMIT ?`, affiliateID, limit)
}

// pay marks every approved commission of an affiliate in currency paid by
// payoutID and takes its unsettled clawbacks into the payout. It returns
// the sum paid, the number of commissions and the clawbacks deducted. Rows
// another payout took first are not taken again (the conditional UPDATE
// waits for its lock and then skips them).
func (s store) pay(ctx context.Context, tx *sqldb.Tx, affiliateID, currency, payoutID string, now time.Time) (gross, n, clawback int64, err error) {
	if _, err = tx.ExecContext(ctx, `UPDATE affiliate_commissions SET status = ?, payout_id = ?, paid_amount = amount - reversed, updated_at = ?
		WHERE affiliate_id = ? AND currency = ? AND status = ?`, CommissionPaid, payoutID, now, affiliateID, currency, CommissionApproved); err != nil {
		return 0, 0, 0, fmt.Errorf("pay commissions: %w", err)
	}
	if err = tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(paid_amount), 0), COUNT(*) FROM affiliate_commissions WHERE payout_id = ?`, payoutID).Scan(&gross, &n); err != nil {
		return 0, 0, 0, fmt.Errorf("sum payout: %w", err)
	}
	if _, err = tx.ExecContext(ctx, `UPDATE affiliate_clawbacks SET payout_id = ? WHERE affiliate_id = ? AND currency = ? AND payout_id IS NULL`,
		payoutID, affiliateID, currency); err != nil {
		return 0, 0, 0, fmt.Errorf("settle clawbacks: %w", err)
	}
	if err = tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM affiliate_clawbacks WHERE payout_id = ?`, payoutID).Scan(&clawback); err != nil {
		return 0, 0, 0, fmt.Errorf("sum clawbacks: %w", err)
	}
	return gross, n, clawback, nil
}

func (s store) addPayout(ctx context.Context, tx *sqldb.Tx, p Payout) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO affiliate_payouts (id, affiliate_id, currency, gross, clawback, amount, commissions, reference, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.AffiliateID, p.Amount.Currency, p.Gross.Amount, p.Clawback.Amount, p.Amount.Amount,
		p.Commissions, p.Reference, p.CreatedBy, p.CreatedAt); err != nil {
		return fmt.Errorf("record payout: %w", err)
	}
	return nil
}

func scanPayout(row sqldb.Scanner) (Payout, error) {
	var p Payout
	var cur string
	err := row.Scan(&p.ID, &p.AffiliateID, &cur, &p.Gross.Amount, &p.Clawback.Amount, &p.Amount.Amount, &p.Commissions, &p.Reference, &p.CreatedBy, &p.CreatedAt)
	p.Gross.Currency, p.Clawback.Currency, p.Amount.Currency = cur, cur, cur
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}

// payouts returns an affiliate's latest payouts, newest first.
func (s store) payouts(ctx context.Context, affiliateID string, limit int) ([]Payout, error) {
	return sqldb.All(ctx, s.db.Reader(), "list payouts", scanPayout,
		`SELECT id, affiliate_id, currency, gross, clawback, amount, commissions, reference, created_by, created_at FROM affiliate_payouts
		WHERE affiliate_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, affiliateID, limit)
}
