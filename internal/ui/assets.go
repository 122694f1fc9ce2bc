package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var staticFS embed.FS

// StaticPrefix is where Assets are served; routes.go mounts
// "GET /static/{file}" on it.
const StaticPrefix = "/static/"

// asset is one static file, held in memory with its gzip form.
type asset struct {
	name  string // fingerprinted: app.3f2a1b9c0d.css
	ctype string
	etag  string
	body  []byte
	gz    []byte // nil when compression does not pay
}

// Assets are the shared static files (CSS, JS, icons) plus the ones
// generated at start from the Theme. Each is served at a URL carrying a hash
// of its content, so it can be cached forever: a change makes a new URL.
type Assets struct {
	prefix string            // where they are served: StaticPrefix, or a UI's own
	byFile map[string]*asset // fingerprinted name -> asset
	urls   map[string]string // logical name (app.css) -> /static/app.<hash>.css
}

// NewAssets loads the embedded static files and generates theme.css and
// icon.svg from t. It fails only on an invalid accent colour.
func NewAssets(t Theme) (*Assets, error) {
	a := newAssets(StaticPrefix)
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		a.add(strings.TrimPrefix(p, "static/"), b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static files: %w", err)
	}
	theme, err := themeCSS(t)
	if err != nil {
		return nil, fmt.Errorf("theme: %w", err)
	}
	a.add("theme.css", theme)
	a.add("icon.svg", iconSVG(t))
	return a, nil
}

// NewAssetsAt holds a UI's own static files (logical name -> content), such
// as the admin panel's stylesheet, served like the shared ones but under
// prefix (the UI mounts "GET <prefix>{file}" on them).
func NewAssetsAt(prefix string, files map[string][]byte) *Assets {
	a := newAssets(prefix)
	for name, body := range files {
		a.add(name, body)
	}
	return a
}

func newAssets(prefix string) *Assets {
	return &Assets{prefix: prefix, byFile: map[string]*asset{}, urls: map[string]string{}}
}

func (a *Assets) add(name string, body []byte) {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:5])
	ext := path.Ext(name)
	file := strings.TrimSuffix(name, ext) + "." + hash + ext
	ctype := mime.TypeByExtension(ext)
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	as := &asset{name: file, ctype: ctype, etag: `"` + hash + `"`, body: body}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(body)
	zw.Close()
	if buf.Len() < len(body)*9/10 {
		as.gz = buf.Bytes()
	}
	a.byFile[file] = as
	a.urls[name] = a.prefix + file
}

// URL returns the fingerprinted URL of a logical asset name such as
// "app.css", or an error when there is no such asset.
func (a *Assets) URL(name string) (string, error) {
	u, ok := a.urls[name]
	if !ok {
		return "", fmt.Errorf("no static asset %q", name)
	}
	return u, nil
}

// Size returns the uncompressed size of the asset behind a URL from URL,
// and whether there is one.
func (a *Assets) Size(url string) (int, bool) {
	as, ok := a.byFile[strings.TrimPrefix(url, a.prefix)]
	if !ok {
		return 0, false
	}
	return len(as.body), true
}

// ServeHTTP serves GET <prefix>{file}: known fingerprinted files with a
// year-long immutable cache lifetime, gzip when the client takes it, and a
// plain 404 for anything else (old fingerprints included).
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	as, ok := a.byFile[strings.TrimPrefix(r.URL.Path, a.prefix)]
	if !ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "404 not found", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", as.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", as.etag)
	h.Set("Vary", "Accept-Encoding")
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, as.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := as.body
	if as.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = as.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.TrimSpace(coding)
		if !strings.EqualFold(coding, "gzip") && coding != "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		return q > 0
	}
	return false
}
