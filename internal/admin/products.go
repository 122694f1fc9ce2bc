package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
)

var productStatuses = []catalog.Status{catalog.StatusDraft, catalog.StatusActive, catalog.StatusArchived}

type productsView struct {
	view
	Products []catalog.Product
	Q        string
	Status   string
	Statuses []catalog.Status
	Next     string
	Errors   fieldErrors
}

// Products serves GET /admin/products?q=&status=&cursor=: every status
// unless one is chosen.
func (a *Admin) Products() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		q := r.URL.Query()
		v := productsView{view: a.newView(r, w, p, "Products", "products"), Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Statuses: productStatuses}
		lq := catalog.ListQuery{Q: v.Q, Cursor: q.Get("cursor"), Limit: 25, Statuses: productStatuses}
		if v.Status != "" {
			lq.Statuses = []catalog.Status{catalog.Status(v.Status)}
		}
		page, err := a.svc.Catalog.ListProducts(r.Context(), lq)
		status := http.StatusOK
		if err != nil {
			fe, msg, ok := formError(err, nil)
			if !ok {
				return err
			}
			v.Errors, v.Error, status = fe, msg, http.StatusBadRequest
		}
		v.Products = page.Items
		if page.NextCursor != nil {
			v.Next = "/admin/products?" + url.Values{"q": {v.Q}, "status": {v.Status}, "cursor": {*page.NextCursor}}.Encode()
		}
		return a.render(w, status, "products", v)
	})
}

// variantRow is one row of the variants table in the product form.
type variantRow struct {
	ID, SKU, Title, Options, Price, Stock string
	Available                             *int64 // existing variants: what can be sold now
}

type productForm struct {
	Title, Slug, Description, Status string
	Featured                         bool
	Attributes                       string // "key: value" lines
	CategoryIDs                      []string
	Images                           []catalog.Image
	ImageAlt                         string
	Variants                         []variantRow
}

type productView struct {
	view
	Product    *catalog.Product // nil when creating
	Form       productForm
	Categories []catalog.Category
	Statuses   []catalog.Status
	Errors     fieldErrors
	Currency   string
	Action     string
}

// HasCategory reports whether the form has category id ticked.
func (f productForm) HasCategory(id string) bool { return slices.Contains(f.CategoryIDs, id) }

func (a *Admin) productView(w http.ResponseWriter, r *http.Request, p auth.Principal, prod *catalog.Product, f productForm) (productView, error) {
	cats, err := a.svc.Catalog.Categories(r.Context())
	if err != nil {
		return productView{}, err
	}
	cats = slices.Clone(cats)
	slices.SortFunc(cats, func(x, y catalog.Category) int {
		return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	})
	title, action := "New product", "/admin/products"
	if prod != nil {
		title, action = prod.Title, "/admin/products/"+prod.ID
	}
	return productView{view: a.newView(r, w, p, title, "products"), Product: prod, Form: f, Categories: cats, Statuses: productStatuses,
		Errors: fieldErrors{}, Currency: a.opts.Currency, Action: action}, nil
}

// blankRows is how many empty variant rows the form offers for new variants.
const blankRows = 2

func (a *Admin) formOf(prod catalog.Product) productForm {
	f := productForm{Title: prod.Title, Slug: prod.Slug, Description: prod.Description, Status: string(prod.Status), Featured: prod.Featured,
		CategoryIDs: prod.CategoryIDs, Images: prod.Images, Attributes: formatAttributes(prod.Attributes)}
	for _, v := range prod.Variants {
		avail := v.Available
		f.Variants = append(f.Variants, variantRow{ID: v.ID, SKU: v.SKU, Title: v.Title, Options: formatOptions(v.Options), Price: v.Price.Decimal(), Available: &avail})
	}
	for range blankRows {
		f.Variants = append(f.Variants, variantRow{})
	}
	return f
}

// NewProduct serves GET /admin/products/new.
func (a *Admin) NewProduct() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		f := productForm{Status: string(catalog.StatusDraft), Variants: make([]variantRow, blankRows+1)}
		v, err := a.productView(w, r, p, nil, f)
		if err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "product", v)
	})
}

// EditProduct serves GET /admin/products/{id}.
func (a *Admin) EditProduct() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		prod, err := a.svc.Catalog.GetProduct(r.Context(), r.PathValue("id"), false)
		if err != nil {
			return err
		}
		v, err := a.productView(w, r, p, &prod, a.formOf(prod))
		if err != nil {
			return err
		}
		return a.render(w, http.StatusOK, "product", v)
	})
}

// CreateProduct serves POST /admin/products (multipart: the fields of the
// product form, an optional image).
func (a *Admin) CreateProduct() http.Handler { return a.saveProduct(false) }

// UpdateProduct serves POST /admin/products/{id}.
func (a *Admin) UpdateProduct() http.Handler { return a.saveProduct(true) }

func (a *Admin) saveProduct(existing bool) http.Handler {
	return a.post(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		ctx := r.Context()
		var prod *catalog.Product
		if existing {
			got, err := a.svc.Catalog.GetProduct(ctx, r.PathValue("id"), false)
			if err != nil {
				return err
			}
			prod = &got
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxUpload+maxForm)
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return apperr.Field("image", fmt.Sprintf("the upload is too large (at most %d MB)", MaxUpload>>20))
		}
		defer r.MultipartForm.RemoveAll()
		f := readProductForm(r, prod)
		var rows []int // rows[i] is the form row of the service's variants[i]
		var bad apperr.Validator
		attrs := parseAttributes(&bad, f.Attributes)
		var variants []catalog.VariantInput
		for i, row := range f.Variants {
			if row.ID == "" && row.SKU == "" && row.Title == "" && row.Options == "" && row.Price == "" && row.Stock == "" {
				continue
			}
			if vi, ok := a.variantInput(&bad, row, i); ok {
				variants = append(variants, vi)
				rows = append(rows, i)
			}
		}
		// The upload goes in last: a form with other mistakes does not store it.
		if err := bad.Err(); err != nil {
			return a.productFormError(w, r, p, prod, f, rows, err)
		}
		if fh := r.MultipartForm.File["image"]; len(fh) > 0 && fh[0].Size > 0 {
			img, err := a.storeUpload(ctx, fh[0], f.Slug+" "+f.Title, f.ImageAlt)
			if err != nil {
				return a.productFormError(w, r, p, prod, f, rows, err)
			}
			f.Images = append(f.Images, img)
		}
		status := catalog.Status(f.Status)
		var (
			saved catalog.Product
			err   error
		)
		if prod == nil {
			saved, err = a.svc.Catalog.CreateProduct(ctx, catalog.ProductInput{Slug: f.Slug, Title: f.Title, Description: f.Description, Status: status,
				Featured: f.Featured, Images: f.Images, Attributes: attrs, CategoryIDs: f.CategoryIDs, Variants: variants}, p.Email)
		} else {
			cats, imgs := f.CategoryIDs, f.Images
			if cats == nil {
				cats = []string{}
			}
			if imgs == nil {
				imgs = []catalog.Image{}
			}
			var slug *string // empty keeps the current one
			if f.Slug != "" {
				slug = &f.Slug
			}
			saved, err = a.svc.Catalog.UpdateProduct(ctx, prod.ID, catalog.ProductPatch{Slug: slug, Title: &f.Title, Description: &f.Description,
				Status: &status, Featured: &f.Featured, Images: &imgs, Attributes: &attrs, CategoryIDs: &cats, Variants: variants}, p.Email)
		}
		if err != nil {
			return a.productFormError(w, r, p, prod, f, rows, err)
		}
		verb := "Created"
		if prod != nil {
			verb = "Saved"
		}
		return a.redirect(w, r, "/admin/products/"+saved.ID, fmt.Sprintf("%s %s (%s).", verb, saved.Title, saved.Status))
	})
}

// productFormError shows the form again with the input and each field's
// message; rows maps the service's variants[i] to the form's row.
func (a *Admin) productFormError(w http.ResponseWriter, r *http.Request, p auth.Principal, prod *catalog.Product, f productForm, rows []int, err error) error {
	fe, msg, ok := formError(err, func(field string) string {
		var i int
		var rest string
		if n, _ := fmt.Sscanf(field, "variants[%d].%s", &i, &rest); n == 2 && i >= 0 && i < len(rows) {
			switch {
			case strings.HasPrefix(rest, "price"):
				rest = "price"
			case strings.HasPrefix(rest, "options"):
				rest = "options"
			}
			return fmt.Sprintf("v.%d.%s", rows[i], rest)
		}
		if strings.HasPrefix(field, "category_ids") {
			return "category_ids"
		}
		if strings.HasPrefix(field, "attributes") {
			return "attributes"
		}
		if strings.HasPrefix(field, "images") {
			return "image"
		}
		return field
	})
	if !ok || apperr.Is(err, apperr.NotFound) {
		return err
	}
	v, verr := a.productView(w, r, p, prod, f)
	if verr != nil {
		return verr
	}
	v.Error, v.Errors = msg, fe
	return a.render(w, formStatus(err), "product", v)
}

// readProductForm reads the posted product form.
func readProductForm(r *http.Request, prod *catalog.Product) productForm {
	pf := r.PostForm
	f := productForm{Title: pf.Get("title"), Slug: strings.TrimSpace(pf.Get("slug")), Description: pf.Get("description"), Status: pf.Get("status"),
		Featured: pf.Get("featured") == "on", Attributes: pf.Get("attributes"), CategoryIDs: pf["category_ids"], ImageAlt: strings.TrimSpace(pf.Get("image_alt"))}
	if prod != nil {
		for i, img := range prod.Images {
			if pf.Get("remove_image."+strconv.Itoa(i)) != "on" {
				f.Images = append(f.Images, img)
			}
		}
	}
	avail := map[string]int64{}
	if prod != nil {
		for _, v := range prod.Variants {
			avail[v.ID] = v.Available
		}
	}
	n, _ := strconv.Atoi(pf.Get("rows"))
	n = min(max(n, 0), 110)
	for i := range n {
		get := func(k string) string { return strings.TrimSpace(pf.Get(fmt.Sprintf("v.%d.%s", i, k))) }
		row := variantRow{ID: get("id"), SKU: get("sku"), Title: get("title"), Options: get("options"), Price: get("price"), Stock: get("stock")}
		if a, ok := avail[row.ID]; ok {
			row.Available = &a
		} else {
			row.ID = ""
		}
		f.Variants = append(f.Variants, row)
	}
	return f
}

func (a *Admin) variantInput(bad *apperr.Validator, row variantRow, formRow int) (catalog.VariantInput, bool) {
	ok := true
	key := func(k string) string { return fmt.Sprintf("v.%d.%s", formRow, k) }
	vi := catalog.VariantInput{ID: row.ID, SKU: row.SKU, Title: row.Title}
	opts, err := parseOptions(row.Options)
	if err != nil {
		bad.Add(key("options"), err.Error())
		ok = false
	}
	vi.Options = opts
	if vi.Title == "" && len(opts) > 0 {
		vals := make([]string, 0, len(opts))
		for _, k := range sortedKeys(opts) {
			vals = append(vals, opts[k])
		}
		vi.Title = strings.Join(vals, " / ")
	}
	if row.Price != "" || row.ID == "" {
		amount, err := parseAmount(key("price"), row.Price, a.digits)
		if err != nil {
			bad.Add(key("price"), fieldMessage(err))
			ok = false
		}
		vi.Price = money.Money{Amount: amount, Currency: a.opts.Currency}
	}
	if row.ID == "" && row.Stock != "" {
		n, err := parseCount(key("stock"), row.Stock, 0, 1_000_000_000)
		if err != nil {
			bad.Add(key("stock"), fieldMessage(err))
			ok = false
		}
		vi.Stock = &n
	}
	return vi, ok
}

var optionKeyRE = regexp.MustCompile(`^[\p{L}\p{N} _-]{1,50}$`)

// parseOptions reads "size=S, colour=Red" (or "size: S; colour: Red").
func parseOptions(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ';' }) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			k, v, ok = strings.Cut(part, ":")
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || k == "" || v == "" || !optionKeyRE.MatchString(k) {
			return out, fmt.Errorf("write options as name=value pairs separated by commas, e.g. size=M, colour=Blue")
		}
		out[k] = v
	}
	return out, nil
}

func formatOptions(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// parseAttributes reads "key: value" lines; bad lines are Invalid on "attributes".
func parseAttributes(bad *apperr.Validator, s string) map[string]string {
	out := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			bad.Add("attributes", fmt.Sprintf("line %d: write one attribute per line as key: value", i+1))
			continue
		}
		out[strings.ReplaceAll(k, " ", "_")] = v
	}
	return out
}

func formatAttributes(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		b.WriteString(k + ": " + m[k] + "\n")
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ArchiveProduct serves POST /admin/products/{id}/archive.
func (a *Admin) ArchiveProduct() http.Handler {
	return a.post(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		prod, err := a.svc.Catalog.ArchiveProduct(r.Context(), r.PathValue("id"), p.Email)
		if err != nil {
			return err
		}
		return a.redirect(w, r, "/admin/products/"+prod.ID, "Archived "+prod.Title+": it is no longer on sale.")
	})
}
