package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mercato-shop/mercato/internal/money"
)

func get(h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestAssets(t *testing.T) {
	a, err := NewAssets(Theme{})
	if err != nil {
		t.Fatal(err)
	}
	urlRE := regexp.MustCompile(`^/static/(app|theme|icon)\.[0-9a-f]{10}\.(css|js|svg)$`)
	for _, name := range []string{"app.css", "app.js", "theme.css", "icon.svg"} {
		t.Run(name, func(t *testing.T) {
			u, err := a.URL(name)
			if err != nil || !urlRE.MatchString(u) {
				t.Fatalf("URL(%q) = %q, %v", name, u, err)
			}
			w := get(a, "GET", u)
			if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || w.Header().Get("ETag") == "" {
				t.Fatalf("GET %s: %d %v", u, w.Code, w.Header())
			}
			plain := w.Body.Bytes()
			if size, _ := a.Size(u); size != len(plain) || size == 0 {
				t.Errorf("Size %d, body %d", size, len(plain))
			}
			wantType := map[string]string{"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml"}[name[strings.LastIndex(name, ".")+1:]]
			if ct := w.Header().Get("Content-Type"); ct != wantType {
				t.Errorf("Content-Type %q, want %q", ct, wantType)
			}
			if gz := get(a, "GET", u, "Accept-Encoding", "br, gzip"); gz.Header().Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(gz.Body)
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := io.ReadAll(zr); !bytes.Equal(b, plain) {
					t.Error("gzip body differs from the plain one")
				}
			} else if len(plain) > 1000 {
				t.Errorf("%s (%d bytes) not gzipped", name, len(plain))
			}
			if w := get(a, "GET", u, "Accept-Encoding", "gzip;q=0"); w.Header().Get("Content-Encoding") != "" {
				t.Error("gzip sent although refused with q=0")
			}
			if w := get(a, "GET", u, "If-None-Match", w.Header().Get("ETag")); w.Code != http.StatusNotModified {
				t.Errorf("If-None-Match: %d, want 304", w.Code)
			}
			if w := get(a, "HEAD", u); w.Code != 200 || w.Body.Len() != 0 {
				t.Errorf("HEAD: %d with %d bytes", w.Code, w.Body.Len())
			}
		})
	}
	for _, bad := range []string{"/static/app.css", "/static/app.0000000000.css", "/static/nope.js", "/static/"} {
		if w := get(a, "GET", bad); w.Code != http.StatusNotFound || strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d %q, want an uncached 404", bad, w.Code, w.Header().Get("Cache-Control"))
		}
	}
	if _, err := a.URL("missing.css"); err == nil {
		t.Error("URL of a missing asset: no error")
	}

	// Another accent changes the theme's URL, not the shared stylesheet's.
	b, err := NewAssets(Theme{Accent: "#aa3300"})
	if err != nil {
		t.Fatal(err)
	}
	ua, _ := a.URL("app.css")
	ub, _ := b.URL("app.css")
	ta, _ := a.URL("theme.css")
	tb, _ := b.URL("theme.css")
	if ua != ub || ta == tb {
		t.Errorf("app.css %s/%s theme.css %s/%s", ua, ub, ta, tb)
	}
	if _, err := NewAssets(Theme{Accent: "red"}); err == nil {
		t.Error("accent 'red' accepted")
	}
}

func TestThemeContrast(t *testing.T) {
	varRE := regexp.MustCompile(`--([a-z-]+):(#[0-9a-f]{6})`)
	for _, accent := range []string{"", "#0f766e", "#ffcc00", "#ffffff", "#000000", "#e11d48", "#7dd3fc", "#22c55e", "#808080", "#d9534f", "#3b82f6"} {
		t.Run(accent, func(t *testing.T) {
			css, err := themeCSS(Theme{Accent: accent})
			if err != nil {
				t.Fatal(err)
			}
			vars := map[string]rgb{}
			for _, m := range varRE.FindAllStringSubmatch(string(css), -1) {
				vars[m[1]], _ = parseColor(m[2])
			}
			if len(vars) != 5 {
				t.Fatalf("theme: %s", css)
			}
			if c := contrast(vars["accent"], vars["accent-ink"]); c < 4.5 {
				t.Errorf("button text on accent: contrast %.2f < 4.5 (%s)", c, css)
			}
			if c := contrast(vars["accent-text"], white); c < 4.5 {
				t.Errorf("accent text on white: contrast %.2f < 4.5 (%s)", c, css)
			}
			if c := contrast(vars["accent-text"], vars["accent-soft"]); c < 4.5 {
				t.Errorf("accent text on the soft accent: contrast %.2f < 4.5 (%s)", c, css)
			}
		})
	}
	for _, bad := range []string{"red", "#fff", "#12345g", "0f766e", "#0f766e0"} {
		if ValidColor(bad) {
			t.Errorf("ValidColor(%q)", bad)
		}
	}
}

// testRenderer parses pages (name -> template text) with a header that
// shows the shop's name and an empty footer.
func testRenderer(t *testing.T, pages map[string]string) (*Renderer, *Assets) {
	t.Helper()
	a, err := NewAssets(Theme{})
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"partials/chrome.html": {Data: []byte(`{{define "header"}}<header>{{.Shop.Name}}</header>{{end}}{{define "footer"}}<footer></footer>{{end}}`)},
	}
	for name, text := range pages {
		fsys["pages/"+name+".html"] = &fstest.MapFile{Data: []byte(text)}
	}
	r, err := NewRenderer(a, fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, a
}

func TestRenderer(t *testing.T) {
	r, a := testRenderer(t, map[string]string{
		"hello":  `{{define "content"}}<p>{{money .Price}} {{plural .N "item" "items"}}</p>{{end}}`,
		"broken": `{{define "content"}}{{.Missing.Field}}{{end}}`,
	})
	type data struct {
		Page
		Price money.Money
		N     int
	}
	w := httptest.NewRecorder()
	d := data{Page: Page{Title: "Hi", Shop: Shop{Name: "S&S"}, JSONLD: map[string]string{"name": "</script><b>"}}, Price: money.Money{Amount: 1999, Currency: "EUR"}, N: 2}
	if err := r.Render(w, 201, "hello", d); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	css, _ := a.URL("app.css")
	for _, want := range []string{"<title>Hi · S&amp;S</title>", "<header>S&amp;S</header>", "<p>€19.99 2 items</p>", `href="` + css + `"`, `<script type="application/ld+json">{"name":"\u003c/script\u003e\u003cb\u003e"}</script>`} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in\n%s", want, body)
		}
	}
	if w.Code != 201 || w.Header().Get("Content-Type") != "text/html; charset=utf-8" || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("%d %v", w.Code, w.Header())
	}

	w = httptest.NewRecorder()
	if err := r.Render(w, 200, "broken", d); err == nil || w.Body.Len() != 0 || len(w.Header()) != 0 {
		t.Errorf("a failing template must return its error and write nothing: %v, %d bytes", err, w.Body.Len())
	}
	if err := r.Render(httptest.NewRecorder(), 200, "nope", d); err == nil {
		t.Error("unknown page: no error")
	}
	if _, err := NewRenderer(a, fstest.MapFS{"pages/x.html": {Data: []byte(`{{define "content"}}{{nofunc}}{{end}}`)}}, nil); err == nil {
		t.Error("a template calling an unknown function parsed")
	}
}

func TestAssetsAt(t *testing.T) {
	css := []byte(strings.Repeat(".admin { color: red }\n", 100))
	a := NewAssetsAt("/admin/static/", map[string][]byte{"admin.css": css})
	u, err := a.URL("admin.css")
	if err != nil || !regexp.MustCompile(`^/admin/static/admin\.[0-9a-f]{10}\.css$`).MatchString(u) {
		t.Fatalf("URL = %q, %v", u, err)
	}
	w := get(a, "GET", u)
	if w.Code != 200 || w.Body.String() != string(css) || w.Header().Get("Content-Type") != "text/css; charset=utf-8" || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("GET %s: %d %v", u, w.Code, w.Header())
	}
	if gz := get(a, "GET", u, "Accept-Encoding", "gzip"); gz.Header().Get("Content-Encoding") != "gzip" {
		t.Error("not gzipped")
	}
	if w := get(a, "GET", u, "If-None-Match", w.Header().Get("ETag")); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", w.Code)
	}
	for _, bad := range []string{"/static" + strings.TrimPrefix(u, "/admin/static"), "/admin/static/admin.css", "/admin/static/"} {
		if w := get(a, "GET", bad); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, w.Code)
		}
	}
	if _, err := a.URL("app.css"); err == nil {
		t.Error("the shared files are not among a UI's own")
	}
}
