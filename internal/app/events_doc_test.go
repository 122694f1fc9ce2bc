package app_test

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/analytics"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/promotion"
)

// publishedEvents is every event a module publishes, from each publisher's
// events.go. A new publisher adds its Events() here.
func publishedEvents() []outbox.Message {
	return slices.Concat(catalog.Events(), inventory.Events(), customer.Events(), order.Events(), payment.Events(), cart.Events(), giftcard.Events())
}

// TestEventsDocumented keeps docs/EVENTS.md in step with the code: every
// published topic has one row whose payload fields are exactly the JSON
// fields of the publisher's type, every row names a published topic, and
// every topic a consumer subscribes to is published.
func TestEventsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/EVENTS.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := eventRows(string(doc))
	published := map[string]bool{}
	for _, m := range publishedEvents() {
		topic := m.EventTopic()
		if published[topic] {
			t.Errorf("topic %s is published by two event types", topic)
		}
		published[topic] = true
		fields, ok := rows[topic]
		if !ok {
			t.Errorf("docs/EVENTS.md has no row for %s (%T)", topic, m)
			continue
		}
		want := jsonFields(reflect.TypeOf(m))
		slices.Sort(want)
		slices.Sort(fields)
		if !slices.Equal(fields, want) {
			t.Errorf("docs/EVENTS.md row %s lists fields %v; %T has %v", topic, fields, m, want)
		}
	}
	for topic := range rows {
		if !published[topic] {
			t.Errorf("docs/EVENTS.md documents %s, which no module publishes", topic)
		}
	}
	for name, topics := range map[string][]string{"notify": notify.Topics(), "analytics": analytics.Topics(), "affiliate": affiliate.Topics(), "giftcard": giftcard.Topics(), "promotion": promotion.Topics()} {
		for _, topic := range topics {
			if !published[topic] {
				t.Errorf("%s subscribes to %s, which no module publishes", name, topic)
			}
		}
	}
}

// eventRows reads the topic table of EVENTS.md: topic -> top-level payload
// field names.
func eventRows(doc string) map[string][]string {
	rows := map[string][]string{}
	for line := range strings.Lines(doc) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 5 {
			continue
		}
		topic := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if topic == "" || topic == "topic" || strings.HasPrefix(topic, "-") || !strings.Contains(topic, ".") {
			continue
		}
		rows[topic] = topLevelFields(strings.Join(cells[3:len(cells)-1], "|"))
	}
	return rows
}

// topLevelFields splits "a, b: [{x, y}], c (may be "")" into [a b c].
func topLevelFields(s string) []string {
	var (
		out   []string
		depth int
		cur   strings.Builder
	)
	flush := func() {
		f := strings.TrimSpace(cur.String())
		cur.Reset()
		if i := strings.IndexAny(f, ": ("); i >= 0 {
			f = f[:i]
		}
		if f = strings.Trim(f, "`"); f != "" {
			out = append(out, f)
		}
	}
	for _, r := range s {
		switch {
		case r == '{' || r == '[' || r == '(':
			depth++
		case r == '}' || r == ']' || r == ')':
			depth--
		case r == ',' && depth == 0:
			flush()
			continue
		}
		if depth == 0 || cur.Len() == 0 {
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

// jsonFields lists the JSON names of t's fields, as encoding/json would.
func jsonFields(t reflect.Type) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}
