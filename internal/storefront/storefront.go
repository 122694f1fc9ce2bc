// Package storefront serves the shop's public pages: home, category listings
// with attribute filters, search, product pages, the not-found page, and the
// sitemap and robots.txt that search engines read.
//
// With Options.Services it also serves the buying pages: the cart (its id in
// a cookie), the checkout (an idempotent form over the checkout module), the
// order status page (for guests by access token) and the customer account
// (sign-up, sign-in merging the guest cart, order history, addresses).
//
// Pages are rendered on the server from templates parsed once at start and
// work with JavaScript off. Every POST must come from this site
// (http.CrossOriginProtection).
package storefront

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/ui"
)

//go:embed templates
var templateFS embed.FS

// Catalog is the part of the catalog module the storefront reads. Only
// active products are shown (GetProduct is called with publicOnly).
type Catalog interface {
	ListProducts(ctx context.Context, q catalog.ListQuery) (catalog.Page, error)
	GetProduct(ctx context.Context, idOrSlug string, publicOnly bool) (catalog.Product, error)
	Categories(ctx context.Context) ([]catalog.Category, error)
}

// AttributeCounter is an optional, faster way to get a category's filter
// counts: a Catalog that also implements it is asked for the counts instead
// of having every product of the category listed and counted here. It
// returns attribute key -> value -> number of active products in the
// category or below it.
type AttributeCounter interface {
	AttributeCounts(ctx context.Context, category string) (map[string]map[string]int, error)
}

// Options is what the merchant configures about the storefront.
type Options struct {
	ShopName    string // shown in the header and titles; default "Mercato"
	LogoURL     string // same-origin path of a logo image; empty shows ShopName
	AccentColor string // #rrggbb; empty means ui.DefaultAccent
	// BaseURL is the shop's public address (scheme and host, no trailing
	// slash) for canonical links, the sitemap and structured data.
	BaseURL string
	// FacetTTL is how long a category's filter counts are reused before
	// they are counted again; 0 means one minute, negative means never.
	FacetTTL time.Duration
	// Services are the modules behind the cart, checkout, order and
	// account pages; without them only the catalog pages are served.
	Services Services
}

// Storefront serves the public HTML pages.
type Storefront struct {
	cat    Catalog
	opts   Options
	assets *ui.Assets
	pages  *ui.Renderer
	log    *slog.Logger
	facets *facetCache
	svc    Services
	csrf   *http.CrossOriginProtection
	errs   ui.ErrorPages
	flash  ui.Flashes
}

// New builds the storefront: it generates the theme and parses every
// template once. It fails on an invalid accent colour or base URL.
func New(cat Catalog, opts Options, log *slog.Logger) (*Storefront, error) {
	if opts.ShopName == "" {
		opts.ShopName = "Mercato"
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.BaseURL == "" {
		opts.BaseURL = "http://localhost:8080"
	}
	if u, err := url.Parse(opts.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("storefront base URL %q: want http(s)://host", opts.BaseURL)
	}
	assets, err := ui.NewAssets(ui.Theme{Accent: opts.AccentColor})
	if err != nil {
		return nil, fmt.Errorf("storefront assets: %w", err)
	}
	sub, err := fs.Sub(templateFS, "templates")
	if err != nil {
		return nil, err
	}
	pages, err := ui.NewRenderer(assets, sub, nil)
	if err != nil {
		return nil, fmt.Errorf("storefront templates: %w", err)
	}
	if opts.FacetTTL == 0 {
		opts.FacetTTL = time.Minute
	}
	sf := &Storefront{cat: cat, opts: opts, assets: assets, pages: pages, log: log, facets: newFacetCache(opts.FacetTTL), svc: opts.Services,
		flash: ui.Flashes{Cookie: flashCookie, Path: "/", MaxAge: 5 * time.Minute}}
	sf.errs = ui.ErrorPages{Pages: pages, Log: log, View: sf.errorView}
	sf.csrf = ui.NewCSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sf.errs.Render(w, r, errCrossSite)
	}))
	return sf, nil
}

// Assets serves the shared static files at their fingerprinted URLs
// (mount it on "GET /static/{file}").
func (s *Storefront) Assets() *ui.Assets { return s.assets }

// handle adapts a page handler: a returned error is answered with the HTML
// error page (the status comes from web.StatusOf, as for the API), and
// internal errors are logged there, once (ui.ErrorPages).
func (s *Storefront) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return s.errs.Handle(fn)
}

// view is what the header and footer need on every page.
type view struct {
	ui.Page
	Nav []link // top-level categories
	Q   string // the search box's value
	Me  visitor
}

type link struct {
	Name, URL string
	Current   bool
}

// newView fills the shared parts of a page. cats may be nil (error pages
// when the catalog is down still render).
func (s *Storefront) newView(r *http.Request, title, description, path string, cats []catalog.Category, current string) view {
	v := view{Page: ui.Page{Title: title, Description: description, Shop: ui.Shop{Name: s.opts.ShopName, LogoURL: s.opts.LogoURL}}, Me: visitorOf(r)}
	if path != "" {
		v.Canonical = s.opts.BaseURL + path
	}
	for _, c := range cats {
		if c.ParentID == nil {
			v.Nav = append(v.Nav, link{Name: c.Name, URL: "/c/" + c.Slug, Current: c.ID == current})
		}
	}
	return v
}

// NotFound serves every path no route claims with the friendly 404 page.
func (s *Storefront) NotFound() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errNoPage
	})
}

type errorView struct {
	view
	Status  int
	Heading string
	Message string
	Fields  []string
}

var errNoPage = apperr.NotFoundf("no such page")

// errorView is the error page for p: the shop's header with its categories
// (none when the catalog is down), and a message for the visitor.
func (s *Storefront) errorView(w http.ResponseWriter, r *http.Request, p web.Problem) (any, string) {
	status := p.Status
	var fields []string
	for _, f := range p.Errors {
		fields = append(fields, f.Field+": "+f.Message)
	}
	cats, cerr := s.cat.Categories(r.Context())
	if cerr != nil {
		cats = nil
	}
	v := errorView{view: s.newView(r, "", "", "", cats, ""), Status: status, Fields: fields}
	v.NoIndex = true
	switch {
	case status == http.StatusNotFound:
		v.Title, v.Heading = "Page not found", "We couldn’t find that page"
		v.Message = "The link may be old, or the product is no longer on sale. Try a search, or browse our categories."
	case status == http.StatusForbidden:
		v.Title, v.Heading = "Form refused", "We couldn’t accept that form"
		v.Message = sentence(p.Detail)
	case status < 500:
		v.Title, v.Heading = "Something is wrong with that link", "We couldn’t show that page"
		v.Message = "Part of the address is not valid — perhaps it was copied incompletely. Start again from the category or the home page."
	default:
		v.Title, v.Heading = "Sorry, something went wrong", "Sorry, something went wrong on our side"
		v.Message = "The problem has been logged. Please try again in a moment."
	}
	return v, v.Heading
}
