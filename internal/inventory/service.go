package inventory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Service is the inventory's business logic. Every stock movement writes a
// ledger entry and the stock events (events.go) in its own transaction.
type Service struct {
	db  *sqldb.DB
	st  store
	now func() time.Time
}

// NewService returns an inventory service on db.
func NewService(db *sqldb.DB) *Service {
	return &Service{db: db, st: store{db}, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// Levels returns the stock of each variant (summed over locations);
// variants without a stock record are absent. It reads from the read pool.
func (s *Service) Levels(ctx context.Context, variantIDs []string) (map[string]StockLevel, error) {
	return s.st.levels(ctx, s.db.Reader(), variantIDs)
}

// Track creates the variant's stock row at the default location if missing
// and keeps its SKU current; onHand and backorder, when not nil, are set
// (and the change is written to the ledger). A SKU tracked for another
// variant is a Conflict; on-hand below what is reserved is a Conflict on
// field "on_hand". It runs in tx when one is given (so a product and its
// stock commit together), in a transaction of its own otherwise.
func (s *Service) Track(ctx context.Context, tx *sqldb.Tx, variantID, sku string, onHand *int64, backorder *bool, actor string) error {
	return s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		before, err := s.st.levelByVariant(ctx, tx, variantID)
		if apperr.Is(err, apperr.NotFound) {
			// Not derived: a new row is not "low" before its first stock,
			// so an initial quantity at or below the threshold is a crossing.
			before = Level{VariantID: variantID, SKU: sku, LocationID: DefaultLocation, LowStockThreshold: 5, Backorder: backorder != nil && *backorder}
			if err := s.st.insertLevel(ctx, tx, before, s.now()); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if before.SKU != sku || (backorder != nil && *backorder != before.Backorder) {
			before.SKU = sku
			if backorder != nil {
				before.Backorder = *backorder
			}
			if err := s.st.updateSettings(ctx, tx, before, s.now()); err != nil {
				return err
			}
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
	})
}

// Get returns the stock of a SKU at the default location; NotFound when the SKU is unknown.
func (s *Service) Get(ctx context.Context, sku string) (Level, error) {
	return s.st.levelBySKU(ctx, s.db, sku)
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
// stock threshold), recording the change in the ledger. Bad fields are
// Invalid; an unknown SKU is NotFound; setting on_hand below what is
// reserved is a Conflict.
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
		l, err := s.st.levelBySKU(ctx, tx, sku)
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
			if err := s.st.updateSettings(ctx, tx, l, s.now()); err != nil {
				return err
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
// value may not fall below what is reserved (a Conflict on "on_hand").
func (s *Service) setOnHand(ctx context.Context, tx *sqldb.Tx, l Level, onHand int64, reason, ref, actor string) (Level, error) {
	ok, err := s.st.setOnHand(ctx, tx, l, onHand, s.now())
	if err != nil {
		return l, err
	}
	if !ok {
		return l, &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("%s has %d units reserved; on_hand cannot go below that", l.SKU, l.Reserved),
			Fields: []apperr.FieldError{{Field: "on_hand", Message: fmt.Sprintf("must be at least %d (reserved)", l.Reserved)}}}
	}
	return s.record(ctx, tx, l, onHand-l.OnHand, 0, reason, ref, actor)
}

// record reads the level after a change and, in tx, writes the ledger
// entry, stock.changed, and stock.low when the level crossed its threshold
// (a variant that can be backordered is never low).
func (s *Service) record(ctx context.Context, tx *sqldb.Tx, before Level, dOnHand, dReserved int64, reason, ref, actor string) (Level, error) {
	after, err := s.st.levelByVariant(ctx, tx, before.VariantID)
	if err != nil {
		return after, err
	}
	if err := s.st.insertMovement(ctx, tx, Movement{ID: ids.New(), VariantID: after.VariantID, SKU: after.SKU, LocationID: after.LocationID,
		DeltaOnHand: dOnHand, DeltaReserved: dReserved, OnHandAfter: after.OnHand, ReservedAfter: after.Reserved,
		Reason: reason, Reference: ref, Actor: actor, CreatedAt: s.now()}); err != nil {
		return after, err
	}
	if err := outbox.Write(ctx, tx, newStockChanged(after, reason)); err != nil {
		return after, err
	}
	if !after.Backorder && after.Low && !before.Low {
		if err := outbox.Write(ctx, tx, newStockLow(after)); err != nil {
			return after, err
		}
	}
	return after, nil
}

// Adjust changes a SKU's on-hand count by delta (negative for shrinkage,
// positive for a delivery). Bad fields are Invalid; an unknown SKU is
// NotFound; a decrement that would leave less on hand than is reserved is
// a Conflict whose Detail is the shortage. The check and the write are one
// statement.
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
		l, err := s.st.levelBySKU(ctx, tx, sku)
		if err != nil {
			return err
		}
		ok, err := s.st.addOnHand(ctx, tx, l, delta, s.now())
		if err != nil {
			return err
		}
		if !ok {
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
			l, err := s.st.levelByVariant(ctx, tx, ln.VariantID)
			if apperr.Is(err, apperr.NotFound) {
				short = append(short, Shortage{SKU: ln.VariantID, Requested: ln.Quantity})
				continue
			}
			if err != nil {
				return err
			}
			ok, err := s.st.reserve(ctx, tx, l, ln.Quantity, now)
			if err != nil {
				return err
			}
			if !ok {
				short = append(short, Shortage{SKU: l.SKU, Requested: ln.Quantity, Available: max(0, l.Available)})
				continue
			}
			r := Reservation{ID: ids.New(), Reference: reference, VariantID: l.VariantID, SKU: l.SKU, Quantity: ln.Quantity, Status: "active", ExpiresAt: now.Add(ttl)}
			if err := s.st.insertReservation(ctx, tx, r, l.LocationID, now); err != nil {
				return err
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
	return s.settle(ctx, tx, reference, "committed", ReasonCommit, actor)
}

// Release gives back the active reservations of reference. Releasing twice
// is a no-op. It runs in tx when one is given.
func (s *Service) Release(ctx context.Context, tx *sqldb.Tx, reference, reason string) error {
	if reason == "" {
		reason = ReasonRelease
	}
	return s.settle(ctx, tx, reference, "released", reason, "system")
}

func (s *Service) settle(ctx context.Context, tx *sqldb.Tx, reference, status, reason, actor string) error {
	return s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		rs, err := s.st.activeReservations(ctx, tx, reference)
		if err != nil {
			return err
		}
		for _, r := range rs {
			// Close the reservation first, conditionally, so that two
			// settlers racing on the same reservation move stock once.
			ok, err := s.st.closeReservation(ctx, tx, r.id, status)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			before, err := s.st.levelByVariant(ctx, tx, r.variantID)
			if err != nil {
				return err
			}
			dOnHand := int64(0)
			if status == "committed" {
				dOnHand = -r.qty
			}
			if err := s.st.settleStock(ctx, tx, r.variantID, r.locationID, dOnHand, r.qty, s.now()); err != nil {
				return fmt.Errorf("settle %s: %w", reference, err)
			}
			if _, err := s.record(ctx, tx, before, dOnHand, -r.qty, reason, reference, actor); err != nil {
				return err
			}
		}
		return nil
	})
}

// Hold keeps the active reservations of reference until until (an order
// awaiting its payment holds its stock that long). It runs in tx when one
// is given.
func (s *Service) Hold(ctx context.Context, tx *sqldb.Tx, reference string, until time.Time) error {
	return s.db.Within(ctx, tx, func(tx *sqldb.Tx) error { return s.st.holdReservations(ctx, tx, reference, until) })
}

// ReleaseExpired releases every active reservation whose expiry has passed
// and returns how many references it released. The checkout sweeper calls it.
func (s *Service) ReleaseExpired(ctx context.Context) (int, error) {
	refs, err := s.st.expiredReferences(ctx, s.db, s.now())
	if err != nil {
		return 0, err
	}
	for _, ref := range refs {
		if err := s.Release(ctx, nil, ref, ReasonExpire); err != nil {
			return 0, err
		}
	}
	return len(refs), nil
}

// Restock puts quantity of a variant back on hand (a refund or cancellation
// with restock). An untracked variant is NotFound. It runs in tx when one is
// given.
func (s *Service) Restock(ctx context.Context, tx *sqldb.Tx, variantID string, qty int64, reference, actor string) error {
	return s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		l, err := s.st.levelByVariant(ctx, tx, variantID)
		if err != nil {
			return err
		}
		if err := s.st.restock(ctx, tx, l, qty, s.now()); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, l, qty, 0, ReasonRestock, reference, actor)
		return err
	})
}

// Reservations lists the reservations of a reference ([] when none).
func (s *Service) Reservations(ctx context.Context, reference string) ([]Reservation, error) {
	return s.st.reservations(ctx, s.db, reference)
}

// Movements returns the newest ledger entries of a SKU, newest first; a
// limit outside 1..500 means 100.
func (s *Service) Movements(ctx context.Context, sku string, limit int) ([]Movement, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.st.movements(ctx, s.db.Reader(), sku, limit)
}

// LowStock lists levels at or below their threshold (for the dashboard).
func (s *Service) LowStock(ctx context.Context, limit int) ([]Level, error) {
	return s.st.lowStock(ctx, s.db.Reader(), limit)
}
