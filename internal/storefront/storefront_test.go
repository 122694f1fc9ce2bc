package storefront_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/storefront"
)

const base = "https://shop.example"

func migrations() []sqldb.Migrations {
	return []sqldb.Migrations{catalog.Migrations(), inventory.Migrations(), outbox.Migrations()}
}

// site is the storefront over a real catalog, mounted the way
// internal/app/routes.go mounts it, behind the real security headers.
type site struct {
	t   testing.TB
	h   http.Handler
	cat *catalog.Service
}

func newSite(t testing.TB, db *sqldb.DB, seed func(context.Context, *catalog.Service) error, opts ...func(*storefront.Options)) *site {
	t.Helper()
	inv := inventory.NewService(db)
	cat := catalog.NewService(db, inv)
	if err := seed(context.Background(), cat); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := storefront.Options{ShopName: "Fixture & Co", BaseURL: base + "/"}
	for _, f := range opts {
		f(&o)
	}
	sf, err := storefront.New(cat, o, log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/{file}", sf.Assets())
	mux.Handle("GET /{$}", sf.Home())
	mux.Handle("GET /c/{slug}", sf.Category())
	mux.Handle("GET /p/{slug}", sf.Product())
	mux.Handle("GET /search", sf.Search())
	mux.Handle("GET /sitemap.xml", sf.Sitemap())
	mux.Handle("GET /robots.txt", sf.Robots())
	mux.Handle("/", sf.NotFound())
	return &site{t: t, h: web.Observe(log, mux), cat: cat}
}

func fixture(ctx context.Context, cat *catalog.Service) error { return seedFixture(ctx, cat, "EUR") }

type page struct {
	code   int
	header http.Header
	body   string
}

func (s *site) get(target string) page {
	s.t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	r.Header.Set("Accept", "text/html")
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return page{code: w.Code, header: w.Result().Header, body: w.Body.String()}
}

var cardTitleRE = regexp.MustCompile(`<span class="card-title">([^<]*)</span>`)

// titles returns the product titles of the grids on a page, in order.
func (p page) titles() []string {
	var out []string
	for _, m := range cardTitleRE.FindAllStringSubmatch(p.body, -1) {
		out = append(out, htmlUnescape(m[1]))
	}
	return out
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#39;", "'", "&#34;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}

func TestPages(t *testing.T) {
	sqldbtest.ForEach(t, migrations(), func(t *testing.T, db *sqldb.DB) {
		s := newSite(t, db, fixture)
		tests := []struct {
			name, path string
			code       int
			want, not  []string
		}{
			{"home", "/", 200, []string{
				"<title>Fixture &amp; Co</title>", `<link rel="canonical" href="https://shop.example/">`,
				`<a class="skip" href="#main">`, `<main id="main"`, `href="/cart"`, `href="/account"`, `action="/search"`,
				`<h2 id="h-featured">Featured</h2>`, "Organic cotton crew tee", "From €25.00", // featured; a print whose sizes differ in price
				`<h2 id="h-cats">Shop by category</h2>`, `href="/c/clothing"`, "T-shirts · Hoodies &amp; sweatshirts · Socks",
				"New arrivals", `<meta name="description"`,
			}, nil},
			{"category with sub-categories", "/c/clothing", 200, []string{
				"<title>Clothing · Fixture &amp; Co</title>", `<link rel="canonical" href="https://shop.example/c/clothing">`,
				`<h1>Clothing</h1>`, `href="/c/t-shirts"`, "Classic zip hoodie", "Wool hiking socks", `aria-current="true">Clothing`,
				`<legend>Color</legend>`, `<legend>Fit</legend>`, `name="attr.color" value="Navy"`, `Navy <span class="count">(2)</span>`,
			}, []string{"Stoneware mug", `name="robots"`, "Clear filters"}},
			{"child category", "/c/t-shirts", 200, []string{
				`<nav class="crumbs" aria-label="Breadcrumb"><ol><li><a href="/">Home</a></li><li><a href="/c/clothing">Clothing</a></li></ol></nav>`,
				"Striped Breton tee", "Kids&#39; rainbow tee",
			}, []string{"Classic zip hoodie"}},
			{"filtered", "/c/clothing?attr.color=Navy", 200, []string{
				"Striped Breton tee", "Organic crewneck sweatshirt", `value="Navy" checked`, "Clear filters", `<meta name="robots" content="noindex, follow">`,
			}, []string{"Linen blend tee", "Classic zip hoodie"}},
			{"filter with two values", "/c/clothing?attr.color=Navy&attr.color=Sand", 200, []string{"Striped Breton tee", "Linen blend tee"}, []string{"Classic zip hoodie"}},
			{"filter matching nothing", "/c/t-shirts?attr.color=Purple", 200, []string{"No products match these filters."}, nil},
			{"unknown sort falls back", "/c/t-shirts?sort=bogus", 200, []string{`<option value="newest" selected>`}, nil},
			{"bad cursor", "/c/t-shirts?cursor=garbage", 400, []string{"Error 400", "cursor: is not a cursor returned by this list", `noindex`}, nil},
			{"unknown category", "/c/nope", 404, []string{"Error 404", "We couldn’t find that page", `href="/c/clothing"`}, nil},
			{"search", "/search?q=merino", 200, []string{"Results for “merino”", "Merino wool tee", "Wool hiking socks", "Merino beanie", `value="merino"`, `noindex`}, []string{"Brass pen"}},
			{"search without results", "/search?q=zebra", 200, []string{"Nothing matches “zebra”", `href="/c/home"`}, nil},
			{"search form", "/search", 200, []string{`<label for="search-q">What are you looking for?</label>`}, []string{`class="grid"`}},
			{"search escapes its query", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E", 200, []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, []string{"<script>alert"}},
			{"product", "/p/organic-cotton-crew-tee", 200, []string{
				"<title>Organic cotton crew tee · Fixture &amp; Co</title>", `<link rel="canonical" href="https://shop.example/p/organic-cotton-crew-tee">`,
				`<form class="buy" method="post" action="/cart/items">`, `<legend>Choose an option</legend>`,
				`type="radio" name="variant_id"`, `name="quantity"`, ">Only 3 left<", ">Out of stock<", ">In stock<",
				`<p class="price" data-price>€24.00</p>`, `<script type="application/ld+json">`, "Add to cart",
				`<li><a href="/c/t-shirts">T-shirts</a></li>`, "You may also like", `<dt>Material</dt><dd>Organic cotton</dd>`,
			}, nil},
			{"sold out product", "/p/weekly-planner-2027", 200, []string{`type="submit" disabled>Sold out</button>`, ">Out of stock<"}, []string{"Add to cart"}},
			{"backordered product", "/p/linen-bound-sketchbook", 200, []string{"On backorder", "Add to cart", `type="hidden" name="variant_id"`}, nil},
			{"unknown product", "/p/does-not-exist", 404, []string{"We couldn’t find that page"}, nil},
			{"unknown path", "/no/such/page", 404, []string{"We couldn’t find that page", `<title>Page not found · Fixture &amp; Co</title>`}, nil},
			{"robots", "/robots.txt", 200, []string{"Disallow: /cart", "Sitemap: https://shop.example/sitemap.xml"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := s.get(tt.path)
				if p.code != tt.code {
					t.Fatalf("GET %s: status %d, want %d\n%s", tt.path, p.code, tt.code, p.body)
				}
				for _, w := range tt.want {
					if !strings.Contains(p.body, w) {
						t.Errorf("GET %s: missing %q", tt.path, w)
					}
				}
				for _, n := range tt.not {
					if strings.Contains(p.body, n) {
						t.Errorf("GET %s: unexpected %q", tt.path, n)
					}
				}
				if t.Failed() {
					t.Logf("body:\n%s", p.body)
				}
			})
		}
	})
}

func TestHTMLHeaders(t *testing.T) {
	s := newSite(t, sqldbtest.SQLite(t, migrations()...), fixture)
	for _, path := range []string{"/", "/c/clothing", "/p/brass-pen", "/search?q=pen", "/nope"} {
		p := s.get(path)
		if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if cc := p.header.Get("Cache-Control"); cc == "" || strings.Contains(cc, "public") {
			t.Errorf("%s: Cache-Control %q: pages must not be cached publicly", path, cc)
		}
	}
	if p := s.get("/nope"); p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("404 page: Cache-Control %q", p.header.Get("Cache-Control"))
	}
}

// TestNoInlineCode holds every page to the Content-Security-Policy: no
// style attributes, no <style> elements, no event-handler attributes, no
// inline script (JSON-LD data blocks are data and allowed).
func TestNoInlineCode(t *testing.T) {
	s := newSite(t, sqldbtest.SQLite(t, migrations()...), fixture)
	scriptRE := regexp.MustCompile(`<script([^>]*)>`)
	for _, path := range []string{"/", "/c/clothing", "/c/t-shirts?attr.color=Navy&sort=price", "/p/organic-cotton-crew-tee", "/p/weekly-planner-2027", "/search?q=tee", "/search", "/nope", "/c/t-shirts?cursor=x"} {
		body := s.get(path).body
		for _, bad := range []string{" style=", "<style", " onclick=", " onchange=", " onload=", " onsubmit=", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
		for _, m := range scriptRE.FindAllStringSubmatch(body, -1) {
			if !strings.Contains(m[1], " src=") && m[1] != ` type="application/ld+json"` {
				t.Errorf("%s has an inline script: %s", path, m[0])
			}
		}
	}
}

func TestProductJSONLD(t *testing.T) {
	s := newSite(t, sqldbtest.SQLite(t, migrations()...), fixture)
	body := s.get("/p/organic-cotton-crew-tee").body
	m := regexp.MustCompile(`(?s)<script type="application/ld\+json">(.*?)</script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no JSON-LD block")
	}
	var ld struct {
		Context string `json:"@context"`
		Type    string `json:"@type"`
		Name    string
		URL     string
		Offers  []struct {
			Type          string `json:"@type"`
			Name, SKU     string
			Price         string
			PriceCurrency string
			Availability  string
			URL           string
		}
	}
	if err := json.Unmarshal([]byte(m[1]), &ld); err != nil {
		t.Fatalf("JSON-LD does not parse: %v\n%s", err, m[1])
	}
	if ld.Context != "https://schema.org" || ld.Type != "Product" || ld.Name != "Organic cotton crew tee" || ld.URL != base+"/p/organic-cotton-crew-tee" {
		t.Errorf("JSON-LD head: %+v", ld)
	}
	if len(ld.Offers) != 4 {
		t.Fatalf("offers: %d, want 4 (one per size)", len(ld.Offers))
	}
	wantAvail := []string{"InStock", "InStock", "OutOfStock", "InStock"}
	for i, o := range ld.Offers {
		if o.Type != "Offer" || o.Price != "24.00" || o.PriceCurrency != "EUR" || o.Availability != "https://schema.org/"+wantAvail[i] || !strings.HasPrefix(o.URL, base+"/p/organic-cotton-crew-tee?variant=") {
			t.Errorf("offer %d: %+v", i, o)
		}
	}
	if ld.Offers[2].Name != "L" || ld.Offers[2].SKU != "FX-01-3" {
		t.Errorf("offer 2 names %q %q, want L FX-01-3", ld.Offers[2].Name, ld.Offers[2].SKU)
	}
}

// TestVariantPicker checks the picker without JavaScript: one radio per
// variant with its price and stock, sold-out ones disabled, the first
// buyable one chosen, and ?variant= choosing another.
func TestVariantPicker(t *testing.T) {
	s := newSite(t, sqldbtest.SQLite(t, migrations()...), fixture)
	p, err := s.cat.GetProduct(context.Background(), "lisbon-city-map-print", true)
	if err != nil {
		t.Fatal(err)
	}
	body := s.get("/p/lisbon-city-map-print").body
	radioRE := regexp.MustCompile(`<input type="radio" name="variant_id" value="([^"]+)"([^>]*)>\s*<span class="v-title">([^<]+)</span><span class="v-price">([^<]+)</span><span class="v-stock stock-\w+">([^<]+)</span>`)
	got := radioRE.FindAllStringSubmatch(body, -1)
	want := [][]string{{"A3", "€25.00", "In stock"}, {"A2", "€37.50", "In stock"}, {"A1", "€50.00", "Only 2 left"}}
	if len(got) != len(want) {
		t.Fatalf("%d variant radios, want %d:\n%s", len(got), len(want), body)
	}
	for i, w := range want {
		if got[i][1] != p.Variants[i].ID || got[i][3] != w[0] || got[i][4] != w[1] || got[i][5] != w[2] {
			t.Errorf("radio %d: %q, want %q", i, got[i][1:], w)
		}
	}
	if !strings.Contains(got[0][2], "checked") || strings.Contains(got[1][2], "checked") {
		t.Errorf("the first variant should be chosen: %q / %q", got[0][2], got[1][2])
	}
	body = s.get("/p/lisbon-city-map-print?variant=" + p.Variants[2].ID).body
	if !strings.Contains(body, `<p class="price" data-price>€50.00</p>`) || !strings.Contains(body, `max="2"`) {
		t.Errorf("?variant= should choose A1 (€50.00, at most 2)")
	}

	fern := s.get("/p/fern-botanical-print").body // A1 is out of stock: disabled
	if !regexp.MustCompile(`value="[^"]+" disabled data-price="€50.00"`).MatchString(fern) {
		t.Errorf("sold-out A1 of the fern print should be disabled")
	}
}

func TestProductByIDRedirects(t *testing.T) {
	s := newSite(t, sqldbtest.SQLite(t, migrations()...), fixture)
	p, err := s.cat.GetProduct(context.Background(), "brass-pen", true)
	if err != nil {
		t.Fatal(err)
	}
	got := s.get("/p/" + p.ID)
	if got.code != http.StatusMovedPermanently || got.header.Get("Location") != "/p/brass-pen" {
		t.Fatalf("GET /p/<id>: %d to %q, want 301 to /p/brass-pen", got.code, got.header.Get("Location"))
	}
}

func TestDraftsAreNotShown(t *testing.T) {
	s := newSite(t, sqldbtest.SQLite(t, migrations()...), fixture)
	ctx := context.Background()
	p, err := s.cat.GetProduct(ctx, "brass-pen", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.cat.ArchiveProduct(ctx, p.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if got := s.get("/p/brass-pen"); got.code != http.StatusNotFound {
		t.Errorf("archived product page: %d, want 404", got.code)
	}
	if strings.Contains(s.get("/c/stationery").body, "Brass pen") || strings.Contains(s.get("/sitemap.xml").body, "brass-pen") {
		t.Errorf("archived product still listed")
	}
}

// TestPagination walks a listing of 40 products through its Next links.
func TestPagination(t *testing.T) {
	s := newSite(t, sqldbtest.SQLite(t, migrations()...), fixture)
	for _, sort := range []string{"newest", "price", "-price", "title"} {
		t.Run(sort, func(t *testing.T) {
			seen := map[string]bool{}
			next, pages := "/search?q=returns&sort="+sort, 0
			for next != "" && pages < 10 {
				p := s.get(next)
				if p.code != 200 {
					t.Fatalf("GET %s: %d", next, p.code)
				}
				pages++
				for _, title := range p.titles() {
					if seen[title] {
						t.Errorf("%q shown twice", title)
					}
					seen[title] = true
				}
				next = ""
				if m := regexp.MustCompile(`<a class="btn" href="([^"]+)" rel="next">`).FindStringSubmatch(p.body); m != nil {
					next = htmlUnescape(m[1])
				}
				if pages > 1 && !strings.Contains(p.body, `rel="first"`) {
					t.Errorf("page %d has no link back to the first page", pages)
				}
			}
			if len(seen) != len(products) || pages != 2 {
				t.Errorf("saw %d products on %d pages, want %d on 2", len(seen), pages, len(products))
			}
		})
	}
	first := s.get("/c/t-shirts?sort=price").titles()
	if len(first) == 0 || first[0] != "Kids' rainbow tee" {
		t.Errorf("cheapest T-shirt first: got %q", first)
	}
}

func TestSitemap(t *testing.T) {
	s := newSite(t, sqldbtest.SQLite(t, migrations()...), fixture)
	p := s.get("/sitemap.xml")
	if p.code != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "application/xml") {
		t.Fatalf("sitemap: %d %s", p.code, p.header.Get("Content-Type"))
	}
	var set struct {
		URLs []struct {
			Loc     string `xml:"loc"`
			LastMod string `xml:"lastmod"`
		} `xml:"url"`
	}
	if err := xml.Unmarshal([]byte(p.body), &set); err != nil {
		t.Fatal(err)
	}
	if want := 1 + len(categories) + len(products); len(set.URLs) != want {
		t.Errorf("%d URLs, want %d", len(set.URLs), want)
	}
	seen := map[string]bool{}
	for _, u := range set.URLs {
		if !strings.HasPrefix(u.Loc, base+"/") || seen[u.Loc] {
			t.Errorf("bad or repeated URL %q", u.Loc)
		}
		seen[u.Loc] = true
	}
	for _, want := range []string{base + "/", base + "/c/hats", base + "/p/canvas-tote-bag"} {
		if !seen[want] {
			t.Errorf("sitemap lacks %s", want)
		}
	}
}

func TestOptions(t *testing.T) {
	cat := catalog.NewService(sqldbtest.SQLite(t, migrations()...), nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, o := range []storefront.Options{{AccentColor: "teal"}, {AccentColor: "#12345"}, {BaseURL: "ftp://x"}, {BaseURL: "shop.example"}} {
		if _, err := storefront.New(cat, o, log); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	sf, err := storefront.New(cat, storefront.Options{ShopName: "Logo shop", LogoURL: "/media/logo.svg", AccentColor: "#ffcc00"}, log)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	sf.Home().ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if body := w.Body.String(); !strings.Contains(body, `<img src="/media/logo.svg" alt="Logo shop" height="36">`) || !strings.Contains(body, `<link rel="canonical" href="http://localhost:8080/">`) {
		t.Errorf("logo or default base URL missing:\n%s", body)
	}
}

// TestFacetCounts checks that filter counts are reused for a while (by
// default) and recounted on every request when FacetTTL is negative.
func TestFacetCounts(t *testing.T) {
	purple := func(s *site) {
		t.Helper()
		ctx := context.Background()
		cats, err := s.cat.Categories(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var tees string
		for _, c := range cats {
			if c.Slug == "t-shirts" {
				tees = c.ID
			}
		}
		stock := int64(3)
		_, err = s.cat.CreateProduct(ctx, catalog.ProductInput{Title: "Purple tee", Status: catalog.StatusActive, CategoryIDs: []string{tees},
			Attributes: map[string]string{"color": "Purple"},
			Variants:   []catalog.VariantInput{{SKU: "PURPLE-1", Price: money.Money{Amount: 2000, Currency: "EUR"}, Stock: &stock}}}, "test")
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		ttl  time.Duration
		want bool
	}{{"cached", 0, false}, {"uncached", -1, true}} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, sqldbtest.SQLite(t, migrations()...), fixture, func(o *storefront.Options) { o.FacetTTL = tt.ttl })
			if strings.Contains(s.get("/c/t-shirts").body, `value="Purple"`) {
				t.Fatal("Purple before there is a purple product")
			}
			purple(s)
			body := s.get("/c/t-shirts").body
			if got := strings.Contains(body, `value="Purple"`); got != tt.want {
				t.Errorf("Purple offered: %v, want %v", got, tt.want)
			}
			if !strings.Contains(body, "Purple tee") {
				t.Error("the product list itself must never be cached")
			}
		})
	}
}
