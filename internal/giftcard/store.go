package giftcard

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store is the module's SQL, private to the service; the same statements
// run on SQLite and PostgreSQL. Every change of a card's money is one
// conditional UPDATE … RETURNING that reports ok=false when its condition
// did not hold, so the check and the write are atomic on both engines.
type store struct{ db *sqldb.DB }

var cardColumns = []string{"id", "last4", "currency", "initial_amount", "balance", "held", "status", "expires_at", "recipient_email",
	"note", "order_id", "issued_by", "created_at", "disabled_at", "disabled_reason"}

// cardCols lists a card's columns for scanCard, of the table alias when
// one is given.
func cardCols(alias string) string {
	if alias == "" {
		return strings.Join(cardColumns, ", ")
	}
	return alias + "." + strings.Join(cardColumns, ", "+alias+".")
}

func scanCard(r sqldb.Scanner) (Card, error) { return scanCardWith(r) }

// scanCardWith scans the columns of cardCols, then extra.
func scanCardWith(r sqldb.Scanner, extra ...any) (Card, error) {
	var (
		c                 Card
		cur               string
		init, bal, held   int64
		expires, disabled sql.NullTime
	)
	err := r.Scan(append([]any{&c.ID, &c.Last4, &cur, &init, &bal, &held, &c.stored, &expires, &c.RecipientEmail, &c.Note, &c.OrderID,
		&c.IssuedBy, &c.CreatedAt, &disabled, &c.DisabledReason}, extra...)...)
	c.Initial, c.Balance, c.Held = money.Money{Amount: init, Currency: cur}, money.Money{Amount: bal, Currency: cur}, money.Money{Amount: held, Currency: cur}
	c.CreatedAt = c.CreatedAt.UTC()
	if expires.Valid {
		t := expires.Time.UTC()
		c.ExpiresAt = &t
	}
	if disabled.Valid {
		t := disabled.Time.UTC()
		c.DisabledAt = &t
	}
	return c, err
}

func errCardNotFound() error { return apperr.NotFoundf("gift card not found") }

// card reads a card by id or code hash (col); NotFound when there is none.
func (st store) card(ctx context.Context, q sqldb.Querier, col, val string) (Card, error) {
	c, err := scanCard(q.QueryRowContext(ctx, `SELECT `+cardCols("")+` FROM giftcard_cards WHERE `+col+` = ?`, val))
	if errors.Is(err, sql.ErrNoRows) {
		return c, errCardNotFound()
	}
	if err != nil {
		return c, fmt.Errorf("read gift card: %w", err)
	}
	return c, nil
}

func (st store) cardByID(ctx context.Context, q sqldb.Querier, id string) (Card, error) {
	return st.card(ctx, q, "id", id)
}

func (st store) cardByHash(ctx context.Context, q sqldb.Querier, hash string) (Card, error) {
	return st.card(ctx, q, "code_hash", hash)
}

// insertCard stores a new card. A key used before is a Conflict naming the
// card it issued.
func (st store) insertCard(ctx context.Context, tx *sqldb.Tx, c Card, codeHash, key string) error {
	var k any
	if key != "" {
		var last string
		err := tx.QueryRowContext(ctx, `SELECT last4 FROM giftcard_cards WHERE issue_key = ?`, key).Scan(&last)
		if err == nil {
			return apperr.Conflictf("this form was sent before and issued gift card …%s; its code is not shown again", last)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("issue gift card: %w", err)
		}
		k = key
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO giftcard_cards (id, code_hash, last4, currency, initial_amount, balance, held, status,
		expires_at, recipient_email, note, order_id, issue_key, issued_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, 0, 'active', ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, codeHash, c.Last4, c.Initial.Currency, c.Initial.Amount, nullTime(c.ExpiresAt), c.RecipientEmail, c.Note, c.OrderID, k,
		c.IssuedBy, c.CreatedAt, c.CreatedAt)
	if sqldb.IsUniqueViolation(err) && key != "" { // the same form, sent twice at once
		return apperr.Conflictf("this form was sent before and issued a gift card; its code is not shown again")
	}
	if err != nil {
		return fmt.Errorf("issue gift card: %w", err)
	}
	return nil
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// move adds dBalance to a card's balance and dHeld to its held amount when
// cond (SQL over the card's columns, with args) holds, and returns both
// after the change; ok is false when the condition did not hold.
func (st store) move(ctx context.Context, tx *sqldb.Tx, id string, dBalance, dHeld int64, now time.Time, cond string, args ...any) (bal, held int64, ok bool, err error) {
	q := `UPDATE giftcard_cards SET balance = balance + ?, held = held + ?, updated_at = ? WHERE id = ?`
	if cond != "" {
		q += ` AND ` + cond
	}
	err = tx.QueryRowContext(ctx, q+` RETURNING balance, held`, append([]any{dBalance, dHeld, now, id}, args...)...).Scan(&bal, &held)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("move money on gift card %s: %w", id, err)
	}
	return bal, held, true, nil
}

// insertEntry appends e to its card's ledger. The caller has changed the
// card in tx first, which locks its row: the entry's number is safe.
func (st store) insertEntry(ctx context.Context, tx *sqldb.Tx, cardID string, e Entry) error {
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM giftcard_ledger WHERE card_id = ?`, cardID).Scan(&seq); err != nil {
		return fmt.Errorf("number ledger entry: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO giftcard_ledger (id, card_id, seq, kind, amount, held_change, balance_after, held_after,
		reference, actor, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, cardID, seq+1, e.Kind, e.Amount, e.HeldChange, e.BalanceAfter, e.HeldAfter, e.Reference, e.Actor, e.Note, e.CreatedAt); err != nil {
		return fmt.Errorf("write ledger entry: %w", err)
	}
	return nil
}

// ledger returns a card's entries, oldest first.
func (st store) ledger(ctx context.Context, q sqldb.Querier, cardID string) ([]Entry, error) {
	return sqldb.All(ctx, q, "read gift card ledger", func(r sqldb.Scanner) (Entry, error) {
		var e Entry
		err := r.Scan(&e.ID, &e.Kind, &e.Amount, &e.HeldChange, &e.BalanceAfter, &e.HeldAfter, &e.Reference, &e.Actor, &e.Note, &e.CreatedAt)
		e.CreatedAt = e.CreatedAt.UTC()
		return e, err
	}, `SELECT id, kind, amount, held_change, balance_after, held_after, reference, actor, note, created_at
		FROM giftcard_ledger WHERE card_id = ? ORDER BY seq`, cardID)
}

// ledgerSums returns the sums of a card's ledger: balance and held changes.
func (st store) ledgerSums(ctx context.Context, q sqldb.Querier, cardID string) (bal, held int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0), COALESCE(SUM(held_change), 0) FROM giftcard_ledger WHERE card_id = ?`, cardID).Scan(&bal, &held)
	if err != nil {
		err = fmt.Errorf("sum gift card ledger: %w", err)
	}
	return bal, held, err
}

// listFilter selects cards for staff.
type listFilter struct {
	status string // a Card status, or ""
	hash   string // a whole code's hash
	last4  string
	after  string // the id to list after (newest first)
	limit  int
	now    time.Time
}

func (st store) list(ctx context.Context, q sqldb.Querier, f listFilter) ([]Card, error) {
	where, args := []string{"1 = 1"}, []any{}
	live := "(expires_at IS NULL OR expires_at > ?)"
	switch f.status {
	case StatusDisabled:
		where = append(where, "status = 'disabled'")
	case StatusExpired:
		where = append(where, "status = 'active' AND expires_at IS NOT NULL AND expires_at <= ?")
		args = append(args, f.now)
	case StatusSpent:
		where = append(where, "status = 'active' AND "+live+" AND balance = 0 AND held = 0")
		args = append(args, f.now)
	case StatusActive:
		where = append(where, "status = 'active' AND "+live+" AND (balance > 0 OR held > 0)")
		args = append(args, f.now)
	}
	if f.hash != "" {
		where, args = append(where, "code_hash = ?"), append(args, f.hash)
	}
	if f.last4 != "" {
		where, args = append(where, "last4 = ?"), append(args, f.last4)
	}
	if f.after != "" {
		where, args = append(where, "id < ?"), append(args, f.after)
	}
	args = append(args, f.limit)
	return sqldb.All(ctx, q, "list gift cards", scanCard,
		`SELECT `+cardCols("")+` FROM giftcard_cards WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
}

// disable marks an active card disabled; with unusedOnly, only when nothing
// was ever taken from it and nothing is held. ok is false otherwise.
func (st store) disable(ctx context.Context, tx *sqldb.Tx, id, reason string, unusedOnly bool, now time.Time) (bool, error) {
	q := `UPDATE giftcard_cards SET status = 'disabled', disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND status = 'active'`
	if unusedOnly {
		q += ` AND balance = initial_amount AND held = 0`
	}
	ok, err := sqldb.Changed(tx.ExecContext(ctx, q, now, reason, now, id))
	if err != nil {
		return false, fmt.Errorf("disable gift card %s: %w", id, err)
	}
	return ok, nil
}

// cardsOfOrder lists the cards an order sold, newest first.
func (st store) cardsOfOrder(ctx context.Context, q sqldb.Querier, orderID string) ([]Card, error) {
	return sqldb.All(ctx, q, "gift cards of order", scanCard, `SELECT `+cardCols("")+` FROM giftcard_cards WHERE order_id = ? ORDER BY id DESC`, orderID)
}

// hold is a row of giftcard_holds.
type hold struct {
	id, cardID, reference, status, last4, currency string
	amount, credited                               int64
	expiresAt, createdAt                           time.Time
}

const holdCols = `h.id, h.card_id, h.reference, h.status, c.last4, c.currency, h.amount, h.credited, h.expires_at, h.created_at`

func scanHold(r sqldb.Scanner) (hold, error) {
	var h hold
	err := r.Scan(&h.id, &h.cardID, &h.reference, &h.status, &h.last4, &h.currency, &h.amount, &h.credited, &h.expiresAt, &h.createdAt)
	return h, err
}

// holdsOf lists the holds of a reference in the order they were made.
func (st store) holdsOf(ctx context.Context, q sqldb.Querier, reference string) ([]hold, error) {
	return sqldb.All(ctx, q, "gift card holds of "+reference, scanHold, `SELECT `+holdCols+`
		FROM giftcard_holds h JOIN giftcard_cards c ON c.id = h.card_id WHERE h.reference = ? ORDER BY h.created_at, h.id`, reference)
}

func (st store) insertHold(ctx context.Context, tx *sqldb.Tx, h hold) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO giftcard_holds (id, card_id, reference, amount, credited, status, expires_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, 0, 'active', ?, ?, ?)`, h.id, h.cardID, h.reference, h.amount, h.expiresAt, h.createdAt, h.createdAt); err != nil {
		return fmt.Errorf("hold gift card: %w", err)
	}
	return nil
}

// settleHold moves a hold from status from to status to; false when it was
// not in from (another settler won).
func (st store) settleHold(ctx context.Context, tx *sqldb.Tx, id, from, to string, now time.Time) (bool, error) {
	ok, err := sqldb.Changed(tx.ExecContext(ctx, `UPDATE giftcard_holds SET status = ?, updated_at = ? WHERE id = ? AND status = ?`, to, now, id, from))
	if err != nil {
		return false, fmt.Errorf("settle gift card hold: %w", err)
	}
	return ok, nil
}

// extendHold keeps an active hold until expires.
func (st store) extendHold(ctx context.Context, tx *sqldb.Tx, id string, expires, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE giftcard_holds SET expires_at = ?, updated_at = ? WHERE id = ? AND status = 'active'`, expires, now, id); err != nil {
		return fmt.Errorf("extend gift card hold: %w", err)
	}
	return nil
}

// lockCaptured locks the captured holds of reference until tx ends (on
// PostgreSQL; SQLite has one writer anyway) by writing them unchanged.
func (st store) lockCaptured(ctx context.Context, tx *sqldb.Tx, reference string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE giftcard_holds SET updated_at = updated_at WHERE reference = ? AND status = 'captured'`, reference); err != nil {
		return fmt.Errorf("lock gift card holds of %s: %w", reference, err)
	}
	return nil
}

// creditHold adds amount to what was given back of a captured hold, unless
// that would exceed the hold; false then.
func (st store) creditHold(ctx context.Context, tx *sqldb.Tx, id string, amount int64, now time.Time) (bool, error) {
	ok, err := sqldb.Changed(tx.ExecContext(ctx, `UPDATE giftcard_holds SET credited = credited + ?, updated_at = ?
		WHERE id = ? AND status = 'captured' AND credited + ? <= amount`, amount, now, id, amount))
	if err != nil {
		return false, fmt.Errorf("credit gift card hold: %w", err)
	}
	return ok, nil
}

// expiredReferences lists up to limit references with an active hold
// whose expiry is at or before now.
func (st store) expiredHolds(ctx context.Context, q sqldb.Querier, now time.Time, limit int) ([]hold, error) {
	return sqldb.All(ctx, q, "expired gift card holds", scanHold, `SELECT `+holdCols+`
		FROM giftcard_holds h JOIN giftcard_cards c ON c.id = h.card_id
		WHERE h.status = 'active' AND h.expires_at <= ? ORDER BY h.expires_at LIMIT ?`, now, limit)
}

// appliedCard is a card applied to a cart.
type appliedCard struct {
	Card
	seq int64
}

// applied lists the cards applied to a cart, in the order applied.
func (st store) applied(ctx context.Context, q sqldb.Querier, cartID string) ([]appliedCard, error) {
	return sqldb.All(ctx, q, "gift cards of cart", func(r sqldb.Scanner) (appliedCard, error) {
		var a appliedCard
		c, err := scanCardWith(r, &a.seq)
		a.Card = c
		return a, err
	}, `SELECT `+cardCols("c")+`, a.seq FROM giftcard_cart_cards a JOIN giftcard_cards c ON c.id = a.card_id
		WHERE a.cart_id = ? ORDER BY a.seq, a.card_id`, cartID)
}

// apply adds a card to a cart after the ones there; applying it again
// changes nothing. A cart that already holds MaxPerCart cards is Invalid.
func (st store) apply(ctx context.Context, tx *sqldb.Tx, cartID, cardID string, now time.Time) error {
	var n, top int64
	var mine int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0), COALESCE(SUM(CASE WHEN card_id = ? THEN 1 ELSE 0 END), 0)
		FROM giftcard_cart_cards WHERE cart_id = ?`, cardID, cartID).Scan(&n, &top, &mine); err != nil {
		return fmt.Errorf("read gift cards of cart: %w", err)
	}
	if mine > 0 {
		return nil
	}
	if n >= MaxPerCart {
		return invalidCode(fmt.Sprintf("a cart takes at most %d gift cards", MaxPerCart))
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO giftcard_cart_cards (cart_id, card_id, seq, applied_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (cart_id, card_id) DO NOTHING`, cartID, cardID, top+1, now)
	if err != nil {
		return fmt.Errorf("apply gift card: %w", err)
	}
	return nil
}

// unapply removes cards from a cart; false when none of them was on it.
func (st store) unapply(ctx context.Context, q sqldb.Querier, cartID string, cardIDs []string) (bool, error) {
	if len(cardIDs) == 0 {
		return false, nil
	}
	args := []any{cartID}
	for _, id := range cardIDs {
		args = append(args, id)
	}
	ok, err := sqldb.Changed(q.ExecContext(ctx, `DELETE FROM giftcard_cart_cards WHERE cart_id = ? AND card_id IN (`+sqldb.Placeholders(len(cardIDs))+`)`, args...))
	if err != nil {
		return false, fmt.Errorf("remove gift card from cart: %w", err)
	}
	return ok, nil
}

// sale is a line of an order that sells gift cards.
type sale struct {
	orderID, orderNumber, sku, title, currency, email, status string
	line, quantity, unitAmount, orderTotal                    int64
}

func (st store) insertSale(ctx context.Context, tx *sqldb.Tx, s sale, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO giftcard_sales (order_id, line, order_number, sku, title, quantity, unit_amount, currency,
		order_total, email, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (order_id, line) DO NOTHING`,
		s.orderID, s.line, s.orderNumber, s.sku, s.title, s.quantity, s.unitAmount, s.currency, s.orderTotal, s.email, now); err != nil {
		return fmt.Errorf("record gift card sale: %w", err)
	}
	return nil
}

func (st store) salesOf(ctx context.Context, q sqldb.Querier, orderID string) ([]sale, error) {
	return sqldb.All(ctx, q, "gift card sales of "+orderID, func(r sqldb.Scanner) (sale, error) {
		var s sale
		err := r.Scan(&s.orderID, &s.line, &s.orderNumber, &s.sku, &s.title, &s.quantity, &s.unitAmount, &s.currency, &s.orderTotal, &s.email, &s.status)
		return s, err
	}, `SELECT order_id, line, order_number, sku, title, quantity, unit_amount, currency, order_total, email, status
		FROM giftcard_sales WHERE order_id = ? ORDER BY line`, orderID)
}

// settleSale moves a sale line from pending to status; false when it was
// not pending.
func (st store) settleSale(ctx context.Context, tx *sqldb.Tx, orderID string, line int64, status string) (bool, error) {
	ok, err := sqldb.Changed(tx.ExecContext(ctx, `UPDATE giftcard_sales SET status = ? WHERE order_id = ? AND line = ? AND status = 'pending'`, status, orderID, line))
	if err != nil {
		return false, fmt.Errorf("settle gift card sale: %w", err)
	}
	return ok, nil
}

// limitKey is the stored form of a look-up counter's key: its SHA-256, so
// the table holds no address.
func limitKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// take counts one look-up for key at now when fewer than limit were counted
// in the key's current window (a fixed window of length window, started by
// its first look-up), and returns 0; otherwise it counts nothing and
// returns how long until the window ends. One conditional UPSERT: atomic
// on SQLite and on PostgreSQL (the conflicting row is locked and the
// condition re-checked on its latest version), so parallel look-ups on any
// number of instances never pass more than limit.
func (st store) take(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (time.Duration, error) {
	k := limitKey(key)
	ok, err := sqldb.Changed(st.db.ExecContext(ctx, `INSERT INTO giftcard_lookup_limits (limit_key, attempts, expires_at) VALUES (?, 1, ?)
		ON CONFLICT (limit_key) DO UPDATE SET
			attempts = CASE WHEN giftcard_lookup_limits.expires_at <= ? THEN 1 ELSE giftcard_lookup_limits.attempts + 1 END,
			expires_at = CASE WHEN giftcard_lookup_limits.expires_at <= ? THEN excluded.expires_at ELSE giftcard_lookup_limits.expires_at END
		WHERE giftcard_lookup_limits.expires_at <= ? OR giftcard_lookup_limits.attempts < ?`,
		k, now.Add(window), now, now, now, limit))
	if err != nil {
		return 0, fmt.Errorf("count gift card look-up: %w", err)
	}
	if ok {
		return 0, nil
	}
	var until time.Time
	err = st.db.QueryRowContext(ctx, `SELECT expires_at FROM giftcard_lookup_limits WHERE limit_key = ?`, k).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) { // purged meanwhile: try again shortly
		return time.Second, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read gift card look-ups: %w", err)
	}
	return max(until.Sub(now), time.Second), nil
}

// purgeLimits deletes the look-up counters whose window ended before now.
func (st store) purgeLimits(ctx context.Context, now time.Time) (int64, error) {
	res, err := st.db.ExecContext(ctx, `DELETE FROM giftcard_lookup_limits WHERE expires_at <= ?`, now)
	if err != nil {
		return 0, fmt.Errorf("purge gift card look-up counts: %w", err)
	}
	return res.RowsAffected()
}
