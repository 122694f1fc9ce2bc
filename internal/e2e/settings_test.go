package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/app"
)

// TestStorefrontSettings starts the real program with the storefront's
// settings: bad values stop it with a usage error naming the variable; good
// ones show in the pages.
func TestStorefrontSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the program with the demo catalog")
	}
	for _, tt := range []struct{ name, value string }{
		{"MERCATO_SHOP_ACCENT", "teal"},
		{"MERCATO_SHOP_ACCENT", "#0f766"},
		{"MERCATO_SHOP_LOGO", "https://cdn.example/logo.png"},
		{"MERCATO_SHOP_LOGO", "//cdn.example/logo.png"},
		{"MERCATO_BASE_URL", "shop.example"},
		{"MERCATO_BASE_URL", "https://shop.example/store"},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			env := map[string]string{"MERCATO_ADDR": "127.0.0.1:0", "MERCATO_DATA_DIR": t.TempDir(), tt.name: tt.value}
			err := app.Run(context.Background(), []string{"mercato", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !app.IsUsage(err) || !strings.Contains(err.Error(), tt.name) {
				t.Errorf("got %v, want a usage error naming %s", err, tt.name)
			}
		})
	}

	base := startServer(t, map[string]string{
		"MERCATO_SHOP_NAME":   "Corner Store",
		"MERCATO_SHOP_LOGO":   "/media/logo.svg",
		"MERCATO_SHOP_ACCENT": "#aa3300",
		"MERCATO_BASE_URL":    "https://corner.example/",
	})
	home := get(t, base+"/")
	for _, want := range []string{
		"<title>Corner Store</title>",
		`<img src="/media/logo.svg" alt="Corner Store" height="36">`,
		`<link rel="canonical" href="https://corner.example/">`,
	} {
		if !strings.Contains(home, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	theme := regexp.MustCompile(`href="(/static/theme\.[0-9a-f]+\.css)"`).FindStringSubmatch(home)
	if theme == nil {
		t.Fatal("no theme stylesheet")
	}
	if css := get(t, base+theme[1]); !strings.Contains(css, "--accent:#aa3300") {
		t.Errorf("theme.css does not carry the accent: %s", css)
	}
	if sm := get(t, base+"/sitemap.xml"); !strings.Contains(sm, "<loc>https://corner.example/p/") {
		t.Errorf("sitemap URLs do not use MERCATO_BASE_URL")
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, res.StatusCode, err)
	}
	return string(b)
}
