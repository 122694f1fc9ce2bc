// Package demo generates the demo catalog loaded on first start: nine
// departments with sub-categories and about 270 products with variants,
// stock, attributes and a picture each, all invented from word lists by a
// seeded random generator, so every run produces the same catalog. Pictures
// are SVGs drawn here and stored through the blob store; nothing is fetched
// from the network.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/blob"
)

// Blobs is where the pictures go (blob.Disk, later S3).
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader, contentType string) error
	URL(key string) string
}

// Actor is recorded as the author of the demo's stock movements.
const Actor = "demo"

// Seed loads the demo catalog through the catalog service, storing pictures
// in blobs, printing a progress line every 25 products to progress (which may
// be nil), and returns how many products it created. It refuses, with a
// Conflict error, to load into a catalog that already has products.
// Categories that already exist (by slug) are reused.
func Seed(ctx context.Context, cat *catalog.Service, blobs Blobs, currency string, progress io.Writer) (int, error) {
	if !money.ValidCurrency(currency) {
		return 0, apperr.Field("currency", "must be a 3-letter ISO 4217 code such as EUR")
	}
	if progress == nil {
		progress = io.Discard
	}
	n, err := cat.CountProducts(ctx)
	if err != nil {
		return 0, fmt.Errorf("count products: %w", err)
	}
	if n > 0 {
		return 0, apperr.Conflictf("the catalog already has %d products; the demo catalog only loads into an empty catalog", n)
	}
	start := time.Now()
	now := start.UTC().Truncate(time.Second)
	cats, products := plan(currency)
	catIDs, err := createCategories(ctx, cat, cats)
	if err != nil {
		return 0, err
	}
	variants, images := 0, 0
	for i, p := range products {
		in := p.input
		for _, img := range p.images {
			if err := blobs.Put(ctx, img.key, bytes.NewReader(img.data), "image/svg+xml"); err != nil {
				return i, fmt.Errorf("demo picture %s: %w", img.key, err)
			}
			in.Images = append(in.Images, catalog.Image{URL: blobs.URL(img.key), Alt: img.alt})
		}
		in.CategoryIDs = []string{catIDs[p.category]}
		in.CreatedAt = now.Add(-p.age)
		if _, err := cat.CreateProduct(ctx, in, Actor); err != nil {
			return i, fmt.Errorf("demo product %s: %w", in.Slug, err)
		}
		variants += len(in.Variants)
		images += len(in.Images)
		if (i+1)%25 == 0 || i+1 == len(products) {
			fmt.Fprintf(progress, "demo: %d/%d products\n", i+1, len(products))
		}
	}
	fmt.Fprintf(progress, "demo: %d products, %d variants, %d pictures, %d categories in %s\n",
		len(products), variants, images, len(cats), time.Since(start).Round(time.Millisecond))
	return len(products), nil
}

func createCategories(ctx context.Context, cat *catalog.Service, cats []plannedCategory) (map[string]string, error) {
	existing, err := cat.Categories(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo categories: %w", err)
	}
	ids := map[string]string{}
	for _, c := range existing {
		ids[c.Slug] = c.ID
	}
	for _, c := range cats {
		if _, ok := ids[c.slug]; ok {
			continue
		}
		in := catalog.CategoryInput{Slug: c.slug, Name: c.name, Position: c.position}
		if c.parent != "" {
			parent := ids[c.parent]
			in.ParentID = &parent
		}
		created, err := cat.CreateCategory(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("demo category %s: %w", c.slug, err)
		}
		ids[c.slug] = created.ID
	}
	return ids, nil
}

type plannedCategory struct {
	slug, name, parent string // parent is a slug; "" for top-level
	position           int
}

type plannedImage struct {
	key  string
	data []byte
	alt  string
}

type plannedProduct struct {
	category string // slug of its (leaf) category
	input    catalog.ProductInput
	images   []plannedImage
	age      time.Duration // how long before the seeding it was created
}

// seed fixes the random generator: change it and every demo shop changes.
const seed1, seed2 = 0x6d65726361746f, 2026

// plan invents the whole catalog. It is a pure function of currency (which
// only changes prices), so every run yields the same slugs, SKUs and pictures.
func plan(currency string) ([]plannedCategory, []plannedProduct) {
	r := rand.New(rand.NewPCG(seed1, seed2))
	var cats []plannedCategory
	gradients := map[string][][2]string{} // leaf slug -> backgrounds
	leafSlug := map[string]string{}       // leaf name -> slug
	for i, top := range categoryTree() {
		ts := catalog.Slugify(top.name)
		cats = append(cats, plannedCategory{slug: ts, name: top.name, position: i})
		for j, sub := range top.subs {
			ss := catalog.Slugify(sub)
			cats = append(cats, plannedCategory{slug: ss, name: sub, parent: ts, position: j})
			gradients[ss] = top.gradients
			leafSlug[sub] = ss
		}
	}
	price := priceScaler(currency)
	hexOf := colourHex()
	titles, slugs, skus := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var out []plannedProduct
	for _, k := range kinds() {
		for n := 1; n <= k.count; n++ {
			brand := pick(r, k.brands)
			title := inventTitle(r, k, brand, titles)
			slug := catalog.Slugify(title)
			for i := 2; slugs[slug]; i++ {
				slug = fmt.Sprintf("%s-%d", catalog.Slugify(title), i)
			}
			slugs[slug] = true

			var colours []string
			if len(k.colours) > 0 {
				perm := r.Perm(len(k.colours))[:1+r.IntN(k.maxColours)]
				for _, i := range perm {
					colours = append(colours, k.colours[i])
				}
			}
			axes := make([]axis, len(k.axes))
			for i, a := range k.axes {
				cnt := a.min + r.IntN(a.max-a.min+1)
				from := r.IntN(len(a.values) - cnt + 1)
				axes[i] = a
				axes[i].values = a.values[from : from+cnt]
				if a.pct != nil {
					axes[i].pct = a.pct[from : from+cnt]
				}
			}
			colours, axes = capVariants(colours, axes, 12)

			material := ""
			if len(k.materials) > 0 {
				material = pick(r, k.materials)
			}
			attrs := map[string]string{}
			if k.top == "Books" {
				attrs["publisher"] = brand
			} else {
				attrs["brand"] = brand
			}
			if material != "" {
				attrs["material"] = material
			}
			if len(colours) > 0 {
				attrs["colour"] = colours[0]
			}
			if k.attrs != nil {
				maps.Copy(attrs, k.attrs(r, title))
			}

			base := k.price[0] + r.Int64N(k.price[1]-k.price[0]+1)
			backorder := r.IntN(100) < 5
			code := fmt.Sprintf("%s-%03d", k.code, n)
			var variants []catalog.VariantInput
			for _, combo := range combinations(colours, axes) {
				pct := int64(100)
				opts := map[string]string{}
				parts := []string{code}
				for _, o := range combo {
					opts[o.name] = o.value
					pct = pct * o.pct / 100
					parts = append(parts, skuPart(o.value))
				}
				sku := strings.Join(parts, "-")
				for i := 2; skus[sku]; i++ {
					sku = fmt.Sprintf("%s-%d", strings.Join(parts, "-"), i)
				}
				skus[sku] = true
				stock := stockLevel(r)
				v := catalog.VariantInput{SKU: sku, Options: opts, Price: money.Money{Amount: price(charm(base * pct / 100)), Currency: currency}, Stock: &stock}
				if backorder {
					v.Backorder = &backorder
				}
				variants = append(variants, v)
			}

			status := catalog.StatusActive
			if r.IntN(100) < 4 {
				status = catalog.StatusDraft
			}
			featured := status == catalog.StatusActive && r.IntN(100) < 15

			in := catalog.ProductInput{
				Slug: slug, Title: title, Status: status, Featured: featured, Attributes: attrs, Variants: variants,
				Description: describe(r, k, title, brand, material, colours),
			}
			p := plannedProduct{category: leafSlug[k.leaf], input: in, age: time.Duration(r.IntN(90*24*60)) * time.Minute}

			pic := picture{icon: k.icon, gradient: pick(r, gradients[p.category]), title: title, brand: brand}
			switch {
			case len(colours) > 0:
				for i, c := range colours[:min(2, len(colours))] {
					pic.fill = hexOf[c]
					name := slug
					if i > 0 {
						name += "-" + catalog.Slugify(c)
					}
					p.images = append(p.images, newImage(name, pic, fmt.Sprintf("Illustration of the %s in %s", title, strings.ToLower(c))))
				}
			case k.top == "Books":
				pic.fill = pick(r, k.tints)
				p.images = append(p.images, newImage(slug, pic, fmt.Sprintf("Cover illustration of %s by %s", title, attrs["author"])))
			default:
				pic.fill = pick(r, k.tints)
				p.images = append(p.images, newImage(slug, pic, "Illustration of "+title))
			}
			out = append(out, p)
		}
	}
	return cats, out
}

func newImage(name string, p picture, alt string) plannedImage {
	data := p.svg()
	return plannedImage{key: blob.ContentKey("demo", name, data, "svg"), data: data, alt: alt}
}

// inventTitle returns a title not used yet.
func inventTitle(r *rand.Rand, k kind, brand string, used map[string]bool) string {
	var t string
	for range 40 {
		if k.title != nil {
			t = k.title(r)
		} else {
			t = pick(r, k.adjs) + " " + pick(r, k.nouns)
		}
		if !used[t] {
			break
		}
	}
	if used[t] {
		t = brand + " " + t
	}
	for i := 2; used[t]; i++ {
		t = fmt.Sprintf("%s %d", strings.TrimRight(t, " 0123456789"), i)
	}
	used[t] = true
	return t
}

// capVariants drops values from the longest run until there are at most max
// combinations.
func capVariants(colours []string, axes []axis, max int) ([]string, []axis) {
	for {
		total, longest, longestLen := max1(len(colours)), -1, len(colours)
		for i, a := range axes {
			total *= len(a.values)
			if len(a.values) > longestLen {
				longest, longestLen = i, len(a.values)
			}
		}
		if total <= max {
			return colours, axes
		}
		if longest < 0 {
			colours = colours[:len(colours)-1]
			continue
		}
		a := &axes[longest]
		a.values = a.values[:len(a.values)-1]
		if a.pct != nil {
			a.pct = a.pct[:len(a.pct)-1]
		}
	}
}

func max1(n int) int { return max(n, 1) }

type option struct {
	name, value string
	pct         int64
}

// combinations lists every variant's options: colours first, then each
// axis in order. No colours and no axes is one variant without options.
func combinations(colours []string, axes []axis) [][]option {
	dims := [][]option{}
	if len(colours) > 0 {
		var d []option
		for _, c := range colours {
			d = append(d, option{"Colour", c, 100})
		}
		dims = append(dims, d)
	}
	for _, a := range axes {
		var d []option
		for i, v := range a.values {
			pct := int64(100)
			if a.pct != nil {
				pct = a.pct[i]
			}
			d = append(d, option{a.name, v, pct})
		}
		dims = append(dims, d)
	}
	out := [][]option{{}}
	for _, d := range dims {
		var next [][]option
		for _, prefix := range out {
			for _, o := range d {
				next = append(next, append(slices.Clone(prefix), o))
			}
		}
		out = next
	}
	return out
}

// skuPart abbreviates an option value: up to four letters or digits of each
// word, upper-cased ("Heather grey" -> "HEATGREY", "EU 42" -> "EU42").
func skuPart(v string) string {
	var b strings.Builder
	for w := range strings.FieldsSeq(v) {
		n := 0
		for _, c := range strings.ToUpper(catalog.Slugify(w)) {
			if n < 4 && (c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				b.WriteRune(c)
				n++
			}
		}
	}
	if b.Len() == 0 {
		return "X"
	}
	return b.String()
}

// stockLevel: mostly healthy, some low (1-5), some sold out.
func stockLevel(r *rand.Rand) int64 {
	switch x := r.IntN(100); {
	case x < 7:
		return 0
	case x < 17:
		return 1 + r.Int64N(5)
	default:
		return 8 + r.Int64N(150)
	}
}

// charm rounds a price in cents the way shops do: 12.99, 34.99, 129.00.
func charm(c int64) int64 {
	switch {
	case c < 2000:
		return c/100*100 + 99
	case c < 10000:
		return (c+250)/500*500 - 1
	default:
		return (c+500)/1000*1000 - 100
	}
}

// priceScaler turns a price in cents of a two-decimal currency into minor
// units of currency: the same figure for zero-decimal currencies (1999 JPY,
// a sensible price where 19.99 EUR is), ten times it for three-decimal ones.
func priceScaler(currency string) func(int64) int64 {
	d := money.Money{Amount: 1, Currency: currency}.Decimal() // "0.01", "1" or "0.001"
	decimals := 0
	if i := strings.IndexByte(d, '.'); i >= 0 {
		decimals = len(d) - i - 1
	}
	return func(c int64) int64 {
		if decimals == 3 {
			return c * 10
		}
		return c
	}
}

func describe(r *rand.Rand, k kind, title, brand, material string, colours []string) string {
	fill := strings.NewReplacer("{title}", title, "{brand}", brand, "{material}", lowerFirst(material))
	parts := []string{fill.Replace(pick(r, k.intro))}
	n := 2 + r.IntN(2)
	for _, i := range r.Perm(len(k.features))[:min(n, len(k.features))] {
		parts = append(parts, fill.Replace(k.features[i]))
	}
	first := strings.Join(parts[:2], " ")
	rest := strings.Join(parts[2:], " ")
	desc := first
	if rest != "" {
		desc += "\n\n" + rest
	}
	switch len(colours) {
	case 0:
	case 1:
		desc += "\n\nColour: " + colours[0] + "."
	default:
		desc += "\n\nAvailable in " + strings.Join(colours[:len(colours)-1], ", ") + " and " + colours[len(colours)-1] + "."
	}
	return desc
}

// lowerFirst lower-cases the first letter unless the first word is an
// acronym ("FSC-certified").
func lowerFirst(s string) string {
	c, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	if next, _ := utf8.DecodeRuneInString(s[size:]); unicode.IsUpper(next) {
		return s
	}
	return string(unicode.ToLower(c)) + s[size:]
}
