package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tmercato\nVmPeak:\t  900000 kB\nVmRSS:\t   51234 kB\nRssAnon:\t   40000 kB\nThreads:\t7\n"
	n, err := parseVmRSS(strings.NewReader(status))
	if err != nil || n != 51234*1024 {
		t.Errorf("parseVmRSS = %d, %v; want %d (VmRSS, not VmPeak or RssAnon)", n, err, 51234*1024)
	}
	for _, bad := range []string{"Name:\tkworker\n", "VmRSS:\t12 MB\n", "VmRSS:\tlots kB\n"} {
		if _, err := parseVmRSS(strings.NewReader(bad)); err == nil {
			t.Errorf("parseVmRSS(%q): no error", bad)
		}
	}
	// This process has a VmRSS.
	if n, err := rssOf(os.Getpid()); err != nil || n <= 0 {
		t.Errorf("rssOf(self) = %d, %v", n, err)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
go_memstats_heap_inuse_bytes 1.2345e+07
go_gc_duration_seconds{quantile="0.5"} 0.001
http_requests_total{route="GET /"} 17
mercato_outbox_pending 0
mercato_outbox_pending_other 99
`
	m, err := parseMetrics(strings.NewReader(text), "go_goroutines", "go_memstats_heap_inuse_bytes", "mercato_outbox_pending", "missing")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"go_goroutines": 42, "go_memstats_heap_inuse_bytes": 12345000, "mercato_outbox_pending": 0}
	if len(m) != len(want) {
		t.Errorf("got %v, want %v", m, want)
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (found %v), want %v", k, got, ok, v)
		}
	}
	if _, err := parseMetrics(strings.NewReader("go_goroutines many\n"), "go_goroutines"); err == nil {
		t.Error("a value that is not a number: no error")
	}
}

func TestGeneratedCatalog(t *testing.T) {
	slugRE := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	skuRE := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	cats := genCategories()
	seen := map[string]bool{}
	leaves := 0
	for _, c := range cats {
		if !slugRE.MatchString(c.slug) || seen[c.slug] {
			t.Errorf("category slug %q: invalid or used twice", c.slug)
		}
		if c.parent != "" {
			leaves++
			if !seen[c.parent] {
				t.Errorf("category %s comes before its parent %s", c.slug, c.parent)
			}
		}
		seen[c.slug] = true
	}
	if leaves != len(genDepartments)*len(genSubs) {
		t.Errorf("%d leaf categories, want %d", leaves, len(genDepartments)*len(genSubs))
	}

	slugs, skus := map[string]bool{}, map[string]bool{}
	for i := 1; i <= 3000; i++ {
		p := genProduct(i, 3, "EUR", "cat-1")
		if !slugRE.MatchString(p.Slug) || slugs[p.Slug] {
			t.Fatalf("product %d: slug %q invalid or used twice", i, p.Slug)
		}
		slugs[p.Slug] = true
		if p.Status != "active" || p.Title == "" || len(p.CategoryIDs) != 1 || p.CategoryIDs[0] != "cat-1" {
			t.Fatalf("product %d: %+v", i, p)
		}
		if len(p.Variants) != 3 {
			t.Fatalf("product %d: %d variants, want 3", i, len(p.Variants))
		}
		for _, v := range p.Variants {
			if !skuRE.MatchString(v.SKU) || skus[v.SKU] {
				t.Fatalf("product %d: SKU %q invalid or used twice", i, v.SKU)
			}
			skus[v.SKU] = true
			if v.Stock != genStock || v.Price.Amount <= 0 || v.Price.Currency != "EUR" || len(v.Options) != 1 {
				t.Fatalf("product %d variant %+v", i, v)
			}
		}
	}
	if a, b := genProduct(77, 2, "EUR", "x"), genProduct(77, 2, "EUR", "x"); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("genProduct is not a pure function of its arguments")
	}
	if n := len(genProduct(1, 99, "EUR", "x").Variants); n != len(genSizes) {
		t.Errorf("99 variants asked: %d made, want at most %d", n, len(genSizes))
	}
	if n := len(genProduct(1, 0, "EUR", "x").Variants); n != 1 {
		t.Errorf("0 variants asked: %d made, want 1 (a product needs one)", n)
	}
	// The JSON the admin API receives: the field names it knows.
	b, _ := json.Marshal(genProduct(5, 1, "EUR", "c"))
	for _, f := range []string{`"slug"`, `"title"`, `"status":"active"`, `"category_ids":["c"]`, `"variants":[{"sku"`, `"price":{"amount"`, `"stock":1000000`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("product JSON lacks %s: %s", f, b)
		}
	}
}

func TestSampleEverySpreadsOverTheCatalog(t *testing.T) {
	for _, tc := range []struct{ total, n, want int }{{100000, 200, 200}, {150, 200, 150}, {1000, 3, 3}, {7, 7, 7}} {
		picked := sampleEvery(tc.total, tc.n)
		var got []int
		for i := 1; i <= tc.total; i++ {
			if picked(i) {
				got = append(got, i)
			}
		}
		if len(got) != tc.want {
			t.Errorf("sampleEvery(%d, %d) picked %d, want %d", tc.total, tc.n, len(got), tc.want)
			continue
		}
		if got[0] != 1 || (tc.total >= 2*tc.n && got[len(got)-1] < tc.total/2) {
			t.Errorf("sampleEvery(%d, %d) picked %d..%d: not spread over the catalog", tc.total, tc.n, got[0], got[len(got)-1])
		}
	}
}

func TestShopperAddresses(t *testing.T) {
	seen := map[string]bool{}
	for n := uint32(0); n < 70000; n++ {
		a := shopperAddr(n)
		if seen[a] {
			t.Fatalf("shopper %d reuses address %s", n, a)
		}
		seen[a] = true
	}
	if a := shopperAddr(0); a != "10.0.0.1" {
		t.Errorf("first address %s, want 10.0.0.1", a)
	}
	for _, tc := range [][2]string{
		{"/api/v1/carts", "/api/v1/carts"},
		{"/api/v1/carts/0190-abc/items", "/api/v1/carts/{id}/items"},
		{"/api/v1/carts/0190-abc/checkout", "/api/v1/carts/{id}/checkout"},
		{"/api/v1/carts/0190-abc", "/api/v1/carts/{id}"},
	} {
		if got := templatePath(tc[0]); got != tc[1] {
			t.Errorf("templatePath(%s) = %s, want %s", tc[0], got, tc[1])
		}
	}
}

// TestShopperFlow runs the flow against a fake shop that checks what a
// real one would: each shopper from its own address, a key per checkout.
func TestShopperFlow(t *testing.T) {
	var (
		mu      sync.Mutex
		steps   []string
		ips     = map[string]bool{}
		keys    = map[string]bool{}
		refuse  bool
		bought  = map[string]int{}
		badness []string
	)
	mux := http.NewServeMux()
	check := func(r *http.Request) string {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, r.Method+" "+r.URL.Path)
		ip := r.Header.Get("X-Forwarded-For")
		if ip == "" {
			badness = append(badness, r.URL.Path+": no X-Forwarded-For")
		}
		return ip
	}
	mux.HandleFunc("POST /api/v1/carts", func(w http.ResponseWriter, r *http.Request) {
		ip := check(r)
		mu.Lock()
		if ips[ip] {
			badness = append(badness, "address "+ip+" used by two shoppers")
		}
		ips[ip] = true
		mu.Unlock()
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"id":"cart-%s"}`, ip)
	})
	mux.HandleFunc("POST /api/v1/carts/{id}/items", func(w http.ResponseWriter, r *http.Request) {
		ip := check(r)
		var in struct {
			VariantID string `json:"variant_id"`
			Quantity  int    `json:"quantity"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		bought[in.VariantID] += in.Quantity
		if r.PathValue("id") != "cart-"+ip || r.Header.Get("Content-Type") != "application/json" {
			badness = append(badness, "add item: wrong cart or content type")
		}
		mu.Unlock()
		io.WriteString(w, `{}`)
	})
	mux.HandleFunc("GET /api/v1/shipping-methods", func(w http.ResponseWriter, r *http.Request) {
		ip := check(r)
		if r.URL.Query().Get("cart_id") != "cart-"+ip || r.URL.Query().Get("country") != "DE" {
			mu.Lock()
			badness = append(badness, "shipping quote: "+r.URL.RawQuery)
			mu.Unlock()
		}
		io.WriteString(w, `{"items":[{"id":"standard"}]}`)
	})
	mux.HandleFunc("POST /api/v1/carts/{id}/checkout", func(w http.ResponseWriter, r *http.Request) {
		check(r)
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in["shipping_method_id"] != "standard" || in["payment_method"] != "pm_card_visa" {
			mu.Lock()
			badness = append(badness, fmt.Sprintf("checkout body %v (%v)", in, err))
			mu.Unlock()
		}
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		defer mu.Unlock()
		if key == "" || keys[key] {
			badness = append(badness, "checkout without a new Idempotency-Key")
		}
		keys[key] = true
		if refuse {
			http.Error(w, `{"title":"out of stock"}`, 409)
			return
		}
		w.WriteHeader(201)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	fn := flow(srv.Client(), srv.URL, func(w, i int) string { return fmt.Sprintf("v%d", i%2) })
	for i := range 4 {
		if err := fn(context.Background(), 0, i); err != nil {
			t.Fatalf("flow %d: %v", i, err)
		}
	}
	if len(badness) > 0 {
		t.Errorf("the shop saw: %v", badness)
	}
	if want := "POST /api/v1/carts,POST /api/v1/carts/cart-10.0.0.1/items,GET /api/v1/shipping-methods,POST /api/v1/carts/cart-10.0.0.1/checkout"; strings.Join(steps[:4], ",") != want {
		t.Errorf("first flow: %v, want %s", steps[:4], want)
	}
	if len(ips) != 4 || len(keys) != 4 || bought["v0"] != 2 || bought["v1"] != 2 {
		t.Errorf("4 flows: %d addresses, %d keys, bought %v", len(ips), len(keys), bought)
	}
	refuse = true
	var se *StatusError
	if err := fn(context.Background(), 0, 9); !errors.As(err, &se) || se.Code != 409 || se.What != "POST /api/v1/carts/{id}/checkout" {
		t.Errorf("a refused checkout: err = %v, want a StatusError 409 naming the route", err)
	}
}
