package storefront

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/catalog"
)

// pageSize is how many products a listing shows at once (divisible by the
// 2, 3 and 4 columns of the grid).
const pageSize = 24

// card is a product tile in a grid.
type card struct {
	URL, Title, Price string
	Image             *catalog.Image
	SoldOut           bool
	Tone              int    // placeholder colour when there is no image
	Initials          string // placeholder text when there is no image
}

func newCard(p catalog.Product) card {
	c := card{URL: "/p/" + p.Slug, Title: p.Title, Price: priceLabel(p), SoldOut: !p.InStock(), Tone: tone(p.Slug), Initials: initials(p.Title)}
	if len(p.Images) > 0 {
		c.Image = &p.Images[0]
	}
	return c
}

func cards(ps []catalog.Product) []card {
	out := make([]card, len(ps))
	for i, p := range ps {
		out[i] = newCard(p)
	}
	return out
}

// priceLabel is "€19.00", or "From €19.00" when variants differ in price.
func priceLabel(p catalog.Product) string {
	if len(p.Variants) == 0 {
		return ""
	}
	lo, hi := p.PriceRange()
	if lo.Amount != hi.Amount {
		return "From " + lo.Format()
	}
	return lo.Format()
}

// tone picks one of six placeholder colours, stable per product.
func tone(s string) int {
	h := fnv.New32a()
	h.Write([]byte(s))
	return int(h.Sum32() % 6)
}

// initials returns up to two capital letters from the first words of s.
func initials(s string) string {
	var b strings.Builder
	for _, w := range strings.Fields(s) {
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
			if b.Len() >= 2 {
				break
			}
		}
	}
	return b.String()
}

// clip shortens s to at most n runes at a word boundary, for meta descriptions.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	cut := string(r)
	if i := strings.LastIndex(cut, " "); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:.-") + "…"
}

// humanize turns an attribute key into a label: "shoe_size" -> "Shoe size".
func humanize(key string) string {
	s := strings.NewReplacer("_", " ", "-", " ").Replace(key)
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// ---- Home ----

type tile struct {
	Name, URL, Sub string
	Tone           int
}

type homeView struct {
	view
	Featured   []card
	Newest     []card
	Categories []tile
	ShopURL    string // where the hero's button goes
}

// Home serves GET /{$}: featured products, categories and new arrivals.
func (s *Storefront) Home() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		cats, err := s.cat.Categories(ctx)
		if err != nil {
			return err
		}
		featured, err := s.cat.ListProducts(ctx, catalog.ListQuery{Featured: true, Limit: 8})
		if err != nil {
			return err
		}
		newest, err := s.cat.ListProducts(ctx, catalog.ListQuery{Limit: 8})
		if err != nil {
			return err
		}
		var names []string
		v := homeView{Featured: cards(featured.Items), Newest: cards(newest.Items), ShopURL: "/search"}
		children := map[string][]string{}
		for _, c := range cats {
			if c.ParentID != nil {
				children[*c.ParentID] = append(children[*c.ParentID], c.Name)
			}
		}
		for _, c := range cats {
			if c.ParentID == nil {
				v.Categories = append(v.Categories, tile{Name: c.Name, URL: "/c/" + c.Slug, Sub: strings.Join(children[c.ID], " · "), Tone: tone(c.Slug)})
				names = append(names, c.Name)
			}
		}
		if len(v.Categories) > 0 {
			v.ShopURL = v.Categories[0].URL
		}
		desc := "Shop online at " + s.opts.ShopName + "."
		if len(names) > 0 {
			desc = s.opts.ShopName + ": " + strings.Join(names, ", ") + ". Browse our range, see live stock and order online."
		}
		v.view = s.newView(r, "", clip(desc, 160), "/", cats, "")
		return s.pages.Render(w, http.StatusOK, "home", v)
	})
}

// ---- Listings: category and search ----

type option struct {
	Value, Label string
	Selected     bool
}

var sortLabels = []option{
	{Value: string(catalog.SortNewest), Label: "Newest"},
	{Value: string(catalog.SortPrice), Label: "Price: low to high"},
	{Value: string(catalog.SortPriceDesc), Label: "Price: high to low"},
	{Value: string(catalog.SortTitle), Label: "Name"},
}

func sortOptions(cur catalog.Sort) []option {
	out := slices.Clone(sortLabels)
	for i := range out {
		out[i].Selected = out[i].Value == string(cur)
	}
	return out
}

// maxFilterValues caps how many values of one attribute a URL may select.
const maxFilterValues = 20

// listParams are the query parameters every listing shares.
type listParams struct {
	sort   catalog.Sort
	cursor string
	attrs  map[string][]string // attr.KEY=VALUE, repeated or comma-separated
}

func parseListParams(q url.Values) listParams {
	lp := listParams{sort: catalog.Sort(q.Get("sort")), cursor: q.Get("cursor")}
	if !slices.Contains(catalog.Sorts, lp.sort) {
		lp.sort = catalog.SortNewest // an unknown order is not worth an error page
	}
	for k, vs := range q {
		key, ok := strings.CutPrefix(k, "attr.")
		if !ok || key == "" {
			continue
		}
		for _, raw := range vs {
			for _, val := range strings.Split(raw, ",") {
				if val = strings.TrimSpace(val); val != "" && !slices.Contains(lp.attrs[key], val) && len(lp.attrs[key]) < maxFilterValues {
					if lp.attrs == nil {
						lp.attrs = map[string][]string{}
					}
					lp.attrs[key] = append(lp.attrs[key], val)
				}
			}
		}
	}
	return lp
}

func (lp listParams) query() catalog.ListQuery {
	lq := catalog.ListQuery{Limit: pageSize, Sort: lp.sort, Cursor: lp.cursor}
	for k, vs := range lp.attrs {
		if lq.Attrs == nil {
			lq.Attrs = map[string]string{}
		}
		lq.Attrs[k] = strings.Join(vs, ",")
	}
	return lq
}

// pager holds the links between pages of a listing. Cursors only go
// forward; "first page" goes back to the start.
type pager struct {
	NextURL, FirstURL string
}

func newPager(r *http.Request, next *string) pager {
	var p pager
	q := r.URL.Query()
	if next != nil {
		q.Set("cursor", *next)
		p.NextURL = r.URL.Path + "?" + q.Encode()
	}
	if r.URL.Query().Get("cursor") != "" {
		q.Del("cursor")
		p.FirstURL = r.URL.Path
		if enc := q.Encode(); enc != "" {
			p.FirstURL += "?" + enc
		}
	}
	return p
}

type facetValue struct {
	ID, Name, Value string // Name is the form field, attr.KEY
	Count           int
	Checked         bool
}

type facet struct {
	Key, Name, Label string
	Values           []facetValue
	More             []facetValue // folded away behind "Show N more"
	MoreOpen         bool         // a folded value is chosen
}

// facetShown is how many values a long facet shows before folding the rest.
const facetShown = 6

type crumb struct{ Name, URL string }

type categoryView struct {
	view
	Category      catalog.Category
	Crumbs        []crumb
	Subcategories []link
	Products      []card
	Facets        []facet
	Sorts         []option
	Filtered      bool
	ClearURL      string
	Pager         pager
}

// findCategory returns the category with slug, and its ancestors from the top.
func findCategory(cats []catalog.Category, slug string) (catalog.Category, []catalog.Category, bool) {
	byID := make(map[string]catalog.Category, len(cats))
	for _, c := range cats {
		byID[c.ID] = c
	}
	for _, c := range cats {
		if c.Slug != slug {
			continue
		}
		var up []catalog.Category
		for p := c.ParentID; p != nil && len(up) < 10; {
			parent, ok := byID[*p]
			if !ok {
				break
			}
			up = append([]catalog.Category{parent}, up...)
			p = parent.ParentID
		}
		return c, up, true
	}
	return catalog.Category{}, nil, false
}

// Category serves GET /c/{slug}: the category's products (sub-categories
// included) with attribute filters, sorting and cursor pagination.
func (s *Storefront) Category() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		cats, err := s.cat.Categories(ctx)
		if err != nil {
			return err
		}
		slug := r.PathValue("slug")
		cat, ancestors, ok := findCategory(cats, slug)
		if !ok {
			return apperr.NotFoundf("category %q not found", slug)
		}
		lp := parseListParams(r.URL.Query())
		lq := lp.query()
		lq.Category = cat.ID
		page, err := s.cat.ListProducts(ctx, lq)
		if err != nil {
			return err
		}
		facets, err := s.facetsOf(ctx, cat.ID, lp.attrs)
		if err != nil {
			return err
		}
		top := cat.ID
		if len(ancestors) > 0 {
			top = ancestors[0].ID
		}
		desc := fmt.Sprintf("Shop %s at %s: browse the range, filter by what matters to you and see live stock.", cat.Name, s.opts.ShopName)
		v := categoryView{
			view:     s.newView(r, cat.Name, clip(desc, 160), "/c/"+cat.Slug, cats, top),
			Category: cat, Products: cards(page.Items), Facets: facets, Sorts: sortOptions(lp.sort),
			Filtered: len(lp.attrs) > 0, ClearURL: "/c/" + cat.Slug, Pager: newPager(r, page.NextCursor),
		}
		v.Crumbs = append(v.Crumbs, crumb{Name: "Home", URL: "/"})
		for _, a := range ancestors {
			v.Crumbs = append(v.Crumbs, crumb{Name: a.Name, URL: "/c/" + a.Slug})
		}
		for _, c := range cats {
			if c.ParentID != nil && *c.ParentID == cat.ID {
				v.Subcategories = append(v.Subcategories, link{Name: c.Name, URL: "/c/" + c.Slug})
			}
		}
		if lp.cursor != "" || v.Filtered {
			v.NoIndex = true // filtered and later pages are variations of the canonical one
		}
		if lp.sort != catalog.SortNewest {
			v.ClearURL += "?sort=" + url.QueryEscape(string(lp.sort))
		}
		return s.pages.Render(w, http.StatusOK, "category", v)
	})
}

// facetScanPages bounds how many pages of 100 products facets are counted
// over, so a huge category costs a bounded amount.
const facetScanPages = 5

// facetCounts is attribute key -> value -> number of products.
type facetCounts map[string]map[string]int

// facetCache keeps each category's counts for a while: counting reads every
// product of the category, and the counts only guide the shopper (a stale
// value at worst leads to "No products match"). Keys are ids of existing
// categories, so the map is bounded by the catalog.
type facetCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]facetEntry
}

type facetEntry struct {
	counts facetCounts
	at     time.Time
}

func newFacetCache(ttl time.Duration) *facetCache {
	return &facetCache{ttl: ttl, now: time.Now, m: map[string]facetEntry{}}
}

func (c *facetCache) get(id string) (facetCounts, bool) {
	if c.ttl < 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || c.now().Sub(e.at) > c.ttl {
		return nil, false
	}
	return e.counts, true
}

func (c *facetCache) put(id string, counts facetCounts) {
	if c.ttl < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = facetEntry{counts: counts, at: c.now()}
}

// countFacets counts the attribute values of the category's active products.
func (s *Storefront) countFacets(ctx context.Context, categoryID string) (facetCounts, error) {
	if counts, ok := s.facets.get(categoryID); ok {
		return counts, nil
	}
	if ac, ok := s.cat.(AttributeCounter); ok {
		counts, err := ac.AttributeCounts(ctx, categoryID)
		if err != nil {
			return nil, fmt.Errorf("attribute counts: %w", err)
		}
		s.facets.put(categoryID, counts)
		return counts, nil
	}
	counts := facetCounts{}
	lq := catalog.ListQuery{Category: categoryID, Limit: 100}
	for range facetScanPages {
		page, err := s.cat.ListProducts(ctx, lq)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Items {
			for k, val := range p.Attributes {
				if counts[k] == nil {
					counts[k] = map[string]int{}
				}
				counts[k][val]++
			}
		}
		if page.NextCursor == nil {
			break
		}
		lq.Cursor = *page.NextCursor
	}
	s.facets.put(categoryID, counts)
	return counts, nil
}

// facetsOf lists the category's filters (counted over all its products, not
// narrowed by the current filters, so every choice stays visible).
// Attributes with a single value are left out unless selected.
func (s *Storefront) facetsOf(ctx context.Context, categoryID string, selected map[string][]string) ([]facet, error) {
	counts, err := s.countFacets(ctx, categoryID)
	if err != nil {
		return nil, err
	}
	var out []facet
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if len(counts[k]) < 2 && len(selected[k]) == 0 {
			continue
		}
		f := facet{Key: k, Name: "attr." + k, Label: humanize(k)}
		for i, val := range slices.Sorted(maps.Keys(counts[k])) {
			f.Values = append(f.Values, facetValue{ID: "f-" + k + "-" + strconv.Itoa(i), Name: f.Name, Value: val, Count: counts[k][val], Checked: slices.Contains(selected[k], val)})
		}
		if len(f.Values) > facetShown+2 {
			f.Values, f.More = f.Values[:facetShown], f.Values[facetShown:]
			f.MoreOpen = slices.ContainsFunc(f.More, func(v facetValue) bool { return v.Checked })
		}
		out = append(out, f)
	}
	return out, nil
}

type searchView struct {
	view
	Products []card
	Sorts    []option
	Pager    pager
}

// maxQuery is the longest search the catalog accepts.
const maxQuery = 200

// Search serves GET /search?q=: products matching every word of q.
func (s *Storefront) Search() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		cats, err := s.cat.Categories(ctx)
		if err != nil {
			return err
		}
		q := strings.TrimSpace(r.URL.Query().Get("q"))
		for len(q) > maxQuery {
			_, n := utf8.DecodeLastRuneInString(q)
			q = q[:len(q)-n]
		}
		lp := parseListParams(r.URL.Query())
		v := searchView{Sorts: sortOptions(lp.sort)}
		title := "Search"
		if q != "" {
			title = "Search results for “" + q + "”"
			lq := lp.query()
			lq.Q = q
			page, err := s.cat.ListProducts(ctx, lq)
			if err != nil {
				return err
			}
			v.Products, v.Pager = cards(page.Items), newPager(r, page.NextCursor)
		}
		v.view = s.newView(r, title, "Search the "+s.opts.ShopName+" catalogue.", "", cats, "")
		v.NoIndex, v.Q = true, q
		return s.pages.Render(w, http.StatusOK, "search", v)
	})
}

// ---- Product ----

type variantOption struct {
	ID, Title, Price   string
	Stock, StockClass  string
	Disabled, Selected bool
	Max                int64
}

type attribute struct{ Name, Value string }

// picture is one image of the product gallery; ID is its anchor.
type picture struct {
	URL, Alt, ID string
	N            int // 0 for the first picture
	Label        int // 1-based, for "Picture 2"
}

type productView struct {
	view
	Product     catalog.Product
	Crumbs      []crumb
	Gallery     []picture
	Tone        int
	Initials    string
	Paragraphs  []string
	Attributes  []attribute
	Variants    []variantOption
	Selected    variantOption
	Buyable     bool
	MultiChoice bool // more than one variant: show the picker
	Related     []card
}

// lowStock is the level under which the page says "only N left".
const lowStock = 5

// maxQuantity caps the quantity field.
const maxQuantity = 99

func availability(v catalog.Variant) (label, class string, buyable bool) {
	switch {
	case v.Available > lowStock:
		return "In stock", "in", true
	case v.Available > 0:
		return "Only " + strconv.FormatInt(v.Available, 10) + " left", "low", true
	case v.Backorder:
		return "On backorder — ships when restocked", "back", true
	}
	return "Out of stock", "out", false
}

// Product serves GET /p/{slug}: the product with its gallery, variant
// picker and add-to-cart form. A product found by id redirects to its slug.
func (s *Storefront) Product() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		slug := r.PathValue("slug")
		p, err := s.cat.GetProduct(ctx, slug, true)
		if err != nil {
			return err
		}
		if p.Slug != slug {
			http.Redirect(w, r, "/p/"+url.PathEscape(p.Slug), http.StatusMovedPermanently)
			return nil
		}
		cats, err := s.cat.Categories(ctx)
		if err != nil {
			return err
		}
		canonical := "/p/" + p.Slug
		v := productView{Product: p, Tone: tone(p.Slug), Initials: initials(p.Title), MultiChoice: len(p.Variants) > 1}
		for i, img := range p.Images {
			v.Gallery = append(v.Gallery, picture{URL: img.URL, Alt: cmp.Or(img.Alt, p.Title), ID: "picture-" + strconv.Itoa(i+1), N: i, Label: i + 1})
		}
		for _, para := range strings.Split(strings.ReplaceAll(p.Description, "\r\n", "\n"), "\n\n") {
			if para = strings.TrimSpace(para); para != "" {
				v.Paragraphs = append(v.Paragraphs, para)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(p.Attributes)) {
			v.Attributes = append(v.Attributes, attribute{Name: humanize(k), Value: p.Attributes[k]})
		}
		want := r.URL.Query().Get("variant")
		sel := -1
		for i, pv := range p.Variants {
			label, class, buyable := availability(pv)
			o := variantOption{ID: pv.ID, Title: pv.Title, Price: pv.Price.Format(), Stock: label, StockClass: class, Disabled: !buyable, Max: maxQuantity}
			if !pv.Backorder && pv.Available < maxQuantity {
				o.Max = max(pv.Available, 1)
			}
			if buyable && (sel < 0 || pv.ID == want) {
				sel = i
			}
			v.Variants = append(v.Variants, o)
		}
		if sel >= 0 {
			v.Variants[sel].Selected = true
			v.Selected, v.Buyable = v.Variants[sel], true
		} else if len(v.Variants) > 0 {
			v.Selected = v.Variants[0] // all sold out: show the first one's price
		}

		// Breadcrumbs follow the product's deepest category.
		var (
			home  = crumb{Name: "Home", URL: "/"}
			best  catalog.Category
			trail []catalog.Category
			top   string
		)
		for _, c := range cats {
			if !slices.Contains(p.CategoryIDs, c.ID) {
				continue
			}
			if _, up, ok := findCategory(cats, c.Slug); ok && (best.ID == "" || len(up) > len(trail)) {
				best, trail = c, up
			}
		}
		v.Crumbs = []crumb{home}
		if best.ID != "" {
			for _, a := range append(trail, best) {
				v.Crumbs = append(v.Crumbs, crumb{Name: a.Name, URL: "/c/" + a.Slug})
			}
			top = cmp.Or(firstID(trail), best.ID)
			related, err := s.cat.ListProducts(ctx, catalog.ListQuery{Category: best.ID, Limit: 5})
			if err != nil {
				return err
			}
			for _, rp := range related.Items {
				if rp.ID != p.ID && len(v.Related) < 4 {
					v.Related = append(v.Related, newCard(rp))
				}
			}
		}
		desc := p.Description
		if desc == "" {
			desc = p.Title + " at " + s.opts.ShopName + "."
		}
		v.view = s.newView(r, p.Title, clip(desc, 160), canonical, cats, top)
		v.JSONLD = s.productLD(p, canonical)
		return s.pages.Render(w, http.StatusOK, "product", v)
	})
}

func firstID(cs []catalog.Category) string {
	if len(cs) == 0 {
		return ""
	}
	return cs[0].ID
}
