package order_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// A payment event the order module cannot decode is logged and dropped,
// not retried (it would hold back every later event) and not lost silently.
func TestUndecodablePaymentEventIsLoggedAndDropped(t *testing.T) {
	db := sqldbtest.SQLite(t, migrations...)
	var logs bytes.Buffer
	orders := order.NewService(db, payment.NewService(db, payment.NewSandbox()), &fakeStock{restocked: map[string]int64{}}, slog.New(slog.NewTextHandler(&logs, nil)))
	bus := outbox.NewLocalBus()
	orders.Subscribe(bus)
	for _, topic := range order.PaymentTopics() {
		ev := outbox.Event{ID: "ev-" + topic, Topic: topic, AggregateID: "pay-1", Payload: json.RawMessage(`{"amount": "lots"}`)}
		if err := bus.Publish(context.Background(), ev); err != nil {
			t.Fatalf("%s: %v, want the event dropped without an error", topic, err)
		}
		if !strings.Contains(logs.String(), "event=ev-"+topic) {
			t.Errorf("%s: not logged; log:\n%s", topic, logs.String())
		}
	}
	var processed int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox_processed`).Scan(&processed); err != nil {
		t.Fatal(err)
	}
	if processed != 0 {
		t.Fatalf("%d dropped events recorded as processed", processed)
	}
}
