package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// doJSON sends body (JSON, when not nil) and decodes the answer into out
// (when not nil); any status but want is an error.
func doJSON(ctx context.Context, c *http.Client, method, u, token string, body, out any, want int) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		if len(b) > 300 {
			b = b[:300]
		}
		return &StatusError{What: method + " " + req.URL.RequestURI(), Code: resp.StatusCode, Body: string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, req.URL.RequestURI(), err)
		}
	}
	return nil
}

// login signs the staff account in and returns its bearer token.
func login(ctx context.Context, c *http.Client, base, email, password string) (string, error) {
	var out struct{ Token string }
	err := doJSON(ctx, c, http.MethodPost, base+"/api/v1/auth/login", "",
		map[string]string{"email": email, "password": password}, &out, http.StatusOK)
	if err == nil && out.Token == "" {
		err = fmt.Errorf("sign-in answered no token")
	}
	return out.Token, err
}

// The shapes the harness reads from and sends to the shop's API (only the
// fields it uses).
type (
	money struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	variantRef struct {
		ID        string `json:"id,omitempty"`
		SKU       string `json:"sku"`
		Backorder bool   `json:"backorder"`
	}
	productRef struct {
		ID       string       `json:"id"`
		Slug     string       `json:"slug"`
		Variants []variantRef `json:"variants"`
	}
	categoryRef struct {
		ID       string  `json:"id"`
		Slug     string  `json:"slug"`
		ParentID *string `json:"parent_id"`
	}
	categoryIn struct {
		Slug     string  `json:"slug"`
		Name     string  `json:"name"`
		ParentID *string `json:"parent_id,omitempty"`
		Position int     `json:"position"`
	}
	variantIn struct {
		SKU     string            `json:"sku"`
		Title   string            `json:"title"`
		Options map[string]string `json:"options"`
		Price   money             `json:"price"`
		Stock   int64             `json:"stock"`
	}
	productIn struct {
		Slug        string            `json:"slug"`
		Title       string            `json:"title"`
		Description string            `json:"description"`
		Status      string            `json:"status"`
		Featured    bool              `json:"featured"`
		Attributes  map[string]string `json:"attributes"`
		CategoryIDs []string          `json:"category_ids"`
		Variants    []variantIn       `json:"variants"`
	}
)

// genStock is every generated variant's stock: enough for any run.
const genStock = 1_000_000

var (
	genDepartments = []string{"Apparel", "Footwear", "Home", "Kitchen", "Garden", "Books", "Toys", "Sports"}
	genSubs        = []string{"Classics", "New in", "Essentials", "Outlet"}
	genAdjs        = []string{"Everyday", "Classic", "Lightweight", "Sturdy", "Compact", "Deluxe", "Organic", "Vintage", "Modern", "Rugged"}
	genNouns       = []string{"Jacket", "Sneaker", "Lamp", "Kettle", "Planter", "Notebook", "Puzzle", "Backpack", "Mug", "Blanket", "Chair", "Bottle"}
	genColours     = []string{"Black", "White", "Navy", "Olive", "Sand", "Rust"}
	genSizes       = []string{"XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL", "5XL", "6XL"}
)

// genCategory is a category of the generated catalog; parent is a slug.
type genCategory struct {
	slug, name, parent string
	position           int
}

// genCategories is the generated catalog's category tree: eight
// departments with four sub-categories each (parents before children).
func genCategories() []genCategory {
	var out []genCategory
	for i, d := range genDepartments {
		out = append(out, genCategory{slug: slugOf(d), name: d, position: i})
		for j, s := range genSubs {
			out = append(out, genCategory{slug: slugOf(d + " " + s), name: d + " " + s, parent: slugOf(d), position: j})
		}
	}
	return out
}

func slugOf(s string) string {
	b := []byte{}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
	}
	return string(bytes.TrimRight(b, "-"))
}

// genProduct is product number i (from 1) of a generated catalog: a pure
// function of its arguments, active, with variants sizes (at most 10) each
// holding genStock units. leaf is the id of its category.
func genProduct(i, variants int, currency, leaf string) productIn {
	adj, noun := genAdjs[i%len(genAdjs)], genNouns[(i/len(genAdjs))%len(genNouns)]
	colour := genColours[i%len(genColours)]
	title := fmt.Sprintf("%s %s %d", adj, noun, i)
	p := productIn{
		Slug:  fmt.Sprintf("loadtest-%07d", i),
		Title: title,
		Description: fmt.Sprintf("The %s is a generated product for load tests. It comes in %s, "+
			"ships within two days and is made to last.\n\nCare: wipe clean; keep dry.", title, colour),
		Status:      "active",
		Featured:    i%50 == 0,
		Attributes:  map[string]string{"brand": fmt.Sprintf("Brand %d", i%40), "colour": colour},
		CategoryIDs: []string{leaf},
	}
	base := int64(999 + (i*3701)%20000)
	for v := range min(max(variants, 1), len(genSizes)) {
		size := genSizes[v]
		p.Variants = append(p.Variants, variantIn{
			SKU:     fmt.Sprintf("LT%07d-%s", i, size),
			Title:   size,
			Options: map[string]string{"Size": size},
			Price:   money{Amount: base + int64(v)*100, Currency: currency},
			Stock:   genStock,
		})
	}
	return p
}

// sampleEvery picks about n of total items, spread evenly: it reports
// whether item i (from 1) is one of them.
func sampleEvery(total, n int) func(i int) bool {
	step := max(total/max(n, 1), 1)
	return func(i int) bool { return (i-1)%step == 0 && (i-1)/step < n }
}

// generate creates a catalog of products products (variants each) through
// the admin API with a few parallel writers, and returns about sample of
// them spread over the whole catalog.
func generate(ctx context.Context, c *http.Client, base, token string, products, variants, sample int, currency string, progress func(string)) ([]productRef, error) {
	ids := map[string]string{}
	var leaves []string
	for _, gc := range genCategories() {
		in := categoryIn{Slug: gc.slug, Name: gc.name, Position: gc.position}
		if gc.parent != "" {
			parent := ids[gc.parent]
			in.ParentID = &parent
		}
		var out categoryRef
		if err := doJSON(ctx, c, http.MethodPost, base+"/api/v1/admin/categories", token, in, &out, http.StatusCreated); err != nil {
			return nil, fmt.Errorf("category %s: %w", gc.slug, err)
		}
		ids[gc.slug] = out.ID
		if gc.parent != "" {
			leaves = append(leaves, out.ID)
		}
	}
	picked := sampleEvery(products, sample)
	var (
		next    atomic.Int64
		mu      sync.Mutex
		refs    []productRef
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	go func() {
		for {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
				n := next.Load()
				progress(fmt.Sprintf("%d/%d products (%.0f/s)", min(n, int64(products)), products, float64(n)/time.Since(start).Seconds()))
			}
		}
	}()
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > products || wctx.Err() != nil {
					return
				}
				in := genProduct(i, variants, currency, leaves[i%len(leaves)])
				var out productRef
				if err := doJSON(wctx, c, http.MethodPost, base+"/api/v1/admin/products", token, in, &out, http.StatusCreated); err != nil {
					errOnce.Do(func() { first = fmt.Errorf("product %d: %w", i, err); cancel() })
					return
				}
				if picked(i) {
					mu.Lock()
					refs = append(refs, out)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	progress(fmt.Sprintf("%d products, %d variants each, in %s", products, variants, time.Since(start).Round(time.Second)))
	return refs, nil
}

// listProducts pages through the public product list, newest first, and
// returns up to max products.
func listProducts(ctx context.Context, c *http.Client, base string, max int) ([]productRef, error) {
	var out []productRef
	cursor := ""
	for len(out) < max {
		u := base + "/api/v1/products?limit=100"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items      []productRef `json:"items"`
			NextCursor *string      `json:"next_cursor"`
		}
		if err := doJSON(ctx, c, http.MethodGet, u, "", nil, &page, http.StatusOK); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			break
		}
		cursor = *page.NextCursor
	}
	return out[:min(len(out), max)], nil
}

// topCategories returns the slugs of the top-level categories (all of
// them if there is no tree).
func topCategories(ctx context.Context, c *http.Client, base string) ([]string, error) {
	var out struct {
		Items []categoryRef `json:"items"`
	}
	if err := doJSON(ctx, c, http.MethodGet, base+"/api/v1/categories", "", nil, &out, http.StatusOK); err != nil {
		return nil, err
	}
	var top, all []string
	for _, c := range out.Items {
		all = append(all, c.Slug)
		if c.ParentID == nil {
			top = append(top, c.Slug)
		}
	}
	if len(top) == 0 {
		return all, nil
	}
	return top, nil
}

// setStock sets the on-hand count of each SKU (a few at a time).
func setStock(ctx context.Context, c *http.Client, base, token string, skus []string, onHand int64) error {
	var (
		wg    sync.WaitGroup
		errs  = make(chan error, len(skus))
		slots = make(chan struct{}, 4)
	)
	for _, sku := range skus {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := doJSON(ctx, c, http.MethodPut, base+"/api/v1/admin/inventory/"+url.PathEscape(sku), token,
				map[string]any{"on_hand": onHand, "reason": "load test"}, nil, http.StatusOK); err != nil {
				errs <- fmt.Errorf("stock of %s: %w", sku, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
