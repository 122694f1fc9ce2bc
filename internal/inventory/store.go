package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store is the inventory's SQL, private to the service. The same
// statements run on SQLite and PostgreSQL. Every decrement is one
// conditional UPDATE that reports (false, nil) when its condition did not
// hold, so the check and the write are atomic on both engines.
type store struct{ db *sqldb.DB }

const levelCols = `variant_id, sku, location_id, on_hand, reserved, backorder, low_stock_threshold`

func scanLevel(row sqldb.Scanner) (Level, error) {
	var l Level
	err := row.Scan(&l.VariantID, &l.SKU, &l.LocationID, &l.OnHand, &l.Reserved, &l.Backorder, &l.LowStockThreshold)
	l.derive()
	return l, err
}

// levelsChunk bounds the number of variant ids in one IN (...) list.
const levelsChunk = 500

// levels returns the stock of each variant summed over locations; variants
// without a stock row are absent.
func (st store) levels(ctx context.Context, q sqldb.Querier, variantIDs []string) (map[string]StockLevel, error) {
	out := make(map[string]StockLevel, len(variantIDs))
	type row struct {
		id string
		StockLevel
	}
	scan := func(r sqldb.Scanner) (row, error) {
		var (
			v  row
			bo int64
		)
		err := r.Scan(&v.id, &v.Available, &bo)
		v.Backorder = bo == 1
		return v, err
	}
	for start := 0; start < len(variantIDs); start += levelsChunk {
		chunk := variantIDs[start:min(start+levelsChunk, len(variantIDs))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := sqldb.All(ctx, q, "stock levels", scan, `SELECT variant_id, SUM(on_hand - reserved), MAX(CASE WHEN backorder THEN 1 ELSE 0 END)
			FROM inventory_stock WHERE variant_id IN (`+sqldb.Placeholders(len(chunk))+`) GROUP BY variant_id`, args...)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.id] = r.StockLevel
		}
	}
	return out, nil
}

// level reads a stock row at the default location by variant id or SKU
// (col); NotFound when there is none.
func (st store) level(ctx context.Context, q sqldb.Querier, col, val string) (Level, error) {
	l, err := scanLevel(q.QueryRowContext(ctx, `SELECT `+levelCols+` FROM inventory_stock WHERE `+col+` = ? AND location_id = ?`, val, DefaultLocation))
	if errors.Is(err, sql.ErrNoRows) {
		return l, apperr.NotFoundf("no stock record for %s", val)
	}
	if err != nil {
		return l, fmt.Errorf("read stock %s: %w", val, err)
	}
	return l, nil
}

func (st store) levelByVariant(ctx context.Context, q sqldb.Querier, variantID string) (Level, error) {
	return st.level(ctx, q, "variant_id", variantID)
}

func (st store) levelBySKU(ctx context.Context, q sqldb.Querier, sku string) (Level, error) {
	return st.level(ctx, q, "sku", sku)
}

func skuTaken(sku string) error {
	return apperr.Conflictf("SKU %s is already tracked for another variant", sku)
}

// insertLevel adds an empty stock row for a variant at l's location. A SKU
// tracked for another variant is a Conflict.
func (st store) insertLevel(ctx context.Context, tx *sqldb.Tx, l Level, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO inventory_stock (variant_id, location_id, sku, on_hand, reserved, backorder, low_stock_threshold, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, l.VariantID, l.LocationID, l.SKU, l.OnHand, l.Reserved, l.Backorder, l.LowStockThreshold, now)
	if sqldb.IsUniqueViolation(err) {
		return skuTaken(l.SKU)
	}
	if err != nil {
		return fmt.Errorf("track %s: %w", l.SKU, err)
	}
	return nil
}

// updateSettings writes l's SKU, backorder flag and low-stock threshold. A
// SKU tracked for another variant is a Conflict.
func (st store) updateSettings(ctx context.Context, tx *sqldb.Tx, l Level, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET sku = ?, backorder = ?, low_stock_threshold = ?, updated_at = ? WHERE variant_id = ? AND location_id = ?`,
		l.SKU, l.Backorder, l.LowStockThreshold, now, l.VariantID, l.LocationID)
	if sqldb.IsUniqueViolation(err) {
		return skuTaken(l.SKU)
	}
	if err != nil {
		return fmt.Errorf("update stock settings of %s: %w", l.SKU, err)
	}
	return nil
}

// affected reports whether a conditional statement changed a row.
func affected(res sql.Result, err error, what string) (bool, error) {
	ok, err := sqldb.Changed(res, err)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return ok, nil
}

// setOnHand sets l's on_hand to onHand unless that is below what is
// reserved; false when it is.
func (st store) setOnHand(ctx context.Context, tx *sqldb.Tx, l Level, onHand int64, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET on_hand = ?, updated_at = ? WHERE variant_id = ? AND location_id = ? AND reserved <= ?`,
		onHand, now, l.VariantID, l.LocationID, onHand)
	return affected(res, err, "set on hand of "+l.SKU)
}

// addOnHand adds delta to l's on_hand unless the result would be below
// what is reserved or above MaxQuantity; false when it would.
func (st store) addOnHand(ctx context.Context, tx *sqldb.Tx, l Level, delta int64, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET on_hand = on_hand + ?, updated_at = ?
		WHERE variant_id = ? AND location_id = ? AND on_hand + ? >= reserved AND on_hand + ? <= ?`,
		delta, now, l.VariantID, l.LocationID, delta, delta, MaxQuantity)
	return affected(res, err, "adjust "+l.SKU)
}

// restock adds qty to l's on_hand unconditionally.
func (st store) restock(ctx context.Context, tx *sqldb.Tx, l Level, qty int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET on_hand = on_hand + ?, updated_at = ? WHERE variant_id = ? AND location_id = ?`,
		qty, now, l.VariantID, l.LocationID); err != nil {
		return fmt.Errorf("restock %s: %w", l.SKU, err)
	}
	return nil
}

// reserve adds qty to l's reserved when that much is available (or the
// variant may be backordered); false when it is not.
func (st store) reserve(ctx context.Context, tx *sqldb.Tx, l Level, qty int64, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET reserved = reserved + ?, updated_at = ?
		WHERE variant_id = ? AND location_id = ? AND (backorder OR on_hand - reserved >= ?)`,
		qty, now, l.VariantID, l.LocationID, qty)
	return affected(res, err, "reserve "+l.SKU)
}

// settleStock moves a settled reservation of qty out of reserved, and
// dOnHand onto on_hand (minus qty for a sale, 0 for a release). A level
// that holds less reserved than the reservation is an error (the ledger
// and the level disagree): settling it silently would sell without taking
// the units off on_hand.
func (st store) settleStock(ctx context.Context, tx *sqldb.Tx, variantID, locationID string, dOnHand, qty int64, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE inventory_stock SET on_hand = on_hand + ?, reserved = reserved - ?, updated_at = ?
		WHERE variant_id = ? AND location_id = ? AND reserved >= ?`, dOnHand, qty, now, variantID, locationID, qty)
	ok, err := affected(res, err, "settle stock of "+variantID)
	if err == nil && !ok {
		err = fmt.Errorf("settle stock of %s: fewer than %d units reserved at %s", variantID, qty, locationID)
	}
	return err
}

func (st store) insertReservation(ctx context.Context, tx *sqldb.Tx, r Reservation, locationID string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_reservations (id, reference, variant_id, location_id, sku, quantity, status, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Reference, r.VariantID, locationID, r.SKU, r.Quantity, r.Status, r.ExpiresAt, now); err != nil {
		return fmt.Errorf("reserve %s: %w", r.SKU, err)
	}
	return nil
}

// held is an active reservation about to be settled.
type held struct {
	id, variantID, locationID string
	qty                       int64
}

// activeReservations lists reference's active reservations in variant
// order, the order in which the checkout locks stock rows.
func (st store) activeReservations(ctx context.Context, tx *sqldb.Tx, reference string) ([]held, error) {
	return sqldb.All(ctx, tx, "active reservations of "+reference, func(r sqldb.Scanner) (held, error) {
		var h held
		err := r.Scan(&h.id, &h.variantID, &h.locationID, &h.qty)
		return h, err
	}, `SELECT id, variant_id, location_id, quantity FROM inventory_reservations WHERE reference = ? AND status = 'active' ORDER BY variant_id, id`, reference)
}

// closeReservation sets an active reservation's status; false when it was
// no longer active (another settler got there first).
func (st store) closeReservation(ctx context.Context, tx *sqldb.Tx, id, status string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE inventory_reservations SET status = ? WHERE id = ? AND status = 'active'`, status, id)
	return affected(res, err, "settle reservation "+id)
}

// holdReservations moves the expiry of reference's active reservations to
// until.
func (st store) holdReservations(ctx context.Context, tx *sqldb.Tx, reference string, until time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE inventory_reservations SET expires_at = ? WHERE reference = ? AND status = 'active'`, until, reference); err != nil {
		return fmt.Errorf("hold reservations of %s: %w", reference, err)
	}
	return nil
}

// expiredReferences lists the references holding an active reservation
// that expired before now.
func (st store) expiredReferences(ctx context.Context, q sqldb.Querier, now time.Time) ([]string, error) {
	return sqldb.All(ctx, q, "find expired reservations", func(r sqldb.Scanner) (string, error) {
		var ref string
		err := r.Scan(&ref)
		return ref, err
	}, `SELECT DISTINCT reference FROM inventory_reservations WHERE status = 'active' AND expires_at < ?`, now)
}

func (st store) reservations(ctx context.Context, q sqldb.Querier, reference string) ([]Reservation, error) {
	return sqldb.All(ctx, q, "list reservations", func(row sqldb.Scanner) (Reservation, error) {
		var r Reservation
		err := row.Scan(&r.ID, &r.Reference, &r.VariantID, &r.SKU, &r.Quantity, &r.Status, &r.ExpiresAt)
		r.ExpiresAt = r.ExpiresAt.UTC()
		return r, err
	}, `SELECT id, reference, variant_id, sku, quantity, status, expires_at FROM inventory_reservations WHERE reference = ? ORDER BY id`, reference)
}

func (st store) insertMovement(ctx context.Context, tx *sqldb.Tx, m Movement) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_movements (id, variant_id, location_id, sku, delta_on_hand, delta_reserved,
		on_hand_after, reserved_after, reason, reference, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.VariantID, m.LocationID, m.SKU, m.DeltaOnHand, m.DeltaReserved, m.OnHandAfter, m.ReservedAfter, m.Reason, m.Reference, m.Actor, m.CreatedAt); err != nil {
		return fmt.Errorf("write ledger: %w", err)
	}
	return nil
}

// movements returns up to limit ledger entries of a SKU, newest first.
func (st store) movements(ctx context.Context, q sqldb.Querier, sku string, limit int) ([]Movement, error) {
	return sqldb.All(ctx, q, "list movements", func(r sqldb.Scanner) (Movement, error) {
		var m Movement
		err := r.Scan(&m.ID, &m.VariantID, &m.SKU, &m.LocationID, &m.DeltaOnHand, &m.DeltaReserved, &m.OnHandAfter, &m.ReservedAfter,
			&m.Reason, &m.Reference, &m.Actor, &m.CreatedAt)
		m.CreatedAt = m.CreatedAt.UTC()
		return m, err
	}, `SELECT id, variant_id, sku, location_id, delta_on_hand, delta_reserved, on_hand_after, reserved_after,
		reason, reference, actor, created_at FROM inventory_movements WHERE sku = ? ORDER BY created_at DESC, id DESC LIMIT ?`, sku, limit)
}

// lowStock returns up to limit levels that cannot be backordered and are at
// or below their threshold, lowest first.
func (st store) lowStock(ctx context.Context, q sqldb.Querier, limit int) ([]Level, error) {
	return sqldb.All(ctx, q, "low stock", scanLevel, `SELECT `+levelCols+` FROM inventory_stock
		WHERE NOT backorder AND on_hand - reserved <= low_stock_threshold ORDER BY on_hand - reserved, sku LIMIT ?`, limit)
}
