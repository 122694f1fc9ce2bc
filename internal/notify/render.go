package notify

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/money"
)

//go:embed templates
var templateFS embed.FS

// shop is what every template may show about the shop.
type shop struct {
	Name    string
	BaseURL string
}

// view is the data every template receives: the shop, the rendered subject
// (for the HTML <title>) and the template's own data.
type view struct {
	Shop    shop
	Subject string
	Data    any
}

// rendered is a finished message.
type rendered struct {
	Subject, Text, HTML string
}

// renderer holds the parsed templates: for each message a text/template set
// (subject and plain-text body) and an html/template set (HTML body).
type renderer struct {
	shop    shop
	text    map[string]*texttemplate.Template
	html    map[string]*htmltemplate.Template
	cssHash string // CSP source for the one <style> element of every HTML body
}

const maxSubject = 200

func newRenderer(s shop) (*renderer, error) {
	css, err := templateFS.ReadFile("templates/email.css")
	if err != nil {
		return nil, fmt.Errorf("read e-mail stylesheet: %w", err)
	}
	sum := sha256.Sum256(css)
	r := &renderer{
		shop:    s,
		text:    map[string]*texttemplate.Template{},
		html:    map[string]*htmltemplate.Template{},
		cssHash: "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
	}
	funcs := map[string]any{
		"money": func(m money.Money) string { return m.Format() },
		"date":  func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	}
	htmlFuncs := htmltemplate.FuncMap{"css": func() htmltemplate.CSS { return htmltemplate.CSS(css) }}
	for k, f := range funcs {
		htmlFuncs[k] = f
	}
	for _, name := range append([]string{TemplateWelcome, TemplateOrderPlaced, TemplateOrderShipped, TemplateOrderCancelled, TemplatePaymentRefunded, TemplateStockLow, TemplateAbandonedCart}, append(accountTemplates(), giftCardTemplates()...)...) {
		tt, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").
			ParseFS(templateFS, "templates/layout.txt.tmpl", "templates/"+name+".txt.tmpl")
		if err != nil {
			return nil, fmt.Errorf("parse %s text template: %w", name, err)
		}
		ht, err := htmltemplate.New(name).Funcs(htmlFuncs).Option("missingkey=error").
			ParseFS(templateFS, "templates/layout.html.tmpl", "templates/"+name+".html.tmpl")
		if err != nil {
			return nil, fmt.Errorf("parse %s HTML template: %w", name, err)
		}
		for _, def := range []string{"subject", "text"} {
			if tt.Lookup(def) == nil {
				return nil, fmt.Errorf("text template %s: no %q block", name, def)
			}
		}
		if ht.Lookup("content") == nil {
			return nil, fmt.Errorf("HTML template %s: no \"content\" block", name)
		}
		r.text[name], r.html[name] = tt, ht
	}
	return r, nil
}

// render renders message name with data.
func (r *renderer) render(name string, data any) (rendered, error) {
	tt, ht := r.text[name], r.html[name]
	if tt == nil || ht == nil {
		return rendered{}, fmt.Errorf("render %s: no such template", name)
	}
	v := view{Shop: r.shop, Data: data}
	var b bytes.Buffer
	if err := tt.ExecuteTemplate(&b, "subject", v); err != nil {
		return rendered{}, fmt.Errorf("render %s subject: %w", name, err)
	}
	v.Subject = cleanSubject(b.String())
	b.Reset()
	if err := tt.ExecuteTemplate(&b, "text", v); err != nil {
		return rendered{}, fmt.Errorf("render %s text: %w", name, err)
	}
	text := b.String()
	b.Reset()
	if err := ht.ExecuteTemplate(&b, "html", v); err != nil {
		return rendered{}, fmt.Errorf("render %s HTML: %w", name, err)
	}
	return rendered{Subject: v.Subject, Text: text, HTML: b.String()}, nil
}

// cleanSubject makes a subject one line (no header injection through a
// customer's name or an order number) of at most maxSubject bytes.
func cleanSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxSubject {
		return s
	}
	cut := maxSubject - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// previewCSP is the Content-Security-Policy of the HTML preview: nothing
// but the e-mail's own stylesheet and same-origin or inline images; no
// scripts, forms, plugins or base URL; sandboxed; framable by this site only.
func (r *renderer) previewCSP() string {
	return "default-src 'none'; style-src " + r.cssHash + "; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
}
