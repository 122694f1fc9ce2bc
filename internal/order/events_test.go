package order_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/order"
)

// TestEventWireForm pins the JSON fields of every order event (docs/EVENTS.md):
// fields may be added, never renamed or dropped.
func TestEventWireForm(t *testing.T) {
	want := map[string]string{
		order.TopicOrderPlaced:    "cart_id created_at currency customer_id email items number order_id shipping_address shipping_method tax_included totals",
		order.TopicOrderPaid:      "amount email number order_id",
		order.TopicOrderCancelled: "email number order_id reason",
		order.TopicOrderFulfilled: "email fulfillment_id items number order_id tracking_number",
		order.TopicOrderShipped:   "email number order_id tracking_number",
		order.TopicOrderDelivered: "email number order_id",
		order.TopicOrderRefunded:  "amount at_provider email fully_refunded gift_card number order_id reason refund_id refunded",
	}
	seen := map[string]bool{}
	for _, m := range order.Events() {
		topic := m.EventTopic()
		seen[topic] = true
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		json.Unmarshal(body, &fields)
		if got := strings.Join(slices.Sorted(maps.Keys(fields)), " "); got != want[topic] {
			t.Errorf("%s fields %q, want %q", topic, got, want[topic])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("Events() declares %v, want %d topics", seen, len(want))
	}
	placed, _ := json.Marshal(order.OrderPlaced{Items: []order.PlacedItem{{}}})
	for _, f := range []string{`"sku"`, `"title"`, `"quantity"`, `"unit_price"`, `"line_total"`, `"subtotal"`, `"gift_card"`, `"postal_code"`} {
		if !strings.Contains(string(placed), f) {
			t.Errorf("order.placed lacks %s: %s", f, placed)
		}
	}
}
