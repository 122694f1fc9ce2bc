package ids

import (
	"strings"
	"testing"
)

func TestPlausible(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{New(), true},
		{"01936f3e-8c4a-7b2d-9e1f-0a1b2c3d4e5f", true},
		{"cart_abc-DEF_123", true},
		{"a", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"a\x00b", false},
		{"a b", false},
		{"a/b", false},
		{"a.b", false},
		{"a'b", false},
		{"a;DROP", false},
		{"é", false},
		{"%00", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := Plausible(tt.id); got != tt.want {
				t.Errorf("Plausible(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestNewAndSecret(t *testing.T) {
	a, b := New(), New()
	if a == b || !Valid(a) || !Valid(b) {
		t.Fatalf("New() = %s, %s: want two distinct UUIDs", a, b)
	}
	if s := Secret(16); len(s) != 22 || !Plausible(s) {
		t.Fatalf("Secret(16) = %q", s)
	}
}
