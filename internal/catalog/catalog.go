// Package catalog owns products, their variants, categories and attributes.
//
// Stock is not the catalog's: variant availability is read through the
// Stock interface (implemented by the inventory module) when products
// are shown.
package catalog

import (
	"embed"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the catalog's tables.
func Migrations() sqldb.Migrations {
	return sqldb.Embedded("catalog", migrationFS, "migrations")
}

// Status is a product's publication state. Only active products are public.
type Status string

const (
	StatusDraft    Status = "draft"
	StatusActive   Status = "active"
	StatusArchived Status = "archived"
)

func (s Status) valid() bool { return s == StatusDraft || s == StatusActive || s == StatusArchived }

// Image is a product picture.
type Image struct {
	URL string `json:"url"`
	Alt string `json:"alt"`
}

// Variant is one buyable version of a product (a size, a colour).
type Variant struct {
	ID        string            `json:"id"`
	SKU       string            `json:"sku"`
	Title     string            `json:"title"`
	Options   map[string]string `json:"options"`
	Price     money.Money       `json:"price"`
	Available int64             `json:"available"`
	Backorder bool              `json:"backorder"`
}

// Product is what the shop sells.
type Product struct {
	ID          string            `json:"id"`
	Slug        string            `json:"slug"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Status      Status            `json:"status"`
	Featured    bool              `json:"featured"`
	Images      []Image           `json:"images"`
	Attributes  map[string]string `json:"attributes"`
	CategoryIDs []string          `json:"category_ids"`
	Variants    []Variant         `json:"variants"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// PriceRange returns the lowest and highest variant price.
func (p Product) PriceRange() (lo, hi money.Money) {
	for i, v := range p.Variants {
		if i == 0 || v.Price.Amount < lo.Amount {
			lo = v.Price
		}
		if i == 0 || v.Price.Amount > hi.Amount {
			hi = v.Price
		}
	}
	return lo, hi
}

// InStock reports whether any variant can be bought.
func (p Product) InStock() bool {
	for _, v := range p.Variants {
		if v.Available > 0 || v.Backorder {
			return true
		}
	}
	return false
}

// Category groups products; categories form a tree through ParentID.
type Category struct {
	ID       string  `json:"id"`
	Slug     string  `json:"slug"`
	Name     string  `json:"name"`
	ParentID *string `json:"parent_id"`
	Position int     `json:"position"`
}

// Limits on input sizes.
const (
	maxTitle       = 200
	maxDescription = 20000
	maxVariants    = 100
	maxImages      = 20
	maxAttributes  = 50
	maxSKU         = 64
	maxSlug        = 120
)

var (
	slugRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	skuRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Slugify turns a title into a URL slug: "Blue T-Shirt (L)" -> "blue-t-shirt-l".
func Slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if f := fold(r); f != "" {
				b.WriteString(f)
				dash = false
			}
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if len(out) > maxSlug {
		out = strings.TrimRight(out[:maxSlug], "-")
	}
	return out
}

func fold(r rune) string {
	switch r {
	case 'ä', 'à', 'á', 'â', 'ã', 'å':
		return "a"
	case 'ö', 'ò', 'ó', 'ô', 'õ', 'ø':
		return "o"
	case 'ü', 'ù', 'ú', 'û':
		return "u"
	case 'é', 'è', 'ê', 'ë':
		return "e"
	case 'í', 'ì', 'î', 'ï':
		return "i"
	case 'ç':
		return "c"
	case 'ñ':
		return "n"
	case 'ß':
		return "ss"
	}
	return ""
}

// VariantInput describes a variant to create or update.
type VariantInput struct {
	ID      string            `json:"id,omitempty"`
	SKU     string            `json:"sku"`
	Title   string            `json:"title"`
	Options map[string]string `json:"options"`
	Price   money.Money       `json:"price"`
	// Stock, when set, is the initial on-hand quantity (admin create/patch).
	Stock     *int64 `json:"stock,omitempty"`
	Backorder *bool  `json:"backorder,omitempty"`
}

// ProductInput is a product to create. Zero Status means draft.
type ProductInput struct {
	Slug        string            `json:"slug"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Status      Status            `json:"status"`
	Featured    bool              `json:"featured"`
	Images      []Image           `json:"images"`
	Attributes  map[string]string `json:"attributes"`
	CategoryIDs []string          `json:"category_ids"`
	Variants    []VariantInput    `json:"variants"`
	// CreatedAt lets imports and the demo seeder keep history; zero means now.
	CreatedAt time.Time `json:"-"`
}

// ProductPatch changes some fields of a product; nil fields stay as they are.
// Variants are upserted: one with an id (or a known SKU) is updated, one
// without is added; variants not listed are kept.
type ProductPatch struct {
	Slug        *string            `json:"slug"`
	Title       *string            `json:"title"`
	Description *string            `json:"description"`
	Status      *Status            `json:"status"`
	Featured    *bool              `json:"featured"`
	Images      *[]Image           `json:"images"`
	Attributes  *map[string]string `json:"attributes"`
	CategoryIDs *[]string          `json:"category_ids"`
	Variants    []VariantInput     `json:"variants"`
}

func validateText(v *apperr.Validator, field, s string, min, max int) {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case n < min && min == 1:
		v.Add(field, "is required")
	case n < min:
		v.Add(field, fmt.Sprintf("must be at least %d characters", min))
	case n > max:
		v.Add(field, fmt.Sprintf("must be at most %d characters", max))
	}
}

func validateImages(v *apperr.Validator, imgs []Image) {
	if len(imgs) > maxImages {
		v.Add("images", fmt.Sprintf("at most %d images", maxImages))
	}
	for i, img := range imgs {
		f := fmt.Sprintf("images[%d].url", i)
		switch {
		case img.URL == "":
			v.Add(f, "is required")
		case !(strings.HasPrefix(img.URL, "/") || strings.HasPrefix(img.URL, "https://") || strings.HasPrefix(img.URL, "http://")):
			v.Add(f, "must be an absolute path or an http(s) URL")
		case len(img.URL) > 2000:
			v.Add(f, "must be at most 2000 characters")
		}
		validateText(v, fmt.Sprintf("images[%d].alt", i), img.Alt, 0, 300)
	}
}

func validateAttributes(v *apperr.Validator, attrs map[string]string) {
	if len(attrs) > maxAttributes {
		v.Add("attributes", fmt.Sprintf("at most %d attributes", maxAttributes))
	}
	for k, val := range attrs {
		if k == "" || len(k) > 64 || !slugRE.MatchString(strings.ReplaceAll(k, "_", "-")) {
			v.Add("attributes."+k, "key must be 1-64 lower-case letters, digits, '-' or '_'")
		}
		validateText(v, "attributes."+k, val, 1, 200)
	}
}

func validateVariant(v *apperr.Validator, i int, in VariantInput, partial bool) {
	p := fmt.Sprintf("variants[%d].", i)
	if !partial || in.SKU != "" {
		switch {
		case in.SKU == "":
			v.Add(p+"sku", "is required")
		case len(in.SKU) > maxSKU || !skuRE.MatchString(in.SKU):
			v.Add(p+"sku", fmt.Sprintf("must be 1-%d letters, digits, '.', '_' or '-'", maxSKU))
		}
	}
	validateText(v, p+"title", in.Title, 0, maxTitle)
	if len(in.Options) > 10 {
		v.Add(p+"options", "at most 10 options")
	}
	for k, val := range in.Options {
		validateText(v, p+"options."+k, k, 1, 50)
		validateText(v, p+"options."+k, val, 1, 100)
	}
	// A patch may leave an existing variant's price out.
	if !partial || in.Price != (money.Money{}) {
		if !money.ValidCurrency(in.Price.Currency) {
			v.Add(p+"price.currency", "must be a 3-letter ISO 4217 code such as EUR")
		}
		if in.Price.Amount < 0 || in.Price.Amount > money.MaxAmount {
			v.Add(p+"price.amount", fmt.Sprintf("must be between 0 and %d minor units", int64(money.MaxAmount)))
		}
	}
	if in.Stock != nil && (*in.Stock < 0 || *in.Stock > 1_000_000_000) {
		v.Add(p+"stock", "must be between 0 and 1000000000")
	}
}

// Validate checks a new product and returns an Invalid error naming each bad field.
func (in *ProductInput) Validate() error {
	var v apperr.Validator
	validateText(&v, "title", strings.TrimSpace(in.Title), 1, maxTitle)
	validateText(&v, "description", in.Description, 0, maxDescription)
	if in.Slug != "" && (len(in.Slug) > maxSlug || !slugRE.MatchString(in.Slug)) {
		v.Add("slug", "must be lower-case letters, digits and single dashes")
	}
	if in.Status == "" {
		in.Status = StatusDraft
	}
	v.Check(in.Status.valid(), "status", "must be draft, active or archived")
	validateImages(&v, in.Images)
	validateAttributes(&v, in.Attributes)
	if len(in.Variants) == 0 {
		v.Add("variants", "at least one variant is required")
	}
	if len(in.Variants) > maxVariants {
		v.Add("variants", fmt.Sprintf("at most %d variants", maxVariants))
	}
	skus := map[string]bool{}
	for i, vi := range in.Variants {
		validateVariant(&v, i, vi, false)
		if skus[vi.SKU] {
			v.Add(fmt.Sprintf("variants[%d].sku", i), "is used twice")
		}
		skus[vi.SKU] = true
		if i > 0 && vi.Price.Currency != in.Variants[0].Price.Currency {
			v.Add(fmt.Sprintf("variants[%d].price.currency", i), "all variants of a product share one currency")
		}
	}
	if len(in.CategoryIDs) > 20 {
		v.Add("category_ids", "at most 20 categories")
	}
	return v.Err()
}

// Validate checks a patch.
func (p *ProductPatch) Validate() error {
	var v apperr.Validator
	if p.Title != nil {
		validateText(&v, "title", strings.TrimSpace(*p.Title), 1, maxTitle)
	}
	if p.Description != nil {
		validateText(&v, "description", *p.Description, 0, maxDescription)
	}
	if p.Slug != nil && (len(*p.Slug) > maxSlug || !slugRE.MatchString(*p.Slug)) {
		v.Add("slug", "must be lower-case letters, digits and single dashes")
	}
	if p.Status != nil && !p.Status.valid() {
		v.Add("status", "must be draft, active or archived")
	}
	if p.Images != nil {
		validateImages(&v, *p.Images)
	}
	if p.Attributes != nil {
		validateAttributes(&v, *p.Attributes)
	}
	if p.CategoryIDs != nil && len(*p.CategoryIDs) > 20 {
		v.Add("category_ids", "at most 20 categories")
	}
	if len(p.Variants) > maxVariants {
		v.Add("variants", fmt.Sprintf("at most %d variants", maxVariants))
	}
	for i, vi := range p.Variants {
		validateVariant(&v, i, vi, vi.ID != "")
	}
	return v.Err()
}

// CategoryInput is a category to create.
type CategoryInput struct {
	Slug     string  `json:"slug"`
	Name     string  `json:"name"`
	ParentID *string `json:"parent_id"`
	Position int     `json:"position"`
}

// Validate checks a category and returns an Invalid error naming each bad
// field (name, slug, position); an empty slug is derived from the name.
func (in *CategoryInput) Validate() error {
	var v apperr.Validator
	validateText(&v, "name", strings.TrimSpace(in.Name), 1, 100)
	if in.Slug == "" {
		in.Slug = Slugify(in.Name)
	}
	if len(in.Slug) > maxSlug || !slugRE.MatchString(in.Slug) {
		v.Add("slug", "must be lower-case letters, digits and single dashes")
	}
	// catalog_categories.position is an INTEGER: PostgreSQL refuses a value
	// beyond 32 bits ("integer out of range").
	if in.Position < math.MinInt32 || in.Position > math.MaxInt32 {
		v.Add("position", fmt.Sprintf("must be between %d and %d", math.MinInt32, math.MaxInt32))
	}
	return v.Err()
}
