package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Hooks lets the composition root hear about stock changes made inside a
// transaction (the outbox writes its events there). Nil hooks are skipped.
type Hooks interface {
	// StockChanged runs inside the transaction that changed the level.
	StockChanged(ctx context.Context, tx *sqldb.Tx, before, after Level, reason string) error
}

// Service is the inventory's business logic.
type Service struct {
	db    *sqldb.DB
	hooks Hooks
	now   func() time.Time
}

// NewService returns an inventory service on db.
func NewService(db *sqldb.DB) *Service {
	return &Service{db: db, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// SetHooks installs hooks (call before serving).
func (s *Service) SetHooks(h Hooks) { s.hooks = h }

const levelCols = `variant_id, sku, location_id, on_hand, reserved, backorder, low_stock_threshold`

func scanLevel(row interface{ Scan(...any) error }) (Level, error) {
	var l Level
	err := row.Scan(&l.VariantID, &l.SKU, &l.LocationID, &l.OnHand, &l.Reserved, &l.Backorder, &l.LowStockThreshold)
	l.derive()
	return l, err
}

// Levels returns the stock of each variant (summed over locations) for the
// catalog. It implements catalog.Stock.
func (s *Service) Levels(ctx context.Context, variantIDs []string) (map[string]catalog.StockLevel, error) {
	out := make(map[string]catalog.StockLevel, len(variantIDs))
	for start := 0; start < len(variantIDs); start += 500 {
		chunk := variantIDs[start:min(start+500, len(variantIDs))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.db.Reader().QueryContext(ctx, `SELECT variant_id, SUM(on_hand - reserved), MAX(CASE WHEN backorder THEN 1 ELSE 0 END)
			FROM inventory_stock WHERE variant_id IN (`+sqldb.Placeholders(len(chunk))+`) GROUP BY variant_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("stock levels: %w", err)
		}
		for rows.Next() {
			var (
				id        string
				avail, bo int64
			)
			if err := rows.Scan(&id, &avail, &bo); err != nil {
				rows.Close()
				return nil, fmt.Errorf("stock levels: %w", err)
			}
			out[id] = catalog.StockLevel{Available: avail, Backorder: bo == 1}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("stock levels: %w", err)
		}
	}
	return out, nil
}

// Track creates the variant's stock row at the default location if missing
// and keeps its SKU current; onHand and backorder, when not nil, are set
// (and the change is written to the ledger). It implements catalog.Stock.
// With tx nil it runs in a transaction of its own.
func (s *Service) Track(ctx context.Context, tx *sqldb.Tx, variantID, sku string, onHand *int64, backorder *bool, actor string) error {
	if tx == nil {
		return s.db.InTx(ctx, func(tx *sqldb.Tx) error { return s.Track(ctx, tx, variantID, sku, onHand, backorder, actor) })
	}
	before, err := s.levelForUpdate(ctx, tx, "variant_id", variantID)
	if apperr.Is(err, apperr.NotFound) {
		before = Level{VariantID: variantID, SKU: sku, LocationID: DefaultLocation, LowStockThreshold: 5}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_stock (variant_id, location_id, sku, on_hand, reserved, backorder, low_stock_threshold, updated_at)
			VALUES (?, ?, ?, 0, 0, ?, 5, ?)`, variantID, DefaultLocation, sku, backorder != nil && *backorder, s.now()); err != nil {
			if sqldb.IsUniqueViolation(err) {
				return apperr.Conflictf("SKU %s is already tracked for another variant", sku)
			}
			return fmt.Errorf("track %s: %w", sku, err)
		}
		before.Backorder = backorder != nil && *backorder
	} else if err != nil {
		return err
	}
	if before.SKU != sku || (backorder != nil && *backorder != before.Backorder) {
		bo := before.Backorder
		if backorder != nil {
			bo = *backorder
		}
		if _, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET sku = ?, backorder = ?, updated_at = ? WHERE variant_id = ?`, sku, bo, s.now(), variantID); err != nil {
			if sqldb.IsUniqueViolation(err) {
				return apperr.Conflictf("SKU %s is already tracked for another variant", sku)
			}
			return fmt.Errorf("track %s: %w", sku, err)
		}
		before.SKU = sku
	}
	if onHand != nil && *onHand != before.OnHand {
		reason := ReasonSet
		if before.OnHand == 0 && before.Reserved == 0 {
			reason = ReasonInitial
		}
		_, err := s.setOnHand(ctx, tx, before, *onHand, reason, "", actor)
		return err
	}
	return nil
}

func (s *Service) levelForUpdate(ctx context.Context, q sqldb.Querier, col, val string) (Level, error) {
	l, err := scanLevel(q.QueryRowContext(ctx, `SELECT `+levelCols+` FROM inventory_stock WHERE `+col+` = ? AND location_id = ?`, val, DefaultLocation))
	if errors.Is(err, sql.ErrNoRows) {
		return l, apperr.NotFoundf("no stock record for %s", val)
	}
	if err != nil {
		return l, fmt.Errorf("read stock %s: %w", val, err)
	}
	return l, nil
}

// Get returns the stock of a SKU at the default location; NotFound when the SKU is unknown.
func (s *Service) Get(ctx context.Context, sku string) (Level, error) {
	return s.levelForUpdate(ctx, s.db, "sku", sku)
}

// SetInput changes a SKU's stock settings; nil fields stay as they are.
type SetInput struct {
	OnHand            *int64  `json:"on_hand"`
	Backorder         *bool   `json:"backorder"`
	LowStockThreshold *int64  `json:"low_stock_threshold"`
	Reason            *string `json:"reason"`
}

// MaxQuantity bounds any stock figure.
const MaxQuantity = 1_000_000_000

// Set sets a SKU's on-hand count (and optionally its backorder flag and low
// stock threshold), recording the change in the ledger. Setting on_hand
// below what is reserved is a Conflict.
func (s *Service) Set(ctx context.Context, sku string, in SetInput, actor string) (Level, error) {
	var v apperr.Validator
	v.Check(in.OnHand != nil || in.Backorder != nil || in.LowStockThreshold != nil, "on_hand", "is required")
	if in.OnHand != nil {
		v.Check(*in.OnHand >= 0 && *in.OnHand <= MaxQuantity, "on_hand", "must be between 0 and 1000000000")
	}
	if in.LowStockThreshold != nil {
		v.Check(*in.LowStockThreshold >= 0 && *in.LowStockThreshold <= MaxQuantity, "low_stock_threshold", "must be between 0 and 1000000000")
	}
	reason := ReasonSet
	if in.Reason != nil {
		reason = strings.TrimSpace(*in.Reason)
		v.Check(reason != "" && len(reason) <= 200, "reason", "must be 1-200 characters")
	}
	if err := v.Err(); err != nil {
		return Level{}, err
	}
	var out Level
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		l, err := s.levelForUpdate(ctx, tx, "sku", sku)
		if err != nil {
			return err
		}
		if in.Backorder != nil || in.LowStockThreshold != nil {
			if in.Backorder != nil {
				l.Backorder = *in.Backorder
			}
			if in.LowStockThreshold != nil {
				l.LowStockThreshold = *in.LowStockThreshold
			}
			if _, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET backorder = ?, low_stock_threshold = ?, updated_at = ? WHERE variant_id = ? AND location_id = ?`,
				l.Backorder, l.LowStockThreshold, s.now(), l.VariantID, l.LocationID); err != nil {
				return fmt.Errorf("set stock settings: %w", err)
			}
			l.derive()
		}
		out = l
		if in.OnHand != nil {
			out, err = s.setOnHand(ctx, tx, l, *in.OnHand, reason, "", actor)
		}
		return err
	})
	return out, err
}

// setOnHand moves on_hand to a new value with a conditional update: the new
// value may not fall below what is reserved.
func (s *Service) setOnHand(ctx context.Context, tx *sqldb.Tx, l Level, onHand int64, reason, ref, actor string) (Level, error) {
	res, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET on_hand = ?, updated_at = ? WHERE variant_id = ? AND location_id = ? AND reserved <= ?`,
		onHand, s.now(), l.VariantID, l.LocationID, onHand)
	if err != nil {
		return l, fmt.Errorf("set on hand of %s: %w", l.SKU, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return l, &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("%s has %d units reserved; on_hand cannot go below that", l.SKU, l.Reserved),
			Fields: []apperr.FieldError{{Field: "on_hand", Message: fmt.Sprintf("must be at least %d (reserved)", l.Reserved)}}}
	}
	return s.record(ctx, tx, l, onHand-l.OnHand, 0, reason, ref, actor)
}

// record reads the level after a change, writes the ledger entry and runs the hooks.
func (s *Service) record(ctx context.Context, tx *sqldb.Tx, before Level, dOnHand, dReserved int64, reason, ref, actor string) (Level, error) {
	after, err := s.levelForUpdate(ctx, tx, "variant_id", before.VariantID)
	if err != nil {
		return after, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_movements (id, variant_id, location_id, sku, delta_on_hand, delta_reserved,
		on_hand_after, reserved_after, reason, reference, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ids.New(), after.VariantID, after.LocationID, after.SKU, dOnHand, dReserved, after.OnHand, after.Reserved, reason, ref, actor, s.now()); err != nil {
		return after, fmt.Errorf("write ledger: %w", err)
	}
	if s.hooks != nil {
		if err := s.hooks.StockChanged(ctx, tx, before, after, reason); err != nil {
			return after, err
		}
	}
	return after, nil
}

// Adjust changes a SKU's on-hand count by delta (negative for shrinkage,
// positive for a delivery). A decrement that would leave less on hand than
// is reserved is a Conflict; the check and the write are one statement.
func (s *Service) Adjust(ctx context.Context, sku string, delta int64, reason, actor string) (Level, error) {
	var v apperr.Validator
	v.Check(delta != 0 && delta >= -MaxQuantity && delta <= MaxQuantity, "delta", "must be a non-zero integer between -1000000000 and 1000000000")
	reason = strings.TrimSpace(reason)
	v.Check(reason != "" && len(reason) <= 200, "reason", "must be 1-200 characters")
	if err := v.Err(); err != nil {
		return Level{}, err
	}
	var out Level
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		l, err := s.levelForUpdate(ctx, tx, "sku", sku)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET on_hand = on_hand + ?, updated_at = ?
			WHERE variant_id = ? AND location_id = ? AND on_hand + ? >= reserved AND on_hand + ? <= ?`,
			delta, s.now(), l.VariantID, l.LocationID, delta, delta, MaxQuantity)
		if err != nil {
			return fmt.Errorf("adjust %s: %w", sku, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("not enough stock of %s", sku),
				Detail: []Shortage{{SKU: sku, Requested: -delta, Available: l.Available}}}
		}
		out, err = s.record(ctx, tx, l, delta, 0, reason, "", actor)
		return err
	})
	return out, err
}

// Reserve holds stock for every line under reference, or for none: when any
// line lacks stock it returns a Conflict whose Detail lists the shortages.
// Reservations expire at now+ttl unless committed or released first.
func (s *Service) Reserve(ctx context.Context, reference string, lines []Line, ttl time.Duration) ([]Reservation, error) {
	if len(lines) == 0 {
		return nil, apperr.Field("lines", "nothing to reserve")
	}
	var out []Reservation
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		out = out[:0]
		var short []Shortage
		now := s.now()
		for _, ln := range lines {
			if ln.Quantity <= 0 || ln.Quantity > MaxQuantity {
				return apperr.Field("quantity", "must be between 1 and 1000000000")
			}
			l, err := s.levelForUpdate(ctx, tx, "variant_id", ln.VariantID)
			if apperr.Is(err, apperr.NotFound) {
				short = append(short, Shortage{SKU: ln.VariantID, Requested: ln.Quantity})
				continue
			}
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET reserved = reserved + ?, updated_at = ?
				WHERE variant_id = ? AND location_id = ? AND (backorder OR on_hand - reserved >= ?)`,
				ln.Quantity, now, l.VariantID, l.LocationID, ln.Quantity)
			if err != nil {
				return fmt.Errorf("reserve %s: %w", l.SKU, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				short = append(short, Shortage{SKU: l.SKU, Requested: ln.Quantity, Available: max(0, l.Available)})
				continue
			}
			r := Reservation{ID: ids.New(), Reference: reference, VariantID: l.VariantID, SKU: l.SKU, Quantity: ln.Quantity, Status: "active", ExpiresAt: now.Add(ttl)}
			if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_reservations (id, reference, variant_id, location_id, sku, quantity, status, expires_at, created_at)
				VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)`, r.ID, reference, r.VariantID, l.LocationID, r.SKU, r.Quantity, r.ExpiresAt, now); err != nil {
				return fmt.Errorf("reserve %s: %w", l.SKU, err)
			}
			if _, err := s.record(ctx, tx, l, 0, ln.Quantity, ReasonReserve, reference, "system"); err != nil {
				return err
			}
			out = append(out, r)
		}
		if len(short) > 0 {
			skus := make([]string, len(short))
			for i, sh := range short {
				skus[i] = sh.SKU
			}
			return &apperr.Error{Code: apperr.Conflict, Message: "not enough stock for " + strings.Join(skus, ", "), Detail: map[string]any{"shortages": short}}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Commit turns the active reservations of reference into a sale: on_hand and
// reserved both go down. Committing twice is a no-op. It runs in tx when one
// is given, so that an order and its stock change commit together.
func (s *Service) Commit(ctx context.Context, tx *sqldb.Tx, reference, actor string) error {
	return s.settle(ctx, tx, reference, "committed", ReasonCommit, actor, nil)
}

// Release gives back the active reservations of reference. Releasing twice is a no-op.
func (s *Service) Release(ctx context.Context, tx *sqldb.Tx, reference, reason string) error {
	if reason == "" {
		reason = ReasonRelease
	}
	return s.settle(ctx, tx, reference, "released", reason, "system", nil)
}

func (s *Service) settle(ctx context.Context, tx *sqldb.Tx, reference, status, reason, actor string, onlyBefore *time.Time) error {
	if tx == nil {
		return s.db.InTx(ctx, func(tx *sqldb.Tx) error { return s.settle(ctx, tx, reference, status, reason, actor, onlyBefore) })
	}
	// In variant order, as the checkout reserves: stock rows are locked in one order.
	rows, err := tx.QueryContext(ctx, `SELECT id, variant_id, location_id, quantity FROM inventory_reservations WHERE reference = ? AND status = 'active' ORDER BY variant_id, id`, reference)
	if err != nil {
		return fmt.Errorf("settle %s: %w", reference, err)
	}
	type res struct {
		id, variant, location string
		qty                   int64
	}
	var rs []res
	for rows.Next() {
		var r res
		if err := rows.Scan(&r.id, &r.variant, &r.location, &r.qty); err != nil {
			rows.Close()
			return fmt.Errorf("settle %s: %w", reference, err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	for _, r := range rs {
		// Flip the reservation first, conditionally, so that two settlers
		// racing on the same reservation move stock once.
		upd, err := tx.ExecContext(ctx, `UPDATE inventory_reservations SET status = ? WHERE id = ? AND status = 'active'`, status, r.id)
		if err != nil {
			return fmt.Errorf("settle %s: %w", reference, err)
		}
		if n, _ := upd.RowsAffected(); n == 0 {
			continue
		}
		before, err := s.levelForUpdate(ctx, tx, "variant_id", r.variant)
		if err != nil {
			return err
		}
		dOnHand := int64(0)
		if status == "committed" {
			dOnHand = -r.qty
		}
		if _, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET on_hand = on_hand + ?, reserved = reserved - ?, updated_at = ?
			WHERE variant_id = ? AND location_id = ? AND reserved >= ?`, dOnHand, r.qty, s.now(), r.variant, r.location, r.qty); err != nil {
			return fmt.Errorf("settle %s: %w", reference, err)
		}
		if _, err := s.record(ctx, tx, before, dOnHand, -r.qty, reason, reference, actor); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseExpired releases every active reservation whose expiry has passed
// and returns how many references it released. The checkout sweeper calls it.
func (s *Service) ReleaseExpired(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT reference FROM inventory_reservations WHERE status = 'active' AND expires_at < ?`, s.now())
	if err != nil {
		return 0, fmt.Errorf("find expired reservations: %w", err)
	}
	var refs []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			rows.Close()
			return 0, err
		}
		refs = append(refs, r)
	}
	rows.Close()
	for _, ref := range refs {
		if err := s.Release(ctx, nil, ref, ReasonExpire); err != nil {
			return 0, err
		}
	}
	return len(refs), nil
}

// Restock puts quantity of a variant back on hand (a refund or cancellation with restock).
func (s *Service) Restock(ctx context.Context, tx *sqldb.Tx, variantID string, qty int64, reference, actor string) error {
	if tx == nil {
		return s.db.InTx(ctx, func(tx *sqldb.Tx) error { return s.Restock(ctx, tx, variantID, qty, reference, actor) })
	}
	l, err := s.levelForUpdate(ctx, tx, "variant_id", variantID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET on_hand = on_hand + ?, updated_at = ? WHERE variant_id = ? AND location_id = ?`,
		qty, s.now(), variantID, l.LocationID); err != nil {
		return fmt.Errorf("restock %s: %w", l.SKU, err)
	}
	_, err = s.record(ctx, tx, l, qty, 0, ReasonRestock, reference, actor)
	return err
}

// Reservations lists the reservations of a reference.
func (s *Service) Reservations(ctx context.Context, reference string) ([]Reservation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, reference, variant_id, sku, quantity, status, expires_at FROM inventory_reservations WHERE reference = ? ORDER BY id`, reference)
	if err != nil {
		return nil, fmt.Errorf("list reservations: %w", err)
	}
	defer rows.Close()
	var out []Reservation
	for rows.Next() {
		var r Reservation
		if err := rows.Scan(&r.ID, &r.Reference, &r.VariantID, &r.SKU, &r.Quantity, &r.Status, &r.ExpiresAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Movements returns the newest ledger entries of a SKU, newest first.
func (s *Service) Movements(ctx context.Context, sku string, limit int) ([]Movement, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT id, variant_id, sku, location_id, delta_on_hand, delta_reserved, on_hand_after, reserved_after,
		reason, reference, actor, created_at FROM inventory_movements WHERE sku = ? ORDER BY created_at DESC, id DESC LIMIT ?`, sku, limit)
	if err != nil {
		return nil, fmt.Errorf("list movements: %w", err)
	}
	defer rows.Close()
	out := []Movement{}
	for rows.Next() {
		var m Movement
		if err := rows.Scan(&m.ID, &m.VariantID, &m.SKU, &m.LocationID, &m.DeltaOnHand, &m.DeltaReserved, &m.OnHandAfter, &m.ReservedAfter,
			&m.Reason, &m.Reference, &m.Actor, &m.CreatedAt); err != nil {
			return nil, err
		}
		m.CreatedAt = m.CreatedAt.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// LowStock lists levels at or below their threshold (for the dashboard).
func (s *Service) LowStock(ctx context.Context, limit int) ([]Level, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT `+levelCols+` FROM inventory_stock
		WHERE NOT backorder AND on_hand - reserved <= low_stock_threshold ORDER BY on_hand - reserved, sku LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("low stock: %w", err)
	}
	defer rows.Close()
	out := []Level{}
	for rows.Next() {
		l, err := scanLevel(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
