package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// store is the catalog's SQL. The same statements run on SQLite and
// PostgreSQL; store_test.go is the conformance suite run against both.
type store struct{ db *sqldb.DB }

const productCols = `p.id, p.slug, p.title, p.description, p.status, p.featured, p.images, p.created_at, p.updated_at`

func scanProduct(row sqldb.Scanner) (Product, error) {
	var (
		p      Product
		images string
	)
	if err := row.Scan(&p.ID, &p.Slug, &p.Title, &p.Description, &p.Status, &p.Featured, &images, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return p, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(images), &p.Images); err != nil {
		return p, fmt.Errorf("product %s images: %w", p.ID, err)
	}
	return p, nil
}

func searchText(p *Product) string {
	parts := []string{p.Title, p.Description}
	for _, v := range p.Variants {
		parts = append(parts, v.SKU, v.Title)
	}
	for _, val := range p.Attributes {
		parts = append(parts, val)
	}
	return strings.ToLower(strings.Join(parts, " \n"))
}

func minPrice(p *Product) (int64, string) {
	lo, _ := p.PriceRange()
	return lo.Amount, lo.Currency
}

// insertProduct writes a whole product. Unique slug or SKU clashes are Conflict errors.
func (s store) insertProduct(ctx context.Context, tx *sqldb.Tx, p *Product) error {
	images, _ := json.Marshal(p.Images)
	amount, currency := minPrice(p)
	_, err := tx.ExecContext(ctx, `INSERT INTO catalog_products
		(id, slug, title, description, status, images, search_text, min_price, currency, featured, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Slug, p.Title, p.Description, p.Status, string(images), searchText(p), amount, currency, p.Featured, p.CreatedAt, p.UpdatedAt)
	if sqldb.IsUniqueViolation(err) {
		return &apperr.Error{Code: apperr.Conflict, Message: "slug already in use", Fields: []apperr.FieldError{{Field: "slug", Message: "already in use"}}}
	}
	if err != nil {
		return fmt.Errorf("insert product: %w", err)
	}
	if err := s.writeChildren(ctx, tx, p); err != nil {
		return err
	}
	for i := range p.Variants {
		if err := s.insertVariant(ctx, tx, p.ID, i, &p.Variants[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s store) insertVariant(ctx context.Context, tx *sqldb.Tx, productID string, pos int, v *Variant) error {
	opts, _ := json.Marshal(v.Options)
	_, err := tx.ExecContext(ctx, `INSERT INTO catalog_variants (id, product_id, sku, title, options, price, currency, position)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, v.ID, productID, v.SKU, v.Title, string(opts), v.Price.Amount, v.Price.Currency, pos)
	if sqldb.IsUniqueViolation(err) {
		return skuConflict(pos, v.SKU)
	}
	if err != nil {
		return fmt.Errorf("insert variant %s: %w", v.SKU, err)
	}
	return nil
}

func skuConflict(pos int, sku string) error {
	return &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("SKU %s already exists", sku),
		Fields: []apperr.FieldError{{Field: fmt.Sprintf("variants[%d].sku", pos), Message: "already exists"}}}
}

// writeChildren replaces a product's categories and attributes.
func (s store) writeChildren(ctx context.Context, tx *sqldb.Tx, p *Product) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM catalog_product_categories WHERE product_id = ?`, p.ID); err != nil {
		return fmt.Errorf("clear categories: %w", err)
	}
	for _, cid := range p.CategoryIDs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_product_categories (product_id, category_id) VALUES (?, ?)`, p.ID, cid); err != nil {
			return fmt.Errorf("link category %s: %w", cid, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM catalog_product_attributes WHERE product_id = ?`, p.ID); err != nil {
		return fmt.Errorf("clear attributes: %w", err)
	}
	for k, v := range p.Attributes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_product_attributes (product_id, key, value) VALUES (?, ?, ?)`, p.ID, k, v); err != nil {
			return fmt.Errorf("set attribute %s: %w", k, err)
		}
	}
	return nil
}

// updateProduct rewrites the product row and its children; variants are
// upserted by id.
func (s store) updateProduct(ctx context.Context, tx *sqldb.Tx, p *Product, existing map[string]bool) error {
	images, _ := json.Marshal(p.Images)
	amount, currency := minPrice(p)
	_, err := tx.ExecContext(ctx, `UPDATE catalog_products SET slug = ?, title = ?, description = ?, status = ?, images = ?,
		search_text = ?, min_price = ?, currency = ?, featured = ?, updated_at = ? WHERE id = ?`,
		p.Slug, p.Title, p.Description, p.Status, string(images), searchText(p), amount, currency, p.Featured, p.UpdatedAt, p.ID)
	if sqldb.IsUniqueViolation(err) {
		return &apperr.Error{Code: apperr.Conflict, Message: "slug already in use", Fields: []apperr.FieldError{{Field: "slug", Message: "already in use"}}}
	}
	if err != nil {
		return fmt.Errorf("update product: %w", err)
	}
	if err := s.writeChildren(ctx, tx, p); err != nil {
		return err
	}
	for i := range p.Variants {
		v := &p.Variants[i]
		if !existing[v.ID] {
			if err := s.insertVariant(ctx, tx, p.ID, i, v); err != nil {
				return err
			}
			continue
		}
		opts, _ := json.Marshal(v.Options)
		_, err := tx.ExecContext(ctx, `UPDATE catalog_variants SET sku = ?, title = ?, options = ?, price = ?, currency = ?, position = ?
			WHERE id = ? AND product_id = ?`, v.SKU, v.Title, string(opts), v.Price.Amount, v.Price.Currency, i, v.ID, p.ID)
		if sqldb.IsUniqueViolation(err) {
			return skuConflict(i, v.SKU)
		}
		if err != nil {
			return fmt.Errorf("update variant %s: %w", v.SKU, err)
		}
	}
	return nil
}

// getProduct loads one product by id or slug; NotFound when there is none.
func (s store) getProduct(ctx context.Context, q sqldb.Querier, idOrSlug string) (Product, error) {
	p, err := scanProduct(q.QueryRowContext(ctx, `SELECT `+productCols+` FROM catalog_products p WHERE p.id = ? OR p.slug = ?`, idOrSlug, idOrSlug))
	if errors.Is(err, sql.ErrNoRows) {
		return p, apperr.NotFoundf("product %q not found", idOrSlug)
	}
	if err != nil {
		return p, fmt.Errorf("get product: %w", err)
	}
	ps := []Product{p}
	if err := s.loadChildren(ctx, q, ps); err != nil {
		return p, err
	}
	return ps[0], nil
}

// listQuery is a validated, decoded ListQuery.
type listQuery struct {
	limit       int
	sort        Sort
	after       *cursor
	categoryIDs []string
	q           string
	attrs       map[string]string
	statuses    []Status
	featured    bool
}

// listProducts returns up to limit+1 products in the requested order after
// the cursor (the extra one tells whether there is a next page).
func (s store) listProducts(ctx context.Context, q sqldb.Querier, lq listQuery) ([]Product, error) {
	var (
		where []string
		args  []any
	)
	if len(lq.statuses) > 0 {
		where = append(where, "p.status IN ("+sqldb.Placeholders(len(lq.statuses))+")")
		for _, st := range lq.statuses {
			args = append(args, st)
		}
	}
	if lq.featured {
		where = append(where, "p.featured = ?")
		args = append(args, true)
	}
	if len(lq.categoryIDs) > 0 {
		where = append(where, "EXISTS (SELECT 1 FROM catalog_product_categories pc WHERE pc.product_id = p.id AND pc.category_id IN ("+sqldb.Placeholders(len(lq.categoryIDs))+"))")
		for _, id := range lq.categoryIDs {
			args = append(args, id)
		}
	}
	if lq.q != "" {
		for _, word := range strings.Fields(strings.ToLower(lq.q)) {
			where = append(where, `p.search_text LIKE ? ESCAPE '\'`)
			args = append(args, "%"+escapeLike(word)+"%")
		}
	}
	keys := make([]string, 0, len(lq.attrs))
	for k := range lq.attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals := strings.Split(lq.attrs[k], ",")
		where = append(where, "EXISTS (SELECT 1 FROM catalog_product_attributes pa WHERE pa.product_id = p.id AND pa.key = ? AND pa.value IN ("+sqldb.Placeholders(len(vals))+"))")
		args = append(args, k)
		for _, v := range vals {
			args = append(args, v)
		}
	}
	col, desc := lq.sort.column()
	if lq.after != nil {
		op := ">"
		if desc {
			op = "<"
		}
		where = append(where, fmt.Sprintf("(%s %s ? OR (%s = ? AND p.id %s ?))", col, op, col, op))
		k := lq.after.key()
		args = append(args, k, k, lq.after.ID)
	}
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	query := `SELECT ` + productCols + ` FROM catalog_products p`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY %s %s, p.id %s LIMIT ?", col, dir, dir)
	args = append(args, lq.limit+1)

	out, err := sqldb.All(ctx, q, "list products", scanProduct, query, args...)
	if err != nil {
		return nil, err
	}
	return out, s.loadChildren(ctx, q, out)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// loadChildren fills variants, categories and attributes of ps with one
// query each (never one per product).
func (s store) loadChildren(ctx context.Context, q sqldb.Querier, ps []Product) error {
	if len(ps) == 0 {
		return nil
	}
	idx := make(map[string]*Product, len(ps))
	args := make([]any, len(ps))
	for i := range ps {
		idx[ps[i].ID] = &ps[i]
		args[i] = ps[i].ID
		ps[i].Attributes = map[string]string{}
		ps[i].CategoryIDs = []string{}
		ps[i].Variants = []Variant{}
		if ps[i].Images == nil {
			ps[i].Images = []Image{}
		}
	}
	in := sqldb.Placeholders(len(ps))

	type variantOf struct {
		productID string
		Variant
	}
	vs, err := sqldb.All(ctx, q, "load variants", func(r sqldb.Scanner) (variantOf, error) {
		var (
			v    variantOf
			opts string
		)
		if err := r.Scan(&v.productID, &v.ID, &v.SKU, &v.Title, &opts, &v.Price.Amount, &v.Price.Currency); err != nil {
			return v, err
		}
		if err := json.Unmarshal([]byte(opts), &v.Options); err != nil {
			return v, fmt.Errorf("variant %s options: %w", v.ID, err)
		}
		if v.Options == nil {
			v.Options = map[string]string{}
		}
		return v, nil
	}, `SELECT product_id, id, sku, title, options, price, currency FROM catalog_variants
		WHERE product_id IN (`+in+`) ORDER BY product_id, position`, args...)
	if err != nil {
		return err
	}
	for _, v := range vs {
		idx[v.productID].Variants = append(idx[v.productID].Variants, v.Variant)
	}

	type pair struct{ productID, a, b string }
	cats, err := sqldb.All(ctx, q, "load categories", func(r sqldb.Scanner) (pair, error) {
		var p pair
		err := r.Scan(&p.productID, &p.a)
		return p, err
	}, `SELECT product_id, category_id FROM catalog_product_categories WHERE product_id IN (`+in+`) ORDER BY product_id, category_id`, args...)
	if err != nil {
		return err
	}
	for _, c := range cats {
		idx[c.productID].CategoryIDs = append(idx[c.productID].CategoryIDs, c.a)
	}

	attrs, err := sqldb.All(ctx, q, "load attributes", func(r sqldb.Scanner) (pair, error) {
		var p pair
		err := r.Scan(&p.productID, &p.a, &p.b)
		return p, err
	}, `SELECT product_id, key, value FROM catalog_product_attributes WHERE product_id IN (`+in+`)`, args...)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		idx[a.productID].Attributes[a.a] = a.b
	}
	return nil
}

// variantsByID returns variants with their product's id, title and status.
func (s store) variantsByID(ctx context.Context, q sqldb.Querier, ids []string) (map[string]VariantInfo, error) {
	out := make(map[string]VariantInfo, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	vis, err := sqldb.All(ctx, q, "variants by id", func(r sqldb.Scanner) (VariantInfo, error) {
		var (
			vi           VariantInfo
			opts, images string
		)
		if err := r.Scan(&vi.ID, &vi.SKU, &vi.Title, &opts, &vi.Price.Amount, &vi.Price.Currency,
			&vi.ProductID, &vi.ProductSlug, &vi.ProductTitle, &vi.ProductStatus, &images); err != nil {
			return vi, err
		}
		json.Unmarshal([]byte(opts), &vi.Options)
		var imgs []Image
		if json.Unmarshal([]byte(images), &imgs) == nil && len(imgs) > 0 {
			vi.Image = imgs[0]
		}
		return vi, nil
	}, `SELECT v.id, v.sku, v.title, v.options, v.price, v.currency, p.id, p.slug, p.title, p.status, p.images
		FROM catalog_variants v JOIN catalog_products p ON p.id = v.product_id WHERE v.id IN (`+sqldb.Placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	for _, vi := range vis {
		out[vi.ID] = vi
	}
	return out, nil
}

func (s store) listCategories(ctx context.Context, q sqldb.Querier) ([]Category, error) {
	return sqldb.All(ctx, q, "list categories", func(r sqldb.Scanner) (Category, error) {
		var (
			c      Category
			parent sql.NullString
		)
		err := r.Scan(&c.ID, &c.Slug, &c.Name, &parent, &c.Position)
		if parent.Valid {
			c.ParentID = &parent.String
		}
		return c, err
	}, `SELECT id, slug, name, parent_id, position FROM catalog_categories ORDER BY position, name`)
}

// insertCategory adds a category in tx; a taken slug is a Conflict.
func (s store) insertCategory(ctx context.Context, tx *sqldb.Tx, c Category, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO catalog_categories (id, slug, name, parent_id, position, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.Slug, c.Name, c.ParentID, c.Position, now)
	if sqldb.IsUniqueViolation(err) {
		return &apperr.Error{Code: apperr.Conflict, Message: "category slug already in use", Fields: []apperr.FieldError{{Field: "slug", Message: "already in use"}}}
	}
	if err != nil {
		return fmt.Errorf("insert category: %w", err)
	}
	return nil
}

func (s store) countProducts(ctx context.Context, q sqldb.Querier) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM catalog_products`).Scan(&n)
	return n, err
}

// attributeCounts returns attribute key -> value -> number of active
// products in any of the categories cats.
func (s store) attributeCounts(ctx context.Context, q sqldb.Querier, cats []string) (map[string]map[string]int, error) {
	args := []any{StatusActive}
	for _, id := range cats {
		args = append(args, id)
	}
	type count struct {
		key, value string
		n          int
	}
	counts, err := sqldb.All(ctx, q, "attribute counts", func(r sqldb.Scanner) (count, error) {
		var c count
		err := r.Scan(&c.key, &c.value, &c.n)
		return c, err
	}, `SELECT pa.key, pa.value, COUNT(*) FROM catalog_product_attributes pa
		JOIN catalog_products p ON p.id = pa.product_id
		WHERE p.status = ? AND EXISTS (SELECT 1 FROM catalog_product_categories pc WHERE pc.product_id = p.id AND pc.category_id IN (`+sqldb.Placeholders(len(cats))+`))
		GROUP BY pa.key, pa.value`, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]int{}
	for _, c := range counts {
		if out[c.key] == nil {
			out[c.key] = map[string]int{}
		}
		out[c.key][c.value] = c.n
	}
	return out, nil
}

// productCategories returns the categories each product is filed under
// (products without any are absent).
func (s store) productCategories(ctx context.Context, q sqldb.Querier, productIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(productIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(productIDs))
	for i, id := range productIDs {
		args[i] = id
	}
	type pair struct{ product, category string }
	pairs, err := sqldb.All(ctx, q, "categories of products", func(r sqldb.Scanner) (pair, error) {
		var p pair
		return p, r.Scan(&p.product, &p.category)
	}, `SELECT product_id, category_id FROM catalog_product_categories WHERE product_id IN (`+sqldb.Placeholders(len(productIDs))+`) ORDER BY product_id, category_id`, args...)
	for _, p := range pairs {
		out[p.product] = append(out[p.product], p.category)
	}
	return out, err
}
