// Package inventory owns stock: on-hand and reserved quantities per variant
// per location, reservations with an expiry, and a ledger of every movement.
//
// The one rule it exists for: stock never oversells. Every decrement is a
// single conditional UPDATE (… WHERE on_hand - reserved >= ?), which is
// atomic on SQLite and on PostgreSQL, across any number of instances.
package inventory

import (
	"embed"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the inventory's tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("inventory", migrationFS, "migrations") }

// DefaultLocation is the location every variant is stocked at until
// multi-location fulfilment arrives.
const DefaultLocation = "default"

// Level is a variant's stock at a location.
type Level struct {
	VariantID         string `json:"variant_id"`
	SKU               string `json:"sku"`
	LocationID        string `json:"location_id"`
	OnHand            int64  `json:"on_hand"`
	Reserved          int64  `json:"reserved"`
	Available         int64  `json:"available"`
	Backorder         bool   `json:"backorder"`
	LowStockThreshold int64  `json:"low_stock_threshold"`
	Low               bool   `json:"low"`
}

// StockLevel is a variant's stock summed over its locations: what the
// catalog and the cart show.
type StockLevel struct {
	Available int64 // on hand minus reserved; negative when backordered
	Backorder bool  // the variant may be sold without stock
}

func (l *Level) derive() {
	l.Available = l.OnHand - l.Reserved
	l.Low = l.Available <= l.LowStockThreshold
}

// Movement is one ledger entry.
type Movement struct {
	ID            string    `json:"id"`
	VariantID     string    `json:"variant_id"`
	SKU           string    `json:"sku"`
	LocationID    string    `json:"location_id"`
	DeltaOnHand   int64     `json:"delta_on_hand"`
	DeltaReserved int64     `json:"delta_reserved"`
	OnHandAfter   int64     `json:"on_hand_after"`
	ReservedAfter int64     `json:"reserved_after"`
	Reason        string    `json:"reason"`
	Reference     string    `json:"reference"`
	Actor         string    `json:"actor"`
	CreatedAt     time.Time `json:"created_at"`
}

// Line asks for a quantity of a variant.
type Line struct {
	VariantID string
	Quantity  int64
}

// Shortage names a variant that could not be reserved.
type Shortage struct {
	SKU       string `json:"sku"`
	Requested int64  `json:"requested"`
	Available int64  `json:"available"`
}

// Reservation holds stock for a reference (a checkout) until it is
// committed, released, or expires.
type Reservation struct {
	ID        string    `json:"id"`
	Reference string    `json:"reference"`
	VariantID string    `json:"variant_id"`
	SKU       string    `json:"sku"`
	Quantity  int64     `json:"quantity"`
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Reasons recorded in the ledger.
const (
	ReasonInitial = "initial"
	ReasonSet     = "set"
	ReasonAdjust  = "adjustment"
	ReasonReserve = "reserve"
	ReasonCommit  = "sale"
	ReasonRelease = "release"
	ReasonExpire  = "reservation expired"
	ReasonRestock = "restock"
)
