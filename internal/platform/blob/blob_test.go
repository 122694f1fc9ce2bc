package blob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#c33"/></svg>`

func newDisk(t *testing.T) *Disk {
	t.Helper()
	return NewDisk(filepath.Join(t.TempDir(), "media"))
}

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a.svg", true},
		{"demo/tee-0123456789abcdef.svg", true},
		{"uploads/2026/05/photo_1.v2.jpeg", true},
		{"", false},
		{"/etc/passwd.txt", false},
		{"../x.svg", false},
		{"a/../../x.svg", false},
		{"a/./x.svg", false},
		{"..", false},
		{"a//b.svg", false},
		{"a/", false},
		{".hidden.svg", false},
		{"a/.tmp-0011.svg", false},
		{"A.svg", false},
		{"a b.svg", false},
		{`a\..\b.svg`, false},
		{"a%2f..%2fb.svg", false},
		{"a.svg\x00", false},
		{"page.html", false},
		{"script.js", false},
		{"noext", false},
		{strings.Repeat("a", MaxKey-4) + ".svg", true},
		{strings.Repeat("a", MaxKey) + ".svg", false},
	}
	for _, tt := range tests {
		name := tt.key
		if len(name) > 40 {
			name = name[:20] + "...(long)"
		}
		t.Run(name, func(t *testing.T) {
			err := ValidateKey(tt.key)
			if tt.ok && err != nil {
				t.Fatalf("ValidateKey(%q) = %v, want ok", tt.key, err)
			}
			if !tt.ok && !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("ValidateKey(%q) = %v, want Invalid", tt.key, err)
			}
		})
	}
}

func TestTraversalRefused(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	d := NewDisk(filepath.Join(base, "media"))
	secret := filepath.Join(base, "secret.txt")
	if err := os.WriteFile(secret, []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../secret.txt", "../escaped.txt", "/tmp/escaped.txt", "a/../../escaped.txt", `..\escaped.txt`} {
		t.Run("put "+key, func(t *testing.T) {
			if err := d.Put(ctx, key, strings.NewReader("x"), ""); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("Put(%q) = %v, want Invalid", key, err)
			}
			if _, err := os.Stat(filepath.Join(base, "escaped.txt")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a file was written outside the root: %v", err)
			}
		})
		t.Run("open "+key, func(t *testing.T) {
			if _, _, err := d.Open(ctx, key); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("Open(%q) = %v, want NotFound", key, err)
			}
		})
	}
	t.Run("symlink out of the root", func(t *testing.T) {
		if err := os.MkdirAll(d.Dir(), 0o750); err != nil { // the store creates its folder on first Put
			t.Fatal(err)
		}
		if err := os.Symlink(secret, filepath.Join(d.Dir(), "link.txt")); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
		f, _, err := d.Open(ctx, "link.txt")
		if err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			t.Fatalf("Open followed a symlink out of the root and read %q", b)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := newDisk(t)
	key := ContentKey("demo", "tee", []byte(svg), "svg")
	if !Immutable(key) || !strings.HasPrefix(key, "demo/tee-") || !strings.HasSuffix(key, ".svg") {
		t.Fatalf("ContentKey = %q", key)
	}
	if got := d.URL(key); got != "/media/"+key {
		t.Fatalf("URL = %q", got)
	}
	if err := d.Put(ctx, key, strings.NewReader(svg), "image/svg+xml"); err != nil {
		t.Fatal(err)
	}
	f, info, err := d.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != svg || info.Size != int64(len(svg)) || info.ContentType != "image/svg+xml" || info.ModTime.IsZero() {
		t.Fatalf("read back %q, %+v", b, info)
	}

	// Overwrite in place, with a charset parameter on an allowed type.
	if err := d.Put(ctx, "notes/a.txt", strings.NewReader("one"), ""); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "notes/a.txt", strings.NewReader("two"), "text/plain; charset=utf-8"); err != nil {
		t.Fatal(err)
	}
	if f, _, err := d.Open(ctx, "notes/a.txt"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "two" {
			t.Fatalf("after overwrite read %q", b)
		}
	}

	t.Run("content type must match the extension", func(t *testing.T) {
		err := d.Put(ctx, "x.png", strings.NewReader(svg), "image/svg+xml")
		var e *apperr.Error
		if !errors.As(err, &e) || e.Code != apperr.Invalid || e.Fields[0].Field != "content_type" {
			t.Fatalf("Put = %v, want Invalid content_type", err)
		}
	})
	t.Run("failed write leaves nothing behind", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader("partial"), errReader{})
		if err := d.Put(ctx, "demo/broken.svg", r, ""); err == nil {
			t.Fatal("Put from a failing reader succeeded")
		}
		if _, err := d.Stat(ctx, "demo/broken.svg"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Stat after failed put = %v, want NotFound", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := d.Put(cctx, "demo/c.svg", strings.NewReader(svg), ""); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put = %v, want context.Canceled", err)
		}
	})
	t.Run("no temporary files remain", func(t *testing.T) {
		filepath.WalkDir(d.Dir(), func(p string, e os.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(e.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", p)
			}
			return nil
		})
	})
	t.Run("delete", func(t *testing.T) {
		if err := d.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if err := d.Delete(ctx, key); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if _, _, err := d.Open(ctx, key); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Open after delete = %v, want NotFound", err)
		}
	})
	t.Run("a folder is not a blob", func(t *testing.T) {
		if err := os.Mkdir(filepath.Join(d.Dir(), "dir.svg"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.Open(ctx, "dir.svg"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Open(folder) = %v, want NotFound", err)
		}
	})
}

func TestMissingFolder(t *testing.T) {
	ctx := context.Background()
	d := NewDisk(filepath.Join(t.TempDir(), "not", "yet"))
	if _, _, err := d.Open(ctx, "a.svg"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Open before any Put = %v, want NotFound", err)
	}
	if err := d.Delete(ctx, "a.svg"); err != nil {
		t.Fatalf("Delete before any Put = %v", err)
	}
	if err := d.Put(ctx, "a/b.svg", strings.NewReader(svg), ""); err != nil {
		t.Fatalf("first Put creates the folder: %v", err)
	}
	if _, err := d.Stat(ctx, "a/b.svg"); err != nil {
		t.Fatal(err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestImmutable(t *testing.T) {
	tests := map[string]bool{
		"demo/tee-0123456789abcdef.svg":   true,
		"0123456789abcdef0123.png":        true,
		"x-0123456789abcdef0123.png":      true,
		"demo/tee-0123456789abcde.svg":    false, // 15 digits
		"demo/tee-0123456789abcdeg.svg":   false,
		"demo/tee.svg":                    false,
		"logo.png":                        false,
		"demo-0123456789abcdef/photo.jpg": false,
	}
	for key, want := range tests {
		t.Run(key, func(t *testing.T) {
			if got := Immutable(key); got != want {
				t.Fatalf("Immutable(%q) = %v, want %v", key, got, want)
			}
		})
	}
}

func TestHandleGet(t *testing.T) {
	ctx := context.Background()
	d := newDisk(t)
	key := ContentKey("demo", "mug", []byte(svg), "svg")
	if err := d.Put(ctx, key, strings.NewReader(svg), ""); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "logo.png", bytes.NewReader([]byte("\x89PNG\r\n\x1a\n")), "image/png"); err != nil {
		t.Fatal(err)
	}
	// A file next to the media folder that no request may reach.
	if err := os.WriteFile(filepath.Join(filepath.Dir(d.Dir()), "secret.txt"), []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /media/{key...}", web.Handle(slog.New(slog.DiscardHandler), HandleGet(d)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(t *testing.T, method, rawPath string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+rawPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	t.Run("200 content-addressed", func(t *testing.T) {
		res, body := get(t, "GET", "/media/"+key, nil)
		if res.StatusCode != 200 || body != svg {
			t.Fatalf("status %d body %q", res.StatusCode, body)
		}
		for h, want := range map[string]string{
			"Content-Type":  "image/svg+xml",
			"Cache-Control": "public, max-age=31536000, immutable",
		} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		if res.Header.Get("Last-Modified") == "" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("headers %v", res.Header)
		}
	})
	t.Run("200 mutable key", func(t *testing.T) {
		res, _ := get(t, "GET", "/media/logo.png", nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || res.Header.Get("Cache-Control") != "public, max-age=3600" {
			t.Fatalf("status %d headers %v", res.StatusCode, res.Header)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		res, body := get(t, "HEAD", "/media/"+key, nil)
		if res.StatusCode != 200 || body != "" || res.ContentLength != int64(len(svg)) {
			t.Fatalf("status %d length %d body %q", res.StatusCode, res.ContentLength, body)
		}
	})
	t.Run("304 if not modified", func(t *testing.T) {
		res, _ := get(t, "GET", "/media/"+key, nil)
		lm := res.Header.Get("Last-Modified")
		res, body := get(t, "GET", "/media/"+key, map[string]string{"If-Modified-Since": lm})
		if res.StatusCode != http.StatusNotModified || body != "" {
			t.Fatalf("status %d body %q", res.StatusCode, body)
		}
		old := time.Now().Add(-48 * time.Hour).UTC().Format(http.TimeFormat)
		if res, _ := get(t, "GET", "/media/"+key, map[string]string{"If-Modified-Since": old}); res.StatusCode != 200 {
			t.Fatalf("modified since yesterday: status %d", res.StatusCode)
		}
	})
	for _, p := range []string{
		"/media/demo/missing-0123456789abcdef.svg",
		"/media/demo",
		"/media/..%2fsecret.txt",
		"/media/%2e%2e/secret.txt",
		"/media/demo/%2e%2e/%2e%2e/secret.txt",
		"/media/.tmp-1234.svg",
		"/media/LOGO.PNG",
	} {
		t.Run("404 "+p, func(t *testing.T) {
			res, body := get(t, "GET", p, nil)
			if strings.Contains(body, "top secret") {
				t.Fatalf("served a file outside the root: %q", body)
			}
			if res.StatusCode == http.StatusMovedPermanently {
				return // the mux cleaned the path; the redirect target is outside /media
			}
			if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d type %q body %s", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			var prob web.Problem
			if err := json.Unmarshal([]byte(body), &prob); err != nil || prob.Status != 404 {
				t.Fatalf("problem %s: %v", body, err)
			}
		})
	}
}
