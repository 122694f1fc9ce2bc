package ui_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/ui"
)

// FuzzLocalPath: LocalPath returns its default or a path that a browser
// resolves on this site, whatever the "next" value.
func FuzzLocalPath(f *testing.F) {
	for _, seed := range []string{"/account", "/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example",
		"/%2F%2Fevil.example", "/..//evil.example", "/a?next=//evil.example", "/\u3000/evil.example", "/\u00a0x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := ui.LocalPath(next, "/def")
		if got == "/def" {
			return
		}
		if got != next {
			t.Fatalf("LocalPath(%q) = %q: neither the input nor the default", next, got)
		}
		// What a browser does with a Location: drop tabs and line breaks,
		// read backslashes as slashes, then resolve against this site.
		cleaned := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		base, _ := url.Parse("https://shop.example/account/login")
		u, err := base.Parse(cleaned)
		if err != nil {
			t.Fatalf("LocalPath(%q) accepted what does not parse: %v", next, err)
		}
		if u.Host != "shop.example" || u.Scheme != "https" {
			t.Fatalf("LocalPath(%q) accepted a path that leaves the site: %s", next, u)
		}
	})
}
