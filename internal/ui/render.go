// Package ui holds what the storefront and the admin panel share in the
// browser: the HTML document shell, the stylesheet and script, the static
// file handler that serves them at fingerprinted URLs, the accent-colour
// theme, and a renderer that parses templates once at start.
//
// It also holds their page plumbing, so that every UI (and any future one)
// answers the same way: error pages with the API's status for the same
// error (ErrorPages), one-time flash messages in a cookie (Flashes), the
// messages of a refused form per field (FormErrorsOf), the cross-origin
// guard for forms (NewCSRF), and HTTPS detection for cookies' Secure flag
// (IsHTTPS, SetCookie).
//
// Pages are server-rendered with html/template and work without JavaScript;
// the script only enhances. The Content-Security-Policy set by web.Observe
// forbids inline styles and scripts, so templates never use style="" or
// <script> code (JSON-LD data blocks are data, not script, and are allowed).
package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/mercato-shop/mercato/internal/money"
)

//go:embed templates/*.html
var layoutFS embed.FS

// Shop is the merchant's identity shown on every page.
type Shop struct {
	Name    string
	LogoURL string // same-origin path; empty shows the name as a wordmark
}

// Page is what the shared document shell (templates/layout.html) reads from
// every page's data. Page types embed it.
type Page struct {
	Title       string // shown before " · Shop"; empty on the home page
	Description string // meta description
	Canonical   string // absolute URL, or empty
	NoIndex     bool   // ask search engines not to index (search results, errors)
	Shop        Shop
	JSONLD      any // rendered as an application/ld+json data block when not nil
}

// Renderer executes pages parsed once, at start.
type Renderer struct {
	pages map[string]*template.Template
	bufs  sync.Pool
}

// Funcs returns the template functions every page may use.
func Funcs(assets *Assets) template.FuncMap {
	return template.FuncMap{
		"asset": assets.URL,
		"money": func(m money.Money) string { return m.Format() },
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return "1 " + one
			}
			return strconv.Itoa(n) + " " + many
		},
	}
}

// NewRenderer parses the shared layout together with the templates in fsys:
// every file under partials/ is available to all pages; every file under
// pages/ is one page, named after its file (pages/home.html is "home").
// A page defines "content" and may define "head". The set must also define
// "header" and "footer" (in a partial), which the layout calls.
func NewRenderer(assets *Assets, fsys fs.FS, funcs template.FuncMap) (*Renderer, error) {
	fm := Funcs(assets)
	for k, v := range funcs {
		fm[k] = v
	}
	base, err := template.New("ui").Funcs(fm).ParseFS(layoutFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	if partials, _ := fs.Glob(fsys, "partials/*.html"); len(partials) > 0 {
		if base, err = base.ParseFS(fsys, "partials/*.html"); err != nil {
			return nil, fmt.Errorf("parse partials: %w", err)
		}
	}
	files, err := fs.Glob(fsys, "pages/*.html")
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no pages/*.html templates")
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	r.bufs.New = func() any { return new(bytes.Buffer) }
	for _, f := range files {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone layout: %w", err)
		}
		if t, err = t.ParseFS(fsys, f); err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		r.pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return r, nil
}

// Has reports whether a page of that name exists.
func (r *Renderer) Has(page string) bool { return r.pages[page] != nil }

// Render executes a page into memory and then writes it with status, so a
// template error never leaves half a page on the wire: it is returned and
// nothing is written. Without a Cache-Control header already set, the page
// is marked no-cache.
func (r *Renderer) Render(w http.ResponseWriter, status int, page string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("render: no page %q", page)
	}
	buf := r.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 {
			r.bufs.Put(buf)
		}
	}()
	if err := t.ExecuteTemplate(buf, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes()) // a client that went away is not an error of ours
	return nil
}
