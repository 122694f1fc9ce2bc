package ui_test

import (
	"testing"

	"github.com/mercato-shop/mercato/internal/ui"
)

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/account/orders", "/account/orders"},
		{"/cart?x=1#top", "/cart?x=1#top"},
		{"/c/t-shirts?color=red&size=m", "/c/t-shirts?color=red&size=m"},
		{"", "/def"},
		{"account", "/def"},
		{"https://evil.example/", "/def"},
		{"//evil.example", "/def"},
		{"/\t/evil.example", "/def"}, // browsers drop the tab: //evil.example
		{"/\n/evil.example", "/def"},
		{"/\r/evil.example", "/def"},
		{"/\\evil.example", "/def"},                // browsers read \ as /
		{"/%09/evil.example", "/%09/evil.example"}, // still encoded: a path on this site
		{"/ /evil.example", "/def"},
		{"/\x00", "/def"},
		{"/\x7f", "/def"},
		{"javascript:alert(1)", "/def"},
		{"/" + string(make([]byte, 600)), "/def"},
	} {
		if got := ui.LocalPath(tc.next, "/def"); got != tc.want {
			t.Errorf("LocalPath(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}
