package promotion

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store is the promotion module's SQL: promotions, their uses per customer
// and their redemptions. The same statements run on SQLite and PostgreSQL.
type store struct{ db *sqldb.DB }

// Redemption statuses as stored.
const (
	statusReserved  = "reserved"
	statusCommitted = "committed"
	statusReleased  = "released"
	statusReturned  = "returned"
)

func errNotFound() error { return apperr.NotFoundf("promotion not found") }

const promoCols = `id, name, COALESCE(code, ''), kind, value, buy_quantity, get_quantity, min_subtotal, product_ids, category_ids,
	first_order, exclusive, active, starts_at, ends_at, usage_limit, usage_limit_per_customer, used, created_at, updated_at`

func scanPromotion(row sqldb.Scanner) (Promotion, error) {
	var (
		p                 Promotion
		products, cats    string
		starts, ends      sql.NullTime
		limit, perCustomr sql.NullInt64
	)
	err := row.Scan(&p.ID, &p.Name, &p.Code, &p.Kind, &p.Value, &p.BuyQuantity, &p.GetQuantity, &p.MinSubtotal, &products, &cats,
		&p.FirstOrder, &p.Exclusive, &p.Active, &starts, &ends, &limit, &perCustomr, &p.Used, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return p, err
	}
	p.ProductIDs, p.CategoryIDs = []string{}, []string{}
	json.Unmarshal([]byte(products), &p.ProductIDs)
	json.Unmarshal([]byte(cats), &p.CategoryIDs)
	if starts.Valid {
		t := starts.Time.UTC()
		p.StartsAt = &t
	}
	if ends.Valid {
		t := ends.Time.UTC()
		p.EndsAt = &t
	}
	if limit.Valid {
		p.UsageLimit = &limit.Int64
	}
	if perCustomr.Valid {
		p.UsageLimitPerCustomer = &perCustomr.Int64
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// args are p's column values in the order of insert and update.
func promoArgs(p *Promotion) []any {
	products, _ := json.Marshal(p.ProductIDs)
	cats, _ := json.Marshal(p.CategoryIDs)
	var code, starts, ends, limit, perCustomer any
	if p.Code != "" {
		code = p.Code
	}
	if p.StartsAt != nil {
		starts = *p.StartsAt
	}
	if p.EndsAt != nil {
		ends = *p.EndsAt
	}
	if p.UsageLimit != nil {
		limit = *p.UsageLimit
	}
	if p.UsageLimitPerCustomer != nil {
		perCustomer = *p.UsageLimitPerCustomer
	}
	return []any{p.Name, code, string(p.Kind), p.Value, p.BuyQuantity, p.GetQuantity, p.MinSubtotal, string(products), string(cats),
		p.FirstOrder, p.Exclusive, p.Active, starts, ends, limit, perCustomer}
}

// codeTaken is the answer when another live promotion has the code.
func codeTaken() error {
	return &apperr.Error{Code: apperr.Conflict, Message: "another promotion has this code",
		Fields: []apperr.FieldError{{Field: "code", Message: "is taken by another promotion"}}}
}

// insert writes a new promotion; Conflict on "code" when the code is taken.
func (s store) insert(ctx context.Context, p *Promotion) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO promotion_promotions (name, code, kind, value, buy_quantity, get_quantity, min_subtotal,
		product_ids, category_ids, first_order, exclusive, active, starts_at, ends_at, usage_limit, usage_limit_per_customer,
		id, used, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		append(promoArgs(p), p.ID, p.CreatedAt, p.UpdatedAt)...)
	if sqldb.IsUniqueViolation(err) {
		return codeTaken()
	}
	if err != nil {
		return fmt.Errorf("create promotion: %w", err)
	}
	return nil
}

// get reads a promotion that is not deleted; NotFound otherwise.
func (s store) get(ctx context.Context, q sqldb.Querier, id, lock string) (Promotion, error) {
	if !ids.Plausible(id) {
		return Promotion{}, errNotFound()
	}
	p, err := scanPromotion(q.QueryRowContext(ctx, `SELECT `+promoCols+` FROM promotion_promotions WHERE id = ? AND deleted_at IS NULL`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errNotFound()
	}
	if err != nil {
		return p, fmt.Errorf("get promotion: %w", err)
	}
	return p, nil
}

// list returns every promotion that is not deleted, newest first.
func (s store) list(ctx context.Context) ([]Promotion, error) {
	return sqldb.All(ctx, s.db, "list promotions", scanPromotion,
		`SELECT `+promoCols+` FROM promotion_promotions WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC`)
}

// live returns the promotions a cart may get: the active automatic ones
// and those of codes (active or not: an inactive code is refused with its
// reason).
func (s store) live(ctx context.Context, q sqldb.Querier, codes []string) ([]Promotion, error) {
	query := `SELECT ` + promoCols + ` FROM promotion_promotions WHERE deleted_at IS NULL AND ((code IS NULL AND active = TRUE)`
	args := []any{}
	if len(codes) > 0 {
		query += ` OR code IN (` + sqldb.Placeholders(len(codes)) + `)`
		for _, c := range codes {
			args = append(args, c)
		}
	}
	return sqldb.All(ctx, q, "find promotions", scanPromotion, query+`)`, args...)
}

// update runs fn on promotion id, read and locked in a transaction of its
// own, and writes back what fn changed; fn's error, NotFound, or a code
// taken (Conflict) leave it unchanged.
func (s store) update(ctx context.Context, id string, at time.Time, fn func(*Promotion) error) (Promotion, error) {
	var p Promotion
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		lock := ""
		if tx.Dialect() == sqldb.Postgres {
			lock = " FOR UPDATE"
		}
		var err error
		if p, err = s.get(ctx, tx, id, lock); err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return err
		}
		p.UpdatedAt = at
		_, err = tx.ExecContext(ctx, `UPDATE promotion_promotions SET name = ?, code = ?, kind = ?, value = ?, buy_quantity = ?, get_quantity = ?,
			min_subtotal = ?, product_ids = ?, category_ids = ?, first_order = ?, exclusive = ?, active = ?, starts_at = ?, ends_at = ?,
			usage_limit = ?, usage_limit_per_customer = ?, updated_at = ? WHERE id = ?`, append(promoArgs(&p), at, p.ID)...)
		if sqldb.IsUniqueViolation(err) {
			return codeTaken()
		}
		if err != nil {
			return fmt.Errorf("update promotion: %w", err)
		}
		return nil
	})
	return p, err
}

// remove marks a promotion deleted (its redemptions keep referring to it;
// its code is free again); NotFound when there is no such live promotion.
func (s store) remove(ctx context.Context, id string, at time.Time) error {
	if !ids.Plausible(id) {
		return errNotFound()
	}
	ok, err := sqldb.Changed(s.db.ExecContext(ctx, `UPDATE promotion_promotions SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`, at, at, id))
	if err != nil {
		return fmt.Errorf("delete promotion: %w", err)
	}
	if !ok {
		return errNotFound()
	}
	return nil
}

// customerUses returns, for the promotions named, the uses counted under
// one customer key.
func (s store) customerUses(ctx context.Context, q sqldb.Querier, key string, promoIDs []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(promoIDs) == 0 {
		return out, nil
	}
	args := []any{key}
	for _, id := range promoIDs {
		args = append(args, id)
	}
	type use struct {
		id string
		n  int64
	}
	uses, err := sqldb.All(ctx, q, "customer uses", func(row sqldb.Scanner) (use, error) {
		var u use
		return u, row.Scan(&u.id, &u.n)
	}, `SELECT promotion_id, used FROM promotion_customer_uses WHERE customer_key = ? AND promotion_id IN (`+sqldb.Placeholders(len(promoIDs))+`)`, args...)
	for _, u := range uses {
		out[u.id] = u.n
	}
	return out, err
}

// redemption is a stored redemption.
type redemption struct {
	orderID, promotionID, code, customerID, email, currency, status string
	amount                                                          int64
	createdAt                                                       time.Time
}

func scanRedemption(row sqldb.Scanner) (redemption, error) {
	var r redemption
	err := row.Scan(&r.orderID, &r.promotionID, &r.code, &r.customerID, &r.email, &r.amount, &r.currency, &r.status, &r.createdAt)
	r.createdAt = r.createdAt.UTC()
	return r, err
}

const redemptionCols = `order_id, promotion_id, code, customer_id, email, amount, currency, status, created_at`

// redemptionsOf returns the redemptions of an order, by promotion id.
func (s store) redemptionsOf(ctx context.Context, q sqldb.Querier, orderID string) ([]redemption, error) {
	return sqldb.All(ctx, q, "redemptions of order", scanRedemption,
		`SELECT `+redemptionCols+` FROM promotion_redemptions WHERE order_id = ? ORDER BY promotion_id`, orderID)
}

// keys are the customer keys a redemption counts under.
func (r redemption) keys() []string {
	var out []string
	if r.customerID != "" {
		out = append(out, "c:"+r.customerID)
	}
	if r.email != "" {
		out = append(out, "e:"+r.email)
	}
	return out
}

// takeUse counts one more use of a promotion that is live, active, not
// ended at now and not used up; false when it is not (then nothing
// changed). The conditional update is what keeps a usage limit on every
// engine: PostgreSQL re-checks the condition on the row a concurrent
// checkout just committed, SQLite has one writer.
func (s store) takeUse(ctx context.Context, tx *sqldb.Tx, promoID string, now time.Time) (bool, error) {
	ok, err := sqldb.Changed(tx.ExecContext(ctx, `UPDATE promotion_promotions SET used = used + 1 WHERE id = ? AND deleted_at IS NULL AND active = TRUE
		AND (ends_at IS NULL OR ends_at > ?) AND (usage_limit IS NULL OR used < usage_limit)`, promoID, now))
	if err != nil {
		return false, fmt.Errorf("take a use of promotion %s: %w", promoID, err)
	}
	return ok, nil
}

// takeCustomerUse counts one more use under a customer key, unless the key
// has limit uses already (limit < 0: no limit); false then.
func (s store) takeCustomerUse(ctx context.Context, tx *sqldb.Tx, promoID, key string, limit int64) (bool, error) {
	if limit < 0 {
		limit = math.MaxInt64
	}
	ok, err := sqldb.Changed(tx.ExecContext(ctx, `INSERT INTO promotion_customer_uses (promotion_id, customer_key, used) VALUES (?, ?, 1)
		ON CONFLICT (promotion_id, customer_key) DO UPDATE SET used = promotion_customer_uses.used + 1 WHERE promotion_customer_uses.used < ?`,
		promoID, key, limit))
	if err != nil {
		return false, fmt.Errorf("take a customer's use of promotion %s: %w", promoID, err)
	}
	return ok, nil
}

// giveBack uncounts one use of r's promotion (and under its customer keys).
func (s store) giveBack(ctx context.Context, tx *sqldb.Tx, r redemption) error {
	if _, err := tx.ExecContext(ctx, `UPDATE promotion_promotions SET used = used - 1 WHERE id = ? AND used > 0`, r.promotionID); err != nil {
		return fmt.Errorf("give back a use of promotion %s: %w", r.promotionID, err)
	}
	for _, k := range r.keys() {
		if _, err := tx.ExecContext(ctx, `UPDATE promotion_customer_uses SET used = used - 1 WHERE promotion_id = ? AND customer_key = ? AND used > 0`,
			r.promotionID, k); err != nil {
			return fmt.Errorf("give back a customer's use of promotion %s: %w", r.promotionID, err)
		}
	}
	return nil
}

// putRedemption records a reserved redemption (replacing a released one of
// the same order and promotion).
func (s store) putRedemption(ctx context.Context, tx *sqldb.Tx, r redemption, until, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO promotion_redemptions (order_id, promotion_id, code, customer_id, email, amount, currency, status, expires_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (order_id, promotion_id) DO UPDATE SET code = excluded.code, customer_id = excluded.customer_id, email = excluded.email,
			amount = excluded.amount, currency = excluded.currency, status = excluded.status, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
		r.orderID, r.promotionID, r.code, r.customerID, r.email, r.amount, r.currency, statusReserved, until, now, now)
	if err != nil {
		return fmt.Errorf("record redemption: %w", err)
	}
	return nil
}

// refresh keeps a reserved redemption for a retry: its amount and expiry.
func (s store) refresh(ctx context.Context, tx *sqldb.Tx, orderID, promoID string, amount int64, until, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE promotion_redemptions SET amount = ?, expires_at = ?, updated_at = ? WHERE order_id = ? AND promotion_id = ? AND status = ?`,
		amount, until, now, orderID, promoID, statusReserved); err != nil {
		return fmt.Errorf("keep redemption: %w", err)
	}
	return nil
}

// dropRedemption deletes a redemption an order no longer wants (reserved
// ones are released first by the caller).
func (s store) dropRedemption(ctx context.Context, tx *sqldb.Tx, orderID, promoID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM promotion_redemptions WHERE order_id = ? AND promotion_id = ? AND status IN (?, ?)`,
		orderID, promoID, statusReserved, statusReleased); err != nil {
		return fmt.Errorf("drop redemption: %w", err)
	}
	return nil
}

// move changes a redemption's status from one to another, conditionally:
// false when it was not in from (someone else moved it).
func (s store) move(ctx context.Context, tx *sqldb.Tx, orderID, promoID, from, to string, now time.Time) (bool, error) {
	ok, err := sqldb.Changed(tx.ExecContext(ctx, `UPDATE promotion_redemptions SET status = ?, updated_at = ? WHERE order_id = ? AND promotion_id = ? AND status = ?`,
		to, now, orderID, promoID, from))
	if err != nil {
		return false, fmt.Errorf("redemption %s -> %s: %w", from, to, err)
	}
	return ok, nil
}

// commitAll commits an order's reserved redemptions; it reports how many
// of the order's redemptions were released meanwhile (lost).
func (s store) commitAll(ctx context.Context, tx *sqldb.Tx, orderID string, now time.Time) (lost int, err error) {
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM promotion_redemptions WHERE order_id = ? AND status = ?`, orderID, statusReleased).Scan(&lost); err != nil {
		return 0, fmt.Errorf("commit redemptions: %w", err)
	}
	if lost > 0 {
		return lost, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE promotion_redemptions SET status = ?, updated_at = ? WHERE order_id = ? AND status = ?`,
		statusCommitted, now, orderID, statusReserved); err != nil {
		return 0, fmt.Errorf("commit redemptions: %w", err)
	}
	return 0, nil
}

// expiredOrders returns up to limit orders with reserved redemptions past
// their expiry.
func (s store) expiredOrders(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return sqldb.All(ctx, s.db, "find expired redemptions", func(row sqldb.Scanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT DISTINCT order_id FROM promotion_redemptions WHERE status = ? AND expires_at < ? LIMIT ?`, statusReserved, now, limit)
}

// usage counts a promotion's redemptions by status, the discount its
// placed orders got and their customers (by e-mail).
func (s store) usage(ctx context.Context, promoID string) (byStatus map[string]int64, discount, customers int64, err error) {
	byStatus = map[string]int64{}
	type row struct {
		status string
		n, sum int64
	}
	rows, err := sqldb.All(ctx, s.db.Reader(), "promotion usage", func(r sqldb.Scanner) (row, error) {
		var x row
		return x, r.Scan(&x.status, &x.n, &x.sum)
	}, `SELECT status, COUNT(*), COALESCE(SUM(amount), 0) FROM promotion_redemptions WHERE promotion_id = ? GROUP BY status`, promoID)
	if err != nil {
		return nil, 0, 0, err
	}
	for _, x := range rows {
		byStatus[x.status] = x.n
		if x.status == statusCommitted {
			discount = x.sum
		}
	}
	err = s.db.Reader().QueryRowContext(ctx, `SELECT COUNT(DISTINCT email) FROM promotion_redemptions WHERE promotion_id = ? AND status = ?`,
		promoID, statusCommitted).Scan(&customers)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("promotion usage: %w", err)
	}
	return byStatus, discount, customers, nil
}

// recent returns a promotion's newest redemptions.
func (s store) recent(ctx context.Context, promoID string, limit int) ([]redemption, error) {
	return sqldb.All(ctx, s.db.Reader(), "recent redemptions", scanRedemption,
		`SELECT `+redemptionCols+` FROM promotion_redemptions WHERE promotion_id = ? ORDER BY created_at DESC, order_id DESC LIMIT ?`, promoID, limit)
}

// sortedIDs returns the keys of m in order: every transaction takes
// promotion rows in id order, so two checkouts cannot deadlock.
func sortedIDs[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
