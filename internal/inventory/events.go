package inventory

import "github.com/mercato-shop/mercato/internal/platform/outbox"

// Topics the inventory publishes (docs/EVENTS.md). Both are written in the
// transaction that moved the stock.
const (
	// TopicStockChanged: a variant's on-hand or reserved quantity changed.
	TopicStockChanged = "stock.changed"
	// TopicStockLow: a variant that cannot be backordered fell to or below
	// its low-stock threshold (written once per crossing, not per movement).
	TopicStockLow = "stock.low"
)

// Events returns a zero value of every event the inventory publishes.
func Events() []outbox.Message { return []outbox.Message{StockChanged{}, StockLow{}} }

// StockChanged is the payload of stock.changed: the level after one ledger
// movement at the default location, and the movement's reason.
type StockChanged struct {
	VariantID string `json:"variant_id"`
	SKU       string `json:"sku"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
	Reason    string `json:"reason"`
}

func (StockChanged) EventTopic() string       { return TopicStockChanged }
func (e StockChanged) EventAggregate() string { return e.VariantID }

func newStockChanged(after Level, reason string) StockChanged {
	return StockChanged{VariantID: after.VariantID, SKU: after.SKU, OnHand: after.OnHand, Reserved: after.Reserved,
		Available: after.Available, Reason: reason}
}

// StockLow is the payload of stock.low.
type StockLow struct {
	VariantID string `json:"variant_id"`
	SKU       string `json:"sku"`
	Available int64  `json:"available"`
	Threshold int64  `json:"threshold"`
}

func (StockLow) EventTopic() string       { return TopicStockLow }
func (e StockLow) EventAggregate() string { return e.VariantID }

func newStockLow(after Level) StockLow {
	return StockLow{VariantID: after.VariantID, SKU: after.SKU, Available: after.Available, Threshold: after.LowStockThreshold}
}
