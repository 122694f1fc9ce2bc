package storefront

import (
	"testing"
	"time"
)

func TestFacetCacheExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newFacetCache(time.Minute)
	c.now = func() time.Time { return now }
	c.put("cat", facetCounts{"color": {"Red": 2}})
	tests := []struct {
		after time.Duration
		hit   bool
	}{{0, true}, {59 * time.Second, true}, {time.Minute, true}, {time.Minute + time.Nanosecond, false}}
	for _, tt := range tests {
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(tt.after)
		if got, ok := c.get("cat"); ok != tt.hit || (ok && got["color"]["Red"] != 2) {
			t.Errorf("after %v: hit %v (%v), want %v", tt.after, ok, got, tt.hit)
		}
	}
	if _, ok := c.get("other"); ok {
		t.Error("hit for a category never counted")
	}
	off := newFacetCache(-1)
	off.put("cat", facetCounts{})
	if _, ok := off.get("cat"); ok {
		t.Error("a negative TTL must disable the cache")
	}
}
