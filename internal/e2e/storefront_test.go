package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mercato-shop/mercato/internal/money"
)

const shopName = "Mercato Demo Shop"

var (
	desktop = tabOptions{width: 1280, height: 900}
	phone   = tabOptions{width: 390, height: 844}
)

// TestStorefront drives the storefront of the real program, with the demo
// catalog, in Chromium. One server and one browser serve every subtest.
func TestStorefront(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	chromium := chromiumPath(t)
	base := startServer(t, map[string]string{"MERCATO_SHOP_NAME": shopName})
	browser := startBrowser(t, chromium)
	catalog := products(t, base)
	if len(catalog) < 10 {
		t.Fatalf("the demo catalog has %d products; the browser tests need a real catalog", len(catalog))
	}

	t.Run("home to category to product", func(t *testing.T) {
		b := newTab(t, browser, base, desktop)
		if st := b.open("/"); st != 200 {
			t.Fatalf("home: status %d", st)
		}
		if title := eval[string](b, `document.title`); title != shopName {
			t.Errorf("home title %q, want %q", title, shopName)
		}
		b.audit()
		catName := b.text("nav.cats a")
		if st := b.follow("click the first category", chromedp.Click(chromedp.CSS("nav.cats a"))); st != 200 {
			t.Fatalf("category: status %d", st)
		}
		if loc := b.location(); !strings.HasPrefix(loc.Path, "/c/") {
			t.Fatalf("after clicking %q: at %s, want a category page", catName, loc)
		}
		if h1 := b.text("h1"); h1 != catName {
			t.Errorf("category page h1 %q, want %q", h1, catName)
		}
		if n := eval[int](b, `document.querySelectorAll('.grid .card').length`); n == 0 {
			t.Fatal("the category shows no products")
		}
		b.audit()

		// Long facets fold their tail away behind "Show N more".
		if eval[bool](b, `document.querySelector('.filters details.more') !== null`) {
			b.do("unfold a facet", chromedp.Click(chromedp.CSS(".filters details.more summary")))
			if !eval[bool](b, `document.querySelector('.filters details.more').open`) {
				t.Error(`clicking "Show more" did not unfold the facet`)
			}
		}

		// A filter narrows the list and stays chosen (the page script
		// submits the form when a box is ticked).
		before := eval[int](b, `document.querySelectorAll('.grid .card').length`)
		value := eval[string](b, `document.querySelector('.filters input[type=checkbox]').value`)
		if st := b.follow("tick the first filter", chromedp.Click(chromedp.CSS(".filters input[type=checkbox]"))); st != 200 {
			t.Fatalf("filtered category: status %d", st)
		}
		loc := b.location()
		if !strings.Contains(loc.RawQuery, "attr.") || !eval[bool](b, `document.querySelector('.filters input[type=checkbox]:checked') !== null`) {
			t.Errorf("after ticking %q: at %s, box ticked: false", value, loc)
		}
		if after := eval[int](b, `document.querySelectorAll('.grid .card').length`); after == 0 || after > before {
			t.Errorf("filter %q: %d products, before %d", value, after, before)
		}

		cardTitle := b.text(".grid .card .card-title")
		if st := b.follow("click the first product", chromedp.Click(chromedp.CSS(".grid .card a"))); st != 200 {
			t.Fatalf("product: status %d", st)
		}
		if loc := b.location(); !strings.HasPrefix(loc.Path, "/p/") {
			t.Fatalf("after clicking %q: at %s, want a product page", cardTitle, loc)
		}
		if h1 := b.text("h1"); h1 != cardTitle {
			t.Errorf("product h1 %q, want the card's title %q", h1, cardTitle)
		}
		if crumbs := b.text("nav.crumbs"); !strings.Contains(crumbs, catName) {
			t.Errorf("breadcrumbs %q do not lead back to %q", crumbs, catName)
		}
		if ld := eval[string](b, `(document.querySelector('script[type="application/ld+json"]') || {}).textContent || ''`); !strings.Contains(ld, `"@type":"Product"`) {
			t.Errorf("no Product JSON-LD: %q", ld)
		}
		b.audit()
	})

	t.Run("variant picker shows price and availability", func(t *testing.T) {
		p := pickVariantProduct(t, catalog)
		b := newTab(t, browser, base, desktop)
		if st := b.open("/p/" + p.Slug); st != 200 {
			t.Fatalf("product %s: status %d", p.Slug, st)
		}
		type radio struct {
			ID, Title, Price, Stock string
			Disabled, Checked       bool
		}
		radios := eval[[]radio](b, `Array.prototype.map.call(document.querySelectorAll('input[name=variant_id][type=radio]'), function (r) {
		  var l = r.closest('label');
		  return {ID: r.value, Title: l.querySelector('.v-title').textContent, Price: l.querySelector('.v-price').textContent,
		          Stock: l.querySelector('.v-stock').textContent, Disabled: r.disabled, Checked: r.checked};
		})`)
		if len(radios) != len(p.Variants) {
			t.Fatalf("%s: %d radios for %d variants", p.Slug, len(radios), len(p.Variants))
		}
		var pick = -1
		for i, v := range p.Variants {
			r := radios[i]
			price := money.Money{Amount: v.Price.Amount, Currency: v.Price.Currency}.Format()
			if r.ID != v.ID || r.Title != v.Title || r.Price != price || r.Stock != availability(v.Available, v.Backorder) {
				t.Errorf("variant %d: shows %+v, want %s %s %s", i, r, v.Title, price, availability(v.Available, v.Backorder))
			}
			if r.Disabled != (v.Available <= 0 && !v.Backorder) {
				t.Errorf("variant %s: disabled=%v with %d available", v.Title, r.Disabled, v.Available)
			}
			if !r.Checked && !r.Disabled && (pick < 0 || r.Price != radios[pick].Price) {
				pick = i
			}
		}
		if pick < 0 {
			t.Fatalf("%s: no second variant to choose", p.Slug)
		}
		b.do("choose "+radios[pick].Title, chromedp.Click(chromedp.CSS(`input[name=variant_id][value="`+radios[pick].ID+`"]`)))
		if got := b.text("[data-price]"); got != radios[pick].Price {
			t.Errorf("after choosing %s the price shows %q, want %q", radios[pick].Title, got, radios[pick].Price)
		}
		if got := b.text("[data-stock]"); got != radios[pick].Stock {
			t.Errorf("after choosing %s the availability shows %q, want %q", radios[pick].Title, got, radios[pick].Stock)
		}
		if got := b.location().Query().Get("variant"); got != radios[pick].ID {
			t.Errorf("the URL names variant %q, want %q", got, radios[pick].ID)
		}
		wantMax := "99"
		if v := p.Variants[pick]; !v.Backorder && v.Available < 99 {
			wantMax = strconv.FormatInt(v.Available, 10)
		}
		if got := eval[string](b, `document.querySelector('input[name=quantity]').max`); got != wantMax {
			t.Errorf("quantity max %s, want %s", got, wantMax)
		}
		// The choice survives a reload through the URL.
		b.open(b.location().RequestURI())
		if !eval[bool](b, `document.querySelector('input[name=variant_id][value="`+radios[pick].ID+`"]').checked`) || b.text("[data-price]") != radios[pick].Price {
			t.Errorf("reloading ?variant= did not keep the choice")
		}
		b.audit()
	})

	t.Run("works without JavaScript", func(t *testing.T) {
		b := newTab(t, browser, base, tabOptions{width: 1280, height: 900, noJS: true})
		b.open("/")
		href := eval[string](b, `document.querySelector('nav.cats a').getAttribute('href')`)
		b.open(href)
		if eval[bool](b, `document.documentElement.classList.contains('js')`) {
			t.Fatal("the page script ran although scripts are off")
		}
		b.do("tick a filter", chromedp.Click(chromedp.CSS(".filters input[type=checkbox]")))
		if st := b.follow("press Apply", chromedp.Click(chromedp.CSS(".filters button[type=submit]"))); st != 200 {
			t.Fatalf("apply filters: status %d", st)
		}
		if q := b.location().RawQuery; !strings.Contains(q, "attr.") {
			t.Errorf("Apply without JavaScript did not filter: query %q", q)
		}

		p := pickVariantProduct(t, catalog)
		b.open("/p/" + p.Slug)
		id := eval[string](b, `Array.prototype.filter.call(document.querySelectorAll('input[name=variant_id]'), function (r) { return !r.checked && !r.disabled; })[0].value`)
		b.do("choose a variant", chromedp.Click(chromedp.CSS(`input[name=variant_id][value="`+id+`"]`)))
		req := b.submitted(".buy button[type=submit]", "/cart/items")
		var body strings.Builder
		for _, e := range req.PostDataEntries {
			body.Write(e.Bytes)
		}
		form, _ := url.ParseQuery(body.String())
		if req.Method != "POST" || form.Get("variant_id") != id || form.Get("quantity") != "1" {
			t.Errorf("add to cart sent %s %q, want POST variant_id=%s&quantity=1", req.Method, body.String(), id)
		}
	})

	t.Run("search finds a product", func(t *testing.T) {
		want := catalog[len(catalog)/2].Title
		b := newTab(t, browser, base, phone)
		b.open("/")
		if st := b.follow("search for "+want, chromedp.SendKeys(chromedp.CSS("#site-q"), want+kb.Enter)); st != 200 {
			t.Fatalf("search: status %d", st)
		}
		loc := b.location()
		if loc.Path != "/search" || loc.Query().Get("q") != want {
			t.Errorf("searching went to %s", loc)
		}
		titles := eval[[]string](b, `Array.prototype.map.call(document.querySelectorAll('.card-title'), function (e) { return e.textContent; })`)
		found := false
		for _, title := range titles {
			found = found || title == want
		}
		if !found {
			t.Errorf("searching %q found %q", want, titles)
		}
		if got := eval[string](b, `document.querySelector('#site-q').value`); got != want {
			t.Errorf("the search field holds %q, want %q", got, want)
		}
		b.audit()
	})

	t.Run("not found page", func(t *testing.T) {
		b := newTab(t, browser, base, phone)
		for _, path := range []string{"/no/such/page", "/p/no-such-product", "/c/no-such-category"} {
			if st := b.open(path); st != 404 {
				t.Errorf("%s: status %d, want 404", path, st)
			}
			if h1 := b.text("h1"); h1 != "We couldn’t find that page" {
				t.Errorf("%s: h1 %q", path, h1)
			}
			if n := eval[int](b, `document.querySelectorAll('nav.cats a').length`); n == 0 {
				t.Errorf("%s: the 404 page offers no categories", path)
			}
			b.audit()
		}
	})

	t.Run("keyboard: skip link and focus ring", func(t *testing.T) {
		b := newTab(t, browser, base, phone)
		b.open("/")
		b.do("press Tab", chromedp.KeyEvent(kb.Tab))
		type focus struct {
			Class, Outline string
			Top            float64
		}
		f := eval[focus](b, `(function () { var e = document.activeElement, s = getComputedStyle(e);
		  return {Class: e.className, Outline: s.outlineStyle, Top: e.getBoundingClientRect().top}; })()`)
		if f.Class != "skip" || f.Top < 0 || f.Outline == "none" {
			t.Errorf("first Tab: focus on %+v, want the visible, outlined skip link", f)
		}
		b.do("follow the skip link", chromedp.KeyEvent(kb.Enter))
		if id := eval[string](b, `document.activeElement.id`); id != "main" {
			t.Errorf("after the skip link, focus is on #%s, want #main", id)
		}
	})

	t.Run("phone layout", func(t *testing.T) {
		b := newTab(t, browser, base, tabOptions{width: 360, height: 740})
		b.open("/")
		cat := firstCategory(t, b)
		p := pickVariantProduct(t, catalog)
		for _, path := range []string{"/", "/c/" + cat, "/p/" + p.Slug, "/search?q=tea", "/nowhere"} {
			b.open(path)
			b.audit() // includes: nothing scrolls sideways at 360px
		}
		b.open("/c/" + cat)
		if eval[bool](b, `document.querySelector('details[data-collapse-narrow]').open`) {
			t.Error("filters should start folded on a phone")
		}
	})

	t.Run("screenshots", func(t *testing.T) {
		dir := t.TempDir()
		if os.Getenv("MERCATO_UPDATE_SCREENSHOTS") == "1" {
			dir = filepath.Join("..", "..", "docs", "screenshots")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		p := pickVariantProduct(t, catalog)
		for _, size := range []struct {
			name string
			opts tabOptions
		}{{"phone", tabOptions{width: 390, height: 1400}}, {"desktop", tabOptions{width: 1280, height: 1300}}} {
			b := newTab(t, browser, base, size.opts)
			b.open("/")
			pages := []struct{ name, path string }{
				{"home", "/"},
				{"category", "/c/" + firstCategory(t, b)},
				{"product", "/p/" + p.Slug},
				{"search", "/search?q=" + url.QueryEscape(strings.Fields(p.Title)[0])},
			}
			for _, pg := range pages {
				b.open(pg.path)
				b.waitImages()
				png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatalf("screenshot of %s: %v", pg.path, err)
				}
				file := filepath.Join(dir, pg.name+"-"+size.name+".png")
				if err := os.WriteFile(file, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s (%d KB)", pg.path, file, len(png)/1024)
			}
		}
	})
}

// availability is the text the product page shows for a stock level.
func availability(available int64, backorder bool) string {
	switch {
	case available > 5:
		return "In stock"
	case available > 0:
		return "Only " + strconv.FormatInt(available, 10) + " left"
	case backorder:
		return "On backorder — ships when restocked"
	}
	return "Out of stock"
}

// pickVariantProduct returns a product whose buyable variants differ in
// price (or, failing that, in availability), so choosing one shows a change.
func pickVariantProduct(t *testing.T, catalog []apiProduct) apiProduct {
	t.Helper()
	var fallback *apiProduct
	for i, p := range catalog {
		prices, stock := map[int64]bool{}, map[string]bool{}
		buyable := 0
		for _, v := range p.Variants {
			if v.Available > 0 || v.Backorder {
				buyable++
				prices[v.Price.Amount] = true
				stock[availability(v.Available, v.Backorder)] = true
			}
		}
		if buyable >= 2 && len(prices) >= 2 {
			return p
		}
		if buyable >= 2 && len(stock) >= 2 && fallback == nil {
			fallback = &catalog[i]
		}
	}
	if fallback == nil {
		t.Fatal("no product in the demo catalog has two buyable variants that differ")
	}
	return *fallback
}

// firstCategory returns the slug of the first category in the header.
func firstCategory(t *testing.T, b *tab) string {
	t.Helper()
	href := eval[string](b, `(document.querySelector('nav.cats a') || {getAttribute: function () { return ''; }}).getAttribute('href')`)
	slug, ok := strings.CutPrefix(href, "/c/")
	if !ok {
		raw, _ := json.Marshal(href)
		t.Fatalf("the header has no category link (first link %s)", raw)
	}
	return slug
}
