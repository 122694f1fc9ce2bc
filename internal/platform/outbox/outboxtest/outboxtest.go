// Package outboxtest helps a module's tests see the events it published.
package outboxtest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Drain publishes every committed event still pending in db and returns
// them in delivery order: the events committed since the last Drain. A
// rolled-back transaction's events never appear.
func Drain(t testing.TB, db *sqldb.DB) []outbox.Event {
	t.Helper()
	var rec recorder
	relay := outbox.NewRelay(db, &rec, slog.New(slog.DiscardHandler), time.Hour)
	for {
		n, err := relay.Flush(context.Background())
		if err != nil {
			t.Fatalf("drain the outbox: %v", err)
		}
		if n == 0 {
			return rec.evs
		}
	}
}

// Decode returns the payload of e as the publisher's type T, failing the
// test when it does not decode or when e's topic and aggregate are not the
// ones the payload names.
func Decode[T outbox.Message](t testing.TB, e outbox.Event) T {
	t.Helper()
	var p T
	if err := e.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if e.Topic != p.EventTopic() || e.AggregateID != p.EventAggregate() {
		t.Fatalf("event %s/%s carries %+v (topic %s, aggregate %s)", e.Topic, e.AggregateID, p, p.EventTopic(), p.EventAggregate())
	}
	return p
}

type recorder struct{ evs []outbox.Event }

func (r *recorder) Publish(_ context.Context, e outbox.Event) error {
	r.evs = append(r.evs, e)
	return nil
}
