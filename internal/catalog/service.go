package catalog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// StockLevel is what the catalog shows of a variant's stock: the
// inventory's level summed over locations. The catalog uses the inventory's
// type (inventory imports no other domain module).
type StockLevel = inventory.StockLevel

// Stock is the part of the inventory module the catalog uses.
type Stock interface {
	// Levels returns the stock of each variant; variants without stock are absent.
	Levels(ctx context.Context, variantIDs []string) (map[string]StockLevel, error)
	// Track makes sure a variant has a stock record under its current SKU;
	// onHand and backorder, when not nil, set those values. It runs in tx,
	// so a product and its stock commit (or fail) together.
	Track(ctx context.Context, tx *sqldb.Tx, variantID, sku string, onHand *int64, backorder *bool, actor string) error
}

// VariantInfo is a variant with what a cart or an order line needs of its product.
type VariantInfo struct {
	ID            string
	SKU           string
	Title         string
	Options       map[string]string
	Price         money.Money
	ProductID     string
	ProductSlug   string
	ProductTitle  string
	ProductStatus Status
	Image         Image
}

// Service is the catalog's business logic.
type Service struct {
	db    *sqldb.DB
	st    store
	stock Stock
	now   func() time.Time
}

// NewService returns a catalog service on db, reading stock from stock.
func NewService(db *sqldb.DB, stock Stock) *Service {
	return &Service{db: db, st: store{db}, stock: stock, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// Sort orders product lists.
type Sort string

const (
	SortNewest    Sort = "newest"
	SortPrice     Sort = "price"
	SortPriceDesc Sort = "-price"
	SortTitle     Sort = "title"
)

// Sorts lists the accepted sort values.
var Sorts = []Sort{SortNewest, SortPrice, SortPriceDesc, SortTitle}

func (s Sort) column() (col string, desc bool) {
	switch s {
	case SortPrice:
		return "p.min_price", false
	case SortPriceDesc:
		return "p.min_price", true
	case SortTitle:
		return "p.title", false
	}
	return "p.created_at", true
}

// ListQuery selects a page of products.
type ListQuery struct {
	Limit    int               // 1..100, 0 means 20
	Cursor   string            // from the previous page's NextCursor
	Category string            // id or slug; includes sub-categories
	Q        string            // words that must all appear
	Sort     Sort              // newest when empty
	Attrs    map[string]string // attribute key -> value (comma-separated values: any of them)
	Statuses []Status          // empty means active only
	Featured bool              // only featured products
}

// Page is one page of products.
type Page struct {
	Items      []Product `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

type cursor struct {
	Sort  Sort       `json:"s"`
	Time  *time.Time `json:"t,omitempty"`
	Num   *int64     `json:"n,omitempty"`
	Str   *string    `json:"k,omitempty"`
	ID    string     `json:"id"`
	valid bool
}

func (c *cursor) key() any {
	switch {
	case c.Time != nil:
		return *c.Time
	case c.Num != nil:
		return *c.Num
	case c.Str != nil:
		return *c.Str
	}
	return nil
}

func makeCursor(s Sort, p Product) string {
	c := cursor{Sort: s, ID: p.ID}
	switch s {
	case SortPrice, SortPriceDesc:
		lo, _ := p.PriceRange()
		c.Num = &lo.Amount
	case SortTitle:
		c.Str = &p.Title
	default:
		t := p.CreatedAt
		c.Time = &t
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(raw string, s Sort) (*cursor, error) {
	bad := apperr.Field("cursor", "is not a cursor returned by this list")
	if len(raw) > 512 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || !ids.Plausible(c.ID) || c.key() == nil {
		return nil, bad
	}
	// Only text this list could have made: NUL never reaches SQL (PostgreSQL refuses it).
	if c.Str != nil && (!utf8.ValidString(*c.Str) || strings.IndexByte(*c.Str, 0) >= 0) {
		return nil, bad
	}
	if c.Sort != s {
		return nil, apperr.Field("cursor", "was made for another sort order")
	}
	// The key must be of the sort's kind, or it would be compared with a
	// column of another type.
	var kindOK bool
	switch s {
	case SortPrice, SortPriceDesc:
		kindOK = c.Num != nil
	case SortTitle:
		kindOK = c.Str != nil
	default:
		kindOK = c.Time != nil
	}
	if !kindOK {
		return nil, bad
	}
	return &c, nil
}

// ListProducts returns a page of products with their stock.
func (s *Service) ListProducts(ctx context.Context, in ListQuery) (Page, error) {
	lq := listQuery{limit: in.Limit, sort: in.Sort, q: strings.TrimSpace(in.Q), attrs: in.Attrs, statuses: in.Statuses, featured: in.Featured}
	var v apperr.Validator
	if lq.limit == 0 {
		lq.limit = 20
	}
	v.Check(lq.limit >= 1 && lq.limit <= 100, "limit", "must be between 1 and 100")
	if lq.sort == "" {
		lq.sort = SortNewest
	}
	switch lq.sort {
	case SortNewest, SortPrice, SortPriceDesc, SortTitle:
	default:
		v.Add("sort", "must be one of newest, price, -price, title")
	}
	v.Check(len(lq.q) <= 200, "q", "must be at most 200 characters")
	v.Check(len(lq.attrs) <= 10, "attr", "at most 10 attribute filters")
	v.Check(utf8.ValidString(lq.q), "q", "must be valid UTF-8")
	v.Check(utf8.ValidString(in.Category), "category", "must be valid UTF-8")
	for k, val := range lq.attrs {
		v.Check(utf8.ValidString(k) && utf8.ValidString(val), "attr."+strings.ToValidUTF8(k, "\ufffd"), "must be valid UTF-8")
		v.Check(strings.Count(val, ",") < 20, "attr."+strings.ToValidUTF8(k, "\ufffd"), "at most 20 comma-separated values")
	}
	for _, st := range lq.statuses {
		v.Check(st.valid(), "status", "must be draft, active or archived")
	}
	if err := v.Err(); err != nil {
		return Page{}, err
	}
	if len(lq.statuses) == 0 {
		lq.statuses = []Status{StatusActive}
	}
	if in.Cursor != "" {
		c, err := parseCursor(in.Cursor, lq.sort)
		if err != nil {
			return Page{}, err
		}
		lq.after = c
	}
	if in.Category != "" {
		ids, err := s.categoryTree(ctx, in.Category)
		if err != nil {
			return Page{}, err
		}
		lq.categoryIDs = ids
	}
	items, err := s.st.listProducts(ctx, s.db.Reader(), lq)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: items}
	if page.Items == nil {
		page.Items = []Product{} // an empty page is "items": [], never null
	}
	if len(items) > lq.limit {
		page.Items = items[:lq.limit]
		next := makeCursor(lq.sort, page.Items[lq.limit-1])
		page.NextCursor = &next
	}
	return page, s.fillStock(ctx, page.Items)
}

// categoryTree returns the id of the category named by id or slug and of all
// categories below it.
func (s *Service) categoryTree(ctx context.Context, idOrSlug string) ([]string, error) {
	cats, err := s.st.listCategories(ctx, s.db.Reader())
	if err != nil {
		return nil, err
	}
	var root string
	children := map[string][]string{}
	for _, c := range cats {
		if c.ID == idOrSlug || c.Slug == idOrSlug {
			root = c.ID
		}
		if c.ParentID != nil {
			children[*c.ParentID] = append(children[*c.ParentID], c.ID)
		}
	}
	if root == "" {
		return nil, apperr.Field("category", "no such category")
	}
	out := []string{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

func (s *Service) fillStock(ctx context.Context, ps []Product) error {
	if s.stock == nil || len(ps) == 0 {
		return nil
	}
	var ids []string
	for _, p := range ps {
		for _, v := range p.Variants {
			ids = append(ids, v.ID)
		}
	}
	levels, err := s.stock.Levels(ctx, ids)
	if err != nil {
		return fmt.Errorf("stock levels: %w", err)
	}
	for i := range ps {
		for j := range ps[i].Variants {
			l := levels[ps[i].Variants[j].ID]
			ps[i].Variants[j].Available, ps[i].Variants[j].Backorder = l.Available, l.Backorder
		}
	}
	return nil
}

// GetProduct returns a product by id or slug. With publicOnly, a product that
// is not active is NotFound.
func (s *Service) GetProduct(ctx context.Context, idOrSlug string, publicOnly bool) (Product, error) {
	if idOrSlug == "" || len(idOrSlug) > 200 {
		return Product{}, apperr.NotFoundf("product not found")
	}
	p, err := s.st.getProduct(ctx, s.db.Reader(), idOrSlug)
	if err != nil {
		return p, err
	}
	if publicOnly && p.Status != StatusActive {
		return Product{}, apperr.NotFoundf("product %q not found", idOrSlug)
	}
	ps := []Product{p}
	err = s.fillStock(ctx, ps)
	return ps[0], err
}

// CreateProduct validates and stores a new product, records each variant's
// stock (Stock.Track) and writes product.created, all in one transaction.
// Bad fields are Invalid; a taken slug or SKU is a Conflict (a slug made
// from the title is made unique instead). actor names who did it, for the
// stock ledger.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput, actor string) (Product, error) {
	if err := in.Validate(); err != nil {
		return Product{}, err
	}
	if err := s.checkCategories(ctx, in.CategoryIDs); err != nil {
		return Product{}, err
	}
	now := s.now()
	p := Product{
		ID: ids.New(), Slug: in.Slug, Title: strings.TrimSpace(in.Title), Description: in.Description, Status: in.Status,
		Featured: in.Featured, Images: in.Images, Attributes: in.Attributes, CategoryIDs: dedupe(in.CategoryIDs),
		CreatedAt: now, UpdatedAt: now,
	}
	if !in.CreatedAt.IsZero() {
		p.CreatedAt = in.CreatedAt.UTC().Truncate(time.Microsecond)
	}
	if p.Images == nil {
		p.Images = []Image{}
	}
	if p.Attributes == nil {
		p.Attributes = map[string]string{}
	}
	autoSlug := p.Slug == ""
	if autoSlug {
		p.Slug = Slugify(p.Title)
		if p.Slug == "" {
			p.Slug = "product"
		}
	}
	for _, vi := range in.Variants {
		p.Variants = append(p.Variants, newVariant(vi))
	}
	insert := func(tx *sqldb.Tx) error {
		if err := s.st.insertProduct(ctx, tx, &p); err != nil {
			return err
		}
		if err := outbox.Write(ctx, tx, newProductCreated(p)); err != nil {
			return err
		}
		return s.trackStock(ctx, tx, p.Variants, in.Variants, actor)
	}
	err := s.db.InTx(ctx, insert)
	if autoSlug && apperr.Is(err, apperr.Conflict) && strings.Contains(err.Error(), "slug") {
		p.Slug = p.Slug + "-" + strings.ToLower(p.ID[len(p.ID)-6:])
		err = s.db.InTx(ctx, insert)
	}
	if err != nil {
		return Product{}, err
	}
	return s.GetProduct(ctx, p.ID, false)
}

func newVariant(vi VariantInput) Variant {
	v := Variant{ID: ids.New(), SKU: vi.SKU, Title: vi.Title, Options: vi.Options, Price: vi.Price}
	if v.Options == nil {
		v.Options = map[string]string{}
	}
	if v.Title == "" {
		v.Title = variantTitle(v.Options)
	}
	return v
}

func variantTitle(opts map[string]string) string {
	if len(opts) == 0 {
		return "Default"
	}
	vals := make([]string, 0, len(opts))
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		vals = append(vals, opts[k])
	}
	return strings.Join(vals, " / ")
}

func (s *Service) trackStock(ctx context.Context, tx *sqldb.Tx, vs []Variant, ins []VariantInput, actor string) error {
	if s.stock == nil {
		return nil
	}
	for i, v := range vs {
		var in VariantInput
		if i < len(ins) {
			in = ins[i]
		}
		err := s.stock.Track(ctx, tx, v.ID, v.SKU, in.Stock, in.Backorder, actor)
		var e *apperr.Error
		if errors.As(err, &e) && e.Code != apperr.Internal {
			// Name the field as the client sent it (variants[i].stock).
			fields := make([]apperr.FieldError, len(e.Fields))
			for j, f := range e.Fields {
				fields[j] = apperr.FieldError{Field: fmt.Sprintf("variants[%d].stock", i), Message: f.Message}
			}
			return &apperr.Error{Code: e.Code, Message: e.Message, Fields: fields, Detail: e.Detail}
		}
		if err != nil {
			return fmt.Errorf("track stock of %s: %w", v.SKU, err)
		}
	}
	return nil
}

func (s *Service) checkCategories(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	cats, err := s.st.listCategories(ctx, s.db)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, c := range cats {
		known[c.ID] = true
	}
	var v apperr.Validator
	for i, id := range ids {
		v.Check(known[id], fmt.Sprintf("category_ids[%d]", i), "no such category")
	}
	return v.Err()
}

// UpdateProduct applies a patch and writes product.updated (with the
// changed fields, price and status changes) in the same transaction; stock
// given for a variant is recorded there too. NotFound when the product does
// not exist; bad fields are Invalid; a taken slug or SKU, or stock below
// what is reserved, is a Conflict, and nothing is changed.
func (s *Service) UpdateProduct(ctx context.Context, id string, patch ProductPatch, actor string) (Product, error) {
	if err := patch.Validate(); err != nil {
		return Product{}, err
	}
	if patch.CategoryIDs != nil {
		if err := s.checkCategories(ctx, *patch.CategoryIDs); err != nil {
			return Product{}, err
		}
	}
	var (
		changed []Variant
		inputs  []VariantInput
	)
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		p, err := s.st.getProduct(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.ID != id {
			return apperr.NotFoundf("product %q not found", id)
		}
		before := p
		before.Variants = slices.Clone(p.Variants) // the patch edits variants in place
		applyPatch(&p, patch)
		existing := map[string]bool{}
		bySKU := map[string]int{}
		for i, v := range p.Variants {
			existing[v.ID] = true
			bySKU[v.SKU] = i
		}
		for i, vi := range patch.Variants {
			j := -1
			if vi.ID != "" {
				for k, v := range p.Variants {
					if v.ID == vi.ID {
						j = k
					}
				}
				if j < 0 {
					return apperr.Field(fmt.Sprintf("variants[%d].id", i), "no such variant of this product")
				}
			} else if k, ok := bySKU[vi.SKU]; ok {
				j = k
			}
			if j < 0 {
				if vi.SKU == "" {
					return apperr.Field(fmt.Sprintf("variants[%d].sku", i), "is required")
				}
				nv := newVariant(vi)
				p.Variants = append(p.Variants, nv)
				changed, inputs = append(changed, nv), append(inputs, vi)
				continue
			}
			v := &p.Variants[j]
			if vi.SKU != "" {
				v.SKU = vi.SKU
			}
			if vi.Title != "" {
				v.Title = vi.Title
			}
			if vi.Options != nil {
				v.Options = vi.Options
			}
			if vi.Price.Currency != "" {
				v.Price = vi.Price
			}
			changed, inputs = append(changed, *v), append(inputs, vi)
		}
		for i, v := range p.Variants {
			if v.Price.Currency != p.Variants[0].Price.Currency {
				return apperr.Field(fmt.Sprintf("variants[%d].price.currency", i), "all variants of a product share one currency")
			}
		}
		if len(p.Variants) > maxVariants {
			return apperr.Field("variants", fmt.Sprintf("at most %d variants", maxVariants))
		}
		p.UpdatedAt = s.now()
		if err := s.st.updateProduct(ctx, tx, &p, existing); err != nil {
			return err
		}
		if err := outbox.Write(ctx, tx, newProductUpdated(before, p)); err != nil {
			return err
		}
		return s.trackStock(ctx, tx, changed, inputs, actor)
	})
	if err != nil {
		return Product{}, err
	}
	return s.GetProduct(ctx, id, false)
}

func applyPatch(p *Product, patch ProductPatch) {
	if patch.Slug != nil {
		p.Slug = *patch.Slug
	}
	if patch.Title != nil {
		p.Title = strings.TrimSpace(*patch.Title)
	}
	if patch.Description != nil {
		p.Description = *patch.Description
	}
	if patch.Status != nil {
		p.Status = *patch.Status
	}
	if patch.Featured != nil {
		p.Featured = *patch.Featured
	}
	if patch.Images != nil {
		p.Images = *patch.Images
	}
	if patch.Attributes != nil {
		p.Attributes = *patch.Attributes
	}
	if patch.CategoryIDs != nil {
		p.CategoryIDs = dedupe(*patch.CategoryIDs)
	}
}

// ArchiveProduct sets a product's status to archived (products are never
// deleted: orders refer to them); like any update it writes product.updated.
func (s *Service) ArchiveProduct(ctx context.Context, id, actor string) (Product, error) {
	st := StatusArchived
	return s.UpdateProduct(ctx, id, ProductPatch{Status: &st}, actor)
}

// Variants returns the named variants with their product, for carts and
// orders. Unknown ids are absent from the map. It reads from the read pool,
// so callers may use it while they hold a write transaction.
func (s *Service) Variants(ctx context.Context, ids []string) (map[string]VariantInfo, error) {
	return s.st.variantsByID(ctx, s.db.Reader(), dedupe(ids))
}

// ProductCategories returns, for each of the named products, its
// categories and every category above them (a promotion on "Clothing"
// applies to a product filed under "Clothing > Shoes"). Unknown products
// are absent. It reads from the read pool.
func (s *Service) ProductCategories(ctx context.Context, productIDs []string) (map[string][]string, error) {
	own, err := s.st.productCategories(ctx, s.db.Reader(), dedupe(productIDs))
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(own))
	if len(own) == 0 {
		return out, nil
	}
	cats, err := s.st.listCategories(ctx, s.db.Reader())
	if err != nil {
		return nil, err
	}
	parent := map[string]string{}
	for _, c := range cats {
		if c.ParentID != nil {
			parent[c.ID] = *c.ParentID
		}
	}
	for product, ids := range own {
		seen := map[string]bool{}
		var all []string
		for _, id := range ids {
			for c := id; c != "" && !seen[c]; c = parent[c] {
				seen[c] = true
				all = append(all, c)
			}
		}
		out[product] = all
	}
	return out, nil
}

// Categories lists all categories, ordered by position and name.
func (s *Service) Categories(ctx context.Context) ([]Category, error) {
	return s.st.listCategories(ctx, s.db.Reader())
}

// CreateCategory adds a category and writes category.created in the same
// transaction. Bad fields, or a parent that does not exist, are Invalid; a
// taken slug is a Conflict.
func (s *Service) CreateCategory(ctx context.Context, in CategoryInput) (Category, error) {
	if err := in.Validate(); err != nil {
		return Category{}, err
	}
	if in.ParentID != nil {
		cats, err := s.st.listCategories(ctx, s.db)
		if err != nil {
			return Category{}, err
		}
		found := false
		for _, c := range cats {
			found = found || c.ID == *in.ParentID
		}
		if !found {
			return Category{}, apperr.Field("parent_id", "no such category")
		}
	}
	c := Category{ID: ids.New(), Slug: in.Slug, Name: strings.TrimSpace(in.Name), ParentID: in.ParentID, Position: in.Position}
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := s.st.insertCategory(ctx, tx, c, s.now()); err != nil {
			return err
		}
		return outbox.Write(ctx, tx, newCategoryCreated(c))
	})
	if err != nil {
		return Category{}, err
	}
	return c, nil
}

// CountProducts counts products of every status.
func (s *Service) CountProducts(ctx context.Context) (int, error) {
	return s.st.countProducts(ctx, s.db)
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// AttributeCounts returns, for the active products in a category (id or
// slug) and the categories below it, attribute key -> value -> number of
// products: the storefront's filter counts, in one query.
func (s *Service) AttributeCounts(ctx context.Context, category string) (map[string]map[string]int, error) {
	cats, err := s.categoryTree(ctx, category)
	if err != nil {
		return nil, err
	}
	return s.st.attributeCounts(ctx, s.db.Reader(), cats)
}
